"""The chat WebSocket on a real server (uvicorn with the raw fan-out path, memory engine): docs/realtime.md."""

from __future__ import annotations

import asyncio
import secrets
import signal
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from livestream.chat.gateway import AUTH_LIMIT, CLOSE_POLICY, PING_LIMIT
from livestream.chat.snapshots import MAX_AGE_SECONDS
from livestream.security import JWTCodec
from tests.api.helpers import flush_redis
from tests.support.chat_clients import Account, Viewer, make_account, open_stream
from tests.support.live_server import LiveServer, start_server
from tests.support.tcp_proxy import TcpProxy

SECRET = secrets.token_urlsafe(48)
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(
        tmp_path_factory.mktemp("chat"),
        LS_RTMP_ENABLED="false",
        LS_SECRET_KEY=SECRET,
        LS_ALLOWED_ORIGINS="https://partner.example",
        LS_WS_SEND_BUFFER_BYTES="65536",
    )
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
async def creator(api: httpx.AsyncClient) -> Account:
    return await make_account(api, "creator")


@pytest.fixture
async def stream_id(api: httpx.AsyncClient, creator: Account) -> str:
    return await open_stream(api, creator)


async def test_hello_broadcast_ack_and_history(
    api: httpx.AsyncClient, ws_base: str, creator: Account, stream_id: str
) -> None:
    fan = await make_account(api, "fan")
    host = await Viewer.connect(ws_base, stream_id)
    guest = await Viewer.connect(ws_base, stream_id)
    hello = guest.hello
    assert hello["stream_id"] == stream_id
    assert hello["history"] == []
    assert hello["stream"] == {"status": "live", "media_state": "waiting", "title": "Chat test", "description": None}
    assert hello["chat"] == {"slow_mode_seconds": 0}
    assert hello["viewer_count"] == 2

    ok = await host.auth(creator)
    assert ok == {
        "type": "auth.ok",
        "user": {"user_id": creator.user_id, "username": creator.username},
        "role": "creator",
    }
    assert (await guest.auth(fan))["role"] == "viewer"

    ack = await guest.chat(f"  {XSS}  ", nonce="n-1")
    assert ack["type"] == "chat.ack"
    assert ack["nonce"] == "n-1"
    for viewer in (host, guest):
        message = await viewer.wait_for(lambda f: f["type"] == "chat.message")
        assert message["id"] == ack["id"]
        assert message["text"] == XSS  # trimmed, otherwise exactly what was typed: plain text
        assert message["user"] == {"user_id": fan.user_id, "username": fan.username}
        sent_at = datetime.fromisoformat(message["sent_at"])
        assert abs((datetime.now(UTC) - sent_at).total_seconds()) < 10

    late = await Viewer.connect(ws_base, stream_id)
    assert [m["id"] for m in late.hello["history"]] == [ack["id"]]
    history = (await api.get(f"/api/streams/{stream_id}/chat")).json()["items"]
    assert [(m["id"], m["text"]) for m in history] == [(ack["id"], XSS)]
    for viewer in (host, guest, late):
        await viewer.close()


async def test_reading_is_open_sending_needs_a_valid_token(
    api: httpx.AsyncClient, ws_base: str, stream_id: str
) -> None:
    viewer = await Viewer.connect(ws_base, stream_id)
    refused = await viewer.chat("hello?")
    assert refused["type"] == "error"
    assert refused["code"] == "UNAUTHENTICATED"
    for token in ("", "not-a-jwt", "x" * 3000):
        mark = len(viewer.frames)
        await viewer.send({"type": "auth", "token": token})
        error = await viewer.wait_for(lambda f: f["type"] == "error", after=mark)
        assert error["code"] == "TOKEN_INVALID"
    assert (await viewer.chat("still not"))["code"] == "UNAUTHENTICATED"
    await viewer.close()

    # A token in the URL (where proxies and browser history would keep it) signs nobody in.
    fan = await make_account(api, "urltoken")
    in_url = await Viewer.connect(ws_base, f"{stream_id}?token={fan.token}&access_token={fan.token}")
    assert in_url.hello["stream_id"] == stream_id
    assert (await in_url.chat("via the URL"))["code"] == "UNAUTHENTICATED"
    await in_url.close()


