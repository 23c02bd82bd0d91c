"""Web Push on SQLite and PostgreSQL, against a push service played by the test on 127.0.0.1: the payload is
decrypted with the subscriber's keys and the VAPID token verified with the key the API advertises; a 410
removes the subscription, a 500 is retried; muted, push-off and kind-off followers get nothing; subscriptions
are validated (SSRF rules, key lengths) and only their owner can delete them; the VAPID keys are made once."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

import http_ece
import httpx
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import delete, func, select, update

from livestream.app.factory import create_app
from livestream.config import Settings
from livestream.db import Database
from livestream.push.endpoints import EndpointRefused, PushSession, check_endpoint, public_address
from livestream.push.keys import VapidKeyError, VapidKeys, b64url, load_or_create, parse_private_key
from livestream.push.message import PushMessage
from livestream.push.models import PushSubscription, VapidKey
from livestream.push.sender import MAX_FAILURES, PushServiceBusy, PushServiceUnreachable, WebPush
from tests.api.helpers import assert_error, bearer, container, quick_user
from tests.notifications.test_notifications import follow, go_live


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # The push service of these tests listens on loopback over http; retries come quickly.
    return {"push_allow_private_endpoints": True, "jobs_retry_base_seconds": 0.05}


# --- the push service and the subscriber ------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class PushService:
    """Answers each POST with the next status of ``answers`` (then 201) and records what came."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    # A hostile answer's body: "huge" (20 MiB as fast as the client takes it) or "trickle" (a byte every 50 ms,
    # for ever). What the client let it write, and the moment it hung up.
    body: str | None = None
    written: int = 0
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.received.append(Received(request.path, headers, await request.read()))
        status, headers = self.answers.pop(0) if self.answers else (201, {})
        if self.body is None:
            return web.Response(status=status, headers=headers)
        response = web.StreamResponse(status=status, headers=headers)
        huge = 20 * 1024 * 1024
        if self.body == "huge":
            response.content_length = huge
        await response.prepare(request)
        chunk = b"x" * 65536 if self.body == "huge" else b"x"
        try:
            while self.written < huge:
                await response.write(chunk)
                self.written += len(chunk)
                if self.body == "trickle":
                    await asyncio.sleep(0.05)
        except (ConnectionError, RuntimeError):
            self.hung_up.set()
        return response

    async def wait_for(self, count: int, within: float = 20.0) -> None:
        deadline = time.monotonic() + within
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} pushes arrived, expected {count}"
            await asyncio.sleep(0.02)


@pytest.fixture
async def push_service() -> AsyncIterator[PushService]:
    service = PushService()
    server = web.Application()
    server.router.add_post("/{path:.*}", service.handle)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    service.port = runner.addresses[0][1]
    try:
        yield service
    finally:
        await runner.cleanup()


