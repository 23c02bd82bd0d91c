"""The HLS origin: live playlists, segments and thumbnails, with headers a CDN can cache by."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from livestream.api.deps import ContainerDep
from livestream.errors import NotFound
from livestream.streams.repository import StreamRepository

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
_LIVE_TTL_S = 1.0


class MediaNotFound(NotFound):
    code = "MEDIA_NOT_FOUND"
    message = "No such live media"


class LiveStatusCache:
    """Whether a stream is live, remembered for a second: segment requests must not each cost a query."""

    def __init__(self) -> None:
        self._seen: dict[uuid.UUID, tuple[bool, float]] = {}

    async def is_live(self, container: ContainerDep, stream_id: uuid.UUID) -> bool:
        now = time.monotonic()
        cached = self._seen.get(stream_id)
        if cached is not None and now - cached[1] < _LIVE_TTL_S:
            return cached[0]
        async with container.db.sessionmaker() as session:
            stream = await StreamRepository(session).get(stream_id)
        live = stream is not None and stream.status == "live"
        if len(self._seen) > 10_000:
            self._seen.clear()
        self._seen[stream_id] = (live, now)
        return live


@router.get(
    "/hls/{stream_id}/{path:path}",
    include_in_schema=True,
    operation_id="getLiveMedia",
    responses={404: {"description": "Unknown or ended stream, or no such file"}},
)
async def live_media(stream_id: uuid.UUID, path: str, request: Request, container: ContainerDep) -> FileResponse:
    """HLS master and variant playlists, segments and the thumbnail of a live stream."""
    match = _PATH.fullmatch(path)
    if match is None:
        raise MediaNotFound()
    cache: LiveStatusCache = request.app.state.live_status
    if not await cache.is_live(container, stream_id):
        raise MediaNotFound()
    base = (container.settings.media_dir / "live" / str(stream_id)).resolve()
    target = (base / path).resolve()
    if not target.is_relative_to(base) or not await anyio.Path(target).is_file():
        raise MediaNotFound()
    ext = match.group(1)
    return FileResponse(
        Path(target),
        media_type=_TYPES[ext],
        headers={"Cache-Control": _CACHE[ext], "Access-Control-Allow-Origin": "*"},
    )
