"""Following, unfollowing, follower counts and the paginated follower/following lists."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from livestream.follows.models import Follow
from tests.api.helpers import assert_error, bearer, container, create_user, quick_user

FOLLOWS = "/api/follows"


async def follow(client: httpx.AsyncClient, token: str, target: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(FOLLOWS, json={"following_id": target["user_id"]}, headers=bearer(token))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def follow_rows(app: FastAPI) -> int:
    async with container(app).db.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(Follow))).scalar_one())


async def insert_follow(app: FastAPI, follower_id: uuid.UUID, following_id: uuid.UUID) -> None:
    """Straight into the database, past the service's checks."""
    async with container(app).db.sessionmaker() as session:
        session.add(Follow(follower_id=follower_id, following_id=following_id))
        await session.commit()


def encode_cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# --- Follow ----------------------------------------------------------------------------------------


async def test_follow(client: httpx.AsyncClient, app: FastAPI) -> None:
    me, token = await quick_user(app, "alice")
    target = await create_user(app, "bob")
    before = datetime.now().astimezone()
    response = await client.post(FOLLOWS, json={"following_id": target["user_id"]}, headers=bearer(token))
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"follow_id", "follower_id", "following_id", "created_at", "notify"}
    assert body["notify"] is True
    assert uuid.UUID(body["follow_id"])
    assert body["follower_id"] == me["user_id"]
    assert body["following_id"] == target["user_id"]
    created = datetime.fromisoformat(body["created_at"])
    assert created.tzinfo is not None
    assert abs((created - before).total_seconds()) < 60
    assert await follow_rows(app) == 1


async def test_cannot_follow_self(client: httpx.AsyncClient, app: FastAPI) -> None:
    me, token = await quick_user(app, "alice")
    response = await client.post(FOLLOWS, json={"following_id": me["user_id"]}, headers=bearer(token))
    assert_error(response, 400, "CANNOT_FOLLOW_SELF")
    assert await follow_rows(app) == 0


async def test_cannot_follow_twice(client: httpx.AsyncClient, app: FastAPI) -> None:
    _me, token = await quick_user(app, "alice")
    target = await create_user(app, "bob")
    first = await follow(client, token, target)
    response = await client.post(FOLLOWS, json={"following_id": target["user_id"]}, headers=bearer(token))
    assert_error(response, 409, "ALREADY_FOLLOWING")
    assert await follow_rows(app) == 1
    listed = (await client.get(f"/api/users/{target['user_id']}/followers")).json()["items"]
    assert [item["follow_id"] for item in listed] == [first["follow_id"]]


async def test_follow_unknown_user(client: httpx.AsyncClient, app: FastAPI) -> None:
    _me, token = await quick_user(app, "alice")
    response = await client.post(FOLLOWS, json={"following_id": str(uuid.uuid4())}, headers=bearer(token))
    assert_error(response, 404, "USER_NOT_FOUND")
    assert await follow_rows(app) == 0


async def test_follow_needs_a_token(client: httpx.AsyncClient, app: FastAPI) -> None:
    target = await create_user(app, "bob")
    response = await client.post(FOLLOWS, json={"following_id": target["user_id"]})
    assert_error(response, 401, "INVALID_TOKEN")
    assert response.headers["www-authenticate"] == "Bearer"
    response = await client.post(FOLLOWS, json={"following_id": target["user_id"]}, headers=bearer("x.y.z"))
    assert_error(response, 401, "INVALID_TOKEN")
    assert await follow_rows(app) == 0


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"following_id": "not-a-uuid"},
        {"following_id": 42},
        {"following_id": None},
        {"following_id": "{id}", "follower_id": "{id}"},  # an unknown field (no following on someone's behalf)
    ],
)
async def test_follow_refuses_invalid_bodies(client: httpx.AsyncClient, app: FastAPI, payload: dict[str, Any]) -> None:
    _me, token = await quick_user(app, "alice")
    target = await create_user(app, "bob")
    payload = {k: (v.format(id=target["user_id"]) if isinstance(v, str) else v) for k, v in payload.items()}
    assert_error(await client.post(FOLLOWS, json=payload, headers=bearer(token)), 400, "VALIDATION_ERROR")
    assert await follow_rows(app) == 0


async def test_follow_refuses_malformed_json(client: httpx.AsyncClient, app: FastAPI) -> None:
    _me, token = await quick_user(app, "alice")
    response = await client.post(
        FOLLOWS, content=b'{"following_id": ', headers={**bearer(token), "Content-Type": "application/json"}
    )
    assert_error(response, 400, "INVALID_JSON")


