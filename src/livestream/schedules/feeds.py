"""Calendar feeds, built off the event loop and shared for a while.

A feed is public and the same for everyone, and building one of 500 long entries takes a few hundred
milliseconds of CPU: each is built on a thread, at most once per ``MAX_AGE`` per creator in this process (calendar
apps, proxies and anonymous clients all get the same bytes), and dropped at once when this process changes the
creator's schedule. Another process's change shows here within ``MAX_AGE``.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from livestream.db import Database, utcnow
from livestream.schedules.calendar import build_feed
from livestream.schedules.repository import ScheduleRepository
from livestream.shortcache import ShortCache
from livestream.users.errors import UserNotFound
from livestream.users.repository import UserRepository

MAX_AGE = 30.0
# The feed: the last month and everything ahead.
FEED_SINCE = timedelta(days=30)
FEED_LIMIT = 500

Feed = tuple[str, bytes] | None  # the creator's username and the iCalendar body; None: no such user


class CalendarFeeds:
    def __init__(self, db: Database, *, public_url: str, max_age: float = MAX_AGE) -> None:
        self.db = db
        self.public_url = public_url.rstrip("/")
        self._cache: ShortCache[uuid.UUID, Feed] = ShortCache(max_age, max_entries=2_000)

    async def get(self, user_id: uuid.UUID) -> tuple[str, bytes]:
        found = await self._cache.get(user_id, lambda: self._load(user_id))
        if found is None:
            raise UserNotFound()
        return found

    def changed(self, user_id: uuid.UUID) -> None:
        self._cache.invalidate(user_id)

    async def close(self) -> None:
        await self._cache.close()

    async def _load(self, user_id: uuid.UUID) -> Feed:
        async with self.db.sessionmaker() as session:
            creator = await UserRepository(session).get(user_id)
            if creator is None:
                return None
            now = utcnow()
            entries = await ScheduleRepository(session).feed(user_id, since=now - FEED_SINCE, limit=FEED_LIMIT)
        body = await asyncio.to_thread(build_feed, creator, entries, public_url=self.public_url, now=now)
        return creator.username, body
