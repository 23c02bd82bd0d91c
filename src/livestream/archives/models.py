from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from livestream.db import Base, TimestampMixin, UTCDateTime, new_id, utcnow

# "deleted": the owner deleted it (its files are gone); the row stays as a tombstone so that nothing (a late
# "transcoder finished", the reconciler) makes the stream's archive again.
ARCHIVE_STATUSES = ("processing", "ready", "failed", "deleted")


class Archive(TimestampMixin, Base):
    """A stream's recording made replayable: the seed's columns, plus its processing state and where it is stored."""

    __tablename__ = "archives"
    __table_args__ = (
        CheckConstraint("duration >= 0", name="duration_non_negative"),
        CheckConstraint("file_size >= 0", name="file_size_non_negative"),
        CheckConstraint("status IN ('processing', 'ready', 'failed', 'deleted')", name="status_valid"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_range"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("ix_archives_user_created", "user_id", "created_at"),
        Index("ix_archives_status_updated", "status", "updated_at"),
    )

    archive_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    # One archive per stream: finalising twice, or two workers at once, cannot make a second one.
    stream_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("streams.stream_id", ondelete="CASCADE"), nullable=False, unique=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False)
    # The master playlist's storage key; the other objects sit beside it under archives/<archive_id>/.
    s3_key: Mapped[str] = mapped_column(String(500), nullable=False)
    duration: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # seconds
    file_size: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # bytes as stored
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="processing")
    progress: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    storage_class: Mapped[str] = mapped_column(String(32), nullable=False, default="STANDARD")
    poster_key: Mapped[str | None] = mapped_column(String(500))
    mp4_key: Mapped[str | None] = mapped_column(String(500))
    # Failed finalise runs since the last success or owner retry.
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # A finalise run holds the archive until then (renewed as it progresses); another run waits it out.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The run holding the lease: its writes (progress, ready, failed) apply only while this is still its id.
    run_id: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
