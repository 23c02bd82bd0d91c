"""Schedules over HTTP: planning, changing, cancelling, listing, and who may do what."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.helpers import assert_error, bearer, quick_user


def iso(moment: datetime) -> str:
    return moment.isoformat()


def soon(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


async def plan(client: httpx.AsyncClient, token: str, **fields: Any) -> dict[str, Any]:
    body = {"title": "Speedrun night", "starts_at": iso(soon(hours=3))} | fields
    response = await client.post("/api/schedules", json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_a_creator_plans_changes_and_cancels(app: FastAPI, client: httpx.AsyncClient) -> None:
    creator, token = await quick_user(app)
    # A time with an offset is stored and answered in UTC.
    tokyo = datetime.now(UTC).astimezone(datetime.now().astimezone().tzinfo) + timedelta(days=2)
    offset = tokyo.strftime("%Y-%m-%dT%H:%M:%S") + "+09:00"
    created = await plan(client, token, starts_at=offset, description="Any% glitchless", expected_duration_minutes=90)
    expected = datetime.fromisoformat(offset).astimezone(UTC)
    assert datetime.fromisoformat(created["starts_at"].replace("Z", "+00:00")) == expected
    assert created["starts_at"].endswith(("Z", "+00:00"))
    assert created["status"] == "scheduled"
    assert created["stream_id"] is None
    assert created["creator"]["username"] == creator["username"]
    assert created["expected_duration_minutes"] == 90
    schedule_id = created["schedule_id"]

    fetched = await client.get(f"/api/schedules/{schedule_id}")
    assert fetched.status_code == 200
    assert fetched.json()["title"] == "Speedrun night"

    later = soon(days=3)
    changed = await client.put(
        f"/api/schedules/{schedule_id}",
        json={"starts_at": iso(later), "description": None},
        headers=bearer(token),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["description"] is None
    assert changed.json()["title"] == "Speedrun night"  # left out: kept
    assert abs(datetime.fromisoformat(changed.json()["starts_at"]) - later) < timedelta(seconds=1)

    listed = await client.get("/api/schedules", params={"user_id": creator["user_id"]})
    assert [item["schedule_id"] for item in listed.json()["items"]] == [schedule_id]

    cancelled = await client.delete(f"/api/schedules/{schedule_id}", headers=bearer(token))
    assert cancelled.status_code == 204
    # Kept, as cancelled: calendars that subscribed must see it go. Cancelling again changes nothing.
    assert (await client.get(f"/api/schedules/{schedule_id}")).json()["status"] == "cancelled"
    assert (await client.delete(f"/api/schedules/{schedule_id}", headers=bearer(token))).status_code == 204
    assert_error(
        await client.put(f"/api/schedules/{schedule_id}", json={"title": "Back"}, headers=bearer(token)),
        409,
        "SCHEDULE_NOT_EDITABLE",
    )


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"starts_at": "past"}, "in the past"),
        ({"starts_at": "far"}, "more than a year ahead"),
        ({"starts_at": "2030-01-01T10:00:00"}, "no offset"),
        ({"starts_at": "tomorrow at noon"}, "not a time"),
        ({"title": "x" * 141}, "title over 140"),
        ({"title": "   "}, "blank title"),
        ({"title": "\u202e\u202e"}, "only bidi overrides"),
        ({"title": "nul\u0000here"}, "NUL"),
        ({"title": "lone \ud800 surrogate"}, "lone surrogate"),
        ({"description": "d" * 2001}, "description too long"),
        ({"expected_duration_minutes": 4}, "too short"),
        ({"expected_duration_minutes": 1441}, "too long"),
        ({"expected_duration_minutes": "60"}, "a string for minutes"),
        ({"expected_duration_minutes": 60.5}, "a fraction"),
        ({"status": "live"}, "status is not the creator's to set"),
    ],
)
async def test_bad_plans_are_refused(app: FastAPI, client: httpx.AsyncClient, fields: dict[str, Any], why: str) -> None:
    _, token = await quick_user(app)
    body: dict[str, Any] = {"title": "Plan", "starts_at": iso(soon(hours=1))} | fields
    if body["starts_at"] == "past":
        body["starts_at"] = iso(soon(minutes=-1))
    elif body["starts_at"] == "far":
        body["starts_at"] = iso(soon(days=366))
    # ASCII-escaped JSON: a lone surrogate arrives as the "\\ud800" escape, as a hostile client sends it.
    response = await client.post(
        "/api/schedules",
        content=json.dumps(body),
        headers={**bearer(token), "Content-Type": "application/json"},
    )
    assert_error(response, 400, "VALIDATION_ERROR")
    listed = await client.get("/api/schedules/following", headers=bearer(token))
    assert listed.json()["items"] == [], why


async def test_only_the_creator_changes_or_cancels(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token = await quick_user(app)
    _, other = await quick_user(app)
    schedule_id = (await plan(client, token))["schedule_id"]
    assert_error(
        await client.put(f"/api/schedules/{schedule_id}", json={"title": "Mine"}, headers=bearer(other)),
        403,
        "NOT_YOUR_SCHEDULE",
    )
    assert_error(await client.delete(f"/api/schedules/{schedule_id}", headers=bearer(other)), 403, "NOT_YOUR_SCHEDULE")
    assert_error(await client.delete(f"/api/schedules/{schedule_id}"), 401, "INVALID_TOKEN")
    assert_error(
        await client.post("/api/schedules", json={"title": "x", "starts_at": iso(soon(hours=1))}), 401, "INVALID_TOKEN"
    )
    assert (await client.get(f"/api/schedules/{schedule_id}")).json()["title"] == "Speedrun night"
    missing = uuid.uuid4()
    assert_error(await client.get(f"/api/schedules/{missing}"), 404, "SCHEDULE_NOT_FOUND")
    assert_error(
        await client.put(f"/api/schedules/{missing}", json={"title": "x"}, headers=bearer(token)),
        404,
        "SCHEDULE_NOT_FOUND",
    )
    # An empty change, or clearing what cannot be empty.
    for body in ({}, {"title": None}, {"starts_at": None}):
        assert_error(
            await client.put(f"/api/schedules/{schedule_id}", json=body, headers=bearer(token)), 400, "VALIDATION_ERROR"
        )


async def test_listing_by_range_and_from_followed_creators(app: FastAPI, client: httpx.AsyncClient) -> None:
    creator, token = await quick_user(app)
    other_creator, other_token = await quick_user(app)
    _, fan_token = await quick_user(app)
    first = await plan(client, token, title="Soon", starts_at=iso(soon(hours=2)))
    second = await plan(client, token, title="Later", starts_at=iso(soon(days=10)))
    await plan(client, other_token, title="Not followed", starts_at=iso(soon(hours=1)))
    made = await client.post("/api/follows", json={"following_id": creator["user_id"]}, headers=bearer(fan_token))
    assert made.status_code == 201

    everything = await client.get("/api/schedules", params={"user_id": creator["user_id"]})
    assert [i["title"] for i in everything.json()["items"]] == ["Soon", "Later"]
    window = await client.get(
        "/api/schedules",
        params={"user_id": creator["user_id"], "from": iso(soon(days=1)), "to": iso(soon(days=30))},
    )
    assert [i["schedule_id"] for i in window.json()["items"]] == [second["schedule_id"]]
    limited = await client.get("/api/schedules", params={"user_id": creator["user_id"], "limit": 1})
    assert [i["schedule_id"] for i in limited.json()["items"]] == [first["schedule_id"]]

    following = await client.get("/api/schedules/following", headers=bearer(fan_token))
    assert [i["title"] for i in following.json()["items"]] == ["Soon", "Later"]
    assert_error(await client.get("/api/schedules/following"), 401, "INVALID_TOKEN")

    assert_error(await client.get("/api/schedules"), 400, "VALIDATION_ERROR")
    bad_ranges: list[dict[str, str | int]] = [
        {"from": iso(soon(days=2)), "to": iso(soon(days=1))},
        {"from": iso(soon(days=1)), "to": iso(soon(days=500))},
        {"from": "2030-01-01T00:00:00"},
        {"to": "yesterday"},
        {"limit": 0},
        {"limit": 201},
    ]
    for params in bad_ranges:
        response = await client.get("/api/schedules", params={"user_id": other_creator["user_id"], **params})
        assert_error(response, 400, "VALIDATION_ERROR")


async def test_past_entries_cannot_be_cancelled_and_upcoming_ones_are_capped(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    from livestream.schedules.models import Schedule
    from livestream.schedules.service import MAX_UPCOMING
    from tests.api.helpers import container

    creator, token = await quick_user(app)
    schedule_id = (await plan(client, token))["schedule_id"]
    async with container(app).db.unit_of_work() as session:
        row = await session.get(Schedule, uuid.UUID(schedule_id))
        assert row is not None
        row.starts_at = soon(minutes=-10)
    assert_error(
        await client.delete(f"/api/schedules/{schedule_id}", headers=bearer(token)), 409, "SCHEDULE_NOT_CANCELLABLE"
    )

    async with container(app).db.unit_of_work() as session:
        for n in range(MAX_UPCOMING):
            session.add(
                Schedule(user_id=uuid.UUID(creator["user_id"]), title=f"#{n}", starts_at=soon(days=1, minutes=n))
            )
    response = await client.post(
        "/api/schedules", json={"title": "One more", "starts_at": iso(soon(days=5))}, headers=bearer(token)
    )
    assert_error(response, 409, "TOO_MANY_SCHEDULES")


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
async def test_times_that_leave_the_calendar_in_utc_are_400s(
    app: FastAPI, client: httpx.AsyncClient, moment: str
) -> None:
    creator, token = await quick_user(app)
    created = await client.post("/api/schedules", json={"title": "Edge", "starts_at": moment}, headers=bearer(token))
    assert_error(created, 400, "VALIDATION_ERROR")
    for params in ({"from": moment}, {"to": moment}, {"from": "2026-01-01T00:00:00Z", "to": moment}):
        listed = await client.get("/api/schedules", params={"user_id": creator["user_id"], **params})
        assert_error(listed, 400, "VALIDATION_ERROR")


async def test_cancelling_does_not_lift_the_daily_limit_on_new_entries(app: FastAPI, client: httpx.AsyncClient) -> None:
    from livestream.schedules.models import Schedule
    from livestream.schedules.service import MAX_CREATED_PER_DAY
    from tests.api.helpers import container

    creator, token = await quick_user(app)
    async with container(app).db.unit_of_work() as session:
        for n in range(MAX_CREATED_PER_DAY - 1):
            session.add(
                Schedule(
                    user_id=uuid.UUID(creator["user_id"]),
                    title=f"#{n}",
                    starts_at=soon(days=2, minutes=n),
                    status="cancelled",
                )
            )
    last = await client.post(
        "/api/schedules", json={"title": "Last", "starts_at": iso(soon(days=1))}, headers=bearer(token)
    )
    assert last.status_code == 201, last.text
    assert (
        await client.delete(f"/api/schedules/{last.json()['schedule_id']}", headers=bearer(token))
    ).status_code == 204
    refused = await client.post(
        "/api/schedules", json={"title": "More", "starts_at": iso(soon(days=1))}, headers=bearer(token)
    )
    assert_error(refused, 409, "TOO_MANY_SCHEDULES")
