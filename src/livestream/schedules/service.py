"""Planning streams: create, change, cancel and list a creator's schedule; no HTTP here."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from livestream.db import utcnow
from livestream.errors import AppError
from livestream.schedules import errors
from livestream.schedules.models import Schedule
from livestream.schedules.repository import ScheduleRepository
from livestream.schedules.schemas import ScheduleCreate, ScheduleCreator, ScheduleOut, ScheduleUpdate
from livestream.users.models import User

HORIZON = timedelta(days=365)
# Upcoming entries a channel may have at once: plenty for a daily show a quarter ahead, and a bound on what one
# account can make the reminder scan and the calendar feed carry.
MAX_UPCOMING = 100
MAX_RANGE = timedelta(days=400)
# What GET /api/schedules shows without ``from``: what is coming, and what just happened.
DEFAULT_LOOKBACK = timedelta(days=1)
# New entries a creator may make in a day, cancelled ones included: the rows one account adds stay bounded.
MAX_CREATED_PER_DAY = 200


class ScheduleService:
    def __init__(self, schedules: ScheduleRepository) -> None:
        self.schedules = schedules

    async def create(self, user_id: uuid.UUID, body: ScheduleCreate) -> Schedule:
        now = utcnow()
        starts_at = _checked_start(body.starts_at, now)
        if await self.schedules.count_upcoming(user_id, now) >= MAX_UPCOMING:
            raise errors.TooManySchedules()
        if await self.schedules.count_created_since(user_id, now - timedelta(days=1)) >= MAX_CREATED_PER_DAY:
            raise errors.TooManySchedules("You have planned as many streams today as a channel may; try again tomorrow")
        schedule = Schedule(
            user_id=user_id,
            title=body.title,
            description=body.description,
            starts_at=starts_at,
            duration_minutes=body.expected_duration_minutes,
            status="scheduled",
            sequence=0,
            created_at=now,
            updated_at=now,
        )
        await self.schedules.add(schedule)
        return schedule

    async def update(self, user_id: uuid.UUID, schedule_id: uuid.UUID, body: ScheduleUpdate) -> Schedule:
        schedule = await self._owned(user_id, schedule_id)
        now = utcnow()
        if schedule.status != "scheduled":
            raise errors.ScheduleNotEditable()
        changed = body.model_fields_set
        if "starts_at" in changed and body.starts_at is not None:
            starts_at = _checked_start(body.starts_at, now)
            if starts_at != schedule.starts_at:
                schedule.starts_at = starts_at
                schedule.reminded_at = None  # a new time: followers are reminded of it again
        if "title" in changed and body.title is not None:
            schedule.title = body.title
        if "description" in changed:
            schedule.description = body.description
        if "expected_duration_minutes" in changed:
            schedule.duration_minutes = body.expected_duration_minutes
        schedule.sequence += 1
        schedule.updated_at = now
        await self.schedules.session.flush()
        return schedule

    async def cancel(self, user_id: uuid.UUID, schedule_id: uuid.UUID) -> None:
        """Kept as ``cancelled`` (calendars that subscribed must see it go); cancelling twice is fine."""
        schedule = await self._owned(user_id, schedule_id)
        if schedule.status == "cancelled":
            return
        if schedule.status != "scheduled" or schedule.starts_at <= utcnow():
            raise errors.ScheduleNotCancellable()
        schedule.status = "cancelled"
        schedule.sequence += 1
        schedule.updated_at = utcnow()
        await self.schedules.session.flush()

    async def get(self, schedule_id: uuid.UUID) -> ScheduleOut:
        found = await self.schedules.get(schedule_id)
        if found is None:
            raise errors.ScheduleNotFound()
        return out(*found)

    async def of_user(
        self, user_id: uuid.UUID, *, start: datetime | None, end: datetime | None, limit: int
    ) -> list[ScheduleOut]:
        start = _utc(start, errors.BadRange) if start is not None else utcnow() - DEFAULT_LOOKBACK
        end = _utc(end, errors.BadRange) if end is not None else None
        if end is not None and (end <= start or end - start > MAX_RANGE):
            raise errors.BadRange()
        rows = await self.schedules.of_user(user_id, start=start, end=end, limit=limit)
        return [out(schedule, creator) for schedule, creator in rows]

    async def following(self, user_id: uuid.UUID, limit: int) -> list[ScheduleOut]:
        rows = await self.schedules.upcoming_followed(user_id, utcnow(), limit)
        return [out(schedule, creator) for schedule, creator in rows]

    async def _owned(self, user_id: uuid.UUID, schedule_id: uuid.UUID) -> Schedule:
        found = await self.schedules.get(schedule_id, for_update=True)
        if found is None:
            raise errors.ScheduleNotFound()
        schedule, _ = found
        if schedule.user_id != user_id:
            raise errors.NotYourSchedule()
        return schedule


def _utc(value: datetime, error: type[AppError]) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
        raise error() from None


def _checked_start(value: datetime, now: datetime) -> datetime:
    starts_at = _utc(value, errors.StartsAtOutOfRange).replace(microsecond=0)  # calendars keep seconds
    if starts_at <= now or starts_at > now + HORIZON:
        raise errors.StartsAtOutOfRange()
    return starts_at


def out(schedule: Schedule, creator: User) -> ScheduleOut:
    return ScheduleOut(
        schedule_id=schedule.schedule_id,
        user_id=schedule.user_id,
        creator=ScheduleCreator(user_id=creator.user_id, username=creator.username, display_name=creator.display_name),
        title=schedule.title,
        description=schedule.description,
        starts_at=schedule.starts_at,
        expected_duration_minutes=schedule.duration_minutes,
        status=schedule.status,
        stream_id=schedule.stream_id,
        created_at=schedule.created_at,
        updated_at=schedule.updated_at,
    )