async def test_database_refuses_self_follow_and_duplicate_pairs(app: FastAPI) -> None:
    alice = uuid.UUID((await create_user(app, "alice"))["user_id"])
    bob = uuid.UUID((await create_user(app, "bob"))["user_id"])
    with pytest.raises(IntegrityError):
        await insert_follow(app, alice, alice)
    await insert_follow(app, alice, bob)
    with pytest.raises(IntegrityError):
        await insert_follow(app, alice, bob)
    with pytest.raises(IntegrityError):  # the foreign keys hold too
        await insert_follow(app, alice, uuid.uuid4())
    assert await follow_rows(app) == 1


# --- Unfollow --------------------------------------------------------------------------------------


async def test_unfollow(client: httpx.AsyncClient, app: FastAPI) -> None:
    _me, token = await quick_user(app, "alice")
    target = await create_user(app, "bob")
    created = await follow(client, token, target)
    response = await client.delete(f"{FOLLOWS}/{created['follow_id']}", headers=bearer(token))
    assert response.status_code == 204
    assert response.content == b""
    assert await follow_rows(app) == 0
    again = await client.delete(f"{FOLLOWS}/{created['follow_id']}", headers=bearer(token))
    assert_error(again, 404, "FOLLOW_NOT_FOUND")
    # Following again after an unfollow works and is a new follow.
    assert (await follow(client, token, target))["follow_id"] != created["follow_id"]


async def test_only_the_follower_can_unfollow(client: httpx.AsyncClient, app: FastAPI) -> None:
    _me, token = await quick_user(app, "alice")
    target, target_token = await quick_user(app, "bob")
    _stranger, stranger_token = await quick_user(app, "mallory")
    created = await follow(client, token, target)
    for other in (stranger_token, target_token):  # not even the one being followed
        response = await client.delete(f"{FOLLOWS}/{created['follow_id']}", headers=bearer(other))
        assert_error(response, 403, "FORBIDDEN")
    assert await follow_rows(app) == 1


async def test_unfollow_unknown_or_malformed(client: httpx.AsyncClient, app: FastAPI) -> None:
    _me, token = await quick_user(app, "alice")
    assert_error(await client.delete(f"{FOLLOWS}/{uuid.uuid4()}", headers=bearer(token)), 404, "FOLLOW_NOT_FOUND")
    body = assert_error(await client.delete(f"{FOLLOWS}/not-a-uuid", headers=bearer(token)), 400, "VALIDATION_ERROR")
    assert "follow_id" in body["fields"]


async def test_unfollow_needs_a_token(client: httpx.AsyncClient, app: FastAPI) -> None:
    _me, token = await quick_user(app, "alice")
    target = await create_user(app, "bob")
    created = await follow(client, token, target)
    assert_error(await client.delete(f"{FOLLOWS}/{created['follow_id']}"), 401, "INVALID_TOKEN")
    assert await follow_rows(app) == 1


# --- Counts and viewer_follow_id ---------------------------------------------------------------------


async def test_profile_counts_and_viewer_follow_id(client: httpx.AsyncClient, app: FastAPI) -> None:
    alice, alice_token = await quick_user(app, "alice")
    bob, bob_token = await quick_user(app, "bob")
    _carol, carol_token = await quick_user(app, "carol")

    async def bob_as_seen_by(token: str | None) -> dict[str, Any]:
        response = await client.get(f"/api/users/{bob['user_id']}", headers=bearer(token) if token else {})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    assert (await bob_as_seen_by(alice_token))["viewer_follow_id"] is None
    by_alice = await follow(client, alice_token, bob)
    await follow(client, carol_token, bob)
    await follow(client, bob_token, alice)

    seen = await bob_as_seen_by(alice_token)
    assert seen["follower_count"] == 2
    assert seen["following_count"] == 1
    assert seen["viewer_follow_id"] == by_alice["follow_id"]
    assert (await bob_as_seen_by(None))["viewer_follow_id"] is None
    assert (await bob_as_seen_by(bob_token))["viewer_follow_id"] is None  # one's own profile
    by_name = await client.get("/api/users/by-username/bob", headers=bearer(alice_token))
    assert by_name.json()["viewer_follow_id"] == by_alice["follow_id"]

    me = (await client.get("/api/users/me", headers=bearer(alice_token))).json()
    assert me["follower_count"] == 1
    assert me["following_count"] == 1

    assert (await client.delete(f"{FOLLOWS}/{by_alice['follow_id']}", headers=bearer(alice_token))).status_code == 204
    seen = await bob_as_seen_by(alice_token)
    assert seen["follower_count"] == 1
    assert seen["viewer_follow_id"] is None
    me = (await client.get("/api/users/me", headers=bearer(alice_token))).json()
    assert me["follower_count"] == 1
    assert me["following_count"] == 0


