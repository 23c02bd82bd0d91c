"""HTTP for stream schedules and a creator's calendar feed."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncSession

from livestream.auth.dependencies import CurrentUser
from livestream.http.deps import SessionDep, after_commit
from livestream.http.responses import errors
from livestream.schedules import errors as schedule_errors
from livestream.schedules.dependencies import CalendarFeedsDep, ScheduleServiceDep
from livestream.schedules.feeds import CalendarFeeds
from livestream.schedules.schemas import ScheduleCreate, ScheduleList, ScheduleOut, ScheduleUpdate
from livestream.schedules.service import out

router = APIRouter(tags=["schedules"])

Limit = Annotated[int, Query(ge=1, le=200, description="At most this many entries (1–200)")]


def _feed_changes(session: AsyncSession, feeds: CalendarFeeds, user_id: uuid.UUID) -> None:
    """This process builds the creator's calendar feed again once the change is committed."""

    async def drop() -> None:
        feeds.changed(user_id)

    after_commit(session, drop)


@router.post(
    "/api/schedules",
    status_code=status.HTTP_201_CREATED,
    response_model=ScheduleOut,
    responses=errors(400, 401, 409),
    operation_id="createSchedule",
)
async def create_schedule(
    body: ScheduleCreate, user: CurrentUser, schedules: ScheduleServiceDep, session: SessionDep, feeds: CalendarFeedsDep
) -> ScheduleOut:
    """Plan a stream. Followers are reminded before it starts; going live within 30 minutes of it links the stream."""
    schedule = await schedules.create(user.user_id, body)
    _feed_changes(session, feeds, user.user_id)
    return out(schedule, user)


@router.get("/api/schedules", response_model=ScheduleList, responses=errors(400), operation_id="listSchedules")
async def list_schedules(
    schedules: ScheduleServiceDep,
    user_id: uuid.UUID | None = None,
    start: Annotated[AwareDatetime | None, Query(alias="from", description="ISO 8601 with an offset")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to", description="ISO 8601 with an offset")] = None,
    limit: Limit = 50,
) -> ScheduleList:
    """A creator's schedule, soonest first, from `from` (default: a day ago) to `to`; cancelled entries included."""
    if user_id is None:
        raise schedule_errors.UserIdRequired()
    return ScheduleList(items=await schedules.of_user(user_id, start=start, end=end, limit=limit))


@router.get(
    "/api/schedules/following",
    response_model=ScheduleList,
    responses=errors(401),
    operation_id="listFollowingSchedules",
)
async def following_schedules(user: CurrentUser, schedules: ScheduleServiceDep, limit: Limit = 20) -> ScheduleList:
    """Upcoming and live entries of the creators you follow, soonest first."""
    return ScheduleList(items=await schedules.following(user.user_id, limit))


@router.get(
    "/api/schedules/{schedule_id}", response_model=ScheduleOut, responses=errors(404), operation_id="getSchedule"
)
async def get_schedule(schedule_id: uuid.UUID, schedules: ScheduleServiceDep) -> ScheduleOut:
    return await schedules.get(schedule_id)


@router.put(
    "/api/schedules/{schedule_id}",
    response_model=ScheduleOut,
    responses=errors(400, 401, 403, 404, 409),
    operation_id="updateSchedule",
)
async def update_schedule(
    schedule_id: uuid.UUID,
    body: ScheduleUpdate,
    user: CurrentUser,
    schedules: ScheduleServiceDep,
    session: SessionDep,
    feeds: CalendarFeedsDep,
) -> ScheduleOut:
    """Change a planned entry (the creator only). A new start time re-arms the followers' reminder."""
    schedule = await schedules.update(user.user_id, schedule_id, body)
    _feed_changes(session, feeds, user.user_id)
    return out(schedule, user)


@router.delete(
    "/api/schedules/{schedule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 409),
    operation_id="deleteSchedule",
)
async def delete_schedule(
    schedule_id: uuid.UUID,
    user: CurrentUser,
    schedules: ScheduleServiceDep,
    session: SessionDep,
    feeds: CalendarFeedsDep,
) -> Response:
    """Cancel a planned entry. It stays listed as `cancelled` so subscribed calendars drop it; one that is live,
    done or already past → 409."""
    await schedules.cancel(user.user_id, schedule_id)
    _feed_changes(session, feeds, user.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/api/users/{user_id}/schedule.ics",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {"schema": {"type": "string"}}}, "description": "iCalendar (RFC 5545)"},
        **errors(404),
    },
    operation_id="getScheduleFeed",
)
async def schedule_feed(user_id: uuid.UUID, feeds: CalendarFeedsDep) -> Response:
    """The creator's schedule as a calendar feed: subscribe to this URL in a calendar app (`webcal://` works too)."""
    username, body = await feeds.get(user_id)
    return Response(
        content=body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Cache-Control": "public, max-age=300",
            "Content-Disposition": f'inline; filename="{username}-schedule.ics"',
        },
    )
