"""Playing an archive: its playlists from storage (pointed at the CDN or presigned URLs on S3), its files.

Stored archives never change, so their playlists are kept in memory once read; an archive's state (ready, its
storage class) is read at most once a second per archive.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from livestream.archives import errors
from livestream.archives.finalise import archive_prefix
from livestream.archives.repository import ArchiveRepository
from livestream.db import Database
from livestream.media.ffmpeg import MASTER_PLAYLIST
from livestream.shortcache import ShortCache
from livestream.storage.base import COLD_STORAGE_CLASSES, ObjectCold, ObjectNotFound, Storage, StorageError

PLAYLIST = re.compile(r"^(?:master|v\d{1,2})\.m3u8$")
# With S3, how long a file's storage class is trusted before redirecting to it again: the bucket's lifecycle
# rule can move an archive to a cold class at any time, behind the app's back.
CLASS_MAX_AGE_S = 60.0
# S3 playlists with their presigned URLs are reused this long (far below LS_S3_PRESIGN_SECONDS' minimum of 60 s
# plus a viewing), and never read past this size (a 24-hour archive's playlist at 1 s segments is about 5 MB).
REWRITTEN_MAX_AGE_S = 30.0
MAX_PLAYLIST_BYTES = 32 * 1024 * 1024
MEDIA = re.compile(r"^(?:v\d{1,2}\.ts|poster\.jpg|archive\.mp4)$")
# Local playlists kept in memory, by total size: a 12-hour archive's variant playlist is about 2.6 MB.
KEPT_PLAYLIST_BYTES = 32 * 1024 * 1024
STATE_MAX_AGE_S = 1.0


@dataclass(frozen=True, slots=True)
class ArchiveState:
    status: str
    storage_class: str


@dataclass(frozen=True, slots=True)
class MediaFile:
    """Where to get an archive's file: a local path the app serves, or a URL to redirect to."""

    path: Path | None
    url: str | None
    stat: os.stat_result | None = None


