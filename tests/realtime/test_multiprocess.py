"""Two ``livestream serve`` processes sharing PostgreSQL and Redis: one chat, one viewer count, and healing
after one of them is killed with SIGKILL."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import flush_redis
from tests.support.chat_clients import Viewer, make_account, open_stream
from tests.support.live_server import LiveServer, start_server

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

TTL = 5.0


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str, redis_url: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    flush_redis(redis_url)
    shared = {
        "LS_DATABASE_URL": postgres_url,
        "LS_REDIS_URL": redis_url,
        "LS_SECRET_KEY": secrets.token_urlsafe(48),
        "LS_PRESENCE_TTL_SECONDS": str(TTL),
        "LS_RTMP_ENABLED": "false",
    }
    first = start_server(tmp_path / "a", **shared)
    try:
        second = start_server(tmp_path / "b", **shared)
    except Exception:
        first.stop()
        raise
    try:
        yield first, second
    finally:
        second.stop()
        first.stop()
        flush_redis(redis_url)


def ws(server: LiveServer) -> str:
    return server.base_url.replace("http://", "ws://")


async def api_count_becomes(api: httpx.AsyncClient, stream_id: str, expected: int, within: float = 5.0) -> None:
    """The API's count may be a moment old (docs/realtime.md); it must reach ``expected`` and stay sane meanwhile."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        count = (await api.get(f"/api/streams/{stream_id}")).json()["viewer_count"]
        assert count >= 0
        if count == expected:
            return
        assert loop.time() < deadline, f"the API's count stayed at {count}, never {expected}"
        await asyncio.sleep(0.05)


async def test_chat_and_counts_span_processes_and_heal_after_sigkill(cluster: tuple[LiveServer, LiveServer]) -> None:
    a, b = cluster
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=10) as api_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=10) as api_b,
    ):
        creator = await make_account(api_a, "host")
        stream_id = await open_stream(api_a, creator)
        fan = await make_account(api_b, "fan")  # signed up and signed in through the other process

        on_a = [await Viewer.connect(ws(a), stream_id) for _ in range(3)]
        on_b = [await Viewer.connect(ws(b), stream_id) for _ in range(2)]
        sender = await Viewer.connect(ws(b), stream_id)
        assert (await sender.auth(fan))["type"] == "auth.ok"

        # The count is the sum over both processes, whichever one is asked.
        for api in (api_a, api_b):
            await api_count_becomes(api, stream_id, 6)
        await on_a[0].wait_for(lambda f: f["type"] == "viewers" and f["count"] == 6)

        # A message sent to B reaches the viewers on A (and B), once each.
        ack = await sender.chat("hello from process B")
        assert ack["type"] == "chat.ack"
        for viewer in (*on_a, *on_b):
            message = await viewer.wait_for(lambda f: f["type"] == "chat.message")
            assert message["id"] == ack["id"]
            assert message["text"] == "hello from process B"
        # A moderation action on A reaches the viewers on B.
        deleted = await api_a.delete(f"/api/streams/{stream_id}/chat/{ack['id']}", headers=creator.headers)
        assert deleted.status_code == 204
        for viewer in on_b:
            assert (await viewer.wait_for(lambda f: f["type"] == "chat.deleted"))["id"] == ack["id"]
        again = await sender.chat("second try")
        for viewer in on_a:
            await viewer.wait_for(lambda f: f["type"] == "chat.message" and f["id"] == again["id"])
        for viewer in on_a:
            assert len(viewer.of_type("chat.message")) == 2  # no duplicates from the second process

        # SIGKILL process B: nothing says goodbye, its presence entries just stop being refreshed.
        mark = len(on_a[0].frames)
        killed_at = time.monotonic()
        b.process.kill()
        b.process.wait(timeout=10)
        healed = await on_a[0].wait_for(
            lambda f: f["type"] == "viewers" and f["count"] == 3, within=TTL + 10, after=mark
        )
        elapsed = on_a[0].arrivals[on_a[0].frames.index(healed, mark)] - killed_at
        assert healed["count"] == 3
        # Within one TTL, plus at most one 2-second round of the count broadcast.
        assert elapsed <= TTL + 2.5, f"B's viewers took {elapsed:.1f} s to drop out (TTL {TTL} s)"
        assert all(f["count"] >= 0 for v in on_a for f in v.of_type("viewers"))
        await api_count_becomes(api_a, stream_id, 3)

        # The history is in Redis: a newcomer on A sees what was said through B.
        late = await Viewer.connect(ws(a), stream_id)
        assert [m["id"] for m in late.hello["history"]] == [again["id"]]
        for viewer in (*on_a, late):
            await viewer.close()
        for viewer in (*on_b, sender):
            await asyncio.wait_for(viewer.closed.wait(), 10)
            await viewer.close()
        await api_count_becomes(api_a, stream_id, 0)
