from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from livestream.db import Base, TimestampMixin, new_id


class Archive(TimestampMixin, Base):
    __tablename__ = "archives"
    __table_args__ = (
        CheckConstraint("duration >= 0", name="duration_non_negative"),
        CheckConstraint("file_size >= 0", name="file_size_non_negative"),
    )

    archive_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    stream_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("streams.stream_id", ondelete="CASCADE"), nullable=False, index=True
    )
    s3_key: Mapped[str] = mapped_column(String(500), nullable=False)
    duration: Mapped[int] = mapped_column(Integer, nullable=False)
    file_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
