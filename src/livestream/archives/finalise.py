"""The archive job: an ended stream's kept segments become a stored HLS VOD, a poster and (optionally) an MP4.

The ``archives`` row is the state machine, written only here and in the service (retry, delete):
``processing`` (progress 0–100) → ``ready`` | ``failed`` (with a reason) → (owner's retry) ``processing``.

Safe to run twice, or twice at once: a run first claims the row (one UPDATE; the loser stops), a ready or failed
archive is left alone, and the stored objects are written under fixed keys, so a second run overwrites rather
than duplicates. Sources (the live segments and the recording) are deleted only once the row says ``ready``.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from livestream.archives.media import MediaToolError, make_mp4, make_poster
from livestream.archives.models import Archive
from livestream.archives.repository import ArchiveRepository
from livestream.archives.vod import NothingRecorded, VodBuild, build_vod
from livestream.db import Database, after_commit, utcnow
from livestream.jobs.runtime import RetryLater
from livestream.logging import get_logger
from livestream.media import files
from livestream.media.ffmpeg import MASTER_PLAYLIST
from livestream.media.transcoder import TranscoderError
from livestream.storage.base import Storage, StorageError
from livestream.streams.repository import StreamRepository

log = get_logger("livestream.archives")

# A run holds the archive this long past its last progress; a crashed run's archive is free again after it.
LEASE = timedelta(minutes=2)
# An ended stream whose transcoder never said it finished (its process was killed; or it runs on another
# node): once nothing in its live directory has changed for this long, nothing is writing it (ffmpeg writes
# a segment a second while it runs, and its last ones within a second or two of its input closing).
MEDIA_QUIET_S = 10.0
# Progress is written (and pushed to the creator) at most this often.
PROGRESS_EVERY_S = 0.5
MAX_REASON = 500
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".jpg": "image/jpeg",
    ".mp4": "video/mp4",
}


def archive_prefix(archive_id: uuid.UUID) -> str:
    return f"archives/{archive_id}/"


def safe_reason(error: BaseException) -> str:
    """What the creator (and the stream's viewers) are told: a fixed sentence per kind of failure. The detail,
    which may hold server paths, SQL or a provider's words, goes to the log only."""
    if isinstance(error, NothingRecorded):
        return str(error)
    if isinstance(error, StorageError):
        return "the archive could not be stored: storage is unavailable"
    if isinstance(error, MediaToolError | TranscoderError | OSError):
        return "the video could not be processed"
    return "an internal error stopped the processing"


@dataclass(frozen=True, slots=True)
class ArchiveEvent:
    """An archive's processing moved (pushed to the stream's channel as an ``archive.status`` frame)."""

    archive_id: uuid.UUID
    stream_id: uuid.UUID
    user_id: uuid.UUID
    status: str
    progress: int
    failure_reason: str | None


Notify = Callable[[ArchiveEvent], Awaitable[None]]


class ArchiveFinaliser:
    def __init__(
        self,
        db: Database,
        storage: Storage,
        *,
        media_dir: Path,
        ffmpeg: str,
        mp4: bool,
        media_busy: Callable[[uuid.UUID], bool] = lambda _stream_id: False,
        notify: Notify | None = None,
    ) -> None:
        self.db = db
        self.storage = storage
        self.media_dir = media_dir
        self.ffmpeg = ffmpeg
        self.mp4 = mp4
        # True while this process's transcoder for the stream is still finishing.
        self.media_busy = media_busy
        self.notify = notify

    # --- creating the row ---------------------------------------------------------------------------------

    async def ensure(self, stream_id: uuid.UUID) -> uuid.UUID | None:
        """The archive of an ended stream that received media, created if missing; its id while it still needs
        processing, else None (ready, failed, or nothing to archive)."""
        async with self.db.unit_of_work() as session:
            stream = await StreamRepository(session).get(stream_id)
            if stream is None or stream.status != "ended" or stream.last_ingest_at is None:
                return None
            archives = ArchiveRepository(session)
            archive = await archives.for_stream(stream_id)
            if archive is None:
                # OBS connected and sent nothing, or the segments are gone: nothing to make a replay of.
                if not await asyncio.to_thread(files.has_segments, self.media_dir, stream_id):
                    return None
                archive_id = uuid.uuid4()
                created = Archive(
                    archive_id=archive_id,
                    stream_id=stream_id,
                    user_id=stream.user_id,
                    s3_key=archive_prefix(archive_id) + MASTER_PLAYLIST,
                    status="processing",
                )
                if not await archives.add(created):
                    archive = await archives.for_stream(stream_id)  # made by another process just now
                else:
                    archive = created
                    log.info("archive_created", archive_id=str(archive_id), stream_id=str(stream_id))
                    new = created

                    async def announce() -> None:
                        await self._notify(new, "processing", 0, None)

                    after_commit(session, announce)
            return archive.archive_id if archive is not None and archive.status == "processing" else None

    # --- the job ----------------------------------------------------------------------------------------------

    async def finalise(self, archive_id: str) -> None:
        """Job ``archives.finalise``. Raises to be retried (the runtime's backoff), ``RetryLater`` while the
        stream's files are still being written."""
        ident = uuid.UUID(archive_id)
        async with self.db.sessionmaker() as session:
            found = await ArchiveRepository(session).get_full(ident)
        if found is None:
            return  # deleted
        archive, stream, _ = found
        if archive.status != "processing":
            return
        if self.media_busy(stream.stream_id):
            raise RetryLater("the transcoder is finishing", delay=0.5)
        if not await asyncio.to_thread(self._media_settled, stream.stream_id):
            raise RetryLater("waiting for the stream's transcoder to finish", delay=1.0)
        run_id = uuid.uuid4().hex
        async with self.db.unit_of_work() as session:
            claimed = await ArchiveRepository(session).claim(ident, utcnow() + LEASE, run_id)
        if not claimed:
            log.info("archive_claimed_elsewhere", archive_id=archive_id)
            return
        # Each run its own work directory: a run that lost its lease never touches another's files.
        work = self.media_dir / "work" / str(ident) / run_id
        try:
            await self._build_and_store(archive, work, run_id)
        except NothingRecorded as exc:
            await self._fail(archive, str(exc), run_id=run_id)
        except asyncio.CancelledError:
            # Shutting down mid-build is not a failure: the lease goes, and the reconciler enqueues it again.
            async with self.db.unit_of_work() as session:
                await ArchiveRepository(session).set_for_run(ident, run_id, lease_until=None, run_id=None)
            raise
        except Exception as exc:
            log.warning("archive_run_failed", archive_id=archive_id, error=f"{type(exc).__name__}: {exc}")
            async with self.db.unit_of_work() as session:
                await ArchiveRepository(session).set_for_run(
                    ident,
                    run_id,
                    lease_until=None,
                    run_id=None,
                    attempts=archive.attempts + 1,
                    failure_reason=safe_reason(exc),
                )
            raise
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)

    def _media_settled(self, stream_id: uuid.UUID) -> bool:
        """No transcoder is writing the stream's files any more (blocking: run it in a thread)."""
        if not files.live_dir(self.media_dir, stream_id).is_dir() or files.is_finished(self.media_dir, stream_id):
            return True
        return files.seconds_since_last_write(self.media_dir, stream_id, time.time()) >= MEDIA_QUIET_S

    async def give_up(self, payload: dict[str, Any], error: BaseException) -> None:
        """The last attempt failed: the archive is ``failed`` with the reason, and its owner may retry it."""
        async with self.db.sessionmaker() as session:
            archive = await ArchiveRepository(session).get(uuid.UUID(str(payload["archive_id"])))
        if archive is not None and archive.status == "processing":
            await self._fail(archive, safe_reason(error))

    # --- internals ----------------------------------------------------------------------------------------

    async def _build_and_store(self, archive: Archive, work: Path, run_id: str) -> None:
        ident, stream_id = archive.archive_id, archive.stream_id
        progress = _Progress(self, archive, run_id)
        live = files.live_dir(self.media_dir, stream_id)
        started = time.monotonic()

        def building(fraction: float) -> None:
            progress.fraction = 0.6 * fraction

        reporter = asyncio.create_task(progress.report_while_running())
        try:
            vod: VodBuild = await asyncio.to_thread(build_vod, live, work, building)
            extras: list[Path] = []
            poster = work / "poster.jpg"
            try:
                await make_poster(self.ffmpeg, vod.media[0], vod.duration, poster)
            except Exception as exc:
                log.warning("archive_poster_failed", archive_id=str(ident), error=str(exc))
                thumbnail = live / "thumbnail.jpg"
                if thumbnail.is_file():
                    await asyncio.to_thread(shutil.copyfile, thumbnail, poster)
            if await asyncio.to_thread(poster.is_file):
                extras.append(poster)
            progress.fraction = 0.65
            if self.mp4:
                mp4 = work / "archive.mp4"
                parts = await asyncio.to_thread(files.recording_parts, self.media_dir, stream_id)
                sources = parts or vod.media[:1]
                await make_mp4(self.ffmpeg, sources, mp4, timeout=max(120.0, vod.duration))
                extras.append(mp4)
            progress.fraction = 0.75
            prefix = archive_prefix(ident)
            uploads = [*vod.media, *extras, *vod.playlists]  # the master playlist last: it completes the set
            sizes = await asyncio.to_thread(lambda: [path.stat().st_size for path in uploads])
            total = sum(sizes) or 1
            sent = 0
            for path, size in zip(uploads, sizes, strict=True):
                await self.storage.put_file(
                    prefix + path.name, path, content_type=CONTENT_TYPES[path.suffix], move=True
                )
                sent += size
                progress.fraction = 0.75 + 0.24 * sent / total
            stored = await self.storage.list(prefix)
        finally:
            reporter.cancel()
            await asyncio.gather(reporter, return_exceptions=True)
        names = {obj.key.rsplit("/", 1)[-1] for obj in stored}
        async with self.db.unit_of_work() as session:
            archives = ArchiveRepository(session)
            won = await archives.set_for_run(
                ident,
                run_id,
                status="ready",
                progress=100,
                duration=round(vod.duration),
                file_size=sum(obj.size for obj in stored),
                storage_class="STANDARD",
                poster_key=prefix + "poster.jpg" if "poster.jpg" in names else None,
                mp4_key=prefix + "archive.mp4" if "archive.mp4" in names else None,
                failure_reason=None,
                lease_until=None,
                run_id=None,
                attempts=0,
                ready_at=utcnow(),
            )
            current = None if won else await archives.get(ident)
        if not won:
            # Deleted while this run stored it: take the files back out. Otherwise another run holds it now
            # (this one lost its lease); its files are the same, and it is the one to finish.
            if current is None or current.status == "deleted":
                await self.storage.delete_prefix(prefix)
            log.info("archive_run_superseded", archive_id=str(ident), status=current.status if current else None)
            return
        log.info(
            "archive_ready",
            archive_id=str(ident),
            stream_id=str(stream_id),
            duration_s=round(vod.duration, 3),
            parts=vod.parts,
            renditions=len(vod.media),
            bytes=sum(obj.size for obj in stored),
            seconds=round(time.monotonic() - started, 3),
        )
        await self._notify(archive, "ready", 100, None)
        # Only now, with the archive ready and stored, do the sources go.
        await asyncio.to_thread(files.remove_stream_media, self.media_dir, stream_id)

    async def _fail(self, archive: Archive, reason: str, *, run_id: str | None = None) -> None:
        async with self.db.unit_of_work() as session:
            archives = ArchiveRepository(session)
            if run_id is not None:
                failed = await archives.set_for_run(
                    archive.archive_id,
                    run_id,
                    status="failed",
                    failure_reason=reason[:MAX_REASON],
                    lease_until=None,
                    run_id=None,
                )
            else:
                failed = await archives.fail_unless_held(archive.archive_id, reason[:MAX_REASON])
        if not failed:
            return  # deleted, or a run holds it again
        log.error("archive_failed", archive_id=str(archive.archive_id), reason=reason)
        await self._notify(archive, "failed", archive.progress, reason[:MAX_REASON])

    async def write_progress(self, archive: Archive, percent: int, run_id: str) -> None:
        async with self.db.unit_of_work() as session:
            held = await ArchiveRepository(session).set_for_run(
                archive.archive_id, run_id, progress=percent, lease_until=utcnow() + LEASE
            )
        if held:
            await self._notify(archive, "processing", percent, None)

    async def _notify(self, archive: Archive, status: str, progress: int, reason: str | None) -> None:
        if self.notify is None:
            return
        event = ArchiveEvent(archive.archive_id, archive.stream_id, archive.user_id, status, progress, reason)
        try:
            await self.notify(event)
        except Exception as exc:
            log.warning("archive_notify_failed", archive_id=str(archive.archive_id), error=repr(exc))


class _Progress:
    """The build's progress, written and pushed every ``PROGRESS_EVERY_S`` while it changes (which also
    renews the run's lease)."""

    def __init__(self, finaliser: ArchiveFinaliser, archive: Archive, run_id: str) -> None:
        self.finaliser = finaliser
        self.archive = archive
        self.run_id = run_id
        self.fraction = 0.0
        self._written = -1
        self._written_at = time.monotonic()

    async def report_while_running(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            percent = min(99, int(self.fraction * 100))
            # A long step (a big MP4 remux) moves no figure: the lease is renewed all the same.
            renew = time.monotonic() - self._written_at > LEASE.total_seconds() / 4
            if percent != self._written or renew:
                self._written, self._written_at = percent, time.monotonic()
                try:
                    await self.finaliser.write_progress(self.archive, percent, self.run_id)
                except Exception as exc:
                    log.warning("archive_progress_failed", archive_id=str(self.archive.archive_id), error=repr(exc))
