"""All queries on users."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from livestream.follows.models import Follow
from livestream.users.models import User


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def get_by_username(self, username: str) -> User | None:
        result = await self.session.execute(select(User).where(func.lower(User.username) == username.lower()))
        return result.scalar_one_or_none()

    async def get_by_login(self, login: str) -> User | None:
        """A user by email or username, case-insensitively."""
        key = login.strip().lower()
        column = User.email if "@" in key else User.username
        result = await self.session.execute(select(User).where(func.lower(column) == key))
        return result.scalar_one_or_none()

    async def username_taken(self, username: str, *, excluding: uuid.UUID | None = None) -> bool:
        query = select(User.user_id).where(func.lower(User.username) == username.lower())
        if excluding is not None:
            query = query.where(User.user_id != excluding)
        return (await self.session.execute(query.limit(1))).first() is not None

    async def email_taken(self, email: str, *, excluding: uuid.UUID | None = None) -> bool:
        query = select(User.user_id).where(func.lower(User.email) == email.lower())
        if excluding is not None:
            query = query.where(User.user_id != excluding)
        return (await self.session.execute(query.limit(1))).first() is not None

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user

    async def follow_counts(self, user_id: uuid.UUID) -> tuple[int, int]:
        followers = select(func.count()).select_from(Follow).where(Follow.following_id == user_id)
        following = select(func.count()).select_from(Follow).where(Follow.follower_id == user_id)
        row = (await self.session.execute(select(followers.scalar_subquery(), following.scalar_subquery()))).one()
        return int(row[0]), int(row[1])

    async def flush(self) -> None:
        await self.session.flush()

    async def rollback(self) -> None:
        """Leave a failed flush (unique violation) so the session can be queried again."""
        await self.session.rollback()
