"""Public profiles (``GET /api/users/{id}``, ``/api/users/by-username/{name}``) as JSON, the anonymous ones shared.

A profile has two fields that depend on who asks: ``viewer_follow_id`` and ``viewer_follow_notify``, the signed-in
viewer's follow and whether it notifies them. So only the anonymous view (both null) is kept and shared, at most
``MAX_AGE_S`` old and dropped at once when this process changes an account; a signed-in viewer's profile is read
for that viewer each time and never kept. A follow made in this process drops the shared views; one made in another
process shows within ``MAX_AGE_S``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from livestream.db import Database
from livestream.shortcache import ShortCache
from livestream.users.repository import UserRepository
from livestream.users.service import UserService

MAX_AGE_S = 0.5  # as the stream views: never more than 1 s old, with room for the read itself

# Who a bearer token signs in (raises the auth domain's InvalidToken); given by the composition root.
Authenticate = Callable[[AsyncSession, str], Awaitable[uuid.UUID]]
ProfileKey = tuple[str, str]  # ("id", "<uuid>") or ("name", "<lower-cased username>")


class ProfileViews:
    """The process's cache of anonymous profile views; one per app, provided to routers by type."""

    def __init__(
        self,
        db: Database,
        authenticate: Authenticate,
        *,
        also_shown_in: Sequence[Callable[[], None]] = (),
        max_age: float = MAX_AGE_S,
    ) -> None:
        """``also_shown_in``: how to drop the other views that show an account (a stream shows its creator's
        name), called with this cache's own invalidation."""
        self.db = db
        self.authenticate = authenticate
        self.also_shown_in = tuple(also_shown_in)
        self._anonymous: ShortCache[ProfileKey, bytes] = ShortCache(max_age)

    async def anonymous(self, *, user_id: uuid.UUID | None = None, username: str | None = None) -> bytes:
        """``UserPublic`` as anyone signed out sees it; UserNotFound when there is none."""
        key: ProfileKey = ("id", str(user_id)) if user_id is not None else ("name", (username or "").lower())
        return await self._anonymous.get(key, lambda: self._read(user_id=user_id, username=username))

    async def signed_in(
        self, token: str, *, user_id: uuid.UUID | None = None, username: str | None = None
    ) -> tuple[uuid.UUID, bytes]:
        """The viewer the token signs in, and the profile as that viewer sees it (never cached)."""
        async with self.db.sessionmaker() as session:
            viewer_id = await self.authenticate(session, token)
            profile = await UserService(UserRepository(session)).public_profile(
                user_id=user_id, username=username, viewer_id=viewer_id
            )
        return viewer_id, profile.model_dump_json().encode()

    async def account_changed(self) -> None:
        """An account's change is committed (name, bio...): drop every shared view that may show it, so this
        process answers from the database again. An after-commit callback."""
        self._anonymous.invalidate()
        for invalidate in self.also_shown_in:
            invalidate()

    async def follows_changed(self) -> None:
        """A follow or unfollow is committed: drop the shared profiles, whose follower counts it changes."""
        self._anonymous.invalidate()

    async def close(self) -> None:
        await self._anonymous.close()

    async def _read(self, *, user_id: uuid.UUID | None, username: str | None) -> bytes:
        async with self.db.sessionmaker() as session:
            profile = await UserService(UserRepository(session)).public_profile(user_id=user_id, username=username)
        return profile.model_dump_json().encode()
