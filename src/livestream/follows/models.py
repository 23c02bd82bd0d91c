from __future__ import annotations

import uuid

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from livestream.db import Base, TimestampMixin, new_id


class Follow(TimestampMixin, Base):
    __tablename__ = "follows"
    __table_args__ = (
        UniqueConstraint("follower_id", "following_id", name="uq_follows_pair"),
        CheckConstraint("follower_id <> following_id", name="no_self_follow"),
        Index("ix_follows_following_created", "following_id", "created_at"),
        Index("ix_follows_follower_created", "follower_id", "created_at"),
        # The go-live fan-out walks one creator's follows in follow_id order, a batch at a time.
        Index("ix_follows_following_follow", "following_id", "follow_id"),
    )

    follow_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    follower_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False
    )
    following_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False
    )
    # False: the follower muted this creator (no go-live or schedule notifications from them).
    notify: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=text("true"))
