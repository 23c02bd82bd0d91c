"""The archive service on the request's session, and the app's playback, storage and archive jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from livestream.archives.playback import VodPlayback
from livestream.archives.repository import ArchiveRepository
from livestream.archives.service import ArchiveService
from livestream.archives.tasks import ArchiveJobs
from livestream.http.deps import SessionDep, SettingsDep, provided
from livestream.storage.base import Storage
from livestream.streams.service import Urls


async def get_archive_service(session: SessionDep, settings: SettingsDep) -> ArchiveService:
    return ArchiveService(ArchiveRepository(session), Urls(settings.public_url))


ArchiveServiceDep = Annotated[ArchiveService, Depends(get_archive_service)]
PlaybackDep = Annotated[VodPlayback, Depends(provided(VodPlayback))]
StorageDep = Annotated[Storage, Depends(provided(Storage))]
ArchiveJobsDep = Annotated[ArchiveJobs, Depends(provided(ArchiveJobs))]
