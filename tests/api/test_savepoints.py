"""A unique violation undoes only its own insert: what the request flushed before it stays (savepoints)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from livestream.follows.models import Follow
from livestream.follows.repository import FollowRepository
from livestream.streams.models import Stream
from livestream.streams.repository import StreamRepository
from livestream.users.models import User
from livestream.users.repository import UserRepository
from tests.api.helpers import container, create_user


async def test_refused_follow_keeps_earlier_writes(app: Any) -> None:
    alice = await create_user(app)
    bob = await create_user(app)
    alice_id, bob_id = uuid.UUID(alice["user_id"]), uuid.UUID(bob["user_id"])
    async with container(app).db.sessionmaker() as session:
        follows = FollowRepository(session)
        assert await follows.add(Follow(follower_id=alice_id, following_id=bob_id))
        # An earlier write of the same request, flushed but not committed.
        user = await session.get(User, alice_id)
        assert user is not None
        user.display_name = "Alice before the conflict"
        await session.flush()
        assert not await follows.add(Follow(follower_id=alice_id, following_id=bob_id))
        await session.commit()
    async with container(app).db.sessionmaker() as session:
        user = await session.get(User, alice_id)
        assert user is not None
        assert user.display_name == "Alice before the conflict"
        count = len((await session.execute(select(Follow).where(Follow.follower_id == alice_id))).all())
        assert count == 1


async def test_second_live_stream_refused_without_losing_the_session(app: Any) -> None:
    alice = await create_user(app)
    alice_id = uuid.UUID(alice["user_id"])
    async with container(app).db.sessionmaker() as session:
        streams = StreamRepository(session)
        assert await streams.add(Stream(user_id=alice_id, title="first", status="live"))
        user = await session.get(User, alice_id)
        assert user is not None
        user.bio = "kept"
        assert not await streams.add(Stream(user_id=alice_id, title="second", status="live"))
        await session.commit()
    async with container(app).db.sessionmaker() as session:
        titles = (await session.execute(select(Stream.title).where(Stream.user_id == alice_id))).scalars().all()
        assert titles == ["first"]
        user = await session.get(User, alice_id)
        assert user is not None
        assert user.bio == "kept"


async def test_refused_profile_change_leaves_the_row_as_it_was(app: Any) -> None:
    alice = await create_user(app)
    bob = await create_user(app)
    async with container(app).db.sessionmaker() as session:
        users = UserRepository(session)
        user = await session.get(User, uuid.UUID(alice["user_id"]))
        assert user is not None
        assert not await users.change(user, {"username": bob["username"], "bio": "never stored"})
        assert user.username == alice["username"]
        assert user.bio is None
        assert await users.change(user, {"bio": "stored"})
        await session.commit()
    async with container(app).db.sessionmaker() as session:
        user = await session.get(User, uuid.UUID(alice["user_id"]))
        assert user is not None
        assert (user.username, user.bio) == (alice["username"], "stored")
