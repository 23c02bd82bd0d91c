"""Streams API and stream keys, on SQLite and PostgreSQL (media arrives in tests/media)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from livestream.streams.models import Stream, StreamKey
from tests.api.helpers import assert_error, bearer, container, quick_user


async def _creator(app: FastAPI) -> tuple[dict[str, Any], str]:
    return await quick_user(app)


async def _go_live(client: httpx.AsyncClient, token: str, title: str = "First stream") -> dict[str, Any]:
    response = await client.post("/api/streams", json={"title": title}, headers=bearer(token))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_stream_key_is_stable_secret_and_rotates(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token = await _creator(app)
    first = (await client.get("/api/users/me/stream-key", headers=bearer(token))).json()
    again = (await client.get("/api/users/me/stream-key", headers=bearer(token))).json()
    assert first["stream_key"] == again["stream_key"]
    assert first["stream_key"].startswith("live_")
    assert len(first["stream_key"]) >= 40
    assert first["rtmp_url"].startswith("rtmp://")
    assert first["rtmp_url"].endswith("/live")
    rotated = (await client.post("/api/users/me/stream-key/rotate", headers=bearer(token))).json()
    assert rotated["stream_key"] != first["stream_key"]
    assert (await client.get("/api/users/me/stream-key", headers=bearer(token))).json()["stream_key"] == rotated[
        "stream_key"
    ]


async def test_stream_key_is_not_stored_in_plain_text(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token = await _creator(app)
    key = (await client.get("/api/users/me/stream-key", headers=bearer(token))).json()["stream_key"]
    async with container(app).db.sessionmaker() as session:
        stored = (await session.execute(select(StreamKey))).scalars().all()
    assert stored
    for row in stored:
        assert key not in row.key_hash
        assert key not in row.key_encrypted


async def test_stream_key_resolves_only_the_current_key(app: FastAPI, client: httpx.AsyncClient) -> None:
    from livestream.streams.keys import StreamKeyCipher
    from livestream.streams.repository import StreamKeyRepository
    from livestream.streams.service import StreamKeyService

    user, token = await _creator(app)
    old = (await client.get("/api/users/me/stream-key", headers=bearer(token))).json()["stream_key"]
    new = (await client.post("/api/users/me/stream-key/rotate", headers=bearer(token))).json()["stream_key"]
    c = container(app)
    async with c.db.sessionmaker() as session:
        keys = StreamKeyService(StreamKeyRepository(session), StreamKeyCipher(c.settings.secret_key))
        assert str(await keys.resolve(new)) == user["user_id"]
        assert await keys.resolve(old) is None
        assert await keys.resolve("") is None
        assert await keys.resolve("x" * 500) is None


async def test_stream_key_needs_a_user(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/users/me/stream-key"), 401, "INVALID_TOKEN")
    assert_error(await client.post("/api/users/me/stream-key/rotate"), 401, "INVALID_TOKEN")


async def test_create_stream_returns_ingest_and_playback(app: FastAPI, client: httpx.AsyncClient) -> None:
    user, token = await _creator(app)
    body = await _go_live(client, token, "  Speedrun night  ")
    assert body["title"] == "Speedrun night"
    assert body["status"] == "live"
    assert body["media_state"] == "waiting"
    assert body["user_id"] == user["user_id"]
    assert body["ingest"]["stream_key"].startswith("live_")
    assert body["playback"]["hls_url"].endswith(f"/hls/{body['stream_id']}/master.m3u8")
    public = (await client.get(f"/api/streams/{body['stream_id']}")).json()
    assert "ingest" not in public
    assert body["ingest"]["stream_key"] not in str(public)
    assert public["user"]["username"] == user["username"]


async def test_one_live_stream_per_creator(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token = await _creator(app)
    await _go_live(client, token)
    assert_error(
        await client.post("/api/streams", json={"title": "again"}, headers=bearer(token)), 409, "STREAM_ALREADY_LIVE"
    )


async def test_database_refuses_two_live_streams(app: FastAPI) -> None:
    user, _ = await _creator(app)
    async with container(app).db.sessionmaker() as session:
        import uuid

        uid = uuid.UUID(user["user_id"])
        session.add(Stream(user_id=uid, title="a", status="live"))
        await session.flush()
        session.add(Stream(user_id=uid, title="b", status="live"))
        with pytest.raises(IntegrityError):
            await session.flush()


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 256},
        {"title": "ok", "extra": 1},
        {"title": "nul\u0000"},
        {"title": 5},
        {"title": "ok", "description": "d" * 5001},
    ],
)
async def test_create_stream_rejects_bad_input(
    app: FastAPI, client: httpx.AsyncClient, payload: dict[str, Any]
) -> None:
    _, token = await _creator(app)
    assert_error(await client.post("/api/streams", json=payload, headers=bearer(token)), 400, "VALIDATION_ERROR")


async def test_create_stream_needs_a_user(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/api/streams", json={"title": "x"}), 401, "INVALID_TOKEN")


async def test_end_stream_only_by_owner_and_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token = await _creator(app)
    _, other = await _creator(app)
    stream = await _go_live(client, token)
    url = f"/api/streams/{stream['stream_id']}/end"
    assert_error(await client.put(url), 401, "INVALID_TOKEN")
    assert_error(await client.put(url, headers=bearer(other)), 403, "FORBIDDEN")
    ended = await client.put(url, headers=bearer(token))
    assert ended.status_code == 200
    body = ended.json()
    assert body["status"] == "ended"
    assert body["media_state"] == "ended"
    assert body["ended_at"] >= body["started_at"]
    assert body["hls_url"] is None
    assert_error(await client.put(url, headers=bearer(token)), 409, "STREAM_ENDED")
    # Ending frees the creator to go live again.
    await _go_live(client, token, "Second")


async def test_update_stream_title_while_live(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token = await _creator(app)
    _, other = await _creator(app)
    stream = await _go_live(client, token)
    url = f"/api/streams/{stream['stream_id']}"
    assert_error(await client.patch(url, json={"title": "x"}, headers=bearer(other)), 403, "FORBIDDEN")
    assert_error(await client.patch(url, json={}, headers=bearer(token)), 400, "VALIDATION_ERROR")
    changed = await client.patch(
        url, json={"title": "New title", "description": "Now with chat"}, headers=bearer(token)
    )
    assert changed.status_code == 200
    assert (await client.get(url)).json()["title"] == "New title"
    await client.put(f"{url}/end", headers=bearer(token))
    assert_error(await client.patch(url, json={"title": "late"}, headers=bearer(token)), 409, "STREAM_ENDED")


async def test_get_unknown_and_malformed_stream(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/streams/00000000-0000-4000-8000-000000000000"), 404, "STREAM_NOT_FOUND")
    assert_error(await client.get("/api/streams/not-a-uuid"), 400, "VALIDATION_ERROR")


async def test_list_streams_filters_and_paginates(app: FastAPI, client: httpx.AsyncClient) -> None:
    creators = [await _creator(app) for _ in range(3)]
    ids = []
    for _, token in creators:
        ids.append((await _go_live(client, token))["stream_id"])
    await client.put(f"/api/streams/{ids[0]}/end", headers=bearer(creators[0][1]))
    live = (await client.get("/api/streams", params={"status": "live"})).json()
    assert {s["stream_id"] for s in live["items"]} == set(ids[1:])
    ended = (await client.get("/api/streams", params={"status": "ended"})).json()
    assert [s["stream_id"] for s in ended["items"]] == [ids[0]]
    mine = (await client.get("/api/streams", params={"user_id": creators[2][0]["user_id"]})).json()
    assert [s["stream_id"] for s in mine["items"]] == [ids[2]]
    first = (await client.get("/api/streams", params={"limit": 2})).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    rest = (await client.get("/api/streams", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert rest["next_cursor"] is None
    seen = [s["stream_id"] for s in first["items"] + rest["items"]]
    assert sorted(seen) == sorted(ids)
    assert_error(await client.get("/api/streams", params={"status": "paused"}), 400, "VALIDATION_ERROR")
    assert_error(await client.get("/api/streams", params={"cursor": "junk!"}), 400, "INVALID_CURSOR")


async def test_health_is_for_the_owner(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token = await _creator(app)
    _, other = await _creator(app)
    stream = await _go_live(client, token)
    url = f"/api/streams/{stream['stream_id']}/health"
    assert_error(await client.get(url, headers=bearer(other)), 403, "FORBIDDEN")
    health = (await client.get(url, headers=bearer(token))).json()
    assert health["media_state"] == "waiting"
    assert health["ingest"] is None


async def test_hls_origin_serves_live_media_with_cache_headers(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token = await _creator(app)
    stream = await _go_live(client, token)
    sid = stream["stream_id"]
    media: Path = container(app).settings.media_dir / "live" / sid
    (media / "v0").mkdir(parents=True)
    (media / "master.m3u8").write_text("#EXTM3U\n")
    (media / "v0" / "index.m3u8").write_text("#EXTM3U\n#EXTINF:1,\nseg_00001.ts\n")
    (media / "v0" / "seg_00001.ts").write_bytes(b"G" * 188)
    (media.parent / "secret.txt").write_text("nope")
    playlist = await client.get(f"/hls/{sid}/master.m3u8")
    assert playlist.status_code == 200
    assert playlist.headers["cache-control"] == "no-cache"
    assert playlist.headers["access-control-allow-origin"] == "*"
    assert playlist.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    segment = await client.get(f"/hls/{sid}/v0/seg_00001.ts")
    assert segment.status_code == 200
    assert "immutable" in segment.headers["cache-control"]
    assert segment.content == b"G" * 188
    for bad in ("../secret.txt", "v0/../../secret.txt", "%2e%2e/secret.txt", "v0/seg.exe", "a/b/c.ts"):
        response = await client.get(f"/hls/{sid}/{bad}", follow_redirects=True)
        assert response.status_code in (400, 404), bad
        assert "nope" not in response.text
    assert (await client.get(f"/hls/{sid}/v0/missing.ts")).status_code == 404
    assert (await client.get("/hls/00000000-0000-4000-8000-000000000000/master.m3u8")).status_code == 404
    await client.put(f"/api/streams/{sid}/end", headers=bearer(token))
    gone = await client.get(f"/hls/{sid}/master.m3u8")
    assert_error(gone, 404, "MEDIA_NOT_FOUND")
