"""All queries on follows."""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from livestream.db import add_unless_conflict
from livestream.follows.models import Follow
from livestream.pagination import Cursor
from livestream.users.models import User


class FollowRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, follow_id: uuid.UUID) -> Follow | None:
        return await self.session.get(Follow, follow_id)

    async def find(self, follower_id: uuid.UUID, following_id: uuid.UUID) -> Follow | None:
        result = await self.session.execute(
            select(Follow).where(Follow.follower_id == follower_id, Follow.following_id == following_id)
        )
        return result.scalar_one_or_none()

    async def add(self, follow: Follow) -> bool:
        """Insert; False when the pair already exists (the unique constraint decided a race)."""
        return await add_unless_conflict(self.session, follow)

    async def delete(self, follow: Follow) -> None:
        await self.session.delete(follow)
        await self.session.flush()

    async def page(
        self, user_id: uuid.UUID, direction: Literal["followers", "following"], *, limit: int, cursor: Cursor | None
    ) -> list[tuple[Follow, User]]:
        """Newest first. ``followers`` lists who follows ``user_id``; ``following`` whom it follows."""
        if direction == "followers":
            anchor, other = Follow.following_id, Follow.follower_id
        else:
            anchor, other = Follow.follower_id, Follow.following_id
        query = (
            select(Follow, User)
            .join(User, User.user_id == other)
            .where(anchor == user_id)
            .order_by(Follow.created_at.desc(), Follow.follow_id.desc())
            .limit(limit)
        )
        if cursor is not None:
            query = query.where(
                or_(
                    Follow.created_at < cursor.created_at,
                    and_(Follow.created_at == cursor.created_at, Follow.follow_id < cursor.id),
                )
            )
        result = await self.session.execute(query)
        return [(row[0], row[1]) for row in result.all()]
