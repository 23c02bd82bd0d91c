"""The public views of the hot reads (streams, the live list, profiles): what they may share, how old they may be,
and that their bytes are what the OpenAPI schema says. On SQLite and PostgreSQL; some with the Redis engine.

"Another process" is a second app on the same database (and Redis): its own container, caches and shortcuts.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from livestream.app.factory import create_app
from livestream.chat.service import channel_of
from livestream.config import Settings
from livestream.pagination import Page
from livestream.realtime.engine import PresenceEntry
from livestream.streams.models import Stream
from livestream.streams.repository import PublicStream
from livestream.streams.schemas import ArchiveLink, StreamCreator, StreamOut
from livestream.streams.service import Urls
from livestream.streams.views import encode_stream
from livestream.users.schemas import UserPublic
from tests.api.helpers import USE_REDIS, assert_error, bearer, container, quick_user

# A view may be 1 s old at most; the polls below give it that long, from the moment the change was answered.
MAX_STALE_S = 1.0


@asynccontextmanager
async def other_process(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A second app on the same database and engine, as another API process would be."""
    other = create_app(settings)
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other, client=("127.0.0.1", 50002))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def within(seconds: float, check: Callable[[], Awaitable[bool]], what: str) -> float:
    """Poll ``check`` until it holds; fail if that takes longer than ``seconds``. Returns the time it took."""
    start = time.monotonic()
    while True:
        if await check():
            return time.monotonic() - start
        if time.monotonic() - start > seconds:
            raise AssertionError(f"{what}: not seen within {seconds} s")
        await asyncio.sleep(0.05)


async def _go_live(client: httpx.AsyncClient, token: str, title: str = "Going live") -> dict[str, Any]:
    response = await client.post("/api/streams", json={"title": title}, headers=bearer(token))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _get(client: httpx.AsyncClient, url: str, **kwargs: Any) -> dict[str, Any]:
    response = await client.get(url, **kwargs)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _live_ids(client: httpx.AsyncClient) -> list[str]:
    page = await _get(client, "/api/streams", params={"status": "live"})
    return [item["stream_id"] for item in page["items"]]


# --- Bytes: what pydantic would have sent -------------------------------------------------------------


TRICKY = 'quote " backslash \\ newline \n tab \t é 日本 😀 \u2028 </script> {"viewer_count":1}'


@pytest.mark.parametrize("live", [True, False])
@pytest.mark.parametrize("micros", [0, 120000, 1])
def test_encoded_stream_is_pydantics_json(live: bool, micros: int) -> None:
    started = datetime(2026, 11, 29, 12, 0, 1, micros, tzinfo=UTC)
    row = PublicStream(
        stream_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        username="creator_1",
        display_name=TRICKY,
        title=TRICKY,
        description=None if live else TRICKY,
        status="live" if live else "ended",
        media_state="live" if live else "ended",
        started_at=started,
        ended_at=None if live else started.replace(microsecond=0),
        viewer_count=7,
        archive_id=None if live else uuid.uuid4(),
        archive_status=None if live else "ready",
        archive_progress=None if live else 100,
        archive_duration=None if live else 3725,
        archive_poster=None if live else "archives/x/poster.jpg",
    )
    urls = Urls("http://cdn.example/path")
    count = 12 if live else row.viewer_count
    expected = StreamOut(
        stream_id=row.stream_id,
        user_id=row.user_id,
        user=StreamCreator(user_id=row.user_id, username=row.username, display_name=row.display_name),
        title=row.title,
        description=row.description,
        status="live" if live else "ended",
        media_state=row.media_state,  # type: ignore[arg-type]
        started_at=row.started_at,
        ended_at=row.ended_at,
        viewer_count=count,
        hls_url=urls.hls(row.stream_id) if live else None,
        thumbnail_url=urls.thumbnail(row.stream_id) if live else None,
        archive=None
        if row.archive_id is None
        else ArchiveLink(
            archive_id=row.archive_id,
            status="ready",
            progress=100,
            duration=3725,
            hls_url=urls.vod(row.archive_id),
            thumbnail_url=urls.poster(row.archive_id),
        ),
    )
    assert encode_stream(row, urls).render(count) == expected.model_dump_json().encode()


