"""The archive jobs: who enqueues them (the "ended" transition, a finished transcoder, the owner's retry) and the
reconciler that repairs what a crash left (an ended stream without an archive row, a processing archive whose
job was lost)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from livestream.archives.finalise import ArchiveFinaliser
from livestream.archives.repository import ArchiveRepository
from livestream.db import Database, utcnow
from livestream.jobs.periodic import PeriodicRunner
from livestream.jobs.runtime import JobRuntime
from livestream.logging import get_logger
from livestream.media import files
from livestream.streams.lifecycle import StreamTransition

log = get_logger("livestream.archives.tasks")

FINALISE = "archives.finalise"
RECONCILE = "archives.reconcile"
# The reconciler looks this far back for ended streams without an archive.
LOOK_BACK = timedelta(days=7)
# A processing archive untouched this long, and held by no run, lost its job.
ABANDONED_AFTER = timedelta(minutes=2)


class ArchiveJobs:
    def __init__(self, db: Database, finaliser: ArchiveFinaliser, runtime: JobRuntime) -> None:
        self.db = db
        self.finaliser = finaliser
        self.runtime = runtime

    def register(self, periodic: PeriodicRunner, *, reconcile_every: float) -> None:
        self.runtime.register(FINALISE, self.finaliser.finalise, on_give_up=self.finaliser.give_up)
        periodic.every(RECONCILE, reconcile_every, self.reconcile)

    async def schedule(self, archive_id: uuid.UUID) -> None:
        await self.runtime.enqueue(FINALISE, archive_id=str(archive_id))

    async def on_transition(self, transition: StreamTransition) -> None:
        """Lifecycle subscriber: an ended stream gets its archive row and job, in the background (whoever ended
        it, a request say, does not wait for the row)."""
        if transition.kind == "ended":
            stream_id = transition.stream_id
            # This process's transcoder is still finishing: it says so when done, and the job starts then.
            enqueue = not self.finaliser.media_busy(stream_id)
            self.runtime.spawn(self._archive(stream_id, enqueue=enqueue), name=f"archive-ensure:{stream_id}")

    async def stream_media_finished(self, stream_id: uuid.UUID) -> None:
        """Also told by ingest once the stream's transcoder has exited: the job need not wait any longer."""
        await self._archive(stream_id, enqueue=True)

    async def _archive(self, stream_id: uuid.UUID, *, enqueue: bool) -> None:
        archive_id = await self.finaliser.ensure(stream_id)
        if archive_id is not None and enqueue:
            await self.schedule(archive_id)

    async def reconcile(self) -> None:
        now = utcnow()
        async with self.db.sessionmaker() as session:
            archives = ArchiveRepository(session)
            orphans = await archives.ended_without_archive(now - LOOK_BACK)
            lost = await archives.abandoned(now - ABANDONED_AFTER)
        media_dir = self.finaliser.media_dir
        for stream in orphans:
            # Only while its media is still there: an archive its owner deleted took the media with it.
            if await asyncio.to_thread(files.live_dir(media_dir, stream.stream_id).is_dir):
                log.info("reconciler_archive_missing", stream_id=str(stream.stream_id))
                await self.stream_media_finished(stream.stream_id)
        for archive_id in lost:
            log.info("reconciler_archive_job_lost", archive_id=str(archive_id))
            await self.schedule(archive_id)
