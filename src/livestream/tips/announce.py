"""What a succeeded tip does: a ``tip`` frame in the stream's chat and a ``tip_received`` notification."""

from __future__ import annotations

import uuid
from typing import Any

from livestream.chat import frames
from livestream.chat.service import channel_of
from livestream.db import Database, utcnow
from livestream.jobs.runtime import JobRuntime
from livestream.logging import get_logger
from livestream.notifications.delivery import Delivery
from livestream.notifications.models import Notification
from livestream.notifications.repository import NotificationRepository
from livestream.realtime.engine import Engine
from livestream.tips.repository import TipRepository

log = get_logger("livestream.tips")

NOTIFY = "tips.notify_recipient"


class TipAnnouncer:
    def __init__(
        self, db: Database, engine: Engine, jobs: JobRuntime, delivery: Delivery, *, history_seconds: int
    ) -> None:
        self.db = db
        self.engine = engine
        self.jobs = jobs
        self.delivery = delivery
        self.history_seconds = history_seconds

    def register(self) -> None:
        self.jobs.register(NOTIFY, self.notify)

    async def succeeded(self, transaction_id: uuid.UUID, *, chat: bool = True) -> None:
        """Once, after the commit that made the tip succeed: the chat frame now, the notification as a job.
        ``chat=False``: the notification only (the reconciler, for a job that was lost)."""
        async with self.db.sessionmaker() as session:
            found = await TipRepository(session).announcement(transaction_id, utcnow())
        if found is None:
            return
        tip, sender = found.tip, found.sender
        if chat and tip.stream_id is not None:
            frame_id, frame = frames.tip(
                tip.transaction_id,
                None if sender is None else (sender.user_id, sender.username),
                tip.amount,
                tip.currency,
                # Moderation as in chat: a sender banned since they paid keeps the tip, but not the words.
                None if found.banned else tip.message,
                tip.settled_at or utcnow(),
            )
            await self.engine.publish_with_history(channel_of(tip.stream_id), frame_id, frame, self.history_seconds)
        payload = {
            "transaction_id": str(tip.transaction_id),
            "amount": tip.amount,
            "currency": tip.currency,
            "message": None if found.banned else tip.message,
            "stream_id": str(tip.stream_id) if tip.stream_id else None,
            "sender": None
            if sender is None
            else {"user_id": str(sender.user_id), "username": sender.username, "display_name": sender.display_name},
        }
        await self.jobs.enqueue(NOTIFY, recipient_id=str(tip.recipient_id), payload=payload)

    async def notify(self, recipient_id: str, payload: dict[str, Any]) -> None:
        recipient = uuid.UUID(recipient_id)
        async with self.db.unit_of_work() as session:
            notifications = NotificationRepository(session)
            if not (await notifications.settings(recipient)).tip_received:
                return
            written = await notifications.add_unless_there(
                Notification(
                    user_id=recipient,
                    type="tip_received",
                    payload=payload,
                    event_key=f"tip_received:{payload['transaction_id']}",
                )
            )
        if written is not None:
            await self.delivery.delivered([written])