async def test_logout_and_expiry_stop_the_sender(api: httpx.AsyncClient, ws_base: str, stream_id: str) -> None:
    fan = await make_account(api, "leaver")
    viewer = await Viewer.connect(ws_base, stream_id)
    assert (await viewer.auth(fan))["type"] == "auth.ok"
    assert (await viewer.chat("before logout"))["type"] == "chat.ack"
    assert (await api.post("/api/auth/logout", headers=fan.headers)).status_code == 204
    refused = await viewer.chat("after logout")
    assert refused["code"] == "UNAUTHENTICATED"
    # The revoked token cannot sign the socket in again either.
    assert (await viewer.auth(fan))["code"] == "TOKEN_INVALID"

    # A token that expires while the socket is open: signed with the server's key, valid for 2 more seconds.
    other = await make_account(api, "expiring")
    codec = JWTCodec(SECRET, issuer="livestream", audience="livestream-api", lifetime=timedelta(seconds=3))
    claims = codec.decode(other.token)
    short, _ = codec.issue(uuid.UUID(other.user_id), claims.session_id)
    assert (await viewer.auth(Account(other.user_id, other.username, short)))["type"] == "auth.ok"
    assert (await viewer.chat("while valid"))["type"] == "chat.ack"
    await asyncio.sleep(3.2)
    assert (await viewer.chat("after expiry"))["code"] == "UNAUTHENTICATED"
    await viewer.close()


async def test_message_limits_and_bad_frames(api: httpx.AsyncClient, ws_base: str, stream_id: str) -> None:
    fan = await make_account(api, "limits")
    viewer = await Viewer.connect(ws_base, stream_id)
    await viewer.auth(fan)
    assert (await viewer.chat(" \t\n "))["code"] == "EMPTY_MESSAGE"
    assert (await viewer.chat("x" * 501))["code"] == "MESSAGE_TOO_LONG"
    error = await viewer.chat("é" * 501)
    assert error["code"] == "MESSAGE_TOO_LONG"
    assert error["error"]
    ack = await viewer.chat("é" * 500)  # characters, not bytes
    assert ack["type"] == "chat.ack"
    ack = await viewer.chat("line one\nline two\x07")
    message = await viewer.wait_for(lambda f: f["type"] == "chat.message" and f["id"] == ack["id"])
    assert message["text"] == "line one line two"

    for bad in ("not json", "[1, 2]", '{"no": "type"}', '{"type": "dance"}', '{"type": "chat.send", "text": 5}'):
        mark = len(viewer.frames)
        await viewer.socket.send(bad)
        error = await viewer.wait_for(lambda f: f["type"] == "error", after=mark)
        assert error["code"] == "BAD_FRAME", bad
    mark = len(viewer.frames)
    await viewer.send({"type": "chat.send", "text": "hi", "nonce": "n" * 65})
    assert (await viewer.wait_for(lambda f: f["type"] == "error", after=mark))["code"] == "BAD_FRAME"
    mark = len(viewer.frames)
    await viewer.socket.send(b"\x00\x01")
    error = await viewer.wait_for(lambda f: f["type"] == "error", after=mark)
    assert error["code"] == "BAD_FRAME"
    mark = len(viewer.frames)
    await viewer.send({"type": "ping"})
    await viewer.wait_for(lambda f: f["type"] == "pong", after=mark)
    await viewer.close()


