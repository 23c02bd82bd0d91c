"""A creator's schedule as an iCalendar feed (RFC 5545) that calendar apps subscribe to.

Each entry keeps its UID for life, so an app updates the event it has rather than adding another; SEQUENCE rises
with every change, and a cancelled entry stays in the feed with STATUS:CANCELLED so subscribers drop it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from icalendar import Calendar, Event

from livestream.schedules.models import Schedule
from livestream.users.models import User

# The length shown for an entry without an expected duration.
DEFAULT_LENGTH = timedelta(hours=1)
PRODID = "-//LiveStream Pro//Schedule//EN"


def uid(schedule: Schedule) -> str:
    # Independent of the server's public URL: a moved server must not duplicate every subscriber's events.
    return f"schedule-{schedule.schedule_id}@livestream-pro"


def build_feed(creator: User, schedules: list[Schedule], *, public_url: str, now: datetime) -> bytes:
    name = creator.display_name or creator.username
    channel_url = f"{public_url}/u/{creator.username}"
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"{name} on LiveStream Pro")
    calendar.add("x-wr-caldesc", f"Streams planned by {name}: {channel_url}")
    # How often a subscribed app should look again (RFC 7986, and the older Microsoft property).
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    for schedule in schedules:
        calendar.add_component(_event(schedule, channel_url=channel_url, public_url=public_url, now=now))
    return bytes(calendar.to_ical())


def _event(schedule: Schedule, *, channel_url: str, public_url: str, now: datetime) -> Event:
    watch_url = f"{public_url}/watch/{schedule.stream_id}" if schedule.stream_id is not None else channel_url
    length = timedelta(minutes=schedule.duration_minutes) if schedule.duration_minutes else DEFAULT_LENGTH
    event = Event()
    event.add("uid", uid(schedule))
    event.add("dtstamp", now)
    event.add("created", schedule.created_at)
    event.add("last-modified", schedule.updated_at)
    event.add("sequence", schedule.sequence)
    event.add("dtstart", schedule.starts_at)
    event.add("dtend", schedule.starts_at + length)
    event.add("summary", schedule.title)
    description = f"{schedule.description}\n\n" if schedule.description else ""
    event.add("description", f"{description}Watch: {watch_url}")
    event.add("url", watch_url)
    event.add("location", watch_url)
    event.add("status", "CANCELLED" if schedule.status == "cancelled" else "CONFIRMED")
    event.add("transp", "TRANSPARENT")
    return event