async def test_profile_shows_the_viewer_whether_their_follow_notifies_them(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """The follow button's bell after a reload: the profile says whether the viewer muted the creator."""
    _alice, alice_token = await quick_user(app, "alice")
    bob, bob_token = await quick_user(app, "bob")
    _carol, carol_token = await quick_user(app, "carol")
    urls = (f"/api/users/{bob['user_id']}", "/api/users/by-username/BOB")

    async def notify_seen_by(token: str | None) -> list[Any]:
        seen = []
        for url in urls:
            response = await client.get(url, headers=bearer(token) if token else {})
            assert response.status_code == 200, response.text
            seen.append(response.json()["viewer_follow_notify"])
        return seen

    assert await notify_seen_by(alice_token) == [None, None]  # not following
    by_alice = await follow(client, alice_token, bob)
    await follow(client, carol_token, bob)
    assert await notify_seen_by(alice_token) == [True, True]

    muted = await client.put(f"{FOLLOWS}/{by_alice['follow_id']}", json={"notify": False}, headers=bearer(alice_token))
    assert muted.status_code == 200, muted.text
    assert await notify_seen_by(alice_token) == [False, False]
    # Only the viewer's own follow: carol's is still on, and anyone signed out (or bob himself) sees null.
    assert await notify_seen_by(carol_token) == [True, True]
    assert await notify_seen_by(None) == [None, None]
    assert await notify_seen_by(bob_token) == [None, None]
    # Someone else cannot unmute alice's follow, and a bad body changes nothing.
    other = await client.put(f"{FOLLOWS}/{by_alice['follow_id']}", json={"notify": True}, headers=bearer(carol_token))
    assert other.status_code in (403, 404), other.text
    bad = await client.put(f"{FOLLOWS}/{by_alice['follow_id']}", json={"notify": "yes"}, headers=bearer(alice_token))
    assert_error(bad, 400, "VALIDATION_ERROR")
    assert await notify_seen_by(alice_token) == [False, False]

    unmuted = await client.put(f"{FOLLOWS}/{by_alice['follow_id']}", json={"notify": True}, headers=bearer(alice_token))
    assert unmuted.status_code == 200
    assert await notify_seen_by(alice_token) == [True, True]
    unfollowed = await client.delete(f"{FOLLOWS}/{by_alice['follow_id']}", headers=bearer(alice_token))
    assert unfollowed.status_code == 204
    assert await notify_seen_by(alice_token) == [None, None]


# --- Lists -----------------------------------------------------------------------------------------


async def walk(client: httpx.AsyncClient, path: str, limit: int) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(path, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"}
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 10, "pagination does not end"


async def test_followers_and_following_pages(client: httpx.AsyncClient, app: FastAPI) -> None:
    hub, hub_token = await quick_user(app, "hub")
    others = [await quick_user(app, f"fan{i}") for i in range(5)]
    follower_ids: list[str] = []
    following_ids: list[str] = []
    for other, token in others:  # interleaved, so the lists are not just the same order of creation
        follower_ids.append((await follow(client, token, hub))["follow_id"])
        following_ids.append((await follow(client, hub_token, other))["follow_id"])

    for direction, expected, expected_users in (
        ("followers", follower_ids, [o["user_id"] for o, _ in others]),
        ("following", following_ids, [o["user_id"] for o, _ in others]),
    ):
        pages = await walk(client, f"/api/users/{hub['user_id']}/{direction}", limit=2)
        assert [len(p) for p in pages] == [2, 2, 1]
        items = [item for page in pages for item in page]
        assert [item["follow_id"] for item in items] == expected[::-1]  # newest first, none missing or twice
        assert [item["user"]["user_id"] for item in items] == expected_users[::-1]
        for item in items:
            assert set(item) == {"follow_id", "user", "followed_at"}
            assert set(item["user"]) == {"user_id", "username", "display_name", "bio", "created_at"}
        stamps = [datetime.fromisoformat(item["followed_at"]) for item in items]
        assert stamps == sorted(stamps, reverse=True)

        everything = await client.get(f"/api/users/{hub['user_id']}/{direction}", params={"limit": 100})
        assert [i["follow_id"] for i in everything.json()["items"]] == expected[::-1]
        assert everything.json()["next_cursor"] is None
        exact = await client.get(f"/api/users/{hub['user_id']}/{direction}", params={"limit": 5})
        assert len(exact.json()["items"]) == 5
        assert exact.json()["next_cursor"] is None

    assert "example.com" not in (await client.get(f"/api/users/{hub['user_id']}/followers")).text


async def test_empty_lists(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await create_user(app, "loner")
    for direction in ("followers", "following"):
        response = await client.get(f"/api/users/{user['user_id']}/{direction}")
        assert response.status_code == 200
        assert response.json() == {"items": [], "next_cursor": None}


async def test_default_page_size_is_20(client: httpx.AsyncClient, app: FastAPI) -> None:
    hub = uuid.UUID((await create_user(app, "hub"))["user_id"])
    async with container(app).db.sessionmaker() as session:
        for i in range(21):
            fan = uuid.UUID((await create_user(app, f"fan{i}"))["user_id"])
            session.add(Follow(follower_id=fan, following_id=hub))
        await session.commit()
    body = (await client.get(f"/api/users/{hub}/followers")).json()
    assert len(body["items"]) == 20
    assert body["next_cursor"] is not None
    rest = (await client.get(f"/api/users/{hub}/followers", params={"cursor": body["next_cursor"]})).json()
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    assert not {i["follow_id"] for i in body["items"]} & {i["follow_id"] for i in rest["items"]}


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1", "1.5", ""])
async def test_bad_limits(client: httpx.AsyncClient, app: FastAPI, limit: str) -> None:
    user = await create_user(app, "alice")
    for direction in ("followers", "following"):
        response = await client.get(f"/api/users/{user['user_id']}/{direction}", params={"limit": limit})
        body = assert_error(response, 400, "VALIDATION_ERROR")
        assert "limit" in body["fields"]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "AAAA",
        encode_cursor("no separator"),
        encode_cursor(f"not a date|{uuid.UUID(int=1)}"),
        encode_cursor("2026-01-01T00:00:00+00:00|not-a-uuid"),
        encode_cursor(f"2026-01-01T00:00:00|{uuid.UUID(int=2)}"),  # no time zone
        base64.urlsafe_b64encode(b"\xff\xfe\xfd|x").decode(),
        "ÿÿÿÿ",
    ],
)
async def test_invalid_cursor(client: httpx.AsyncClient, app: FastAPI, cursor: str) -> None:
    user = await create_user(app, "alice")
    for direction in ("followers", "following"):
        response = await client.get(f"/api/users/{user['user_id']}/{direction}", params={"cursor": cursor})
        assert_error(response, 400, "INVALID_CURSOR")


async def test_overlong_cursor(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await create_user(app, "alice")
    response = await client.get(f"/api/users/{user['user_id']}/followers", params={"cursor": "A" * 201})
    assert_error(response, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_cursor_at_the_edge_of_time_is_refused(app: FastAPI, stamp: str) -> None:
    """Regression: such a cursor used to decode, then overflow in UTCDateTime.process_bind_param (a 500)."""
    user = await create_user(app, "alice")
    cursor = encode_cursor(f"{stamp}|{uuid.uuid4()}")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get(f"/api/users/{user['user_id']}/followers", params={"cursor": cursor})
    assert_error(response, 400, "INVALID_CURSOR")


@pytest.mark.parametrize("direction", ["followers", "following"])
async def test_lists_of_unknown_or_malformed_users(client: httpx.AsyncClient, direction: str) -> None:
    assert_error(await client.get(f"/api/users/{uuid.uuid4()}/{direction}"), 404, "USER_NOT_FOUND")
    assert_error(await client.get(f"/api/users/not-a-uuid/{direction}"), 400, "VALIDATION_ERROR")


async def test_unfollowed_users_leave_the_lists(client: httpx.AsyncClient, app: FastAPI) -> None:
    hub = await create_user(app, "hub")
    _fan, token = await quick_user(app, "fan")
    created = await follow(client, token, hub)
    assert len((await client.get(f"/api/users/{hub['user_id']}/followers")).json()["items"]) == 1
    assert (await client.delete(f"{FOLLOWS}/{created['follow_id']}", headers=bearer(token))).status_code == 204
    assert (await client.get(f"/api/users/{hub['user_id']}/followers")).json()["items"] == []