class VodPlayback:
    def __init__(self, db: Database, storage: Storage) -> None:
        self.db = db
        self.storage = storage
        self._states: ShortCache[uuid.UUID, ArchiveState] = ShortCache(STATE_MAX_AGE_S, max_entries=10_000)
        self._playlists: OrderedDict[tuple[uuid.UUID, str], str] = OrderedDict()
        self._kept_bytes = 0
        self._classes: ShortCache[str, str] = ShortCache(CLASS_MAX_AGE_S, max_entries=10_000)
        self._rewritten: ShortCache[tuple[uuid.UUID, str], str] = ShortCache(REWRITTEN_MAX_AGE_S, max_entries=64)

    async def playlist(self, archive_id: uuid.UUID, name: str) -> str:
        if not PLAYLIST.fullmatch(name):
            raise errors.ArchiveNotFound()
        await self._playable(archive_id)
        key = archive_prefix(archive_id) + name
        if self.storage.name != "local":
            # A HEAD every time (the bucket's lifecycle rule may have made it cold since), the rewritten text
            # (one presigned URL per file) kept for a minute: long archives' playlists are megabytes.
            storage_class = await self._storage_class(key)
            if storage_class in COLD_STORAGE_CLASSES:
                await self._read(archive_id, key, length=1)  # 409 unless it has been restored since
            return await self._rewritten.get((archive_id, name), lambda: self._read_rewritten(archive_id, key))
        cached = self._playlists.get((archive_id, name))
        if cached is None:
            cached = (await self._read(archive_id, key)).decode("utf-8")
            self._playlists[(archive_id, name)] = cached
            self._kept_bytes += len(cached)
            while self._kept_bytes > KEPT_PLAYLIST_BYTES and len(self._playlists) > 1:
                self._kept_bytes -= len(self._playlists.popitem(last=False)[1])
        return cached  # relative URIs: the app serves the variants and the files beside it

    async def media(self, archive_id: uuid.UUID, name: str) -> MediaFile:
        if not MEDIA.fullmatch(name):
            raise errors.ArchiveNotFound()
        state = await self._playable(archive_id)
        key = archive_prefix(archive_id) + name
        if self.storage.name != "local":
            storage_class = state.storage_class
            if storage_class not in COLD_STORAGE_CLASSES:
                storage_class = await self._classes.get(key, lambda: self._storage_class(key))
            if storage_class in COLD_STORAGE_CLASSES:
                await self._read(archive_id, key, length=1)  # 409 unless it has been restored since
        path = self.storage.local_path(key)
        if path is not None:
            try:
                stat = await asyncio.to_thread(os.stat, path)
            except OSError as exc:
                raise errors.ArchiveNotFound() from exc
            return MediaFile(path=path, url=None, stat=stat)
        return MediaFile(path=None, url=self.storage.playback_url(key))

    def forget(self, archive_id: uuid.UUID) -> None:
        self._states.invalidate(archive_id)
        for key in [k for k in self._playlists if k[0] == archive_id]:
            self._kept_bytes -= len(self._playlists.pop(key))

    async def close(self) -> None:
        await self._states.close()
        await self._classes.close()
        await self._rewritten.close()

    async def _read_rewritten(self, archive_id: uuid.UUID, key: str) -> str:
        raw = await self._read(archive_id, key, length=MAX_PLAYLIST_BYTES)
        if key.endswith(MASTER_PLAYLIST):
            return raw.decode("utf-8")
        return await asyncio.to_thread(self._point_at_storage, archive_id, raw.decode("utf-8"))

    async def _storage_class(self, key: str) -> str:
        try:
            return (await self.storage.stat(key)).storage_class
        except ObjectNotFound as exc:
            raise errors.ArchiveNotFound() from exc
        except StorageError as exc:
            raise errors.StorageUnavailable() from exc

    async def _state(self, archive_id: uuid.UUID) -> ArchiveState:
        async def read() -> ArchiveState:
            async with self.db.sessionmaker() as session:
                archive = await ArchiveRepository(session).get(archive_id)
            if archive is None:
                raise errors.ArchiveNotFound()
            return ArchiveState(archive.status, archive.storage_class)

        return await self._states.get(archive_id, read)

    async def _playable(self, archive_id: uuid.UUID) -> ArchiveState:
        """Ready, or 409. A cold storage class is not refused here: a restored object keeps its class, and
        reading it is what tells (``ObjectCold`` until the restore is done)."""
        state = await self._state(archive_id)
        if state.status == "deleted":
            raise errors.ArchiveNotFound()
        if state.status != "ready":
            raise errors.ArchiveNotReady()
        return state

    async def _read(self, archive_id: uuid.UUID, key: str, length: int | None = None) -> bytes:
        try:
            return await self.storage.read(key, 0, length)
        except ObjectCold as exc:
            # The bucket's lifecycle rule moved it: the row learns it, and players get a clear answer.
            await self._mark_cold(archive_id, key)
            raise errors.ArchiveCold.of(archive_id) from exc
        except ObjectNotFound as exc:
            raise errors.ArchiveNotFound() from exc
        except StorageError as exc:
            raise errors.StorageUnavailable() from exc

    async def _mark_cold(self, archive_id: uuid.UUID, key: str) -> None:
        try:
            storage_class = (await self.storage.stat(key)).storage_class
        except StorageError:
            storage_class = "GLACIER"
        async with self.db.unit_of_work() as session:
            await ArchiveRepository(session).set_values(archive_id, storage_class=storage_class)
        self.forget(archive_id)

    def _point_at_storage(self, archive_id: uuid.UUID, text: str) -> str:
        prefix = archive_prefix(archive_id)
        # Every byte range of a rendition names the same file: one URL (one signature) per file.
        urls: dict[str, str] = {}
        lines = []
        for line in text.splitlines():
            if line and not line.startswith("#") and MEDIA.fullmatch(line):
                if line not in urls:
                    urls[line] = self.storage.playback_url(prefix + line) or line
                line = urls[line]
            lines.append(line)
        return "\n".join(lines) + "\n"
