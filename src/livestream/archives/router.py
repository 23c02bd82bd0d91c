"""HTTP for archives: the API, and VOD playback under /vod."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, Response, status
from fastapi.responses import FileResponse, RedirectResponse

from livestream.archives.dependencies import ArchiveJobsDep, ArchiveServiceDep, PlaybackDep, StorageDep
from livestream.archives.errors import UserIdRequired
from livestream.archives.schemas import ArchiveOut
from livestream.auth.dependencies import CurrentUser, OptionalUser
from livestream.http.deps import SessionDep, SettingsDep, after_commit
from livestream.http.pagination import PageDep
from livestream.http.responses import errors
from livestream.media import files
from livestream.pagination import Page
from livestream.streams.dependencies import StreamViewsDep

router = APIRouter(tags=["archives"])

_TYPES = {"m3u8": "application/vnd.apple.mpegurl", "ts": "video/mp2t", "jpg": "image/jpeg", "mp4": "video/mp4"}
# A stored archive never changes: its files are immutable, its playlists too (short-lived all the same, for
# the presigned URLs they may carry).
_CACHE = {
    "m3u8": "public, max-age=60",
    "ts": "public, max-age=31536000, immutable",
    "jpg": "public, max-age=31536000, immutable",
    "mp4": "public, max-age=31536000, immutable",
}


@router.get(
    "/api/archives",
    response_model=Page[ArchiveOut],
    responses=errors(401),
    operation_id="listArchives",
)
async def list_archives(
    archives: ArchiveServiceDep, page: PageDep, viewer: OptionalUser, user_id: uuid.UUID | None = None
) -> Page[ArchiveOut]:
    """A creator's archives, newest first. Anyone sees the ready ones; the creator also sees those still
    processing and those that failed."""
    if user_id is None:
        raise UserIdRequired()
    viewer_id = viewer.user_id if viewer is not None else None
    return await archives.page(user_id, viewer_id, limit=page.limit, cursor=page.cursor)


@router.get("/api/archives/{archive_id}", response_model=ArchiveOut, responses=errors(404), operation_id="getArchive")
async def get_archive(archive_id: uuid.UUID, archives: ArchiveServiceDep) -> ArchiveOut:
    return await archives.get(archive_id)


@router.post(
    "/api/archives/{archive_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ArchiveOut,
    responses=errors(401, 403, 404, 409),
    operation_id="retryArchive",
)
async def retry_archive(
    archive_id: uuid.UUID,
    user: CurrentUser,
    archives: ArchiveServiceDep,
    session: SessionDep,
    jobs: ArchiveJobsDep,
    views: StreamViewsDep,
) -> ArchiveOut:
    """Process a failed archive again (its owner only)."""
    out = await archives.retry(user.user_id, archive_id)

    async def enqueue() -> None:
        views.invalidate(out.stream_id)
        await jobs.schedule(archive_id)

    after_commit(session, enqueue)
    return out


@router.delete(
    "/api/archives/{archive_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 503),
    operation_id="deleteArchive",
)
async def delete_archive(
    archive_id: uuid.UUID,
    user: CurrentUser,
    archives: ArchiveServiceDep,
    storage: StorageDep,
    session: SessionDep,
    settings: SettingsDep,
    playback: PlaybackDep,
    views: StreamViewsDep,
) -> Response:
    """Delete an archive and its stored files (its owner only)."""
    archive = await archives.delete(user.user_id, archive_id, storage)

    async def forget() -> None:
        playback.forget(archive_id)
        views.invalidate(archive.stream_id)
        # A processing or failed archive still had its sources on the ingest disk.
        await asyncio.to_thread(files.remove_stream_media, settings.media_dir, archive.stream_id)

    after_commit(session, forget)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/vod/{archive_id}/{name}",
    operation_id="getArchiveMedia",
    responses={
        **errors(404, 409, 503),
        200: {"description": "A playlist, a media file (byte ranges), the poster or the MP4"},
        302: {"description": "With S3 storage: the file at the CDN or a presigned URL"},
    },
)
async def archive_media(archive_id: uuid.UUID, name: str, playback: PlaybackDep) -> Response:
    """The archive's HLS VOD (``master.m3u8``, ``v{i}.m3u8``, ``v{i}.ts``), ``poster.jpg`` and ``archive.mp4``.
    409 ``ARCHIVE_COLD`` while it is in cold storage, 409 ``ARCHIVE_NOT_READY`` while it is processing."""
    ext = name.rsplit(".", 1)[-1]
    headers = {"Cache-Control": _CACHE.get(ext, "no-cache"), "Access-Control-Allow-Origin": "*"}
    if ext == "m3u8":
        text = await playback.playlist(archive_id, name)
        return Response(text, media_type=_TYPES[ext], headers=headers)
    found = await playback.media(archive_id, name)
    if found.path is not None:
        # The stat taken when it was found: a file deleted since answers from the open below, never a 500.
        return FileResponse(found.path, media_type=_TYPES[ext], headers=headers, stat_result=found.stat)
    assert found.url is not None
    return RedirectResponse(found.url, status_code=status.HTTP_302_FOUND, headers={"Cache-Control": "no-store"})
