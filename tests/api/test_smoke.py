from __future__ import annotations

import httpx

from tests.api.helpers import assert_error, bearer, signed_up


async def test_register_login_me(client: httpx.AsyncClient) -> None:
    user, token = await signed_up(client, "alice")
    me = await client.get("/api/users/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["user_id"] == user["user_id"]
    assert "password_hash" not in me.json()


async def test_unknown_route(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/nope"), 404, "NOT_FOUND")
