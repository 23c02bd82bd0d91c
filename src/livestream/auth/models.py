from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from livestream.db import Base, TimestampMixin, UTCDateTime, new_id


class RefreshToken(TimestampMixin, Base):
    """One refresh token of a rotation family; only its keyed hash is stored."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family_id", "family_id"), Index("ix_refresh_tokens_user_id", "user_id"))

    token_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False)
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    user_agent: Mapped[str | None] = mapped_column(String(255))


class RevokedAccessToken(Base):
    """Access tokens ended by logout before their expiry; rows can go once ``expires_at`` passes."""

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)


# What an account token is for. ``register``: a sign-up waiting for its address to be confirmed (no user row yet,
# docs/decisions.md D20); ``verify_email``: confirming a signed-in account's address; ``reset_password``.
TOKEN_PURPOSES = ("register", "verify_email", "reset_password")


class AccountToken(TimestampMixin, Base):
    """One account email to send and the single-use token it carries: the database row is the outbox.

    Written by the request with ``token_hash`` null; the sending job draws the random token, stores only its
    keyed hash (HMAC-SHA256) and mails the plain token, so the plain token never sits in the database or the job
    queue. ``sent_at`` null past a few minutes: the job was lost, and a reconciler sends it again."""

    __tablename__ = "account_tokens"
    __table_args__ = (
        CheckConstraint("purpose IN ('register', 'verify_email', 'reset_password')", name="purpose_valid"),
        Index("ix_account_tokens_user_id", "user_id"),
        Index("ix_account_tokens_expires_at", "expires_at"),
        Index("ix_account_tokens_unsent", "sent_at", "created_at"),
    )

    token_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    # Null for a pending sign-up, and for a password reset until the job finds the address's account.
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.user_id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20), nullable=False)
    # The address the email goes to; the token is good only while the account still has this address.
    email: Mapped[str] = mapped_column(String(255), nullable=False)
    # A pending sign-up's chosen name and Argon2 hash: the account is created from them once the link is used.
    username: Mapped[str | None] = mapped_column(String(50))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
