"""Schedule reminders and the link between a plan and the stream it became.

Reminders: a periodic job finds planned entries starting within ``LS_SCHEDULE_REMINDER_MINUTES`` whose followers
were not reminded yet, fans the reminder out (one row per follower and entry-version, so two processes doing it
at once, or a run cut short and repeated, still tell each follower once), and only then marks the entry reminded.
A new start time clears the mark and is part of the reminder's event key, so the reminder re-arms.

The lifecycle: a go-live within 30 minutes of a planned start links that stream and marks the entry ``live``; the
stream's end marks it ``done``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

from livestream.db import Database, utcnow
from livestream.jobs.periodic import PeriodicRunner
from livestream.logging import get_logger
from livestream.notifications.tasks import NotificationJobs
from livestream.schedules.models import Schedule
from livestream.schedules.repository import ScheduleRepository
from livestream.streams.lifecycle import StreamTransition
from livestream.users.models import User

log = get_logger("livestream.schedules")

REMIND = "schedules.remind"
# A reminder found this late after the start (the job was down) is no longer sent.
LATE = timedelta(minutes=5)


def reminder_key(schedule: Schedule) -> str:
    # Per start time, not per edit: a title changed while the reminder goes out does not send it again.
    return f"schedule_reminder:{schedule.schedule_id}:{int(schedule.starts_at.timestamp())}"


class ScheduleJobs:
    def __init__(
        self,
        db: Database,
        notifications: NotificationJobs,
        *,
        reminder_minutes: int,
        every_seconds: float = 30,
        changed: Callable[[uuid.UUID], None] | None = None,
    ) -> None:
        self.db = db
        # Told of a creator whose schedule the lifecycle changed (their calendar feed is built again).
        self.changed = changed
        self.notifications = notifications
        self.ahead = timedelta(minutes=reminder_minutes)
        self.every_seconds = every_seconds

    def register(self, periodic: PeriodicRunner) -> None:
        periodic.every(REMIND, self.every_seconds, self.remind_due)

    async def remind_due(self) -> None:
        reminded = await self.send_due_reminders()
        if reminded:
            log.info("schedule_reminders_sent", schedules=reminded)

    async def send_due_reminders(self) -> int:
        """Send every due reminder; returns how many entries this call marked reminded."""
        async with self.db.sessionmaker() as session:
            due = await ScheduleRepository(session).due_reminders(utcnow(), self.ahead, late=LATE)
        reminded = 0
        for schedule, creator in due:
            await self.notifications.fan_out(
                creator.user_id,
                kind="schedule_reminder",
                event_key=reminder_key(schedule),
                payload=_payload(schedule, creator),
                schedule_id=str(schedule.schedule_id),
            )
            async with self.db.unit_of_work() as session:
                if await ScheduleRepository(session).mark_reminded(schedule.schedule_id, schedule.starts_at, utcnow()):
                    reminded += 1
        return reminded

    async def on_transition(self, transition: StreamTransition) -> None:
        """Lifecycle subscriber."""
        if transition.kind == "live" and transition.previous == "waiting":
            async with self.db.unit_of_work() as session:
                schedules = ScheduleRepository(session)
                planned = await schedules.nearest_planned(transition.user_id, transition.at)
                linked = planned is not None and await schedules.link(
                    planned.schedule_id, transition.stream_id, transition.at
                )
            if linked and planned is not None:
                log.info("schedule_live", schedule_id=str(planned.schedule_id), stream_id=str(transition.stream_id))
                self._changed(transition.user_id)
        elif transition.kind == "ended":
            async with self.db.unit_of_work() as session:
                finished = await ScheduleRepository(session).finish(transition.stream_id, transition.at)
            if finished:
                self._changed(transition.user_id)

    def _changed(self, user_id: uuid.UUID) -> None:
        if self.changed is not None:
            self.changed(user_id)


def _payload(schedule: Schedule, creator: User) -> dict[str, object]:
    return {
        "schedule_id": str(schedule.schedule_id),
        "title": schedule.title,
        "starts_at": schedule.starts_at.isoformat().replace("+00:00", "Z"),
        "creator": {
            "user_id": str(creator.user_id),
            "username": creator.username,
            "display_name": creator.display_name,
        },
    }
