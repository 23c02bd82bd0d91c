from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from livestream.db import Base, TimestampMixin, UTCDateTime, new_id, utcnow

STATUSES = ("scheduled", "live", "done", "cancelled")


class Schedule(TimestampMixin, Base):
    """A stream a creator plans. ``scheduled`` → ``live`` (a go-live near its time links the stream) → ``done``
    (that stream ended); ``scheduled`` → ``cancelled`` (kept, so subscribed calendars see the cancellation)."""

    __tablename__ = "schedules"
    __table_args__ = (
        CheckConstraint("status IN ('scheduled', 'live', 'done', 'cancelled')", name="ck_schedules_status"),
        CheckConstraint(
            "duration_minutes IS NULL OR (duration_minutes >= 5 AND duration_minutes <= 1440)",
            name="ck_schedules_duration",
        ),
        Index("ix_schedules_user_starts", "user_id", "starts_at"),
        # The reminder scan: scheduled entries not reminded yet, by start.
        Index("ix_schedules_status_starts", "status", "starts_at"),
    )

    schedule_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False)
    title: Mapped[str] = mapped_column(String(140), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="scheduled")
    stream_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("streams.stream_id", ondelete="SET NULL"))
    # iCalendar SEQUENCE: bumped on every change a calendar should pick up.
    sequence: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    # Followers were reminded of this start (cleared when the time changes: the reminder re-arms).
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
