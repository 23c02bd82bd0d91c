"""The schedule service on the request's session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from livestream.http.deps import SessionDep, provided
from livestream.schedules.feeds import CalendarFeeds
from livestream.schedules.repository import ScheduleRepository
from livestream.schedules.service import ScheduleService


async def get_schedule_service(session: SessionDep) -> ScheduleService:
    return ScheduleService(ScheduleRepository(session))


ScheduleServiceDep = Annotated[ScheduleService, Depends(get_schedule_service)]
CalendarFeedsDep = Annotated[CalendarFeeds, Depends(provided(CalendarFeeds))]
