"""The HLS origin: live playlists, segments and thumbnails, with headers a CDN can cache by."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import anyio
from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from livestream.errors import NotFound
from livestream.http.deps import DatabaseDep, SettingsDep
from livestream.http.responses import errors
from livestream.media.dependencies import IngestDep, LiveStatusDep
from livestream.media.playlists import shift_program_date_times

router = APIRouter(tags=["media"])

# One or two plain path components; nothing that could climb out of the stream's folder.
_PATH = re.compile(r"(?:[A-Za-z0-9_-]{1,32}/)?[A-Za-z0-9_-]{1,64}\.(m3u8|ts|m4s|mp4|jpg)")
_TYPES = {
    "m3u8": "application/vnd.apple.mpegurl",
    "ts": "video/mp2t",
    "m4s": "video/iso.segment",
    "mp4": "video/mp4",
    "jpg": "image/jpeg",
}
_CACHE = {
    # Playlists change every segment; segments never change once listed.
    "m3u8": "no-cache",
    "ts": "public, max-age=31536000, immutable",
    "m4s": "public, max-age=31536000, immutable",
    "mp4": "public, max-age=31536000, immutable",
    "jpg": "public, max-age=5",
}


class MediaNotFound(NotFound):
    code = "MEDIA_NOT_FOUND"
    message = "No such live media"


@router.get("/hls/{stream_id}/{path:path}", operation_id="getLiveMedia", responses=errors(404))
async def live_media(
    stream_id: uuid.UUID,
    path: str,
    settings: SettingsDep,
    db: DatabaseDep,
    live_status: LiveStatusDep,
    ingest: IngestDep,
) -> Response:
    """HLS master and variant playlists, segments and the thumbnail of a live stream."""
    match = _PATH.fullmatch(path)
    if match is None:
        raise MediaNotFound()
    if not await live_status.is_live(db, stream_id):
        raise MediaNotFound()
    base = (settings.media_dir / "live" / str(stream_id)).resolve()
    target = (base / path).resolve()
    if not target.is_relative_to(base) or not await anyio.Path(target).is_file():
        raise MediaNotFound()
    ext = match.group(1)
    offset = ingest.pdt_offset(stream_id)
    if ext == "m3u8" and offset is not None:
        # Variant playlists: ffmpeg stamps EXT-X-PROGRAM-DATE-TIME from its own clock; viewers get the ingest
        # clock (when the frames entered the server), so players measure real glass-to-glass latency.
        text = await anyio.Path(target).read_text(encoding="utf-8")
        return Response(
            shift_program_date_times(text, offset),
            media_type=_TYPES[ext],
            headers={"Cache-Control": _CACHE[ext], "Access-Control-Allow-Origin": "*"},
        )
    return FileResponse(
        Path(target),
        media_type=_TYPES[ext],
        headers={"Cache-Control": _CACHE[ext], "Access-Control-Allow-Origin": "*"},
    )
