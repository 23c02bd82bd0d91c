"""The live notification socket ``/ws/me`` (docs/realtime.md): a real uvicorn serving the app in this process
(our WebSocket protocol, its frame limit), with the memory engine and with Redis; then two ``livestream serve``
processes sharing PostgreSQL and Redis, where a notification written by one reaches a socket held by the other."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import insert
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from livestream.config import Settings
from livestream.follows.models import Follow
from livestream.notifications.delivery import Written
from livestream.notifications.live import (
    CLOSE_TOO_MANY_SOCKETS,
    CLOSE_UNAUTHENTICATED,
    MAX_AUTH_FAILURES,
    MAX_RECIPIENTS,
    MAX_SOCKETS_PER_USER,
    NOTIFY_CHANNEL,
    notify_messages,
)
from livestream.realtime.raw_socket import FastWebSocketProtocol
from livestream.realtime.sockets import AUTH_LIMIT, CLOSE_POLICY, CLOSE_TOO_BIG, MAX_FRAME_BYTES, PING_LIMIT
from livestream.users.models import User

# Cheap Argon2 for the sign-ins (registered by importing it, as the chat tests do).
from tests.api.conftest import _fast_argon2
from tests.api.helpers import USE_REDIS, access_token, bearer, container, flush_redis, overrides_from, quick_user
from tests.notifications.test_notifications import follow, go_live
from tests.support.chat_clients import Account, Viewer, make_account
from tests.support.live_server import LiveServer, start_server

__all__ = ["_fast_argon2"]

ENGINES = pytest.mark.parametrize(
    "settings_overrides",
    [pytest.param({}, id="memory"), pytest.param({"redis_url": USE_REDIS}, id="redis", marks=pytest.mark.redis)],
    indirect=True,
)


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    return overrides_from(request)


@dataclass
class Served:
    app: FastAPI
    port: int

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[Served]:
    """The test's app behind a real uvicorn, as ``livestream serve`` runs it (lifespan already started)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])
    config = uvicorn.Config(
        app,
        ws=FastWebSocketProtocol,
        ws_max_size=MAX_FRAME_BYTES,
        ws_per_message_deflate=False,
        lifespan="off",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        await _until(lambda: server.started)
        yield Served(app, port)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        listener.close()


async def me(base: str, **kwargs: Any) -> Viewer:
    """A /ws/me client that records every frame (the chat tests' Viewer, on this socket)."""
    connection = await connect(f"{base}/ws/me", compression=None, **kwargs)
    client = Viewer(connection)
    client._reader = asyncio.create_task(client._read())
    return client


async def signed_in(base: str, account: Account) -> Viewer:
    client = await me(base)
    ok = await client.auth(account)
    assert ok["type"] == "auth.ok", ok
    return client


async def account(app: FastAPI) -> Account:
    user, token = await quick_user(app)
    return Account(user_id=str(user["user_id"]), username=user["username"], token=token)


async def quiet(client: Viewer) -> list[dict[str, Any]]:
    """Every frame the server had queued for ``client`` so far: a ping's pong comes after them."""
    mark = len(client.frames)
    await client.send({"type": "ping"})
    await client.wait_for(lambda f: f["type"] == "pong", after=mark)
    return client.frames


def notifications(client: Viewer) -> list[dict[str, Any]]:
    return client.of_type("notification")


async def closed_with(client: Viewer, within: float = 10) -> int | None:
    await asyncio.wait_for(client.closed.wait(), within)
    return client.socket.close_code


# --- delivery -------------------------------------------------------------------------------------------------


@ENGINES
async def test_go_live_reaches_both_sockets_of_a_follower_and_nobody_else(
    served: Served, client: httpx.AsyncClient
) -> None:
    app = served.app
    creator, fan, other = await account(app), await account(app), await account(app)
    await follow(client, fan.token, creator.user_id)
    tabs = [await signed_in(served.ws, fan) for _ in range(2)]
    assert tabs[0].of_type("auth.ok")[0] == {
        "type": "auth.ok",
        "user": {"user_id": fan.user_id, "username": fan.username},
        "unread": 0,
    }
    stranger = await signed_in(served.ws, other)
    anonymous = await me(served.ws)

    stream_id = await go_live(app, client, creator.token)

    frames = [await tab.wait_for(lambda f: f["type"] == "notification") for tab in tabs]
    listed = (await client.get("/api/notifications", headers=bearer(fan.token))).json()["items"]
    assert len(listed) == 1
    for frame in frames:
        assert frame["new"] is True
        assert frame["notification"] == {
            "notification_id": listed[0]["notification_id"],
            "kind": "stream_started",
            "payload": listed[0]["payload"],
            "created_at": frame["notification"]["created_at"],
            "read_at": None,
        }
        assert frame["notification"]["payload"]["stream_id"] == stream_id
        sent = datetime.fromisoformat(frame["notification"]["created_at"])
        assert abs(sent - datetime.fromisoformat(listed[0]["created_at"])) < timedelta(milliseconds=1)
    # The same engine message reached every local socket at once: whatever the others were sent is queued by now.
    assert notifications(stranger) == []
    assert [f["type"] for f in await quiet(stranger)] == ["auth.ok", "pong"]
    assert notifications(anonymous) == []
    for tab in tabs:
        assert len(notifications(tab)) == 1

    # Reading it in one tab (the API) tells the other tabs the new count, after the commit.
    read = await client.post(f"/api/notifications/{listed[0]['notification_id']}/read", headers=bearer(fan.token))
    assert read.status_code == 200
    for tab in tabs:
        assert (await tab.wait_for(lambda f: f["type"] == "notifications.read")) == {
            "type": "notifications.read",
            "unread": 0,
        }
    assert stranger.of_type("notifications.read") == []
    for tab in (*tabs, stranger, anonymous):
        await tab.close()


@ENGINES
async def test_read_all_and_batched_updates_reach_the_user(served: Served, client: httpx.AsyncClient) -> None:
    app = served.app
    creator = await account(app)
    page = await signed_in(served.ws, creator)
    fans = [await account(app) for _ in range(2)]
    await follow(client, fans[0].token, creator.user_id)
    first = await page.wait_for(lambda f: f["type"] == "notification")
    assert first["new"] is True
    assert first["notification"]["kind"] == "new_follower"
    assert first["notification"]["payload"]["count"] == 1
    # The second follower counts up the same unread notification: an update, not a new one.
    await follow(client, fans[1].token, creator.user_id)
    second = await page.wait_for(lambda f: f["type"] == "notification" and f["notification"]["payload"]["count"] == 2)
    assert second["new"] is False
    assert second["notification"]["notification_id"] == first["notification"]["notification_id"]

    nothing = await client.post("/api/notifications/read-all", headers=bearer(fans[0].token))
    assert nothing.json() == {"marked": 0}
    marked = await client.post("/api/notifications/read-all", headers=bearer(creator.token))
    assert marked.json() == {"marked": 1}
    assert (await page.wait_for(lambda f: f["type"] == "notifications.read"))["unread"] == 0
    await quiet(page)
    assert len(page.of_type("notifications.read")) == 1
    await page.close()


@ENGINES
async def test_a_big_fan_out_is_a_few_engine_messages(
    served: Served, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = served.app
    c = container(app)
    creator, fan = await account(app), await account(app)
    others = [uuid.uuid4() for _ in range(MAX_RECIPIENTS + 500)]
    async with c.db.unit_of_work() as session:
        await session.execute(
            insert(User),
            [
                {"user_id": u, "username": f"f{u.hex[:20]}", "email": f"{u.hex}@example.com", "password_hash": "x"}
                for u in others
            ],
        )
        await session.execute(
            insert(Follow),
            [
                {"follow_id": uuid.uuid4(), "follower_id": u, "following_id": uuid.UUID(creator.user_id)}
                for u in [*others, uuid.UUID(fan.user_id)]
            ],
        )
    published: list[str] = []
    publish = c.engine.publish

    async def counted(channel: str, payload: str) -> None:
        if channel == NOTIFY_CHANNEL:
            published.append(payload)
        await publish(channel, payload)

    monkeypatch.setattr(c.engine, "publish", counted)
    tab = await signed_in(served.ws, fan)
    await go_live(app, client, creator.token)
    frame = await tab.wait_for(lambda f: f["type"] == "notification")
    assert frame["notification"]["kind"] == "stream_started"
    # 2,501 recipients in one fan-out batch: two messages on the one channel, not one per follower.
    assert len(published) == 2
    recipients = [len(json.loads(p)["to"]) for p in published]
    assert sorted(recipients) == [501, MAX_RECIPIENTS]
    assert max(len(p.encode()) for p in published) < 250_000
    await quiet(tab)
    assert len(notifications(tab)) == 1
    await tab.close()


def test_messages_group_one_notification_and_split_big_batches() -> None:
    now = datetime.now(UTC)
    shared = {"stream_id": "s", "title": "T"}
    fan_out = [Written(uuid.uuid4(), uuid.uuid4(), "stream_started", shared, now) for _ in range(5001)]
    single = Written(uuid.uuid4(), uuid.uuid4(), "new_follower", {"count": 2}, now, new=False)
    messages = [json.loads(m) for m in notify_messages([*fan_out, single])]
    assert [len(m["to"]) for m in messages] == [2000, 2000, 1001, 1]
    assert all(m["notification"]["payload"] == shared and m["new"] is True for m in messages[:3])
    assert messages[3]["new"] is False
    assert messages[3]["to"] == [[str(single.user_id), str(single.notification_id)]]
    flat = [pair for m in messages[:3] for pair in m["to"]]
    assert flat == [[str(r.user_id), str(r.notification_id)] for r in fan_out]
    assert notify_messages([]) == []


# --- authentication -------------------------------------------------------------------------------------------


@ENGINES
async def test_a_socket_that_never_signs_in_hears_nothing_and_is_closed(
    served: Served, client: httpx.AsyncClient
) -> None:
    app = served.app
    container(app).live_notifications.auth_timeout = 1.0
    creator, fan = await account(app), await account(app)
    await follow(client, fan.token, creator.user_id)
    silent = await me(served.ws)
    # Its user's notification is written meanwhile: an unauthenticated socket is nobody's.
    await go_live(app, client, creator.token)
    assert await closed_with(silent) == CLOSE_UNAUTHENTICATED
    assert [f["code"] for f in silent.of_type("error")] == ["UNAUTHENTICATED"]
    assert notifications(silent) == []

    # Bad tokens: an error each, and closed after the third in a row.
    guesser = await me(served.ws)
    for token in ["", "not-a-jwt", "x" * 3000][:MAX_AUTH_FAILURES]:
        mark = len(guesser.frames)
        await guesser.send({"type": "auth", "token": token})
        assert (await guesser.wait_for(lambda f: f["type"] == "error", after=mark))["code"] == "TOKEN_INVALID"
    assert await closed_with(guesser) == CLOSE_UNAUTHENTICATED
    await silent.close()
    await guesser.close()


@ENGINES
async def test_refresh_switch_and_sign_out_of_a_socket(served: Served, client: httpx.AsyncClient) -> None:
    app = served.app
    creator, fan, fan2 = await account(app), await account(app), await account(app)
    page = await signed_in(served.ws, creator)
    # A refreshed token for the same user: still one registration, so one frame per notification.
    fresh = Account(creator.user_id, creator.username, await access_token(app, {"username": creator.username}))
    assert fresh.token != creator.token
    assert (await page.auth(fresh))["type"] == "auth.ok"
    assert container(app).live_notifications.sockets_of(uuid.UUID(creator.user_id)) == 1
    await follow(client, fan.token, creator.user_id)
    await page.wait_for(lambda f: f["type"] == "notification")
    await quiet(page)
    assert len(notifications(page)) == 1

    # A bad token signs it out: no more notifications until a valid one comes back.
    mark = len(page.frames)
    await page.send({"type": "auth", "token": "expired-or-forged"})
    assert (await page.wait_for(lambda f: f["type"] == "error", after=mark))["code"] == "TOKEN_INVALID"
    assert container(app).live_notifications.sockets_of(uuid.UUID(creator.user_id)) == 0
    await follow(client, fan2.token, creator.user_id)
    await container(app).jobs.idle(30)
    await quiet(page)
    assert len(notifications(page)) == 1
    assert (await page.auth(creator))["unread"] == 1
    await page.close()


@ENGINES
async def test_sockets_per_user_are_bounded(served: Served) -> None:
    app = served.app
    user = await account(app)
    live = container(app).live_notifications
    tabs = [await signed_in(served.ws, user) for _ in range(MAX_SOCKETS_PER_USER)]
    extra = await me(served.ws)
    refused = await extra.auth(user)
    assert refused["code"] == "TOO_MANY_SOCKETS"
    assert await closed_with(extra) == CLOSE_TOO_MANY_SOCKETS
    assert live.sockets_of(uuid.UUID(user.user_id)) == MAX_SOCKETS_PER_USER
    await tabs[0].close()
    await _until(lambda: live.sockets_of(uuid.UUID(user.user_id)) == MAX_SOCKETS_PER_USER - 1)
    again = await signed_in(served.ws, user)
    for tab in (*tabs[1:], again):
        await tab.close()
    await _until(lambda: live.sockets_of(uuid.UUID(user.user_id)) == 0)
    # The process listens to the notify channel only while it holds a socket.
    await _until(lambda: not live.listening)


async def _until(condition: Any, within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


# --- handshake and frames, as on the chat socket ------------------------------------------------------------


@ENGINES
async def test_origin_is_checked_at_the_handshake(served: Served) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{served.ws}/ws/me", origin=Origin("https://elsewhere.example"))
    assert refused.value.response.status_code == 403
    same_site = await me(served.ws, origin=Origin(served.origin))
    assert (await quiet(same_site))[-1] == {"type": "pong"}
    await same_site.close()


@ENGINES
async def test_bad_frames_are_handled_like_chat(served: Served) -> None:
    app = served.app
    user = await account(app)
    client = await signed_in(served.ws, user)
    deep = '{"type":"ping","x":' + "[" * 40 + "]" * 40 + "}"
    for raw in ("not json", "[1,2]", '{"type":3}', deep, '{"type":"chat.send","text":"hi"}'):
        mark = len(client.frames)
        await client.socket.send(raw)
        error = await client.wait_for(lambda f: f["type"] == "error", after=mark)
        assert error["code"] == "BAD_FRAME", raw
    mark = len(client.frames)
    await client.socket.send(b"\x00binary")
    assert (await client.wait_for(lambda f: f["type"] == "error", after=mark))["code"] == "BAD_FRAME"
    mark = len(client.frames)
    await client.send({"type": "auth", "token": "a\u0000b"})
    refusal = await client.wait_for(lambda f: f["type"] == "error", after=mark)
    assert refusal["code"] == "VALIDATION_ERROR"
    assert refusal["fields"] == {"token": refusal["fields"]["token"]}
    assert (await quiet(client))[-1] == {"type": "pong"}  # still open after all of that

    # Oversize: closed 1009, as chat.
    await client.socket.send(json.dumps({"type": "ping", "pad": "x" * MAX_FRAME_BYTES}))
    assert await closed_with(client) == CLOSE_TOO_BIG
    await client.close()


@ENGINES
async def test_auth_and_ping_floods_are_refused_then_closed(served: Served) -> None:
    app = served.app
    user = await account(app)
    for kind, (limit, _seconds) in (("ping", PING_LIMIT), ("auth", AUTH_LIMIT)):
        client = await me(served.ws)
        frame = {"type": kind, "token": user.token} if kind == "auth" else {"type": kind}
        for _ in range(2 * limit + 1):
            await client.send(frame)
        assert await closed_with(client) == CLOSE_POLICY
        limited = client.of_type("error")
        assert [e["code"] for e in limited] == ["RATE_LIMITED"] * limit
        assert all(e["retry_after"] >= 1 for e in limited)
        await client.close()


def test_without_uvicorns_frame_limit_the_socket_enforces_it(settings: Settings) -> None:
    """Under a server without our protocol (the ASGI test client), the 4 KiB limit and the Origin rule still hold."""
    from livestream.app.factory import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlette prefers the httpx2 package for its test client
        from starlette.testclient import TestClient

    with TestClient(create_app(settings), base_url="http://testserver") as http:
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            http.websocket_connect("/ws/me", headers={"Origin": "https://elsewhere.example"}),
        ):
            pass
        assert refused.value.code == CLOSE_POLICY
        with http.websocket_connect("/ws/me", headers={"Origin": "http://testserver"}) as ws:
            ws.send_text(json.dumps({"type": "ping"}))
            assert json.loads(ws.receive_text()) == {"type": "pong"}
            ws.send_text("x" * (MAX_FRAME_BYTES + 1))
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
            assert closed.value.code == CLOSE_TOO_BIG


# --- two processes --------------------------------------------------------------------------------------------


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str, redis_url: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    """A writes notifications (it runs the jobs), B only holds sockets: whatever B's sockets hear came from A."""
    flush_redis(redis_url)
    shared = {
        "LS_DATABASE_URL": postgres_url,
        "LS_REDIS_URL": redis_url,
        "LS_SECRET_KEY": secrets.token_urlsafe(48),
        "LS_RTMP_ENABLED": "false",
    }
    first = start_server(tmp_path / "a", **shared)
    try:
        second = start_server(tmp_path / "b", LS_JOBS_IN_PROCESS="false", **shared)
    except Exception:
        first.stop()
        raise
    try:
        yield first, second
    finally:
        second.stop()
        first.stop()
        flush_redis(redis_url)


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_notification_written_by_one_process_reaches_a_socket_on_another(
    cluster: tuple[LiveServer, LiveServer],
) -> None:
    a, b = cluster
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=10) as api_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=10) as api_b,
    ):
        creator = await make_account(api_a, "host")
        fan = await make_account(api_b, "fan")
        ws_b = b.base_url.replace("http://", "ws://")
        tabs = [await signed_in(ws_b, creator) for _ in range(2)]
        elsewhere = await signed_in(ws_b, fan)
        # The follow goes through B, but only A runs jobs: the notification is written (and published) by A.
        followed = await api_b.post("/api/follows", json={"following_id": creator.user_id}, headers=fan.headers)
        assert followed.status_code == 201, followed.text
        for tab in tabs:
            frame = await tab.wait_for(lambda f: f["type"] == "notification", within=20)
            assert frame["notification"]["kind"] == "new_follower"
            assert frame["notification"]["payload"]["names"] == [fan.username]
        await quiet(elsewhere)
        assert notifications(elsewhere) == []
        # Marked read through A: B's sockets of that user hear the count.
        marked = await api_a.post("/api/notifications/read-all", headers=creator.headers)
        assert marked.json() == {"marked": 1}
        for tab in tabs:
            assert (await tab.wait_for(lambda f: f["type"] == "notifications.read"))["unread"] == 0
        for tab in (*tabs, elsewhere):
            await tab.close()
