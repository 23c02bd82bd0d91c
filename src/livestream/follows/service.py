"""Following creators. No HTTP here; the request scope commits."""

from __future__ import annotations

import uuid
from typing import Literal

from livestream.follows import errors
from livestream.follows.models import Follow
from livestream.follows.repository import FollowRepository
from livestream.follows.schemas import FollowListItem
from livestream.pagination import Cursor, Page
from livestream.users.errors import UserNotFound
from livestream.users.repository import UserRepository
from livestream.users.schemas import UserSummary


class FollowService:
    def __init__(self, follows: FollowRepository, users: UserRepository) -> None:
        self.follows = follows
        self.users = users

    async def follow(self, follower_id: uuid.UUID, following_id: uuid.UUID) -> Follow:
        if follower_id == following_id:
            raise errors.CannotFollowSelf()
        if await self.users.get(following_id) is None:
            raise UserNotFound()
        if await self.follows.find(follower_id, following_id) is not None:
            raise errors.AlreadyFollowing()
        follow = Follow(follower_id=follower_id, following_id=following_id)
        if not await self.follows.add(follow):
            raise errors.AlreadyFollowing()
        return follow

    async def set_notify(self, actor_id: uuid.UUID, follow_id: uuid.UUID, notify: bool) -> Follow:
        """Mute (or unmute) the creator's go-live and schedule notifications; the follower only."""
        follow = await self.follows.get(follow_id)
        if follow is None:
            raise errors.FollowNotFound()
        if follow.follower_id != actor_id:
            raise errors.NotYourFollow("Only the follower can change this follow")
        follow.notify = notify
        await self.follows.session.flush()
        return follow

    async def unfollow(self, actor_id: uuid.UUID, follow_id: uuid.UUID) -> None:
        follow = await self.follows.get(follow_id)
        if follow is None:
            raise errors.FollowNotFound()
        if follow.follower_id != actor_id:
            raise errors.NotYourFollow()
        await self.follows.delete(follow)

    async def list(
        self, user_id: uuid.UUID, direction: Literal["followers", "following"], *, limit: int, cursor: Cursor | None
    ) -> Page[FollowListItem]:
        if await self.users.get(user_id) is None:
            raise UserNotFound()
        rows = await self.follows.page(user_id, direction, limit=limit + 1, cursor=cursor)
        has_more = len(rows) > limit
        rows = rows[:limit]
        items = [
            FollowListItem(
                follow_id=follow.follow_id, user=UserSummary.model_validate(user), followed_at=follow.created_at
            )
            for follow, user in rows
        ]
        next_cursor = Cursor(rows[-1][0].created_at, rows[-1][0].follow_id).encode() if has_more else None
        return Page[FollowListItem](items=items, next_cursor=next_cursor)
