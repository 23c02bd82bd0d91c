from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from livestream.db import Base, TimestampMixin, UTCDateTime, new_id, utcnow

STATUSES = ("pending", "succeeded", "failed", "refunded", "disputed")
MESSAGE_MAX = 200


class Transaction(TimestampMixin, Base):
    """A tip: integer minor units plus an ISO 4217 currency, never floats.

    Status moves only ``pending`` → ``succeeded`` | ``failed`` and ``succeeded`` → ``refunded`` | ``disputed``
    (``tips/settlement.py`` is the one writer; a refund or dispute seen before the success counts as both).
    """

    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("currency IN ('JPY', 'USD', 'EUR')", name="currency_supported"),
        CheckConstraint(f"status IN {STATUSES!r}".replace('"', "'"), name="status_valid"),
        CheckConstraint("sender_id IS NULL OR sender_id <> recipient_id", name="no_self_tip"),
        CheckConstraint("platform_fee >= 0 AND platform_fee <= amount", name="fee_within_amount"),
        CheckConstraint("provider IN ('stripe', 'test')", name="provider_known"),
        CheckConstraint(f"message IS NULL OR length(message) <= {MESSAGE_MAX}", name="message_length"),
        Index("ix_transactions_recipient_created", "recipient_id", "created_at"),
        Index("ix_transactions_sender_created", "sender_id", "created_at"),
        Index("ix_transactions_stream_id", "stream_id"),
        # The pending reconciler's scan.
        Index("ix_transactions_status_created", "status", "created_at"),
        # Refunds still owed (few, if any).
        Index("ix_transactions_refund_due", "refund_due"),
        # One tip per key and sender: a request repeated (a timeout, a double click) finds the first.
        UniqueConstraint("sender_id", "idempotency_key", name="uq_transactions_sender_idempotency_key"),
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
    platform_fee: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    idempotency_key: Mapped[str] = mapped_column(String(255), nullable=False)
    # SHA-256 of the request's canonical body: the same key with another body is a conflict, not a replay.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    # Why the payment failed (the provider's decline code), when it did.
    failure_code: Mapped[str | None] = mapped_column(String(60))
    # A payment that must be given back (it succeeded for a failed tip, or for another amount): the refund job,
    # and the reconciler after it, try until the provider has refunded it.
    refund_due: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=text("false"))
    # When it left pending.
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False)
