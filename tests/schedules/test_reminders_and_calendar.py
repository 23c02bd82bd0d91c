"""Reminders reach each follower once per start time; a go-live links its plan; the calendar feed parses back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import icalendar
from fastapi import FastAPI
from sqlalchemy import func, select, update

from livestream.notifications.delivery import Written
from livestream.notifications.models import Notification
from livestream.schedules.models import Schedule
from tests.api.helpers import assert_error, bearer, container, quick_user
from tests.notifications.test_notifications import follow, go_live, notifications_of, set_media_state


def soon(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


async def plan(client: httpx.AsyncClient, token: str, starts_at: datetime, **fields: Any) -> dict[str, Any]:
    body = {"title": "Planned", "starts_at": starts_at.isoformat()} | fields
    response = await client.post("/api/schedules", json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def reminders_for(app: FastAPI, schedule_id: str) -> list[uuid.UUID]:
    async with container(app).db.sessionmaker() as session:
        rows = await session.execute(
            select(Notification.user_id).where(
                Notification.type == "schedule_reminder",
                Notification.event_key.like(f"schedule_reminder:{schedule_id}:%"),
            )
        )
        return [row[0] for row in rows]


async def test_followers_are_reminded_once_and_again_after_a_new_time(app: FastAPI, client: httpx.AsyncClient) -> None:
    creator, token = await quick_user(app)
    fans = [await quick_user(app) for _ in range(3)]
    follows = [await follow(client, fan_token, creator["user_id"]) for _, fan_token in fans]
    # The third mutes the creator.
    muted = await client.put(f"/api/follows/{follows[2]}", json={"notify": False}, headers=bearer(fans[2][1]))
    assert muted.status_code == 200
    jobs = container(app).schedule_jobs
    far = await plan(client, token, soon(hours=5), title="Far off")
    near = await plan(client, token, soon(minutes=10), title="Soon")

    # Two runs at once (as two processes would): each follower hears once; the far one is not due.
    sent = await asyncio.gather(jobs.send_due_reminders(), jobs.send_due_reminders())
    assert sum(sent) == 1
    assert sorted(await reminders_for(app, near["schedule_id"])) == sorted(
        uuid.UUID(fans[i][0]["user_id"]) for i in (0, 1)
    )
    assert await reminders_for(app, far["schedule_id"]) == []
    assert await jobs.send_due_reminders() == 0
    items = await notifications_of(client, fans[0][1])
    assert [(i["kind"], i["payload"]["title"], i["payload"]["schedule_id"]) for i in items] == [
        ("schedule_reminder", "Soon", near["schedule_id"])
    ]
    assert items[0]["payload"]["creator"]["username"] == creator["username"]

    # A new start time re-arms the reminder; a change of title alone does not.
    retitled = await client.put(f"/api/schedules/{near['schedule_id']}", json={"title": "Soon!"}, headers=bearer(token))
    assert retitled.status_code == 200
    assert await jobs.send_due_reminders() == 0
    moved = await client.put(
        f"/api/schedules/{near['schedule_id']}", json={"starts_at": soon(minutes=12).isoformat()}, headers=bearer(token)
    )
    assert moved.status_code == 200
    assert await jobs.send_due_reminders() == 1
    assert len(await reminders_for(app, near["schedule_id"])) == 4  # two followers, two start times

    # Cancelled entries, and those long started, are never reminded.
    cancelled = await plan(client, token, soon(minutes=5), title="Called off")
    assert (await client.delete(f"/api/schedules/{cancelled['schedule_id']}", headers=bearer(token))).status_code == 204
    stale = await plan(client, token, soon(minutes=20), title="Missed")
    async with container(app).db.unit_of_work() as session:
        await session.execute(
            update(Schedule)
            .where(Schedule.schedule_id == uuid.UUID(stale["schedule_id"]))
            .values(starts_at=soon(minutes=-30))
        )
    assert await jobs.send_due_reminders() == 0
    assert await reminders_for(app, cancelled["schedule_id"]) == []
    assert await reminders_for(app, stale["schedule_id"]) == []


async def test_a_go_live_near_the_plan_links_it_and_the_end_marks_it_done(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    _, token = await quick_user(app)
    too_far = await plan(client, token, soon(minutes=45), title="Not this one")
    near = await plan(client, token, soon(minutes=20), title="This one")
    stream_id = await go_live(app, client, token)
    await container(app).jobs.idle(30)
    linked = (await client.get(f"/api/schedules/{near['schedule_id']}")).json()
    assert linked["status"] == "live"
    assert linked["stream_id"] == stream_id
    assert (await client.get(f"/api/schedules/{too_far['schedule_id']}")).json()["status"] == "scheduled"
    # A live entry is not the creator's to change or cancel.
    assert_error(
        await client.delete(f"/api/schedules/{near['schedule_id']}", headers=bearer(token)),
        409,
        "SCHEDULE_NOT_CANCELLABLE",
    )
    # A reconnect is not a new go-live: the other plan stays planned.
    await set_media_state(app, stream_id, "reconnecting")
    await set_media_state(app, stream_id, "live")
    assert (await client.get(f"/api/schedules/{too_far['schedule_id']}")).json()["status"] == "scheduled"

    ended = await client.put(f"/api/streams/{stream_id}/end", headers=bearer(token))
    assert ended.status_code == 200
    await container(app).jobs.idle(30)
    assert (await client.get(f"/api/schedules/{near['schedule_id']}")).json()["status"] == "done"
    assert (await client.get(f"/api/schedules/{too_far['schedule_id']}")).json()["status"] == "scheduled"


async def test_the_calendar_feed_parses_back_with_stable_uids(app: FastAPI, client: httpx.AsyncClient) -> None:
    creator, token = await quick_user(app)
    kept = await plan(
        client,
        token,
        soon(days=2),
        title="Q&A; with commas, and \\ backslashes",
        description="Line one\nLine two",
        expected_duration_minutes=90,
    )
    dropped = await plan(client, token, soon(days=3), title="Dropped")
    url = f"/api/users/{creator['user_id']}/schedule.ics"

    first = await client.get(url)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/calendar")
    events = {str(e["UID"]): e for e in icalendar.Calendar.from_ical(first.content).walk("VEVENT")}
    assert len(events) == 2
    uid = next(u for u, e in events.items() if str(e["SUMMARY"]) == kept["title"])
    event = events[uid]
    assert str(event["DESCRIPTION"]).startswith("Line one\nLine two")
    assert f"/u/{creator['username']}" in str(event["URL"])
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(minutes=90)
    assert event.decoded("DTSTART") == datetime.fromisoformat(kept["starts_at"].replace("Z", "+00:00"))
    assert str(event["STATUS"]) == "CONFIRMED"
    first_sequence = int(event.decoded("SEQUENCE"))

    assert (
        await client.put(f"/api/schedules/{kept['schedule_id']}", json={"title": "Renamed"}, headers=bearer(token))
    ).status_code == 200
    assert (await client.delete(f"/api/schedules/{dropped['schedule_id']}", headers=bearer(token))).status_code == 204
    second = {str(e["UID"]): e for e in icalendar.Calendar.from_ical((await client.get(url)).content).walk("VEVENT")}
    assert set(second) == set(events)  # the same UIDs: apps update their events, never duplicate them
    assert str(second[uid]["SUMMARY"]) == "Renamed"
    assert int(second[uid].decoded("SEQUENCE")) > first_sequence
    dropped_uid = next(u for u in second if u != uid)
    assert str(second[dropped_uid]["STATUS"]) == "CANCELLED"

    assert_error(await client.get(f"/api/users/{uuid.uuid4()}/schedule.ics"), 404, "USER_NOT_FOUND")
    nobody, _ = await quick_user(app)
    empty = icalendar.Calendar.from_ical((await client.get(f"/api/users/{nobody['user_id']}/schedule.ics")).content)
    assert list(empty.walk("VEVENT")) == []
    async with container(app).db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Schedule)) == 2


async def test_a_title_changed_while_the_reminder_goes_out_does_not_send_it_again(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    creator, token = await quick_user(app)
    fans = [await quick_user(app) for _ in range(2)]
    for _, fan_token in fans:
        await follow(client, fan_token, creator["user_id"])
    near = await plan(client, token, soon(minutes=10), title="Soon")
    c = container(app)
    edited = False

    async def edit_meanwhile(rows: Sequence[Written]) -> None:
        nonlocal edited
        if not edited:
            edited = True
            response = await client.put(
                f"/api/schedules/{near['schedule_id']}", json={"title": "Soon (renamed)"}, headers=bearer(token)
            )
            assert response.status_code == 200

    c.notification_jobs.delivery.add("test_edit", edit_meanwhile)
    try:
        assert await c.schedule_jobs.send_due_reminders() == 1
    finally:
        c.notification_jobs.delivery.channels = [
            (n, ch) for n, ch in c.notification_jobs.delivery.channels if n != "test_edit"
        ]
    assert edited
    assert await c.schedule_jobs.send_due_reminders() == 0
    assert sorted(await reminders_for(app, near["schedule_id"])) == sorted(uuid.UUID(f["user_id"]) for f, _ in fans)