async def test_deeply_nested_frames_are_refused_without_a_traceback(
    server: LiveServer, ws_base: str, stream_id: str
) -> None:
    log_mark = len(server.log())
    viewer = await Viewer.connect(ws_base, stream_id)
    hostile = [
        "[" * 2000 + "]" * 2000,  # past the decoder's recursion limit
        '{"type":"chat.send","text":"hi","nonce":' + "[" * 1500 + "]" * 1500 + "}",
        '{"type":"ping","x":' + '{"a":' * 600 + "1" + "}" * 600 + "}",  # within it, and no frame of ours
        '{"type":"ping","x":' + "[{" * 17 + "}]" * 17 + "}",
    ]
    for frame in hostile:
        assert len(frame.encode()) <= 4096
        mark = len(viewer.frames)
        await viewer.socket.send(frame)
        error = await viewer.wait_for(lambda f: f["type"] == "error", after=mark)
        assert error["code"] == "BAD_FRAME", frame[:40]
    # Brackets inside strings are text, however many.
    mark = len(viewer.frames)
    await viewer.socket.send('{"type":"ping","x":"' + "[{" * 900 + '"}')
    await viewer.wait_for(lambda f: f["type"] == "pong", after=mark)
    await viewer.close()
    log = server.log()[log_mark:]
    assert "RecursionError" not in log
    assert "ws_frame_failed" not in log
    assert "Traceback" not in log


async def test_ping_floods_are_refused_then_closed(ws_base: str, stream_id: str) -> None:
    limit, _ = PING_LIMIT
    viewer = await Viewer.connect(ws_base, stream_id)
    for _ in range(4 * limit):  # one burst: well within one window
        await viewer.send({"type": "ping"})
    await asyncio.wait_for(viewer.closed.wait(), 10)
    assert viewer.socket.close_code == CLOSE_POLICY
    answers = [f for f in viewer.frames if f["type"] in ("pong", "error")]
    assert [f["type"] for f in answers[:limit]] == ["pong"] * limit
    refused = answers[limit:]
    assert refused
    assert all(f["code"] == "RATE_LIMITED" and f["retry_after"] == 1 for f in refused)
    assert len(refused) <= limit


async def test_auth_floods_are_refused_then_closed(ws_base: str, stream_id: str) -> None:
    limit, window = AUTH_LIMIT
    viewer = await Viewer.connect(ws_base, stream_id)
    for _ in range(3 * limit):
        await viewer.send({"type": "auth", "token": "not-a-jwt"})
    await asyncio.wait_for(viewer.closed.wait(), 10)
    assert viewer.socket.close_code == CLOSE_POLICY
    errors = viewer.of_type("error")
    assert [e["code"] for e in errors[:limit]] == ["TOKEN_INVALID"] * limit
    assert errors[limit:]
    assert all(e["code"] == "RATE_LIMITED" and 1 <= e["retry_after"] <= window for e in errors[limit:])


async def test_a_new_viewer_sees_the_stream_as_it_is_now(
    api: httpx.AsyncClient, ws_base: str, creator: Account, stream_id: str
) -> None:
    watcher = await Viewer.connect(ws_base, stream_id)  # this process follows the stream's channel
    renamed = await api.patch(f"/api/streams/{stream_id}", json={"title": "Renamed"}, headers=creator.headers)
    assert renamed.status_code == 200
    await watcher.wait_for(lambda f: f["type"] == "stream.status" and f["title"] == "Renamed")
    late = await Viewer.connect(ws_base, stream_id)
    assert late.hello["stream"]["title"] == "Renamed"  # the event dropped what the process knew of the stream
    for viewer in (watcher, late):
        await viewer.close()

    # With no viewer here the process hears no events; what it knows is never more than MAX_AGE_SECONDS old.
    first = await Viewer.connect(ws_base, stream_id)
    await first.close()
    again = await api.patch(f"/api/streams/{stream_id}", json={"title": "Again"}, headers=creator.headers)
    assert again.status_code == 200
    await asyncio.sleep(MAX_AGE_SECONDS)
    fresh = await Viewer.connect(ws_base, stream_id)
    assert fresh.hello["stream"]["title"] == "Again"
    await fresh.close()


