from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from livestream.db import Base, TimestampMixin, UTCDateTime, new_id, utcnow

KINDS = ("stream_started", "schedule_reminder", "archive_ready", "new_follower", "tip_received")


class Notification(TimestampMixin, Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_created", "user_id", "created_at"),
        Index("ix_notifications_user_unread", "user_id", "read_at"),
        # One notification per event and recipient: a fan-out run twice (a worker killed mid-way) adds nothing.
        UniqueConstraint("user_id", "event_key", name="uq_notifications_user_event"),
    )

    notification_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False)
    # The kind: stream_started, schedule_reminder, archive_ready, new_follower, tip_received.
    type: Mapped[str] = mapped_column(String(50), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    # What happened, e.g. "stream_started:<stream_id>"; with user_id, unique.
    event_key: Mapped[str] = mapped_column(String(120), nullable=False)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When its email was handled: sent, refused for good, or no longer wanted (the email job checks it first;
    # the email reconciler enqueues again what is still unset after 10 minutes).
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When an email job took it on: a lease (5 minutes) so that copies of the job running at once (its retries,
    # the reconciler's) send one email; a job that died holding it is taken over once the lease is out.
    email_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NotificationSettings(Base):
    """A user's switches; no row means the defaults (in-app on for every kind, email and push off)."""

    __tablename__ = "notification_settings"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=text("false"))
    push: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=text("false"))
    stream_started: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=text("true"))
    schedule_reminder: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=text("true"))
    archive_ready: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=text("true"))
    new_follower: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=text("true"))
    tip_received: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=text("true"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
