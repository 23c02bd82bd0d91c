"""Profiles (public and private) and account changes."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from livestream.users.models import User
from tests.api.helpers import (
    PASSWORD,
    USE_REDIS,
    access_token,
    another_client,
    assert_error,
    bearer,
    container,
    create_user,
    quick_user,
)

PUBLIC_KEYS = {
    "user_id",
    "username",
    "display_name",
    "bio",
    "created_at",
    "follower_count",
    "following_count",
    "viewer_follow_id",
    "viewer_follow_notify",
}
PRIVATE_KEYS = PUBLIC_KEYS | {"email", "email_verified", "updated_at"}
NEW_PASSWORD = "a brand new passphrase"


def url(user: dict[str, Any] | str) -> str:
    return f"/api/users/{user['user_id'] if isinstance(user, dict) else user}"


async def put(client: httpx.AsyncClient, token: str, user: dict[str, Any] | str, **changes: Any) -> httpx.Response:
    return await client.put(url(user), json=changes, headers=bearer(token))


async def login_status(client: httpx.AsyncClient, login: str, password: str) -> int:
    return (await client.post("/api/auth/login", json={"login": login, "password": password})).status_code


async def profile(client: httpx.AsyncClient, user: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(url(user))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- Reading -----------------------------------------------------------------------------------------


async def test_public_profile_has_no_email(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await create_user(app, "alice")
    response = await client.get(url(user))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == PUBLIC_KEYS
    assert body["user_id"] == user["user_id"]
    assert body["username"] == "alice"
    assert body["viewer_follow_id"] is None
    assert body["viewer_follow_notify"] is None
    assert "alice@example.com" not in response.text
    assert "argon2" not in response.text


async def test_public_profile_is_the_same_for_a_signed_in_stranger(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await create_user(app, "alice")
    _viewer, token = await quick_user(app, "bob")
    response = await client.get(url(user), headers=bearer(token))
    assert response.status_code == 200
    assert set(response.json()) == PUBLIC_KEYS
    assert "alice@example.com" not in response.text


async def test_me_is_the_private_profile(client: httpx.AsyncClient, app: FastAPI) -> None:
    user, token = await quick_user(app, "alice")
    response = await client.get("/api/users/me", headers=bearer(token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == PRIVATE_KEYS
    assert body["user_id"] == user["user_id"]
    assert body["email"] == "alice@example.com"
    assert "argon2" not in response.text


async def test_me_requires_a_token(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/users/me"), 401, "INVALID_TOKEN")


@pytest.mark.parametrize("spelling", ["alice", "ALICE", "aLiCe"])
async def test_get_by_username_in_any_case(client: httpx.AsyncClient, app: FastAPI, spelling: str) -> None:
    user = await create_user(app, "Alice")
    response = await client.get(f"/api/users/by-username/{spelling}")
    assert response.status_code == 200, response.text
    assert set(response.json()) == PUBLIC_KEYS
    assert response.json()["user_id"] == user["user_id"]
    assert response.json()["username"] == "Alice"


async def test_get_by_username_unknown_or_too_long(client: httpx.AsyncClient, app: FastAPI) -> None:
    await create_user(app, "alice")
    assert_error(await client.get("/api/users/by-username/nobody"), 404, "USER_NOT_FOUND")
    assert_error(await client.get("/api/users/by-username/alic"), 404, "USER_NOT_FOUND")
    body = assert_error(await client.get("/api/users/by-username/" + "a" * 51), 400, "VALIDATION_ERROR")
    assert "username" in body["fields"]


async def test_get_unknown_user(client: httpx.AsyncClient) -> None:
    assert_error(await client.get(url(str(uuid.uuid4()))), 404, "USER_NOT_FOUND")


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "00000000-0000-0000-0000-00000000000g"])
async def test_get_user_with_a_malformed_id(client: httpx.AsyncClient, bad_id: str) -> None:
    body = assert_error(await client.get(url(bad_id)), 400, "VALIDATION_ERROR")
    assert "user_id" in body["fields"]


# --- Updating: who may ---------------------------------------------------------------------------------


async def test_update_requires_a_token(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await create_user(app, "alice")
    response = await client.put(url(user), json={"display_name": "Hacked"})
    assert_error(response, 401, "INVALID_TOKEN")
    assert response.headers["www-authenticate"] == "Bearer"
    assert_error(
        await client.put(url(user), json={"display_name": "Hacked"}, headers=bearer("nope")), 401, "INVALID_TOKEN"
    )
    assert (await profile(client, user))["display_name"] is None


async def test_update_of_another_user_is_forbidden(client: httpx.AsyncClient, app: FastAPI) -> None:
    victim = await create_user(app, "alice")
    _attacker, token = await quick_user(app, "mallory")
    assert_error(await put(client, token, victim, display_name="Hacked", bio="pwned"), 403, "FORBIDDEN")
    assert_error(
        await put(client, token, victim, email="mallory2@example.com", current_password=PASSWORD), 403, "FORBIDDEN"
    )
    assert_error(await put(client, token, victim, password=NEW_PASSWORD, current_password=PASSWORD), 403, "FORBIDDEN")
    after = await profile(client, victim)
    assert after["display_name"] is None
    assert after["bio"] is None
    assert await login_status(client, "alice", PASSWORD) == 200


async def test_update_of_an_unknown_user(client: httpx.AsyncClient, app: FastAPI) -> None:
    _user, token = await quick_user(app, "alice")
    assert_error(await put(client, token, str(uuid.uuid4()), display_name="X"), 404, "USER_NOT_FOUND")


@pytest.mark.parametrize("bad_id", ["me", "not-a-uuid", "1"])
async def test_update_with_a_malformed_id(client: httpx.AsyncClient, app: FastAPI, bad_id: str) -> None:
    _user, token = await quick_user(app, "alice")
    body = assert_error(await put(client, token, bad_id, display_name="X"), 400, "VALIDATION_ERROR")
    assert "user_id" in body["fields"]


# --- Updating: profile fields ----------------------------------------------------------------------------


async def test_update_display_name_and_bio(client: httpx.AsyncClient, app: FastAPI) -> None:
    user, token = await quick_user(app, "alice")
    before = (await client.get("/api/users/me", headers=bearer(token))).json()
    response = await put(client, token, user, display_name="  Alice A.  ", bio="I stream chess.")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == PRIVATE_KEYS
    assert body["display_name"] == "Alice A."  # surrounding whitespace is trimmed
    assert body["bio"] == "I stream chess."
    assert body["updated_at"] > before["updated_at"]
    public = await profile(client, user)
    assert public["display_name"] == "Alice A."
    assert public["bio"] == "I stream chess."

    cleared = await put(client, token, user, display_name="", bio="   ")
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["display_name"] is None
    assert cleared.json()["bio"] is None

    unchanged = await put(client, token, user)  # an empty change is allowed and changes nothing
    assert unchanged.status_code == 200
    assert unchanged.json()["username"] == "alice"
    assert unchanged.json()["email"] == "alice@example.com"


async def test_bio_and_display_name_limits(client: httpx.AsyncClient, app: FastAPI) -> None:
    user, token = await quick_user(app, "alice")
    assert (await put(client, token, user, bio="b" * 1000, display_name="d" * 100)).status_code == 200
    body = assert_error(await put(client, token, user, bio="b" * 1001), 400, "VALIDATION_ERROR")
    assert "bio" in body["fields"]
    body = assert_error(await put(client, token, user, display_name="d" * 101), 400, "VALIDATION_ERROR")
    assert "display_name" in body["fields"]
    assert (await profile(client, user))["bio"] == "b" * 1000


@pytest.mark.parametrize(
    "changes",
    [
        {"password_hash": "x"},
        {"user_id": str(uuid.uuid4())},
        {"is_admin": True},
        {"bio": 42},
        {"display_name": ["x"]},
    ],
)
async def test_update_refuses_unknown_or_mistyped_fields(
    client: httpx.AsyncClient, app: FastAPI, changes: dict[str, Any]
) -> None:
    user, token = await quick_user(app, "alice")
    body = assert_error(await put(client, token, user, **changes), 400, "VALIDATION_ERROR")
    assert set(changes) <= set(body["fields"])


@pytest.mark.parametrize(
    ("content", "content_type", "code"),
    [
        (b'{"bio": ', "application/json", "INVALID_JSON"),
        (b"[]", "application/json", "VALIDATION_ERROR"),
        (b'{"bio": "x"}', "text/plain", "VALIDATION_ERROR"),
    ],
)
async def test_update_refuses_bodies_that_are_not_a_json_object(
    client: httpx.AsyncClient, app: FastAPI, content: bytes, content_type: str, code: str
) -> None:
    user, token = await quick_user(app, "alice")
    response = await client.put(url(user), content=content, headers={**bearer(token), "Content-Type": content_type})
    assert_error(response, 400, code)


# --- Updating: username --------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["bio", "display_name"])
async def test_update_refuses_nul_characters(client: httpx.AsyncClient, app: FastAPI, field: str) -> None:
    """PostgreSQL text cannot hold U+0000: a 400 on both databases, never a 500."""
    user, token = await quick_user(app, "alice")
    body = assert_error(await put(client, token, user, **{field: "before\x00after"}), 400, "VALIDATION_ERROR")
    assert field in body["fields"]
    body = assert_error(
        await put(client, token, user, password="new\x00passphrase", current_password=PASSWORD), 400, "VALIDATION_ERROR"
    )
    assert "password" in body["fields"]


async def test_get_by_username_with_characters_no_username_has(client: httpx.AsyncClient, app: FastAPI) -> None:
    await create_user(app, "alice")
    for path in ("ali%00ce", "alice%20", "al-ice", "%C3%A9lise"):
        response = await client.get(f"/api/users/by-username/{path}")
        assert response.status_code in (400, 404), response.text
        assert response.json()["code"] in ("VALIDATION_ERROR", "USER_NOT_FOUND")


async def test_change_username(client: httpx.AsyncClient, app: FastAPI) -> None:
    user, token = await quick_user(app, "alice")
    response = await put(client, token, user, username="alice_streams")
    assert response.status_code == 200, response.text
    assert response.json()["username"] == "alice_streams"
    assert (await client.get("/api/users/by-username/alice_streams")).json()["user_id"] == user["user_id"]
    assert_error(await client.get("/api/users/by-username/alice"), 404, "USER_NOT_FOUND")
    assert await login_status(client, "alice_streams", PASSWORD) == 200
    # Changing only the case of one's own name is not a conflict.
    assert (await put(client, token, user, username="Alice_Streams")).json()["username"] == "Alice_Streams"


@pytest.mark.parametrize("taken", ["bob", "BOB", "Bob"])
async def test_change_username_to_a_taken_one(client: httpx.AsyncClient, app: FastAPI, taken: str) -> None:
    user, token = await quick_user(app, "alice")
    await create_user(app, "bob")
    assert_error(await put(client, token, user, username=taken, display_name="Changed"), 409, "USERNAME_TAKEN")
    after = await profile(client, user)
    assert after["username"] == "alice"
    assert after["display_name"] is None  # the whole change was rolled back


@pytest.mark.parametrize("username", ["ab", "a" * 51, "bad-name", "józef", ""])
async def test_change_username_to_an_invalid_one(client: httpx.AsyncClient, app: FastAPI, username: str) -> None:
    user, token = await quick_user(app, "alice")
    body = assert_error(await put(client, token, user, username=username), 400, "VALIDATION_ERROR")
    assert "username" in body["fields"]


# --- Updating: email -----------------------------------------------------------------------------------


async def test_change_email_needs_the_current_password(client: httpx.AsyncClient, app: FastAPI) -> None:
    user, token = await quick_user(app, "alice")
    assert_error(await put(client, token, user, email="new@example.com"), 400, "CURRENT_PASSWORD_REQUIRED")
    assert_error(
        await put(client, token, user, email="new@example.com", current_password=""), 400, "CURRENT_PASSWORD_REQUIRED"
    )
    assert_error(
        await put(client, token, user, email="new@example.com", current_password="wrong password"),
        403,
        "WRONG_PASSWORD",
    )
    me = (await client.get("/api/users/me", headers=bearer(token))).json()
    assert me["email"] == "alice@example.com"

    response = await put(client, token, user, email="New.Address@Example.COM", current_password=PASSWORD)
    assert response.status_code == 200, response.text
    assert response.json()["email"] == "new.address@example.com"
    assert await login_status(client, "new.address@example.com", PASSWORD) == 200
    assert await login_status(client, "alice@example.com", PASSWORD) == 401


async def test_same_email_in_another_case_needs_no_password(client: httpx.AsyncClient, app: FastAPI) -> None:
    user, token = await quick_user(app, "alice")
    response = await put(client, token, user, email="ALICE@example.com")
    assert response.status_code == 200, response.text
    assert response.json()["email"] == "alice@example.com"


@pytest.mark.parametrize("taken", ["bob@example.com", "BOB@Example.com"])
async def test_change_email_to_a_taken_one(client: httpx.AsyncClient, app: FastAPI, taken: str) -> None:
    user, token = await quick_user(app, "alice")
    await create_user(app, "bob")
    assert_error(await put(client, token, user, email=taken, current_password=PASSWORD), 409, "EMAIL_TAKEN")
    assert (await client.get("/api/users/me", headers=bearer(token))).json()["email"] == "alice@example.com"


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", ""])
async def test_change_email_to_an_invalid_one(client: httpx.AsyncClient, app: FastAPI, email: str) -> None:
    user, token = await quick_user(app, "alice")
    body = assert_error(await put(client, token, user, email=email, current_password=PASSWORD), 400, "VALIDATION_ERROR")
    assert "email" in body["fields"]


# --- Updating: guessing the current password --------------------------------------------------------


def backends(**limits: int) -> list[Any]:
    return [
        pytest.param(limits, id="memory"),
        pytest.param({"redis_url": USE_REDIS, **limits}, id="redis", marks=pytest.mark.redis),
    ]


def assert_rate_limited(response: httpx.Response, window: int) -> None:
    body = assert_error(response, 429, "RATE_LIMITED")
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= window
    assert body["retry_after"] == retry_after


# Regression: with a stolen access token, current_password could be guessed without limit (15 wrong, then the
# right one, and the email was changed). Wrong guesses now count like failed sign-ins (10 per 15 minutes).
@pytest.mark.parametrize("settings_overrides", backends(), indirect=True)
async def test_current_password_guesses_are_limited(client: httpx.AsyncClient, app: FastAPI) -> None:
    user, token = await quick_user(app, "alice")
    statuses = []
    for i in range(15):
        response = await put(client, token, user, email="thief@example.com", current_password=f"guess {i}")
        statuses.append(response.status_code)
        if i >= 10:
            assert_rate_limited(response, 900)
    assert statuses == [403] * 10 + [429] * 5
    # Past the limit the right password is refused too, for a password change as for an email change.
    assert_rate_limited(await put(client, token, user, email="thief@example.com", current_password=PASSWORD), 900)
    assert_rate_limited(await put(client, token, user, password=NEW_PASSWORD, current_password=PASSWORD), 900)
    me = (await client.get("/api/users/me", headers=bearer(token))).json()
    assert me["email"] == "alice@example.com"
    # Changes that need no password go on, and the owner can still sign in (the thief cannot lock them out).
    assert (await put(client, token, user, bio="still mine")).status_code == 200
    assert await login_status(client, "alice", PASSWORD) == 200


@pytest.mark.parametrize(
    "settings_overrides", backends(login_max_failures_per_account=3, login_lockout_seconds=1), indirect=True
)
async def test_current_password_lock_ends_with_the_window(client: httpx.AsyncClient, app: FastAPI) -> None:
    user, token = await quick_user(app, "alice")
    other, other_token = await quick_user(app, "bob")
    for i in range(3):
        assert_error(
            await put(client, token, user, email="a1@example.com", current_password=f"no {i}"), 403, "WRONG_PASSWORD"
        )
    assert_rate_limited(await put(client, token, user, email="a1@example.com", current_password=PASSWORD), 1)
    # Per account: another account's checks are not affected.
    assert (await put(client, other_token, other, email="b1@example.com", current_password=PASSWORD)).status_code == 200
    await asyncio.sleep(1.2)
    response = await put(client, token, user, email="a1@example.com", current_password=PASSWORD)
    assert response.status_code == 200, response.text
    assert response.json()["email"] == "a1@example.com"
    # The success started the count afresh.
    for i in range(3):
        assert_error(
            await put(client, token, user, email="a2@example.com", current_password=f"no {i}"), 403, "WRONG_PASSWORD"
        )
    assert_rate_limited(await put(client, token, user, email="a2@example.com", current_password=f"no {i}"), 1)


# --- Updating: password --------------------------------------------------------------------------------


async def test_change_password_needs_the_current_password(client: httpx.AsyncClient, app: FastAPI) -> None:
    user, token = await quick_user(app, "alice")
    assert_error(await put(client, token, user, password=NEW_PASSWORD), 400, "CURRENT_PASSWORD_REQUIRED")
    assert_error(
        await put(client, token, user, password=NEW_PASSWORD, current_password="wrong password"), 403, "WRONG_PASSWORD"
    )
    assert await login_status(client, "alice", PASSWORD) == 200
    assert await login_status(client, "alice", NEW_PASSWORD) == 401


async def test_change_password(client: httpx.AsyncClient, app: FastAPI) -> None:
    user, token = await quick_user(app, "alice")
    response = await put(client, token, user, password=NEW_PASSWORD, current_password=PASSWORD)
    assert response.status_code == 200, response.text
    assert set(response.json()) == PRIVATE_KEYS
    assert NEW_PASSWORD not in response.text
    assert await login_status(client, "alice", PASSWORD) == 401
    assert await login_status(client, "alice", NEW_PASSWORD) == 200


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("password123", "WEAK_PASSWORD"),
        ("QWERTYUIOP", "WEAK_PASSWORD"),
        ("Alice_Streams", "WEAK_PASSWORD"),  # the username
        ("short", "VALIDATION_ERROR"),
        ("x" * 129, "VALIDATION_ERROR"),
    ],
)
async def test_change_to_a_weak_or_invalid_password(
    client: httpx.AsyncClient, app: FastAPI, password: str, code: str
) -> None:
    user = await create_user(app, "alice_streams")
    token = await access_token(app, user)
    response = await put(client, token, user, password=password, current_password=PASSWORD, bio="changed")
    assert_error(response, 400, code)
    assert (await profile(client, user))["bio"] is None
    assert await login_status(client, "alice_streams", PASSWORD) == 200


async def _browser_session(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/auth/login", json={"login": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.text
    assert "ls_refresh" in client.cookies
    token: str = response.json()["access_token"]
    return token


async def test_password_change_ends_other_sessions(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await create_user(app, "alice")
    token = await _browser_session(client)
    async with another_client(app) as laptop, another_client(app) as phone:
        await _browser_session(laptop)
        await _browser_session(phone)
        response = await put(client, token, user, password=NEW_PASSWORD, current_password=PASSWORD)
        assert response.status_code == 200, response.text
        assert_error(await laptop.post("/api/auth/refresh"), 401, "INVALID_REFRESH_TOKEN")
        assert_error(await phone.post("/api/auth/refresh"), 401, "INVALID_REFRESH_TOKEN")


async def test_password_change_ends_other_sessions_access_tokens_at_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    user = await create_user(app, "alice")
    token = await _browser_session(client)
    async with another_client(app) as laptop:
        laptop_token = await _browser_session(laptop)
        assert (await laptop.get("/api/users/me", headers=bearer(laptop_token))).status_code == 200
        response = await put(client, token, user, password=NEW_PASSWORD, current_password=PASSWORD)
        assert response.status_code == 200, response.text
        assert_error(await laptop.get("/api/users/me", headers=bearer(laptop_token)), 401, "INVALID_TOKEN")
    assert (await client.get("/api/users/me", headers=bearer(token))).status_code == 200


async def test_profile_change_does_not_end_sessions(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await create_user(app, "alice")
    token = await _browser_session(client)
    async with another_client(app) as laptop:
        await _browser_session(laptop)
        assert (await put(client, token, user, bio="new bio")).status_code == 200
        assert (await laptop.post("/api/auth/refresh")).status_code == 200
        assert (await client.post("/api/auth/refresh")).status_code == 200


# Regression: the session to keep was looked up from the ls_refresh cookie, which (Path=/api/auth) never
# reaches PUT /api/users/{id}, so a password change used to end the current session too.
async def test_password_change_keeps_the_current_session(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await create_user(app, "alice")
    token = await _browser_session(client)
    async with another_client(app) as laptop:
        await _browser_session(laptop)
        response = await put(client, token, user, password=NEW_PASSWORD, current_password=PASSWORD)
        assert response.status_code == 200, response.text
        assert_error(await laptop.post("/api/auth/refresh"), 401, "INVALID_REFRESH_TOKEN")
        assert (await client.post("/api/auth/refresh")).status_code == 200


async def test_updated_row_keeps_no_plain_password(client: httpx.AsyncClient, app: FastAPI) -> None:
    user, token = await quick_user(app, "alice")
    assert (await put(client, token, user, password=NEW_PASSWORD, current_password=PASSWORD)).status_code == 200
    async with container(app).db.sessionmaker() as session:
        row = await session.get(User, uuid.UUID(user["user_id"]))
        assert row is not None
        assert row.password_hash.startswith("$argon2id$")
        assert NEW_PASSWORD not in row.password_hash