async def test_a_frame_over_4_kib_closes_the_socket(ws_base: str, stream_id: str) -> None:
    viewer = await Viewer.connect(ws_base, stream_id)
    await viewer.socket.send("x" * 4097)
    await asyncio.wait_for(viewer.closed.wait(), 5)
    assert viewer.socket.close_code == 1009
    # 4096 bytes exactly is still a frame the server reads (and refuses as not JSON).
    other = await Viewer.connect(ws_base, stream_id)
    await other.socket.send("y" * 4096)
    assert (await other.wait_for(lambda f: f["type"] == "error"))["code"] == "BAD_FRAME"
    await other.close()


async def test_rate_limit_three_per_two_seconds(api: httpx.AsyncClient, ws_base: str, stream_id: str) -> None:
    fan = await make_account(api, "fast")
    viewer = await Viewer.connect(ws_base, stream_id)
    await viewer.auth(fan)
    for n in range(3):
        assert (await viewer.chat(f"message {n}"))["type"] == "chat.ack"
    limited = await viewer.chat("one too many")
    assert limited["code"] == "RATE_LIMITED"
    assert 1 <= limited["retry_after"] <= 2
    await asyncio.sleep(limited["retry_after"] + 0.1)
    assert (await viewer.chat("after the window"))["type"] == "chat.ack"
    await viewer.close()


async def test_slow_mode(api: httpx.AsyncClient, ws_base: str, creator: Account, stream_id: str) -> None:
    fan = await make_account(api, "patient")
    host = await Viewer.connect(ws_base, stream_id)
    viewer = await Viewer.connect(ws_base, stream_id)
    await host.auth(creator)
    await viewer.auth(fan)
    changed = await api.put(
        f"/api/streams/{stream_id}/chat-settings", json={"slow_mode_seconds": 3}, headers=creator.headers
    )
    assert changed.status_code == 200, changed.text
    assert (await viewer.wait_for(lambda f: f["type"] == "chat.settings"))["slow_mode_seconds"] == 3
    assert (await viewer.chat("first"))["type"] == "chat.ack"
    slow = await viewer.chat("second")
    assert slow["code"] == "SLOW_MODE"
    assert 1 <= slow["retry_after"] <= 3
    # The creator is not slowed down.
    assert (await host.chat("host 1"))["type"] == "chat.ack"
    assert (await host.chat("host 2"))["type"] == "chat.ack"
    late = await Viewer.connect(ws_base, stream_id)
    assert late.hello["chat"] == {"slow_mode_seconds": 3}
    for v in (host, viewer, late):
        await v.close()


async def test_bans_timeouts_and_deletions_reach_everyone(
    api: httpx.AsyncClient, ws_base: str, creator: Account, stream_id: str
) -> None:
    troll = await make_account(api, "troll")
    watcher = await Viewer.connect(ws_base, stream_id)
    sender = await Viewer.connect(ws_base, stream_id)
    await sender.auth(troll)
    first = await sender.chat("spam 1")
    second = await sender.chat("spam 2")

    deleted = await api.delete(f"/api/streams/{stream_id}/chat/{first['id']}", headers=creator.headers)
    assert deleted.status_code == 204
    assert (await watcher.wait_for(lambda f: f["type"] == "chat.deleted"))["id"] == first["id"]

    timeout = await api.post(
        f"/api/streams/{stream_id}/bans",
        json={"user_id": troll.user_id, "duration_seconds": 600},
        headers=creator.headers,
    )
    assert timeout.status_code == 201, timeout.text
    # The ban removes what they said from everyone's chat.
    await watcher.wait_for(lambda f: f["type"] == "chat.deleted" and f["id"] == second["id"])
    refused = await sender.chat("am I muted?")
    assert refused["code"] == "BANNED"
    until = datetime.fromisoformat(refused["until"])
    assert timedelta(seconds=590) < until - datetime.now(UTC) <= timedelta(seconds=600)
    assert [
        m
        for m in (await api.get(f"/api/streams/{stream_id}/chat")).json()["items"]
        if m["user"]["user_id"] == troll.user_id
    ] == []

    permanent = await api.post(
        f"/api/streams/{stream_id}/bans", json={"user_id": troll.user_id}, headers=creator.headers
    )
    assert permanent.status_code == 201
    assert permanent.json()["expires_at"] is None
    refused = await sender.chat("still?")
    assert refused["code"] == "BANNED"
    assert "until" not in refused

    assert (
        await api.delete(f"/api/streams/{stream_id}/bans/{troll.user_id}", headers=creator.headers)
    ).status_code == 204
    assert (await sender.chat("sorry"))["type"] == "chat.ack"
    for v in (watcher, sender):
        await v.close()


