from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from livestream.db import Base, UTCDateTime, utcnow


class PaymentEvent(Base):
    """A webhook event received, once per provider event id: a delivery repeated (Stripe retries, two at once)
    finds its row and changes nothing."""

    __tablename__ = "payment_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20), nullable=False)
    type: Mapped[str] = mapped_column(String(100), nullable=False)
    # The intent, charge, dispute or account it is about.
    object_id: Mapped[str | None] = mapped_column(String(255))
    livemode: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # When the provider made it (its ``created``) and when we took it in.
    created: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    # What handling it did: applied, unchanged, ignored, unknown (not one of ours).
    outcome: Mapped[str] = mapped_column(String(40), nullable=False)


class PayoutAccount(Base):
    """A creator's connected account at the provider (Stripe Express), kept current by ``account.updated``."""

    __tablename__ = "payout_accounts"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20), nullable=False)
    account_id: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    details_submitted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    charges_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    payouts_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    transfers_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    currency: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class TestIntent(Base):
    """The test provider's PaymentIntents (what Stripe would hold), shared by every process of the server."""

    __tablename__ = "test_payment_intents"
    __test__ = False  # not a pytest class, whatever its name
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_test_payment_intents_idempotency_key", "idempotency_key", unique=True),
    )

    intent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[str] = mapped_column(
        String(40), nullable=False, default="requires_payment_method", server_default=text("'requires_payment_method'")
    )
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    failure_code: Mapped[str | None] = mapped_column(String(60))
    refunded: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
