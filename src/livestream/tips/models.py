from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from livestream.db import Base, TimestampMixin, UTCDateTime, new_id, utcnow


class Transaction(TimestampMixin, Base):
    """A tip: integer minor units plus an ISO 4217 currency, never floats."""

    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("length(currency) = 3", name="currency_iso4217"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed', 'refunded')", name="status_valid"),
        CheckConstraint("sender_id IS NULL OR sender_id <> recipient_id", name="no_self_tip"),
        Index("ix_transactions_recipient_created", "recipient_id", "created_at"),
    )

    transaction_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    sender_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.user_id", ondelete="SET NULL"))
    recipient_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.user_id", ondelete="RESTRICT"), nullable=False
    )
    stream_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("streams.stream_id", ondelete="SET NULL"))
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    provider: Mapped[str] = mapped_column(String(20), nullable=False)
    provider_payment_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    message: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False)
