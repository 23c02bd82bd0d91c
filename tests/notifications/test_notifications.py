"""Notifications on SQLite and PostgreSQL: the go-live fan-out (once per follower, muted and switched-off
followers skipped, reconnects not a new go-live), archive ready, new followers batched, the API, the purge."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, insert, select, update

from livestream.db import utcnow
from livestream.follows.models import Follow
from livestream.notifications.delivery import Written
from livestream.notifications.models import Notification
from livestream.notifications.tasks import STREAM_STARTED, stream_started_key
from livestream.streams.repository import StreamRepository
from livestream.users.models import User
from tests.api.helpers import assert_error, bearer, container, quick_user


async def go_live(app: FastAPI, client: httpx.AsyncClient, token: str) -> str:
    """A stream opened through the API whose first video then arrives (as ingest reports it)."""
    created = await client.post("/api/streams", json={"title": "Live now"}, headers=bearer(token))
    assert created.status_code == 201, created.text
    stream_id = created.json()["stream_id"]
    await set_media_state(app, stream_id, "live")
    return str(stream_id)


async def set_media_state(app: FastAPI, stream_id: str, state: Any) -> None:
    c = container(app)
    async with c.db.unit_of_work() as session:
        streams = StreamRepository(session)
        stream = await streams.get(uuid.UUID(stream_id))
        assert stream is not None
        c.lifecycle.set_media_state(streams, stream, state)
    await c.jobs.idle(60)


async def follow(client: httpx.AsyncClient, token: str, creator_id: str) -> str:
    made = await client.post("/api/follows", json={"following_id": creator_id}, headers=bearer(token))
    assert made.status_code == 201, made.text
    return str(made.json()["follow_id"])


async def notifications_of(client: httpx.AsyncClient, token: str, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/notifications", params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_go_live_reaches_each_follower_once_and_skips_the_muted(app: FastAPI, client: httpx.AsyncClient) -> None:
    creator, creator_token = await quick_user(app)
    fans = [await quick_user(app) for _ in range(4)]
    follows = [await follow(client, token, creator["user_id"]) for _, token in fans]
    # One mutes this creator, one turns go-live notifications off altogether.
    muted = await client.put(f"/api/follows/{follows[2]}", json={"notify": False}, headers=bearer(fans[2][1]))
    assert muted.status_code == 200
    assert muted.json()["notify"] is False
    off = await client.put(
        "/api/users/me/notification-settings",
        json={
            "kinds": {"stream_started": False, "schedule_reminder": True, "archive_ready": True, "new_follower": True}
        },
        headers=bearer(fans[3][1]),
    )
    assert off.status_code == 200
    assert off.json()["kinds"]["stream_started"] is False
    stream_id = await go_live(app, client, creator_token)

    for (_, token), expected in zip(fans, (1, 1, 0, 0), strict=True):
        got = [n for n in await notifications_of(client, token) if n["kind"] == "stream_started"]
        assert len(got) == expected
        if got:
            assert got[0]["payload"]["stream_id"] == stream_id
            assert got[0]["payload"]["title"] == "Live now"
            assert got[0]["payload"]["creator"]["username"] == creator["username"]
            assert got[0]["read_at"] is None
    # A reconnect is not a new go-live; the job delivered again adds nothing either.
    await set_media_state(app, stream_id, "reconnecting")
    await set_media_state(app, stream_id, "live")
    await container(app).jobs.enqueue(STREAM_STARTED, stream_id=stream_id)
    await container(app).jobs.idle(30)
    async with container(app).db.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(Notification.event_key == stream_started_key(stream_id))
        )
    assert count == 2


async def test_a_fan_out_cut_short_and_run_again_tells_each_of_1000_followers_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    creator, creator_token = await quick_user(app)
    creator_id = uuid.UUID(creator["user_id"])
    c = container(app)
    followers = [uuid.uuid4() for _ in range(1000)]
    async with c.db.unit_of_work() as session:
        await session.execute(
            insert(User),
            [
                {"user_id": u, "username": f"f{u.hex[:20]}", "email": f"{u.hex}@example.com", "password_hash": "x"}
                for u in followers
            ],
        )
        await session.execute(
            insert(Follow),
            [{"follow_id": uuid.uuid4(), "follower_id": u, "following_id": creator_id} for u in followers],
        )
    created = await client.post("/api/streams", json={"title": "Big"}, headers=bearer(creator_token))
    stream_id = created.json()["stream_id"]
    jobs = c.notification_jobs
    jobs.batch = 100
    # The worker dies once three batches were committed: it stalls after the third and is cancelled there.
    third_committed = asyncio.Event()
    batches = 0

    async def stalls_after_three(rows: Sequence[Written]) -> None:
        nonlocal batches
        batches += 1
        if batches == 3:
            third_committed.set()
            await asyncio.Event().wait()

    jobs.delivery.add("test_stall", stalls_after_three)
    committed = 0

    async def killed_worker() -> None:
        task = asyncio.create_task(jobs.stream_started(stream_id))
        await third_committed.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        jobs.delivery.channels = [(n, ch) for n, ch in jobs.delivery.channels if n != "test_stall"]

    async def counted() -> None:
        nonlocal committed
        async with c.db.sessionmaker() as session:
            committed = int(
                await session.scalar(
                    select(func.count()).where(Notification.event_key == stream_started_key(stream_id))
                )
                or 0
            )

    await asyncio.wait_for(killed_worker(), 60)
    await counted()
    assert committed == 300
    # Restarted: the job runs again from the start.
    await jobs.stream_started(stream_id)
    async with c.db.sessionmaker() as session:
        rows = (
            await session.execute(
                select(Notification.user_id, func.count())
                .where(Notification.event_key == stream_started_key(stream_id))
                .group_by(Notification.user_id)
            )
        ).all()
    assert len(rows) == 1000
    assert {count for _, count in rows} == {1}
    assert {user for user, _ in rows} == set(followers)


async def test_the_api_lists_counts_and_marks_only_your_own(app: FastAPI, client: httpx.AsyncClient) -> None:
    creator, creator_token = await quick_user(app)
    _fan, fan_token = await quick_user(app)
    _, stranger_token = await quick_user(app)
    await follow(client, fan_token, creator["user_id"])
    for _ in range(3):
        stream_id = await go_live(app, client, creator_token)
        assert (await client.put(f"/api/streams/{stream_id}/end", headers=bearer(creator_token))).status_code == 200
        await container(app).jobs.idle(30)
    items = await notifications_of(client, fan_token)
    assert len(items) == 3
    assert [i["created_at"] for i in items] == sorted((i["created_at"] for i in items), reverse=True)
    count = await client.get("/api/notifications/unread-count", headers=bearer(fan_token))
    assert count.json() == {"unread": 3}
    first = items[0]["notification_id"]
    # Someone else's notification: 404, as if it did not exist; nothing changes.
    assert_error(
        await client.post(f"/api/notifications/{first}/read", headers=bearer(stranger_token)),
        404,
        "NOTIFICATION_NOT_FOUND",
    )
    assert_error(
        await client.post(f"/api/notifications/{uuid.uuid4()}/read", headers=bearer(fan_token)),
        404,
        "NOTIFICATION_NOT_FOUND",
    )
    assert (await client.post(f"/api/notifications/{first}/read")).status_code == 401
    read = await client.post(f"/api/notifications/{first}/read", headers=bearer(fan_token))
    assert read.status_code == 200
    assert read.json()["read_at"] is not None
    assert (await client.get("/api/notifications/unread-count", headers=bearer(fan_token))).json() == {"unread": 2}
    unread = await notifications_of(client, fan_token, unread="true")
    assert first not in [n["notification_id"] for n in unread]
    page = await client.get("/api/notifications", params={"limit": 2}, headers=bearer(fan_token))
    assert len(page.json()["items"]) == 2
    rest = await client.get(
        "/api/notifications", params={"limit": 2, "cursor": page.json()["next_cursor"]}, headers=bearer(fan_token)
    )
    assert len(rest.json()["items"]) == 1
    assert rest.json()["next_cursor"] is None
    marked = await client.post("/api/notifications/read-all", headers=bearer(fan_token))
    assert marked.json() == {"marked": 2}
    assert (await client.get("/api/notifications/unread-count", headers=bearer(fan_token))).json() == {"unread": 0}
    assert await notifications_of(client, stranger_token) == []
    assert (await client.get("/api/notifications")).status_code == 401
    assert_error(
        await client.get("/api/notifications", params={"cursor": "%%"}, headers=bearer(fan_token)),
        400,
        "INVALID_CURSOR",
    )
    assert_error(await client.post("/api/notifications/nope/read", headers=bearer(fan_token)), 400, "VALIDATION_ERROR")


async def test_new_followers_are_batched_until_read(app: FastAPI, client: httpx.AsyncClient) -> None:
    creator, creator_token = await quick_user(app)
    for _ in range(4):
        _, token = await quick_user(app)
        await follow(client, token, creator["user_id"])
    await container(app).jobs.idle(30)
    items = [n for n in await notifications_of(client, creator_token) if n["kind"] == "new_follower"]
    assert len(items) == 1
    assert items[0]["payload"]["count"] == 4
    assert len(items[0]["payload"]["names"]) == 3
    await client.post("/api/notifications/read-all", headers=bearer(creator_token))
    _, late = await quick_user(app)
    await follow(client, late, creator["user_id"])
    await container(app).jobs.idle(30)
    items = [n for n in await notifications_of(client, creator_token) if n["kind"] == "new_follower"]
    assert [n["payload"]["count"] for n in items] == [1, 4]


async def test_follows_counted_at_once_make_one_notification_with_every_follower(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    c = container(app)
    if c.settings.is_sqlite:
        pytest.skip("SQLite has one writer: jobs cannot count at once there")
    creator, creator_token = await quick_user(app)
    fans = [await quick_user(app) for _ in range(8)]
    await asyncio.gather(*(c.notification_jobs.new_follower(creator["user_id"], fan["user_id"]) for fan, _ in fans))
    items = [n for n in await notifications_of(client, creator_token) if n["kind"] == "new_follower"]
    assert len(items) == 1
    assert items[0]["payload"]["count"] == 8


async def test_settings_are_validated_and_say_what_is_available(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token = await quick_user(app)
    got = await client.get("/api/users/me/notification-settings", headers=bearer(token))
    assert got.json() == {
        "email": False,
        "push": False,
        "kinds": {
            "stream_started": True,
            "schedule_reminder": True,
            "archive_ready": True,
            "new_follower": True,
            "tip_received": True,
        },
        "email_available": False,
        "email_verified": False,
        "push_available": True,
    }
    for bad in ({"email": "maybe"}, {"kinds": {"stream_started": False, "spam": True}}, {"unknown": 1}, [1, 2]):
        response = await client.put("/api/users/me/notification-settings", json=bad, headers=bearer(token))
        assert_error(response, 400, "VALIDATION_ERROR")
    assert (await client.put("/api/users/me/notification-settings", json={})).status_code == 401
    changed = await client.put("/api/users/me/notification-settings", json={"email": True}, headers=bearer(token))
    assert changed.json()["email"] is True
    assert changed.json()["kinds"]["archive_ready"] is True
    # A kind left out keeps its setting.
    one = {"kinds": {"new_follower": False}}
    assert (await client.put("/api/users/me/notification-settings", json=one, headers=bearer(token))).status_code == 200
    two = await client.put(
        "/api/users/me/notification-settings", json={"kinds": {"archive_ready": False}}, headers=bearer(token)
    )
    assert two.json()["kinds"] == {
        "stream_started": True,
        "schedule_reminder": True,
        "archive_ready": False,
        "new_follower": False,
        "tip_received": True,
    }
    assert two.json()["email"] is True


async def test_muting_is_for_the_follower_only(app: FastAPI, client: httpx.AsyncClient) -> None:
    creator, _ = await quick_user(app)
    _, fan_token = await quick_user(app)
    _, stranger_token = await quick_user(app)
    follow_id = await follow(client, fan_token, creator["user_id"])
    url = f"/api/follows/{follow_id}"
    assert_error(await client.put(url, json={"notify": False}, headers=bearer(stranger_token)), 403, "FORBIDDEN")
    assert_error(
        await client.put(f"/api/follows/{uuid.uuid4()}", json={"notify": False}, headers=bearer(fan_token)),
        404,
        "FOLLOW_NOT_FOUND",
    )
    assert_error(await client.put(url, json={"notify": "no"}, headers=bearer(fan_token)), 400, "VALIDATION_ERROR")
    assert_error(await client.put(url, json={}, headers=bearer(fan_token)), 400, "VALIDATION_ERROR")
    assert (await client.put(url, json={"notify": True})).status_code == 401


async def test_old_notifications_are_purged(app: FastAPI, client: httpx.AsyncClient) -> None:
    creator, creator_token = await quick_user(app)
    _, fan_token = await quick_user(app)
    await follow(client, fan_token, creator["user_id"])
    await go_live(app, client, creator_token)
    c = container(app)
    async with c.db.unit_of_work() as session:
        statement = update(Notification).where(Notification.type == "stream_started")
        await session.execute(statement.values(created_at=utcnow() - timedelta(days=91)))
    await c.notification_jobs.purge()
    assert [n["kind"] for n in await notifications_of(client, fan_token)] == []
    assert [n["kind"] for n in await notifications_of(client, creator_token)] == ["new_follower"]


@pytest.mark.parametrize("kind", ["archive_ready"])
async def test_the_creator_hears_when_an_archive_is_ready(app: FastAPI, client: httpx.AsyncClient, kind: str) -> None:
    from tests.archives.conftest import end_and_wait, recorded_stream

    _, token, stream_id = await recorded_stream(app, client, seconds=1)
    archive = await end_and_wait(app, client, token, stream_id)
    await container(app).jobs.idle(30)
    items = [n for n in await notifications_of(client, token) if n["kind"] == kind]
    assert len(items) == 1
    assert items[0]["payload"]["archive_id"] == archive["archive_id"]
    assert items[0]["payload"]["title"] == "Archive me"
