"""Small steps many API tests take."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

PASSWORD = "correct horse battery"
_counter = itertools.count()


async def register(client: httpx.AsyncClient, username: str | None = None, *, email: str | None = None,
                   password: str = PASSWORD) -> dict[str, Any]:
    username = username or f"user{next(_counter)}"
    response = await client.post("/api/auth/register", json={
        "username": username, "email": email or f"{username}@example.com", "password": password})
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
    assert isinstance(body["error"], str) and body["error"]
    return body
