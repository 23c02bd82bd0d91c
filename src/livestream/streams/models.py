from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from livestream.db import Base, TimestampMixin, UTCDateTime, new_id, utcnow


class Stream(TimestampMixin, Base):
    __tablename__ = "streams"
    __table_args__ = (
        CheckConstraint("status IN ('live', 'ended')", name="status_valid"),
        CheckConstraint("media_state IN ('waiting', 'live', 'reconnecting', 'ended')", name="media_state_valid"),
        CheckConstraint("viewer_count >= 0", name="viewer_count_non_negative"),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ended_after_start"),
        CheckConstraint("slow_mode_seconds = 0 OR slow_mode_seconds BETWEEN 3 AND 120", name="slow_mode_range"),
        # One live stream per creator, enforced by a partial unique index (SQLite and PostgreSQL).
        Index(
            "uq_streams_one_live_per_user",
            "user_id",
            unique=True,
            sqlite_where=text("status = 'live'"),
            postgresql_where=text("status = 'live'"),
        ),
        Index("ix_streams_status_started", "status", "started_at"),
    )

    stream_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="live")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    viewer_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    # What the video is doing, beside the seed's live/ended status: waiting for the encoder, live (a playable
    # playlist exists), reconnecting (the publisher dropped; the window is open), ended.
    media_state: Mapped[str] = mapped_column(String(20), nullable=False, default="waiting", server_default="waiting")
    # Last moment media arrived; the start-up reconciler measures the reconnect window from it after a crash.
    last_ingest_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Chat slow mode: seconds a viewer waits between messages (0: off).
    slow_mode_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")


class StreamKey(Base):
    """A creator's persistent stream key: a keyed hash to find it, and the key encrypted to show its owner."""

    __tablename__ = "stream_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    key_encrypted: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
