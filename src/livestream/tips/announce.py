"""What a succeeded tip does: a ``tip`` frame in the stream's chat and a ``tip_received`` notification."""

from __future__ import annotations

import uuid

from livestream.chat import frames
from livestream.chat.repository import ChatRepository
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

    async def succeeded(self, transaction_id: uuid.UUID) -> None:
        """Once, after the commit that made the tip succeed."""
        await self.publish(transaction_id)
        await self.jobs.enqueue(NOTIFY, transaction_id=str(transaction_id))

    async def publish(self, transaction_id: uuid.UUID) -> None:
        async with self.db.sessionmaker() as session:
            found = await TipRepository(session).with_parties(transaction_id)
            if found is None:
                return
            tip, sender, _ = found
            if tip.stream_id is None:
                return
            message = tip.message
            # Moderation as in chat: a sender banned since they paid keeps the tip, but not the words.
            if message and sender is not None:
                banned = await ChatRepository(session).active_ban(tip.recipient_id, sender.user_id, utcnow())
                message = None if banned is not None else message
        frame_id, frame = frames.tip(
            tip.transaction_id,
            None if sender is None else (sender.user_id, sender.username),
            tip.amount,
            tip.currency,
            message,
            tip.settled_at or utcnow(),
        )
        await self.engine.publish_with_history(channel_of(tip.stream_id), frame_id, frame, self.history_seconds)

    async def notify(self, transaction_id: str) -> None:
        ident = uuid.UUID(transaction_id)
        async with self.db.unit_of_work() as session:
            found = await TipRepository(session).with_parties(ident)
            if found is None:
                return
            tip, sender, recipient = found
            notifications = NotificationRepository(session)
            if not (await notifications.settings(recipient.user_id)).tip_received:
                return
            payload = {
                "transaction_id": transaction_id,
                "amount": tip.amount,
                "currency": tip.currency,
                "message": tip.message,
                "stream_id": str(tip.stream_id) if tip.stream_id else None,
                "sender": None
                if sender is None
                else {"user_id": str(sender.user_id), "username": sender.username, "display_name": sender.display_name},
            }
            written = await notifications.add_unless_there(
                Notification(
                    user_id=recipient.user_id,
                    type="tip_received",
                    payload=payload,
                    event_key=f"tip_received:{transaction_id}",
                )
            )
        if written is not None:
            await self.delivery.delivered([written])
