"""Notification jobs: the go-live fan-out to followers, an archive ready, new followers; and the retention purge.

The fan-out writes one row per follower in batches of ``FAN_OUT_BATCH`` follows, each batch one INSERT … SELECT
committed on its own. Every row is unique per (recipient, event), so a worker killed half-way and the job run
again (its retry, or a second delivery) writes only the rows still missing: each follower is told once.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from livestream.db import Database, utcnow
from livestream.jobs.periodic import PeriodicRunner
from livestream.jobs.runtime import JobRuntime
from livestream.logging import get_logger
from livestream.notifications.delivery import Delivery, Written
from livestream.notifications.models import Notification
from livestream.notifications.repository import NotificationRepository
from livestream.streams.lifecycle import StreamTransition
from livestream.streams.repository import StreamRepository
from livestream.users.repository import UserRepository

log = get_logger("livestream.notifications")

STREAM_STARTED = "notifications.stream_started"
ARCHIVE_READY = "notifications.archive_ready"
NEW_FOLLOWER = "notifications.new_follower"
PURGE = "notifications.purge"
RECONCILE = "notifications.reconcile"
FAN_OUT_BATCH = 5_000
# The reconciler repairs go-live fan-outs of streams still on that were opened within LOOK_BACK, and not in the
# last GRACE (their fan-out may still be running: a second run beside it would only find its rows there).
LOOK_BACK = timedelta(hours=6)
GRACE = timedelta(minutes=2)
# Live streams looked at per pass; the oldest first, the rest the next pass.
RECONCILE_LIMIT = 500
# A creator's unread "new followers" notification takes in this many names; the count goes on.
NAMES_SHOWN = 3


def stream_started_key(stream_id: uuid.UUID | str) -> str:
    return f"stream_started:{stream_id}"


class NotificationJobs:
    def __init__(
        self,
        db: Database,
        runtime: JobRuntime,
        *,
        retention_days: int,
        delivery: Delivery | None = None,
        batch: int = FAN_OUT_BATCH,
    ) -> None:
        self.db = db
        self.runtime = runtime
        # Told of every committed notification: the live channel, email and push (notifications/delivery.py).
        self.delivery = delivery if delivery is not None else Delivery()
        self.retention = timedelta(days=retention_days)
        self.batch = batch

    def register(self, periodic: PeriodicRunner, *, reconcile_every: float = 60.0) -> None:
        self.runtime.register(STREAM_STARTED, self.stream_started)
        self.runtime.register(ARCHIVE_READY, self.archive_ready)
        self.runtime.register(NEW_FOLLOWER, self.new_follower)
        periodic.every(PURGE, 3600, self.purge)
        periodic.every(RECONCILE, reconcile_every, self.reconcile)

    # --- triggers ----------------------------------------------------------------------------------------

    async def on_transition(self, transition: StreamTransition) -> None:
        """Lifecycle subscriber: the first video of a stream (not a reconnect) tells its followers."""
        if transition.kind == "live" and transition.previous == "waiting":
            await self.runtime.enqueue(STREAM_STARTED, stream_id=str(transition.stream_id))

    async def followed(self, creator_id: uuid.UUID, follower_id: uuid.UUID) -> None:
        await self.runtime.enqueue(NEW_FOLLOWER, creator_id=str(creator_id), follower_id=str(follower_id))

    async def archive_is_ready(self, archive_id: uuid.UUID, stream_id: uuid.UUID, user_id: uuid.UUID) -> None:
        payload = {"archive_id": str(archive_id), "stream_id": str(stream_id), "user_id": str(user_id)}
        await self.runtime.enqueue(ARCHIVE_READY, **payload)

    # --- jobs --------------------------------------------------------------------------------------------

    async def stream_started(self, stream_id: str) -> None:
        ident = uuid.UUID(stream_id)
        async with self.db.sessionmaker() as session:
            found = await StreamRepository(session).get_with_creator(ident)
        if found is None:
            return
        stream, creator = found
        payload: dict[str, Any] = {
            "stream_id": str(stream.stream_id),
            "title": stream.title,
            "creator": {
                "user_id": str(creator.user_id),
                "username": creator.username,
                "display_name": creator.display_name,
            },
        }
        key = stream_started_key(ident)
        await self.fan_out(creator.user_id, kind="stream_started", event_key=key, payload=payload, stream_id=stream_id)

    async def fan_out(
        self, creator_id: uuid.UUID, *, kind: str, event_key: str, payload: dict[str, Any], **about: str
    ) -> int:
        """Tell every follower of the creator (who has not muted them nor turned ``kind`` off) once about
        ``event_key``, in batches each committed on its own; run again, it writes only what is missing."""
        after: uuid.UUID | None = None
        written = batches = 0
        started = time.monotonic()
        while True:
            async with self.db.unit_of_work() as session:
                notifications = NotificationRepository(session)
                upto = await notifications.follower_batch_end(creator_id, after, self.batch)
                if upto is None:
                    break
                rows = await notifications.fan_out(
                    creator_id, after=after, upto=upto, kind=kind, event_key=event_key, payload=payload
                )
            await self.delivery.delivered(rows)
            after, batches, written = upto, batches + 1, written + len(rows)
        elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        log.info(
            "notifications_fanned_out",
            event_key=event_key,
            rows=written,
            batches=batches,
            elapsed_ms=elapsed_ms,
            **about,
        )
        return written

    async def archive_ready(self, archive_id: str, stream_id: str, user_id: str) -> None:
        recipient = uuid.UUID(user_id)
        async with self.db.unit_of_work() as session:
            notifications = NotificationRepository(session)
            if not (await notifications.settings(recipient)).archive_ready:
                return
            async with self.db.sessionmaker() as reading:
                stream = await StreamRepository(reading).get(uuid.UUID(stream_id))
            payload = {"archive_id": archive_id, "stream_id": stream_id, "title": stream.title if stream else None}
            written = await notifications.add_unless_there(
                Notification(
                    user_id=recipient, type="archive_ready", payload=payload, event_key=f"archive_ready:{archive_id}"
                )
            )
        if written is not None:
            await self.delivery.delivered([written])

    async def new_follower(self, creator_id: str, follower_id: str) -> None:
        """Batched: while the creator has not read it, one "new followers" notification counts them up."""
        creator, follower = uuid.UUID(creator_id), uuid.UUID(follower_id)
        written = await self._count_new_follower(creator, follower, follower_id)
        if written is not None:
            await self.delivery.delivered([written])

    async def _count_new_follower(self, creator: uuid.UUID, follower: uuid.UUID, follower_id: str) -> Written | None:
        async with self.db.unit_of_work() as session:
            notifications = NotificationRepository(session)
            if not (await notifications.settings(creator)).new_follower:
                return None
            user = await UserRepository(session).get(follower)
            if user is None:
                return None
            name = user.display_name or user.username
            await notifications.lock_for_counting(creator, "new_follower")
            pending = await notifications.unread_of_kind(creator, "new_follower")
            if pending is None:
                payload = {"count": 1, "names": [name], "follower_ids": [follower_id]}
                return await notifications.add_unless_there(
                    Notification(
                        user_id=creator, type="new_follower", payload=payload, event_key=f"new_follower:{follower_id}"
                    )
                )
            seen = list(pending.payload.get("follower_ids", []))
            if follower_id in seen:
                return None  # the same follow twice (a job delivered again)
            names = list(pending.payload.get("names", []))
            pending.payload = {
                "count": int(pending.payload.get("count", 0)) + 1,
                "names": [*names, name][-NAMES_SHOWN:],
                "follower_ids": [*seen, follower_id][-100:],
            }
            pending.created_at = utcnow()
            return Written(
                notification_id=pending.notification_id,
                user_id=creator,
                kind="new_follower",
                payload=pending.payload,
                created_at=pending.created_at,
                new=False,
            )

    async def reconcile(self) -> None:
        """Enqueue again the go-live fan-out of a live stream that left a follower untold.

        The Redis queue is a list a worker pops (BRPOP): a worker killed while it runs the fan-out takes the
        message with it, and nothing else would ever finish that fan-out. The rows say what is missing: a follower
        who followed before the stream opened and has no notification of it.
        """
        now = utcnow()
        async with self.db.sessionmaker() as session:
            notifications = NotificationRepository(session)
            live = await notifications.live_streams_started_between(now - LOOK_BACK, now - GRACE, RECONCILE_LIMIT)
            unfinished = [
                stream_id
                for stream_id, creator_id, started_at in live
                if await notifications.someone_not_told(
                    creator_id, kind="stream_started", event_key=stream_started_key(stream_id), followed_by=started_at
                )
            ]
        for stream_id in unfinished:
            log.info("reconciler_fan_out_unfinished", stream_id=str(stream_id))
            await self.runtime.enqueue(STREAM_STARTED, stream_id=str(stream_id))

    async def purge(self) -> None:
        async with self.db.unit_of_work() as session:
            removed = await NotificationRepository(session).purge_before(utcnow() - self.retention)
        log.info("notifications_purged", rows=removed)