@dataclass
class Browser:
    """A subscriber: its own P-256 key pair and auth secret, as PushManager.subscribe makes them."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: uuid.uuid4().bytes)

    def subscription(self) -> dict[str, Any]:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm")
        data: dict[str, Any] = json.loads(plain)
        return data


async def subscribe(client: httpx.AsyncClient, token: str, browser: Browser) -> httpx.Response:
    return await client.post("/api/push-subscriptions", json=browser.subscription(), headers=bearer(token))


async def push_on(client: httpx.AsyncClient, token: str, **kinds: bool) -> None:
    body: dict[str, Any] = {"push": True}
    if kinds:
        body["kinds"] = kinds
    response = await client.put("/api/users/me/notification-settings", json=body, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["push"] is True


async def subscriber(
    app: FastAPI, client: httpx.AsyncClient, service: PushService, name: str
) -> tuple[dict[str, Any], str, Browser]:
    user, token = await quick_user(app)
    browser = Browser(f"{service.origin}/push/{name}")
    made = await subscribe(client, token, browser)
    assert made.status_code == 201, made.text
    assert made.json()["endpoint"] == browser.endpoint
    return user, token, browser


async def subscribed(app: FastAPI, client: httpx.AsyncClient, endpoints: list[str]) -> list[str]:
    """Subscriptions of one user at these endpoints (any URL: the tests' app allows private ones); their ids."""
    _, token = await quick_user(app)
    ids = []
    for endpoint in endpoints:
        made = await subscribe(client, token, Browser(endpoint))
        assert made.status_code == 201, made.text
        ids.append(made.json()["subscription_id"])
    return ids


async def send_one(web_push: WebPush, subscription_id: str) -> None:
    """The push job, called directly: what it raises is what the job runtime would retry."""
    message = PushMessage(title="t", body="b", url="http://testserver/x", tag="t", ttl=600, urgency="normal")
    await web_push.send(subscription_id, str(uuid.uuid4()), asdict(message), time.time() + 600)


async def set_failures(app: FastAPI, count: int) -> None:
    async with container(app).db.unit_of_work() as session:
        await session.execute(update(PushSubscription).values(failures=count))


async def subscriptions(app: FastAPI) -> list[PushSubscription]:
    async with container(app).db.sessionmaker() as session:
        return list((await session.execute(select(PushSubscription))).scalars())


async def settled(app: FastAPI) -> None:
    await container(app).jobs.idle(30)


# --- delivery ---------------------------------------------------------------------------------------------


async def test_a_follower_gets_an_encrypted_push_signed_with_the_advertised_key(
    app: FastAPI, client: httpx.AsyncClient, push_service: PushService
) -> None:
    creator, creator_token = await quick_user(app)
    fan, fan_token, browser = await subscriber(app, client, push_service, "fan")
    await follow(client, fan_token, creator["user_id"])
    await push_on(client, fan_token)
    settings = await client.get("/api/users/me/notification-settings", headers=bearer(fan_token))
    assert settings.json()["push_available"] is True
    advertised = (await client.get("/api/push/vapid-public-key")).json()["public_key"]

    stream_id = await go_live(app, client, creator_token)
    await push_service.wait_for(1)
    await settled(app)

    assert len(push_service.received) == 1
    push = push_service.received[0]
    assert push.path == "/push/fan"
    assert push.headers["content-encoding"] == "aes128gcm"
    assert push.headers["ttl"] == "3600"
    assert push.headers["urgency"] == "high"
    message = browser.decrypt(push.body)
    assert message["title"].endswith(" is live")
    assert creator["username"] in message["title"]
    assert message["body"] == "Live now"
    assert message["url"] == f"http://testserver/watch/{stream_id}"
    assert message["tag"] == f"stream_started:{stream_id}"
    assert len(json.dumps(message).encode()) < 3 * 1024

    # RFC 8292: "vapid t=<JWT>, k=<public key>"; the key is the one the API hands to browsers.
    scheme, _, params = push.headers["authorization"].partition(" ")
    assert scheme == "vapid"
    parts = dict(part.strip().split("=", 1) for part in params.split(","))
    assert parts["k"] == advertised
    point = base64.urlsafe_b64decode(advertised + "=" * (-len(advertised) % 4))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    claims = jwt.decode(parts["t"], public, algorithms=["ES256"], audience=push_service.origin)
    assert claims["sub"].startswith(("mailto:", "https://"))
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    # Another key does not verify it.
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(parts["t"], other, algorithms=["ES256"], audience=push_service.origin)

    (row,) = await subscriptions(app)
    assert row.last_success_at is not None
    assert row.failures == 0
    assert str(row.user_id) == fan["user_id"]


async def test_410_removes_the_subscription_without_a_retry(
    app: FastAPI, client: httpx.AsyncClient, push_service: PushService
) -> None:
    creator, creator_token = await quick_user(app)
    _, fan_token, _ = await subscriber(app, client, push_service, "gone")
    await follow(client, fan_token, creator["user_id"])
    await push_on(client, fan_token)
    push_service.answers = [(410, {})]

    await go_live(app, client, creator_token)
    await push_service.wait_for(1)
    await settled(app)

    assert await subscriptions(app) == []
    assert len(push_service.received) == 1


async def test_a_busy_push_service_is_tried_again_until_it_takes_the_push(
    app: FastAPI, client: httpx.AsyncClient, push_service: PushService
) -> None:
    creator, creator_token = await quick_user(app)
    _, fan_token, browser = await subscriber(app, client, push_service, "busy")
    await follow(client, fan_token, creator["user_id"])
    await push_on(client, fan_token)
    # A 500 (the runtime's backoff), a 429 with Retry-After (waited for), then accepted.
    push_service.answers = [(500, {}), (429, {"Retry-After": "0"})]

    await go_live(app, client, creator_token)
    await push_service.wait_for(3)
    await settled(app)

    assert len(push_service.received) == 3
    messages = [browser.decrypt(p.body) for p in push_service.received]
    assert all(m == messages[0] for m in messages)
    (row,) = await subscriptions(app)
    assert row.last_success_at is not None
    assert row.failures == 0


async def test_another_4xx_is_given_up_and_counted(
    app: FastAPI, client: httpx.AsyncClient, push_service: PushService
) -> None:
    creator, creator_token = await quick_user(app)
    _, fan_token, _ = await subscriber(app, client, push_service, "refused")
    await follow(client, fan_token, creator["user_id"])
    await push_on(client, fan_token)
    push_service.answers = [(403, {})]

    await go_live(app, client, creator_token)
    await push_service.wait_for(1)
    await settled(app)

    assert len(push_service.received) == 1
    (row,) = await subscriptions(app)
    assert row.failures == 1
    assert row.last_success_at is None


async def test_only_followers_with_push_and_the_kind_on_who_did_not_mute_get_a_push(
    app: FastAPI, client: httpx.AsyncClient, push_service: PushService
) -> None:
    creator, creator_token = await quick_user(app)
    wanted = await subscriber(app, client, push_service, "wanted")
    push_off = await subscriber(app, client, push_service, "push-off")
    muted = await subscriber(app, client, push_service, "muted")
    kind_off = await subscriber(app, client, push_service, "kind-off")
    follows = [await follow(client, token, creator["user_id"]) for _, token, _ in (wanted, push_off, muted, kind_off)]
    await push_on(client, wanted[1])
    await push_on(client, muted[1])
    await push_on(client, kind_off[1], stream_started=False)
    mute = await client.put(f"/api/follows/{follows[2]}", json={"notify": False}, headers=bearer(muted[1]))
    assert mute.status_code == 200, mute.text

    await go_live(app, client, creator_token)
    await push_service.wait_for(1)
    await settled(app)

    assert [p.path for p in push_service.received] == ["/push/wanted"]


# --- hostile and failing push services --------------------------------------------------------------------


@pytest.mark.parametrize(("status", "body"), [(201, "huge"), (201, "trickle"), (302, "huge")])
async def test_the_answers_body_is_never_read(
    app: FastAPI, client: httpx.AsyncClient, push_service: PushService, status: int, body: str
) -> None:
    """Any user can point a subscription at their own host: an endless or 20 MiB answer costs neither memory
    nor time (a redirect's body neither: requests would read it to release the connection)."""
    (subscription_id,) = await subscribed(app, client, [f"{push_service.origin}/push/hostile"])
    push_service.body = body
    push_service.answers = [(status, {"Location": f"{push_service.origin}/elsewhere"} if status == 302 else {})]

    tracemalloc.start()
    started = time.monotonic()
    try:
        await send_one(container(app).web_push, subscription_id)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    async with asyncio.timeout(5):
        await push_service.hung_up.wait()

    assert elapsed < 3.0  # far below the 10 s read timeout the trickle never trips
    assert peak < 8 * 1024 * 1024
    assert push_service.written < 20 * 1024 * 1024
    assert [p.path for p in push_service.received] == ["/push/hostile"]
    (row,) = await subscriptions(app)
    if status == 201:
        assert row.last_success_at is not None
        assert row.failures == 0
    else:
        assert row.last_success_at is None
        assert row.failures == 1


@dataclass
class StallingService:
    """Takes the request, then answers "100 Continue" every 50 ms for ever: each read gets bytes in time, so only
    a total deadline ends it. Counts the connections open at once and how long each lasted."""

    port: int = 0
    open: int = 0
    most: int = 0
    lasted: list[float] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        started = time.monotonic()
        self.open += 1
        self.most = max(self.most, self.open)
        try:
            await reader.readuntil(b"\r\n\r\n")
            while True:
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                await writer.drain()
                try:
                    if not await asyncio.wait_for(reader.read(65536), 0.05):
                        break  # the client hung up
                except TimeoutError:
                    continue
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open -= 1
            self.lasted.append(time.monotonic() - started)
            writer.close()


@pytest.fixture
async def stalling_service() -> AsyncIterator[StallingService]:
    service = StallingService()
    server = await asyncio.start_server(service.handle, "127.0.0.1", 0)
    service.port = server.sockets[0].getsockname()[1]
    try:
        yield service
    finally:
        server.close()
        await server.wait_closed()


async def test_sends_are_cut_off_at_a_total_deadline_and_at_most_8_run_at_once(
    app: FastAPI, client: httpx.AsyncClient, stalling_service: StallingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    web_push = container(app).web_push
    monkeypatch.setattr(web_push, "timeout", 0.25)  # 0.5 s for the whole send
    ids = await subscribed(app, client, [f"{stalling_service.origin}/push/{i}" for i in range(12)])

    started = time.monotonic()
    results = await asyncio.gather(*(send_one(web_push, i) for i in ids), return_exceptions=True)
    elapsed = time.monotonic() - started

    assert all(isinstance(r, PushServiceUnreachable) for r in results), results
    # The slot is held until the thread is done, so a ninth connection waits for one of the first eight to end.
    assert stalling_service.most == 8
    assert len(stalling_service.lasted) == 12
    assert max(stalling_service.lasted) < 2.0
    assert elapsed < 5.0
    # Timeouts are not the subscription's fault.
    rows = await subscriptions(app)
    assert len(rows) == 12
    assert all(row.failures == 0 for row in rows)


async def test_a_cancelled_send_stops_its_thread_at_once(
    app: FastAPI, client: httpx.AsyncClient, stalling_service: StallingService
) -> None:
    web_push = container(app).web_push
    (subscription_id,) = await subscribed(app, client, [f"{stalling_service.origin}/push/cancelled"])
    task = asyncio.create_task(send_one(web_push, subscription_id))
    deadline = time.monotonic() + 5
    while stalling_service.open == 0:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    while stalling_service.open:
        assert time.monotonic() < deadline, "the send's connection outlived its cancelled job"
        await asyncio.sleep(0.02)
    assert stalling_service.lasted[0] < 3.0  # not the 20 s deadline


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_outages_are_retried_and_never_drop_a_subscription(
    app: FastAPI, client: httpx.AsyncClient, push_service: PushService
) -> None:
    """A push service down for a while (5xx, 429, refused connections, a name that does not resolve) must not
    cost everyone their subscriptions: each is raised for the job runtime to retry and none is counted."""
    c = container(app)
    busy, refused, unresolved = await subscribed(
        app,
        client,
        [f"{push_service.origin}/push/busy", f"http://127.0.0.1:{closed_port()}/push/x", "https://push.invalid/x"],
    )
    await set_failures(app, MAX_FAILURES - 1)
    push_service.answers = [(503, {}), (500, {}), (429, {})]
    strict = WebPush(
        c.db,
        c.jobs,
        public_url="http://testserver",
        subject="mailto:ops@example.com",
        allow_private=False,
        configured_keys=await c.web_push.keys(),
    )
    try:
        for _ in range(3):
            with pytest.raises(PushServiceBusy):
                await send_one(c.web_push, busy)
            with pytest.raises(PushServiceUnreachable):
                await send_one(c.web_push, refused)
            # Resolved when sending, in production mode: a failed lookup is tried again, not given up.
            with pytest.raises(PushServiceUnreachable, match="does not resolve"):
                await send_one(strict, unresolved)
    finally:
        await strict.close()
    rows = await subscriptions(app)
    assert len(rows) == 3
    assert all(row.failures == MAX_FAILURES - 1 for row in rows)
    assert len(push_service.received) == 3


async def test_a_subscription_refused_20_times_in_a_row_is_dropped(
    app: FastAPI, client: httpx.AsyncClient, push_service: PushService
) -> None:
    (subscription_id,) = await subscribed(app, client, [f"{push_service.origin}/push/refused"])
    await set_failures(app, MAX_FAILURES - 2)
    push_service.answers = [(403, {}), (400, {})]
    await send_one(container(app).web_push, subscription_id)
    (row,) = await subscriptions(app)
    assert row.failures == MAX_FAILURES - 1
    await send_one(container(app).web_push, subscription_id)
    assert await subscriptions(app) == []


# --- subscribing and unsubscribing ------------------------------------------------------------------------


async def test_the_public_key_is_the_servers_applicationserverkey(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.get("/api/push/vapid-public-key")
    assert response.status_code == 200
    key = response.json()["public_key"]
    assert key == container(app).web_push.public_key
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65
    assert raw[0] == 4


async def test_subscribing_needs_a_session(client: httpx.AsyncClient) -> None:
    browser = Browser("http://127.0.0.1:9/push/x")
    made = await client.post("/api/push-subscriptions", json=browser.subscription())
    assert made.status_code == 401
    deleted = await client.request("DELETE", "/api/push-subscriptions", json={"endpoint": browser.endpoint})
    assert deleted.status_code == 401


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"keys": {"p256dh": b64url(b"\x04" + b"x" * 63), "auth": b64url(b"a" * 16)}}, "VALIDATION_ERROR"),
        ({"keys": {"p256dh": b64url(b"\x02" + b"x" * 64), "auth": b64url(b"a" * 16)}}, "VALIDATION_ERROR"),
        ({"keys": {"p256dh": "ok", "auth": b64url(b"a" * 15)}}, "VALIDATION_ERROR"),
        ({"keys": {"p256dh": "ok", "auth": "!!!not-base64!!!"}}, "VALIDATION_ERROR"),
        ({"keys": {"p256dh": "ok", "auth": 16}}, "VALIDATION_ERROR"),
        ({"keys": {"p256dh": "ok"}}, "VALIDATION_ERROR"),
        ({"endpoint": "https://push.example.com/\x00"}, "VALIDATION_ERROR"),
        ({"endpoint": "https://push.example.com/" + "a" * 5000}, "VALIDATION_ERROR"),
        ({"endpoint": "https://push.example.com/" + "a" * 1100}, "PUSH_ENDPOINT_NOT_ALLOWED"),
        ({"endpoint": "ftp://push.example.com/x"}, "PUSH_ENDPOINT_NOT_ALLOWED"),
        ({"endpoint": "https://user:pw@push.example.com/x"}, "PUSH_ENDPOINT_NOT_ALLOWED"),
        ({"endpoint": "not a url"}, "PUSH_ENDPOINT_NOT_ALLOWED"),
        ({"unknown": 1}, "VALIDATION_ERROR"),
    ],
)
async def test_bad_subscriptions_are_refused(
    app: FastAPI, client: httpx.AsyncClient, change: dict[str, Any], code: str
) -> None:
    _, token = await quick_user(app)
    body = Browser("https://push.example.com/ok").subscription()
    if "keys" in change and change["keys"].get("p256dh") == "ok":
        change = {"keys": {**change["keys"], "p256dh": body["keys"]["p256dh"]}}
    body.update(change)
    response = await client.post("/api/push-subscriptions", json=body, headers=bearer(token))
    assert_error(response, 400, code)
    # A lone surrogate, as a JSON escape.
    raw = json.dumps(Browser("https://push.example.com/ok").subscription()).replace("/ok", "/\\ud800")
    lone = await client.post(
        "/api/push-subscriptions", content=raw, headers={**bearer(token), "Content-Type": "application/json"}
    )
    assert_error(lone, 400, "VALIDATION_ERROR")
    assert await subscriptions(app) == []