async def test_viewer_count_is_unique_per_person_and_follows_joins_and_leaves(
    api: httpx.AsyncClient, ws_base: str, stream_id: str
) -> None:
    fan = await make_account(api, "twotabs")
    first_tab = await Viewer.connect(ws_base, stream_id)
    second_tab = await Viewer.connect(ws_base, stream_id)
    await first_tab.auth(fan)
    await second_tab.auth(fan)
    # One browser without an account, two tabs: the same anonymous viewer cookie.
    cookie = {"Cookie": f"ls_viewer={secrets.token_hex(16)}"}
    anon_a = await Viewer.connect(ws_base, stream_id, additional_headers=cookie)
    anon_b = await Viewer.connect(ws_base, stream_id, additional_headers=cookie)
    stranger = await Viewer.connect(ws_base, stream_id)

    async def count() -> int:
        return int((await api.get(f"/api/streams/{stream_id}")).json()["viewer_count"])

    assert await count() == 3
    # The viewers frame (at most every 2 s) catches up with the exact count.
    await stranger.wait_for(lambda f: f["type"] == "viewers" and f["count"] == 3)
    await second_tab.close()
    await anon_b.close()
    assert await count() == 3  # both people still have a tab open
    await first_tab.close()
    assert await count() == 2
    await stranger.wait_for(lambda f: f["type"] == "viewers" and f["count"] == 2)
    assert all(f["count"] >= 0 for f in stranger.of_type("viewers"))
    for v in (anon_a, stranger):
        await v.close()
    assert await count() == 0


async def test_stream_status_events_and_the_stored_peak(
    api: httpx.AsyncClient, ws_base: str, creator: Account, stream_id: str
) -> None:
    fan = await make_account(api, "witness")
    viewers = [await Viewer.connect(ws_base, stream_id) for _ in range(3)]
    await viewers[0].auth(fan)
    await viewers[2].close()

    renamed = await api.patch(
        f"/api/streams/{stream_id}",
        json={"title": "New title", "description": "Now with chat"},
        headers=creator.headers,
    )
    assert renamed.status_code == 200
    event = await viewers[0].wait_for(lambda f: f["type"] == "stream.status")
    assert event == {
        "type": "stream.status",
        "status": "live",
        "media_state": "waiting",
        "title": "New title",
        "description": "Now with chat",
    }
    ended = await api.put(f"/api/streams/{stream_id}/end", headers=creator.headers)
    assert ended.status_code == 200
    assert ended.json()["viewer_count"] == 3  # the peak, in the answer to the end itself
    event = await viewers[1].wait_for(lambda f: f["type"] == "stream.status" and f["status"] == "ended")
    assert event["media_state"] == "ended"
    assert (await viewers[0].chat("too late"))["code"] == "STREAM_ENDED"
    for v in viewers[:2]:
        await v.close()
    stored = (await api.get(f"/api/streams/{stream_id}")).json()
    assert stored["status"] == "ended"
    assert stored["viewer_count"] == 3  # the peak, kept after everyone left


async def test_unknown_streams_close_with_4404(ws_base: str) -> None:
    for ref in (str(uuid.uuid4()), "not-a-uuid"):
        viewer = await Viewer.connect(ws_base, ref)
        assert viewer.frames[0] == {"type": "error", "code": "STREAM_NOT_FOUND", "error": "No such stream"}
        await asyncio.wait_for(viewer.closed.wait(), 5)
        assert viewer.socket.close_code == 4404


