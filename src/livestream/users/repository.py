"""All queries on users."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Select, Uuid, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from livestream.follows.models import Follow
from livestream.users.models import User


@dataclass(frozen=True)
class ProfileRow:
    user: User
    follower_count: int
    following_count: int
    viewer_follow_id: uuid.UUID | None


def _profile_query() -> Select[User, int, int, uuid.UUID | None]:
    followers = select(func.count()).select_from(Follow).where(Follow.following_id == User.user_id)
    following = select(func.count()).select_from(Follow).where(Follow.follower_id == User.user_id)
    viewer_follow = select(Follow.follow_id).where(
        Follow.follower_id == bindparam("viewer_id", type_=Uuid), Follow.following_id == User.user_id
    )
    return select(User, followers.scalar_subquery(), following.scalar_subquery(), viewer_follow.scalar_subquery())


# Built once: the profile is the hottest read, and constructing these statements per request cost more CPU
# than running them (see docs/benchmarks.md).
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
        if row is None:
            return None
        return ProfileRow(user=row[0], follower_count=int(row[1]), following_count=int(row[2]), viewer_follow_id=row[3])

    async def flush(self) -> None:
        await self.session.flush()

    async def rollback(self) -> None:
        """Leave a failed flush (unique violation) so the session can be queried again."""
        await self.session.rollback()
