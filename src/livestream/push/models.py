from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from livestream.db import Base, TimestampMixin, UTCDateTime, new_id

# An endpoint is a push service's URL (a few hundred bytes at the big ones); the schema refuses longer ones.
ENDPOINT_MAX = 1024
USER_AGENT_MAX = 256


class VapidKey(TimestampMixin, Base):
    """The server's VAPID key pair when no LS_VAPID_PRIVATE_KEY is set: one row, key_id 1, written by whichever
    process starts first (the others read it), so every process signs with the same key."""

    __tablename__ = "vapid_keys"

    key_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # PKCS#8 PEM of the P-256 private key.
    private_key: Mapped[str] = mapped_column(Text, nullable=False)
    # The applicationServerKey browsers subscribe with: the uncompressed point, base64url without padding.
    public_key: Mapped[str] = mapped_column(String(100), nullable=False)


class PushSubscription(TimestampMixin, Base):
    """One browser's push subscription (PushManager.subscribe) for one user."""

    __tablename__ = "push_subscriptions"

    subscription_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False, index=True
    )
    endpoint: Mapped[str] = mapped_column(String(ENDPOINT_MAX), nullable=False, unique=True)
    # The browser's P-256 public key (65 bytes, uncompressed) and auth secret (16 bytes), base64url.
    p256dh: Mapped[str] = mapped_column(String(100), nullable=False)
    auth: Mapped[str] = mapped_column(String(40), nullable=False)
    user_agent: Mapped[str | None] = mapped_column(String(USER_AGENT_MAX))
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Sends the push service refused for good (a 4xx but 404, 410, 429) since the last one that worked; past a
    # limit the subscription is dropped. Outages (timeouts, 5xx, 429, failed lookups) are retried, not counted.
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