async def test_origin_allowlist(server: LiveServer, ws_base: str, stream_id: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{ws_base}/ws/streams/{stream_id}", origin="https://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    assert "ws_origin_refused" in server.log()
    for origin in (server.base_url, "https://partner.example"):
        viewer = await Viewer.connect(ws_base, stream_id, origin=origin)
        assert viewer.hello["stream_id"] == stream_id
        await viewer.close()


@pytest.fixture
def flood_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server without the per-user chat limit, so one test client can produce traffic fast."""
    live = start_server(
        tmp_path,
        LS_RTMP_ENABLED="false",
        LS_WS_SEND_BUFFER_BYTES="65536",
        LS_CHAT_RATE_LIMIT_MESSAGES="1000000",
        LS_CHAT_RATE_LIMIT_WINDOW_SECONDS="1",
    )
    try:
        yield live
    finally:
        live.stop()


async def test_a_client_that_stops_reading_is_dropped_and_others_keep_receiving(flood_server: LiveServer) -> None:
    base = flood_server.base_url
    ws = base.replace("http://", "ws://")
    async with httpx.AsyncClient(base_url=base, timeout=10) as api:
        creator = await make_account(api, "host")
        stream_id = await open_stream(api, creator)
    # A tiny receive buffer and no reads: the server's send buffer for this socket fills up.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(base.rsplit(":", 1)[1])))
    stalled = await connect(f"{ws}/ws/streams/{stream_id}", sock=sock, compression=None, max_queue=1)
    stalled.transport.pause_reading()
    healthy = await Viewer.connect(ws, stream_id)
    sender = await Viewer.connect(ws, stream_id)
    await sender.auth(creator)
    text = "\U0001f600" * 500  # four bytes each: about 2 KB per frame on the wire
    sent = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while "ws_dropped_slow_client" not in flood_server.log():
        assert loop.time() < deadline, "the stalled client was never dropped"
        for _ in range(50):
            await sender.send({"type": "chat.send", "text": text, "nonce": str(sent)})
            sent += 1
        batch_end = str(sent - 1)
        await sender.wait_for(lambda f, n=batch_end: f["type"] == "chat.ack" and f["nonce"] == n, within=20)
    # The healthy viewer got every message, in order, while the stalled one was cut off.
    last = str(sent - 1)
    await sender.wait_for(lambda f: f["type"] == "chat.ack" and f["nonce"] == last)
    acks = [f["id"] for f in sender.of_type("chat.ack")]
    await healthy.wait_for(lambda f: f["type"] == "chat.message" and f["id"] == acks[-1], within=20)
    assert [f["id"] for f in healthy.of_type("chat.message")] == acks
    stalled.transport.resume_reading()
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(_drain(stalled), 10)
    for v in (healthy, sender):
        await v.close()


async def _drain(socket: ClientConnection) -> None:
    while True:
        await socket.recv()


async def test_a_server_shutdown_closes_every_socket_with_1012(tmp_path: Path) -> None:
    live = start_server(tmp_path, LS_RTMP_ENABLED="false")
    try:
        async with httpx.AsyncClient(base_url=live.base_url, timeout=10) as api:
            host = await make_account(api, "leaving")
            stream_id = await open_stream(api, host)
        ws = live.base_url.replace("http://", "ws://")
        idle = await Viewer.connect(ws, stream_id)
        chatting = await Viewer.connect(ws, stream_id)
        assert (await chatting.auth(host))["type"] == "auth.ok"
        assert (await chatting.chat("see you"))["type"] == "chat.ack"
        live.process.terminate()
        for viewer in (idle, chatting):
            await asyncio.wait_for(viewer.closed.wait(), 15)
            assert viewer.socket.close_code == 1012  # "restarting: reconnect"
        # uvicorn shuts down gracefully, then re-raises the signal for its parent to see.
        assert live.process.wait(timeout=15) in (0, -signal.SIGTERM)
        log = live.log()
        assert "Traceback" not in log
        assert "realtime_leave_failed" not in log
    finally:
        live.stop()


@pytest.fixture
def quick_ping_server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path, LS_RTMP_ENABLED="false", LS_WS_PING_INTERVAL_SECONDS="1")
    try:
        yield live
    finally:
        live.stop()


async def test_heartbeats_drop_a_silent_peer(quick_ping_server: LiveServer) -> None:
    base = quick_ping_server.base_url
    async with httpx.AsyncClient(base_url=base, timeout=10) as api:
        stream_id = await open_stream(api, await make_account(api, "host"))
        # A peer that completes the handshake and then never answers anything (a laptop lid closed).
        reader, writer = await asyncio.open_connection("127.0.0.1", int(base.rsplit(":", 1)[1]))
        writer.write(
            (
                f"GET /ws/streams/{stream_id} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        assert (await reader.readline()).startswith(b"HTTP/1.1 101")

        async def count() -> int:
            return int((await api.get(f"/api/streams/{stream_id}")).json()["viewer_count"])

        assert await count() == 1
        loop = asyncio.get_running_loop()
        started = loop.time()
        while await count() != 0:
            assert loop.time() - started < 10, "the silent peer was never dropped"
            await asyncio.sleep(0.2)
        # One ping interval plus one ping timeout (1 s each here), with room for a busy machine.
        assert loop.time() - started < 6
        writer.close()


@pytest.mark.redis
async def test_redis_going_away_refuses_chat_cleanly_and_chat_returns_with_it(tmp_path: Path, redis_url: str) -> None:
    flush_redis(redis_url)
    port = int(redis_url.rsplit(":", 1)[1].split("/", 1)[0])
    proxy = TcpProxy(port)
    await proxy.start()
    database = redis_url.rsplit("/", 1)[1]
    live = start_server(tmp_path, LS_RTMP_ENABLED="false", LS_REDIS_URL=f"redis://127.0.0.1:{proxy.port}/{database}")
    ws_base = live.base_url.replace("http://", "ws://")
    try:
        async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as api:
            host = await make_account(api, "outage")
            stream_id = await open_stream(api, host)
            await proxy.cut()
            assert (await api.get("/readyz")).status_code == 503
            # Login needs the throttle's counters in Redis: a clean 503, never a 500.
            login = await api.post("/api/auth/login", json={"login": host.username, "password": "whatever-it-is"})
            assert login.status_code == 503, login.text
            assert login.json()["code"] == "SERVICE_UNAVAILABLE"
            assert login.headers["Retry-After"] == "5"

            viewer = await Viewer.connect(ws_base, stream_id)
            assert viewer.frames[0]["code"] == "INTERNAL_ERROR"
            await asyncio.wait_for(viewer.closed.wait(), 30)
            assert viewer.socket.close_code == 1013
            assert "ws_join_failed" in live.log()
            assert "127.0.0.1:" + str(proxy.port) not in login.text

            # Redis is back: the same process serves chat again, pub/sub included.
            await proxy.start()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while (await api.get("/readyz")).status_code != 200:
                assert loop.time() < deadline, "the server never saw Redis come back"
                await asyncio.sleep(0.2)
            watcher = await Viewer.connect(ws_base, stream_id)
            sender = await Viewer.connect(ws_base, stream_id)
            assert (await sender.auth(host))["type"] == "auth.ok"
            deadline = loop.time() + 30
            while True:  # the pub/sub reader reconnects with backoff
                ack = await sender.chat("we are back")
                assert ack["type"] == "chat.ack", ack
                try:
                    await watcher.wait_for(lambda f, i=ack["id"]: f.get("id") == i, within=2)
                    break
                except AssertionError:
                    assert loop.time() < deadline, "messages never reached the other viewer after the outage"
            for v in (watcher, sender):
                await v.close()
        assert live.process.poll() is None
    finally:
        live.stop()
        await proxy.cut()
