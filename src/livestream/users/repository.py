"""All queries on users."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, Uuid, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from livestream.db import add_unless_conflict
from livestream.follows.models import Follow
from livestream.users.models import User


class ProfileRow(NamedTuple):
    """A public profile as plain columns (no ORM object: nothing to track for a read), in ``UserPublic``'s order."""

    user_id: uuid.UUID
    username: str
    display_name: str | None
    bio: str | None
    created_at: datetime
    follower_count: int
    following_count: int
    viewer_follow_id: uuid.UUID | None
    viewer_follow_notify: bool | None


def _profile_query() -> Select[Any]:
    followers = select(func.count()).select_from(Follow).where(Follow.following_id == User.user_id)
    following = select(func.count()).select_from(Follow).where(Follow.follower_id == User.user_id)
    viewer_follows = (Follow.follower_id == bindparam("viewer_id", type_=Uuid), Follow.following_id == User.user_id)
    viewer_follow = select(Follow.follow_id).where(*viewer_follows)
    viewer_notify = select(Follow.notify).where(*viewer_follows)
    return select(
        User.user_id,
        User.username,
        User.display_name,
        User.bio,
        User.created_at,
        followers.scalar_subquery(),
        following.scalar_subquery(),
        viewer_follow.scalar_subquery(),
        viewer_notify.scalar_subquery(),
    )


# Built once: the profile is a hot read, and constructing these statements per request cost more CPU than
# running them (see docs/benchmarks.md).
_PROFILE_BY_ID = _profile_query().where(User.user_id == bindparam("user_id", type_=Uuid))
_PROFILE_BY_USERNAME = _profile_query().where(func.lower(User.username) == bindparam("username"))


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def get_by_login(self, login: str) -> User | None:
        """A user by email or username, case-insensitively."""
        key = login.strip().lower()
        column = User.email if "@" in key else User.username
        result = await self.session.execute(select(User).where(func.lower(column) == key))
        return result.scalar_one_or_none()

    async def get_by_email(self, email: str) -> User | None:
        result = await self.session.execute(select(User).where(func.lower(User.email) == email.strip().lower()))
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

    async def add(self, user: User) -> bool:
        """Insert; False when the username or email was taken by a concurrent registration."""
        return await add_unless_conflict(self.session, user)

    async def change(self, user: User, changes: dict[str, Any]) -> bool:
        """Apply ``changes`` in a savepoint; False (the row as it was) when a unique constraint refuses them."""
        try:
            async with self.session.begin_nested():
                for name, value in changes.items():
                    setattr(user, name, value)
        except IntegrityError:
            await self.session.refresh(user)
            return False
        return True

    async def follow_counts(self, user_id: uuid.UUID) -> tuple[int, int]:
        followers = select(func.count()).select_from(Follow).where(Follow.following_id == user_id)
        following = select(func.count()).select_from(Follow).where(Follow.follower_id == user_id)
        row = (await self.session.execute(select(followers.scalar_subquery(), following.scalar_subquery()))).one()
        return int(row[0]), int(row[1])

    async def get_profile(
        self, *, user_id: uuid.UUID | None = None, username: str | None = None, viewer_id: uuid.UUID | None = None
    ) -> ProfileRow | None:
        """A user with follow counts and the viewer's follow of them, in one round trip."""
        params: dict[str, object]
        if user_id is not None:
            query, params = _PROFILE_BY_ID, {"user_id": user_id, "viewer_id": viewer_id}
        else:
            query, params = _PROFILE_BY_USERNAME, {"username": (username or "").lower(), "viewer_id": viewer_id}
        row = (await self.session.execute(query, params)).first()
        return ProfileRow(*row) if row is not None else None
