"""All queries on schedules."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livestream.follows.models import Follow
from livestream.schedules.models import Schedule
from livestream.users.models import User

# A go-live this close to a planned start (either side) is that plan happening.
LINK_WINDOW = timedelta(minutes=30)


class ScheduleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, schedule: Schedule) -> None:
        self.session.add(schedule)
        await self.session.flush()

    async def get(self, schedule_id: uuid.UUID, *, for_update: bool = False) -> tuple[Schedule, User] | None:
        query = select(Schedule, User).join(User, User.user_id == Schedule.user_id)
        query = query.where(Schedule.schedule_id == schedule_id)
        if for_update:
            query = query.with_for_update(of=Schedule)
        row = (await self.session.execute(query)).first()
        return (row[0], row[1]) if row else None

    async def count_upcoming(self, user_id: uuid.UUID, now: datetime) -> int:
        query = select(func.count()).where(
            Schedule.user_id == user_id, Schedule.status == "scheduled", Schedule.starts_at >= now
        )
        return int((await self.session.execute(query)).scalar_one())

    async def count_created_since(self, user_id: uuid.UUID, since: datetime) -> int:
        query = select(func.count()).where(Schedule.user_id == user_id, Schedule.created_at >= since)
        return int((await self.session.execute(query)).scalar_one())

    async def of_user(
        self, user_id: uuid.UUID, *, start: datetime, end: datetime | None, limit: int
    ) -> list[tuple[Schedule, User]]:
        query = (
            select(Schedule, User)
            .join(User, User.user_id == Schedule.user_id)
            .where(Schedule.user_id == user_id, Schedule.starts_at >= start)
            .order_by(Schedule.starts_at, Schedule.schedule_id)
            .limit(limit)
        )
        if end is not None:
            query = query.where(Schedule.starts_at < end)
        return [(row[0], row[1]) for row in await self.session.execute(query)]

    async def upcoming_followed(self, follower_id: uuid.UUID, now: datetime, limit: int) -> list[tuple[Schedule, User]]:
        """Planned (not yet past the link window) or live entries of the creators the user follows, soonest first."""
        query = (
            select(Schedule, User)
            .join(User, User.user_id == Schedule.user_id)
            .join(Follow, Follow.following_id == Schedule.user_id)
            .where(
                Follow.follower_id == follower_id,
                or_(
                    Schedule.status == "live",
                    (Schedule.status == "scheduled") & (Schedule.starts_at >= now - LINK_WINDOW),
                ),
            )
            .order_by(Schedule.starts_at, Schedule.schedule_id)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in await self.session.execute(query)]

    async def feed(self, user_id: uuid.UUID, since: datetime, limit: int) -> list[Schedule]:
        query = (
            select(Schedule)
            .where(Schedule.user_id == user_id, Schedule.starts_at >= since)
            .order_by(Schedule.starts_at, Schedule.schedule_id)
            .limit(limit)
        )
        return list((await self.session.execute(query)).scalars())

    # --- reminders -------------------------------------------------------------------------------------------

    async def due_reminders(self, now: datetime, ahead: timedelta, *, late: timedelta) -> list[tuple[Schedule, User]]:
        """Planned entries starting within ``ahead`` whose followers were not reminded yet; one that started more
        than ``late`` ago is let go (a reminder after the start helps nobody)."""
        query = (
            select(Schedule, User)
            .join(User, User.user_id == Schedule.user_id)
            .where(
                Schedule.status == "scheduled",
                Schedule.reminded_at.is_(None),
                Schedule.starts_at <= now + ahead,
                Schedule.starts_at > now - late,
            )
            .order_by(Schedule.starts_at)
            .limit(500)
        )
        return [(row[0], row[1]) for row in await self.session.execute(query)]

    async def mark_reminded(self, schedule_id: uuid.UUID, starts_at: datetime, at: datetime) -> bool:
        """Only if the entry still starts when the reminder said (a new time re-arms it instead)."""
        result = await self.session.execute(
            update(Schedule)
            .where(
                Schedule.schedule_id == schedule_id,
                Schedule.starts_at == starts_at,
                Schedule.reminded_at.is_(None),
            )
            .values(reminded_at=at)
        )
        return bool(getattr(result, "rowcount", 0))

    # --- the lifecycle ---------------------------------------------------------------------------------------

    async def nearest_planned(self, user_id: uuid.UUID, at: datetime) -> Schedule | None:
        """The creator's planned entry closest to ``at`` within the link window (a handful at most)."""
        query = select(Schedule).where(
            Schedule.user_id == user_id,
            Schedule.status == "scheduled",
            Schedule.starts_at >= at - LINK_WINDOW,
            Schedule.starts_at <= at + LINK_WINDOW,
        )
        rows = list((await self.session.execute(query.limit(50))).scalars())
        if not rows:
            return None
        return min(rows, key=lambda row: abs((row.starts_at - at).total_seconds()))

    async def link(self, schedule_id: uuid.UUID, stream_id: uuid.UUID, at: datetime) -> bool:
        """Planned → live with its stream; False when something else moved it first."""
        result = await self.session.execute(
            update(Schedule)
            .where(Schedule.schedule_id == schedule_id, Schedule.status == "scheduled")
            .values(status="live", stream_id=stream_id, sequence=Schedule.sequence + 1, updated_at=at)
        )
        return bool(getattr(result, "rowcount", 0))

    async def finish(self, stream_id: uuid.UUID, at: datetime) -> int:
        result = await self.session.execute(
            update(Schedule)
            .where(Schedule.stream_id == stream_id, Schedule.status == "live")
            .values(status="done", sequence=Schedule.sequence + 1, updated_at=at)
        )
        return int(getattr(result, "rowcount", 0) or 0)