@pytest.fixture
async def strict_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app as in production: only https endpoints on public hosts."""
    strict = create_app(settings.model_copy(update={"push_allow_private_endpoints": False}))
    async with strict.router.lifespan_context(strict):
        transport = httpx.ASGITransport(app=strict, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            c.app = strict  # type: ignore[attr-defined]
            yield c


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://push.example.com/x",  # not https
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://192.168.0.10:8443/x",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/x",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://[fe80::1]/x",
        "https://localhost/x",  # a name that resolves to loopback
        "https://0.0.0.0/x",
        # IPv6 forms that embed an IPv4 address: judged by it, or refused outright.
        "https://[64:ff9b::a00:1]/x",  # NAT64 of 10.0.0.1
        "https://[64:ff9b::7f00:1]/x",  # NAT64 of 127.0.0.1
        "https://[64:ff9b:1::808:808]/x",  # local-use NAT64, whatever it embeds
        "https://[2002:a00:1::1]/x",  # 6to4 of 10.0.0.1
        "https://[2002:a9fe:a9fe::1]/x",  # 6to4 of 169.254.169.254
        "https://[::a00:1]/x",  # IPv4-compatible (deprecated), 10.0.0.1
        "https://[::808:808]/x",  # IPv4-compatible, even of a public address
        "https://[::ffff:0:a00:1]/x",  # IPv4-translated
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x",  # Teredo
        # Push services listen on 443 only.
        "https://push.example.com:8443/x",
        "https://8.8.8.8:22/x",
        "https://[2606:4700::1111]:80/x",
    ],
)
async def test_private_and_plain_http_endpoints_are_refused_in_production_mode(
    strict_client: httpx.AsyncClient, endpoint: str
) -> None:
    strict: FastAPI = strict_client.app  # type: ignore[attr-defined]
    _, token = await quick_user(strict)
    response = await strict_client.post(
        "/api/push-subscriptions", json=Browser(endpoint).subscription(), headers=bearer(token)
    )
    body = assert_error(response, 400, "PUSH_ENDPOINT_NOT_ALLOWED")
    assert "endpoint" in body["error"]


async def test_sending_refuses_a_name_that_now_resolves_to_a_private_address(push_service: PushService) -> None:
    """DNS rebinding: the peer is checked on the socket itself, so the request never reaches it."""
    session = PushSession(allow_private=False)
    try:
        with pytest.raises(EndpointRefused):
            await asyncio.to_thread(session.post, f"{push_service.origin}/push/x", data=b"x", timeout=5)
    finally:
        session.close()
    assert push_service.received == []
    with pytest.raises(EndpointRefused):
        await check_endpoint(f"{push_service.origin}/x", allow_private=False)
    assert public_address("8.8.8.8")
    assert not public_address("::ffff:10.0.0.1")
    assert not public_address("224.0.0.1")


async def test_public_addresses_in_ipv6_forms_and_port_443_are_accepted() -> None:
    # The embedded IPv4 address decides for NAT64 and 6to4; plain global IPv6 passes.
    for address in ("64:ff9b::808:808", "2002:808:808::1", "2606:4700::1111", "::ffff:8.8.8.8"):
        assert public_address(address), address
    for address in ("64:ff9b::c0a8:1", "2002:c0a8:1::1", "2002:6440:1::1", "::1", "::", "64:ff9b:1::1"):
        assert not public_address(address), address
    for url in ("https://8.8.8.8/x", "https://8.8.8.8:443/x", "https://[2606:4700::1111]:443/x"):
        await check_endpoint(url, allow_private=False)
    # A lab push service (allow_private) may listen anywhere.
    await check_endpoint("http://127.0.0.1:8080/x", allow_private=True)


async def test_delete_is_for_your_own_subscription_only(
    app: FastAPI, client: httpx.AsyncClient, push_service: PushService
) -> None:
    _, owner_token, browser = await subscriber(app, client, push_service, "mine")
    _, other_token = await quick_user(app)
    theirs = await client.request(
        "DELETE", "/api/push-subscriptions", json={"endpoint": browser.endpoint}, headers=bearer(other_token)
    )
    assert_error(theirs, 404, "PUSH_SUBSCRIPTION_NOT_FOUND")
    assert len(await subscriptions(app)) == 1
    mine = await client.request(
        "DELETE", "/api/push-subscriptions", json={"endpoint": browser.endpoint}, headers=bearer(owner_token)
    )
    assert mine.status_code == 204
    assert await subscriptions(app) == []
    again = await client.request(
        "DELETE", "/api/push-subscriptions", json={"endpoint": browser.endpoint}, headers=bearer(owner_token)
    )
    assert_error(again, 404, "PUSH_SUBSCRIPTION_NOT_FOUND")


async def test_the_same_endpoint_again_updates_it_and_moves_it_to_the_new_user(
    app: FastAPI, client: httpx.AsyncClient, push_service: PushService
) -> None:
    first, first_token, browser = await subscriber(app, client, push_service, "shared")
    second, second_token = await quick_user(app)
    renewed = Browser(browser.endpoint)  # new keys, as after the browser subscribed again
    moved = await client.post(
        "/api/push-subscriptions",
        json=renewed.subscription(),
        headers=[
            (b"Authorization", f"Bearer {second_token}".encode()),
            (b"User-Agent", ("Firefox\u202e\x07/" + "x" * 400).encode()),
        ],
    )
    assert moved.status_code == 201, moved.text
    (row,) = await subscriptions(app)
    assert str(row.user_id) == second["user_id"]
    assert row.p256dh == renewed.subscription()["keys"]["p256dh"]
    assert row.user_agent is not None
    assert len(row.user_agent) <= 256
    assert row.user_agent.startswith("Firefox")
    assert "\x07" not in row.user_agent
    # The first user no longer owns it.
    theirs = await client.request(
        "DELETE", "/api/push-subscriptions", json={"endpoint": browser.endpoint}, headers=bearer(first_token)
    )
    assert_error(theirs, 404, "PUSH_SUBSCRIPTION_NOT_FOUND")
    assert first["user_id"] != second["user_id"]


async def test_a_user_keeps_at_most_20_browsers_the_stalest_dropped(
    app: FastAPI, client: httpx.AsyncClient, push_service: PushService
) -> None:
    _, token = await quick_user(app)
    endpoints = [f"{push_service.origin}/push/b{i}" for i in range(22)]
    for endpoint in endpoints:
        made = await subscribe(client, token, Browser(endpoint))
        assert made.status_code == 201, made.text
    kept = {row.endpoint for row in await subscriptions(app)}
    assert len(kept) == 20
    assert endpoints[-1] in kept
    assert endpoints[0] not in kept
    assert endpoints[1] not in kept


# --- VAPID keys -------------------------------------------------------------------------------------------


async def test_keys_are_generated_once_when_two_processes_start_together(app: FastAPI, database_url: str) -> None:
    c = container(app)
    async with c.db.unit_of_work() as session:
        await session.execute(delete(VapidKey))
    others = [Database(database_url) for _ in range(3)]
    try:
        made = await asyncio.gather(*(load_or_create(db) for db in [c.db, *others]))
    finally:
        for db in others:
            await db.dispose()
    assert len({keys.public_key for keys in made}) == 1
    async with c.db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(VapidKey)) == 1
        stored = await session.scalar(select(VapidKey.public_key))
    assert stored == made[0].public_key
    # A later start reads the same pair.
    assert (await load_or_create(c.db)).public_key == stored


def test_a_configured_private_key_is_read_in_every_form_and_never_shown() -> None:
    keys = VapidKeys.generate()
    raw = keys.private_key.private_numbers().private_value.to_bytes(32, "big")
    der = keys.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    sec1 = keys.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    for form in (keys.private_pem, keys.private_pem.replace("\n", "\\n"), sec1, b64url(raw), b64url(der)):
        assert parse_private_key(form).public_key == keys.public_key
    assert b64url(raw) not in repr(parse_private_key(b64url(raw)))

    other_curve = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    bad = ["", "-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----", "not base64 !", b64url(b"x" * 20)]
    for value in [*bad, other_curve.decode()]:
        with pytest.raises(VapidKeyError) as refused:
            parse_private_key(value)
        assert "LS_VAPID_PRIVATE_KEY" in str(refused.value)
        if value:
            assert value not in str(refused.value)


async def test_a_configured_key_is_used_and_a_bad_one_stops_start_up(settings: Settings) -> None:
    keys = VapidKeys.generate()
    configured = create_app(settings.model_copy(update={"vapid_private_key": SecretStr(keys.private_pem)}))
    async with configured.router.lifespan_context(configured):
        assert container(configured).web_push.public_key == keys.public_key
    assert keys.private_pem not in repr(Settings(env="test", secret_key="s" * 48, vapid_private_key=keys.private_pem))

    broken = create_app(settings.model_copy(update={"vapid_private_key": SecretStr("AAAA")}))
    with pytest.raises(VapidKeyError, match="LS_VAPID_PRIVATE_KEY"):
        async with broken.router.lifespan_context(broken):
            pass


def test_settings_refuse_private_endpoints_in_production_and_check_the_subject() -> None:
    from livestream.config import InsecureSettingsError

    secret = "s" * 48
    with pytest.raises(InsecureSettingsError, match="LS_PUSH_ALLOW_PRIVATE_ENDPOINTS"):
        Settings(env="production", secret_key=secret, push_allow_private_endpoints=True)
    with pytest.raises(ValueError, match="LS_VAPID_SUBJECT"):
        Settings(env="test", secret_key=secret, vapid_subject="http://example.com")
    assert Settings(env="test", secret_key=secret, vapid_subject="mailto:ops@example.com").push_subject == (
        "mailto:ops@example.com"
    )
    assert Settings(env="test", secret_key=secret, public_url="https://live.example.com/").push_subject == (
        "https://live.example.com"
    )
    assert Settings(env="test", secret_key=secret, public_url="http://localhost:8000").push_subject == (
        "mailto:webpush@localhost"
    )
