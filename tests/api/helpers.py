"""Small steps many API tests take."""

from __future__ import annotations

import functools
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import redis
from argon2 import PasswordHasher

from livestream import security
from livestream.app.container import Container
from livestream.users.models import User

PASSWORD = "correct horse battery"
_counter = itertools.count()


async def register(
    client: httpx.AsyncClient, username: str | None = None, *, email: str | None = None, password: str = PASSWORD
) -> dict[str, Any]:
    username = username or f"user{next(_counter)}"
    response = await client.post(
        "/api/auth/register",
        json={"username": username, "email": email or f"{username}@example.com", "password": password},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def login(client: httpx.AsyncClient, login: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/api/auth/login", json={"login": login, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def signed_up(client: httpx.AsyncClient, username: str | None = None) -> tuple[dict[str, Any], str]:
    """Register and log in; returns the user and a bearer token."""
    user = await register(client, username)
    token = (await login(client, user["username"]))["access_token"]
    return user, token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["error"], str)
    assert body["error"]
    return body


# --- Cheaper set-up ---------------------------------------------------------------------------------
# The production Argon2 parameters cost 0.2 s or more per hash or verification on a busy machine. Tests
# swap in cheap Argon2 parameters (still argon2id, still verified) unless they ask for ``real_argon2``;
# the ones about timing and hash upgrades do. Tests that are not about registration create users straight
# in the database (with one precomputed hash of PASSWORD) and get their tokens from a real sign-in.

USE_REDIS = "<redis fixture>"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def use_fast_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """For an autouse fixture: cheap Argon2 unless the test requests the ``real_argon2`` fixture.

    The app's hashing threads read ``security._hasher`` at each computation (its dummy hash for unknown names
    follows the parameters in force), so swapping it is enough."""
    if "real_argon2" in request.fixturenames:
        return
    monkeypatch.setattr(security, "_hasher", FAST_HASHER)


@functools.cache
def _hash_of_password(time_cost: int, memory_cost: int, parallelism: int) -> str:
    return security._hasher.hash(PASSWORD)


def password_hash() -> str:
    """A hash of PASSWORD with the Argon2 parameters now in force, computed once per parameter set."""
    hasher = security._hasher
    return _hash_of_password(hasher.time_cost, hasher.memory_cost, hasher.parallelism)


def container(app: Any) -> Container:
    value: Container = app.state.container
    return value


async def create_user(
    app: Any, username: str | None = None, *, email: str | None = None, hashed: str | None = None
) -> dict[str, Any]:
    """Insert a user directly (its password is PASSWORD); returns user_id, username, email."""
    username = username or f"user{next(_counter)}"
    async with container(app).db.sessionmaker() as session:
        user = User(
            username=username, email=email or f"{username.lower()}@example.com", password_hash=hashed or password_hash()
        )
        session.add(user)
        await session.commit()
        return {"user_id": str(user.user_id), "username": user.username, "email": user.email}


async def access_token(app: Any, user: dict[str, Any]) -> str:
    """A bearer token for a user made by ``create_user``, from a real sign-in through the API."""
    async with another_client(app) as c:
        body = await login(c, user["username"])
    token: str = body["access_token"]
    return token


async def quick_user(app: Any, username: str | None = None) -> tuple[dict[str, Any], str]:
    """A user and a bearer token for it, with no Argon2 hashing at registration."""
    user = await create_user(app, username)
    return user, await access_token(app, user)


@asynccontextmanager
async def another_client(app: Any, host: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    """A second browser: its own cookie jar (and, with ``host``, its own client address)."""
    transport = httpx.ASGITransport(app=app, client=(host, 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def flush_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def overrides_from(request: pytest.FixtureRequest) -> dict[str, object]:
    """For a module's ``settings_overrides`` fixture parametrized with ``indirect=True``.

    ``{"redis_url": USE_REDIS}`` becomes the real Redis of the ``redis_url`` fixture, flushed first.
    """
    values: dict[str, object] = dict(getattr(request, "param", None) or {})
    if values.get("redis_url") == USE_REDIS:
        url: str = request.getfixturevalue("redis_url")
        flush_redis(url)
        values["redis_url"] = url
    return values


def set_cookie_headers(response: httpx.Response, name: str) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}
