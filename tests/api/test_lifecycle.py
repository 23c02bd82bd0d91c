"""One module writes a stream's transitions and emits exactly one event per committed transition."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from livestream.streams.lifecycle import StreamTransition
from livestream.streams.repository import StreamRepository
from tests.api.helpers import assert_error, bearer, container, quick_user


@pytest.fixture
def transitions(app: FastAPI) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []

    async def record(transition: StreamTransition) -> None:
        seen.append((str(transition.stream_id), transition.kind))

    container(app).lifecycle.subscribe(record)
    return seen


async def test_each_api_transition_emits_one_event_after_commit(
    app: FastAPI, client: httpx.AsyncClient, transitions: list[tuple[str, str]]
) -> None:
    _, token = await quick_user(app)
    created = await client.post("/api/streams", json={"title": "One"}, headers=bearer(token))
    sid = created.json()["stream_id"]
    assert transitions == [(sid, "opened")]
    # Refused: a second live stream. Nothing committed, nothing emitted.
    assert_error(
        await client.post("/api/streams", json={"title": "Two"}, headers=bearer(token)), 409, "STREAM_ALREADY_LIVE"
    )
    assert (await client.patch(f"/api/streams/{sid}", json={"title": "Uno"}, headers=bearer(token))).status_code == 200
    assert (await client.put(f"/api/streams/{sid}/end", headers=bearer(token))).status_code == 200
    assert_error(await client.put(f"/api/streams/{sid}/end", headers=bearer(token)), 409, "STREAM_ENDED")
    assert_error(
        await client.patch(f"/api/streams/{sid}", json={"title": "x"}, headers=bearer(token)), 409, "STREAM_ENDED"
    )
    assert transitions == [(sid, "opened"), (sid, "updated"), (sid, "ended")]


async def test_the_peak_viewer_count_is_written_with_the_end(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = await quick_user(app)
    sid = (await client.post("/api/streams", json={"title": "Peak"}, headers=bearer(token))).json()["stream_id"]
    lifecycle = container(app).lifecycle

    async def peak(_stream_id: uuid.UUID) -> int:
        return 42

    monkeypatch.setattr(lifecycle, "_peak_viewers", peak)
    ended = await client.put(f"/api/streams/{sid}/end", headers=bearer(token))
    assert ended.json()["viewer_count"] == 42
    async with container(app).db.sessionmaker() as session:
        stream = await StreamRepository(session).get(uuid.UUID(sid))
    assert stream is not None
    assert stream.viewer_count == 42
    assert (await client.get(f"/api/streams/{sid}")).json()["viewer_count"] == 42


async def test_the_end_holds_when_the_peak_cannot_be_read(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, transitions: list[tuple[str, str]]
) -> None:
    _, token = await quick_user(app)
    sid = (await client.post("/api/streams", json={"title": "Down"}, headers=bearer(token))).json()["stream_id"]

    async def engine_down(_stream_id: uuid.UUID) -> int:
        raise ConnectionError("Redis went away")

    monkeypatch.setattr(container(app).lifecycle, "_peak_viewers", engine_down)
    ended = await client.put(f"/api/streams/{sid}/end", headers=bearer(token))
    assert ended.status_code == 200
    assert ended.json()["status"] == "ended"
    assert transitions[-1] == (sid, "ended")


async def test_a_failing_subscriber_does_not_stop_the_others_or_the_answer(
    app: FastAPI, client: httpx.AsyncClient, transitions: list[tuple[str, str]]
) -> None:
    lifecycle = container(app).lifecycle

    async def broken(_transition: StreamTransition) -> None:
        raise RuntimeError("subscriber bug")

    lifecycle._subscribers.insert(0, broken)
    try:
        _, token = await quick_user(app)
        created = await client.post("/api/streams", json={"title": "Still"}, headers=bearer(token))
        assert created.status_code == 201
    finally:
        lifecycle._subscribers.remove(broken)
    assert transitions == [(created.json()["stream_id"], "opened")]


async def test_two_enders_at_once_make_one_end(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, transitions: list[tuple[str, str]]
) -> None:
    """The creator's end and the reconnect window's timer racing: one "ended", the loser answered as already ended."""
    import asyncio

    _, token = await quick_user(app)
    sid = (await client.post("/api/streams", json={"title": "Race"}, headers=bearer(token))).json()["stream_id"]
    c = container(app)

    async def slow_peak(_stream_id: uuid.UUID) -> int:
        await asyncio.sleep(0.05)  # a Redis round trip: both enders read the stream as live meanwhile
        return 3

    monkeypatch.setattr(c.lifecycle, "_peak_viewers", slow_peak)
    answer, _ = await asyncio.gather(
        client.put(f"/api/streams/{sid}/end", headers=bearer(token)), c.ingest.end_stream(uuid.UUID(sid))
    )
    assert answer.status_code in (200, 409)
    assert [kind for stream, kind in transitions if stream == sid].count("ended") == 1
    assert (await client.get(f"/api/streams/{sid}")).json()["status"] == "ended"