async def test_answers_are_the_schemas_json(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Byte for byte what FastAPI would make of the response models, and the same a second time (shortcut)."""
    creator, token = await quick_user(app)
    stream = await _go_live(client, token, TRICKY.replace("\n", " "))
    for _ in range(2):
        one = await client.get(f"/api/streams/{stream['stream_id']}")
        assert one.headers["content-type"] == "application/json"
        assert one.content == StreamOut.model_validate(one.json()).model_dump_json().encode()
        page = await client.get("/api/streams", params={"status": "live"})
        assert page.content == Page[StreamOut].model_validate(page.json()).model_dump_json().encode()
        profile = await client.get(f"/api/users/{creator['user_id']}")
        assert profile.content == UserPublic.model_validate(profile.json()).model_dump_json().encode()
        assert profile.headers["x-request-id"]
        assert profile.headers["x-content-type-options"] == "nosniff"


# --- Freshness ------------------------------------------------------------------------------------------


async def test_a_change_shows_at_once_in_the_process_that_made_it(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token = await quick_user(app)
    stream = await _go_live(client, token, "Before")
    url = f"/api/streams/{stream['stream_id']}"
    assert (await _get(client, url))["title"] == "Before"
    assert stream["stream_id"] in await _live_ids(client)  # both views cached now

    changed = await client.patch(url, json={"title": "After"}, headers=bearer(token))
    assert changed.status_code == 200, changed.text
    assert (await _get(client, url))["title"] == "After"
    listed = await _get(client, "/api/streams", params={"status": "live"})
    assert [item["title"] for item in listed["items"] if item["stream_id"] == stream["stream_id"]] == ["After"]

    ended = await client.put(f"{url}/end", headers=bearer(token))
    assert ended.status_code == 200, ended.text
    assert (await _get(client, url))["status"] == "ended"
    assert stream["stream_id"] not in await _live_ids(client)


async def test_a_new_live_stream_is_listed_at_once_here(app: FastAPI, client: httpx.AsyncClient) -> None:
    assert await _live_ids(client) == []
    _, token = await quick_user(app)
    stream = await _go_live(client, token)
    assert await _live_ids(client) == [stream["stream_id"]]


async def test_another_process_shows_changes_within_a_second(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    _, token = await quick_user(app)
    stream = await _go_live(client, token, "Before")
    url = f"/api/streams/{stream['stream_id']}"
    async with other_process(settings) as elsewhere:
        assert (await _get(elsewhere, url))["title"] == "Before"
        assert stream["stream_id"] in await _live_ids(elsewhere)  # cached there now

        assert (await client.patch(url, json={"title": "After"}, headers=bearer(token))).status_code == 200

        async def retitled() -> bool:
            return (await _get(elsewhere, url))["title"] == "After"

        await within(MAX_STALE_S, retitled, "the new title in the other process")

        assert (await client.put(f"{url}/end", headers=bearer(token))).status_code == 200

        async def ended() -> bool:
            return (await _get(elsewhere, url))["status"] == "ended"

        async def unlisted() -> bool:
            return stream["stream_id"] not in await _live_ids(elsewhere)

        await within(MAX_STALE_S, ended, "the end in the other process")
        await within(MAX_STALE_S, unlisted, "the ended stream gone from the other process's live list")


async def test_another_process_lists_a_new_live_stream_within_a_second(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    _, token = await quick_user(app)
    async with other_process(settings) as elsewhere:
        assert await _live_ids(elsewhere) == []  # the empty list is cached there
        stream = await _go_live(client, token)

        async def listed() -> bool:
            return await _live_ids(elsewhere) == [stream["stream_id"]]

        await within(MAX_STALE_S, listed, "the new live stream in the other process")


async def test_a_change_outside_any_api_shows_within_a_second(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Written straight to the database (as a job or another service would): no event, only the age limit."""
    _, token = await quick_user(app)
    stream = await _go_live(client, token, "Before")
    url = f"/api/streams/{stream['stream_id']}"
    assert (await _get(client, url))["media_state"] == "waiting"
    async with container(app).db.sessionmaker() as session:
        await session.execute(
            update(Stream).where(Stream.stream_id == uuid.UUID(stream["stream_id"])).values(media_state="live")
        )
        await session.commit()

    async def playing() -> bool:
        body = await _get(client, url)
        return bool(body["media_state"] == "live" and body["thumbnail_url"])

    await within(MAX_STALE_S, playing, "the media state written to the database")


async def test_errors_never_come_from_a_shortcut(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token = await quick_user(app)
    stream = await _go_live(client, token)
    url = f"/api/streams/{stream['stream_id']}"
    await _get(client, url)
    await _get(client, url)  # remembered
    async with container(app).db.sessionmaker() as session:
        row = await session.get(Stream, uuid.UUID(stream["stream_id"]))
        assert row is not None
        await session.delete(row)
        await session.commit()
    container(app).stream_views.invalidate(uuid.UUID(stream["stream_id"]))
    gone = assert_error(await client.get(url), 404, "STREAM_NOT_FOUND")
    assert gone["request_id"]
    # Not a GET, not the shortcut: the method is refused as before.
    assert (await client.delete(url)).status_code == 405


# --- Nothing personal is shared -------------------------------------------------------------------------


async def test_a_viewers_follow_never_reaches_anyone_else(app: FastAPI, client: httpx.AsyncClient) -> None:
    bob, _ = await quick_user(app, "bob")
    _alice, alice_token = await quick_user(app, "alice")
    _carol, carol_token = await quick_user(app, "carol")
    followed = await client.post("/api/follows", json={"following_id": bob["user_id"]}, headers=bearer(alice_token))
    assert followed.status_code == 201, followed.text
    follow_id = followed.json()["follow_id"]

    for url in (f"/api/users/{bob['user_id']}", "/api/users/by-username/BOB"):
        # Alice first, then everyone else; then the shared (anonymous) view first, then Alice again.
        assert (await _get(client, url, headers=bearer(alice_token)))["viewer_follow_id"] == follow_id
        for _ in range(2):
            assert (await _get(client, url))["viewer_follow_id"] is None
            assert (await _get(client, url, headers=bearer(carol_token)))["viewer_follow_id"] is None
        assert (await _get(client, url, headers=bearer(alice_token)))["viewer_follow_id"] == follow_id
        # A cached anonymous view never answers a request with credentials: a bad token is still refused.
        assert_error(await client.get(url, headers=bearer("not-a-token")), 401, "INVALID_TOKEN")
        assert_error(await client.get(url, headers={"Cookie": "x=1", **bearer("not-a-token")}), 401, "INVALID_TOKEN")


async def test_a_profile_change_shows_at_once_here(app: FastAPI, client: httpx.AsyncClient) -> None:
    creator, token = await quick_user(app)
    stream = await _go_live(client, token)
    profile_url = f"/api/users/{creator['user_id']}"
    stream_url = f"/api/streams/{stream['stream_id']}"
    assert (await _get(client, profile_url))["display_name"] is None
    assert (await _get(client, stream_url))["user"]["display_name"] is None
    changed = await client.put(profile_url, json={"display_name": "Ada", "bio": "hi"}, headers=bearer(token))
    assert changed.status_code == 200, changed.text
    assert (await _get(client, profile_url))["display_name"] == "Ada"
    assert (await _get(client, stream_url))["user"]["display_name"] == "Ada"


# --- Viewer counts with the Redis engine, several processes ---------------------------------------------


@pytest.mark.parametrize("settings_overrides", [{"redis_url": USE_REDIS}], indirect=True)
async def test_redis_viewer_counts_reach_every_process_within_a_second(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    _, token = await quick_user(app)
    stream = await _go_live(client, token)
    url = f"/api/streams/{stream['stream_id']}"
    channel = channel_of(uuid.UUID(stream["stream_id"]))
    async with other_process(settings) as elsewhere:
        assert (await _get(elsewhere, url))["viewer_count"] == 0
        assert (await _get(client, url))["viewer_count"] == 0
        entries = [PresenceEntry(connection_id=f"c{i}", member=f"u:{i}") for i in range(3)]
        await container(app).engine.presence_refresh(channel, entries, 60)

        for reader in (client, elsewhere):

            async def counted(reader: httpx.AsyncClient = reader) -> bool:
                one = (await _get(reader, url))["viewer_count"] == 3
                listed = await _get(reader, "/api/streams", params={"status": "live"})
                return one and [item["viewer_count"] for item in listed["items"]] == [3]

            await within(MAX_STALE_S, counted, "the Redis viewer count")

        ended = await client.put(f"{url}/end", headers=bearer(token))
        assert ended.status_code == 200
        assert ended.json()["viewer_count"] == 3

        async def ended_with_peak() -> bool:
            body = await _get(elsewhere, url)
            return bool(body["status"] == "ended" and body["viewer_count"] == 3)

        await within(MAX_STALE_S, ended_with_peak, "the ended stream and its peak in the other process")


async def test_a_follow_shows_at_once_in_the_shared_profile(app: FastAPI, client: httpx.AsyncClient) -> None:
    creator, _ = await quick_user(app)
    _, fan_token = await quick_user(app)
    path = f"/api/users/{creator['user_id']}"
    assert (await client.get(path)).json()["follower_count"] == 0  # now shared
    followed = await client.post("/api/follows", json={"following_id": creator["user_id"]}, headers=bearer(fan_token))
    assert followed.status_code == 201
    assert (await client.get(path)).json()["follower_count"] == 1
    unfollowed = await client.delete(f"/api/follows/{followed.json()['follow_id']}", headers=bearer(fan_token))
    assert unfollowed.status_code == 204
    assert (await client.get(path)).json()["follower_count"] == 0
