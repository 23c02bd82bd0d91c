"""Text no store can hold is refused at the edge, and shown text loses its spoofing characters (issue 7).

A JSON ``"\\ud800"`` escape decodes to a lone UTF-16 surrogate in Python, which no UTF-8 encoder takes: before
this, sign-in answered 500 from inside the database driver. Every string field now refuses it (and NUL) with 400
VALIDATION_ERROR, on SQLite and PostgreSQL. The bodies are sent as raw bytes: httpx cannot encode a surrogate.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from livestream.users.models import User
from tests.api.helpers import assert_error, bearer, container, quick_user

SURROGATE = "\\ud800"  # as written in JSON: decodes to one lone surrogate
UNPAIRED_LOW = "\\udfff"
RLO, PDF, LRI, PDI = "\u202e", "\u202c", "\u2066", "\u2069"


async def post_raw(client: httpx.AsyncClient, url: str, json_text: str, token: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json", **(bearer(token) if token else {})}
    return await client.post(url, content=json_text.encode(), headers=headers)


async def send_raw(
    client: httpx.AsyncClient, method: str, url: str, json_text: str, token: str | None = None
) -> httpx.Response:
    headers = {"Content-Type": "application/json", **(bearer(token) if token else {})}
    return await client.request(method, url, content=json_text.encode(), headers=headers)


def assert_refused(response: httpx.Response, field: str) -> dict[str, Any]:
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert field in body["fields"], body
    assert "surrogate" in body["fields"][field], body
    return body


async def user_count(app: FastAPI) -> int:
    async with container(app).db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(User)) or 0)


# --- Lone surrogates: refused, never a 500 ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (f'{{"login": "{SURROGATE}", "password": "xxxxxxxx"}}', "login"),
        (f'{{"login": "alice{UNPAIRED_LOW}", "password": "xxxxxxxx"}}', "login"),
        (f'{{"email": "{SURROGATE}@example.com", "password": "xxxxxxxx"}}', "email"),
        (f'{{"username": "{SURROGATE}", "password": "xxxxxxxx"}}', "username"),
        (f'{{"login": "alice", "password": "{SURROGATE}xxxxxxxx"}}', "password"),
    ],
)
async def test_login_refuses_lone_surrogates(client: httpx.AsyncClient, body: str, field: str) -> None:
    assert_refused(await post_raw(client, "/api/auth/login", body), field)
    # The connection (and the app) carry on: the next request on the same client is answered normally.
    assert_error(
        await client.post("/api/auth/login", json={"login": "nobody", "password": "x" * 8}), 401, "INVALID_CREDENTIALS"
    )


@pytest.mark.parametrize("field", ["password", "username", "email"])
async def test_register_refuses_lone_surrogates(client: httpx.AsyncClient, app: FastAPI, field: str) -> None:
    values = {"username": "alice", "email": "alice@example.com", "password": "correct horse battery"}
    values[field] = {"password": f"correct horse {SURROGATE}", "username": f"ali{SURROGATE}ce"}.get(
        field, f"ali{SURROGATE}ce@example.com"
    )
    body = "{" + ", ".join(f'"{k}": "{v}"' for k, v in values.items()) + "}"
    assert_refused(await post_raw(client, "/api/auth/register", body), field)
    assert await user_count(app) == 0


async def test_refresh_and_logout_refuse_a_lone_surrogate_token(client: httpx.AsyncClient) -> None:
    body = f'{{"refresh_token": "{SURROGATE}", "include_refresh_token": true}}'
    assert_refused(await post_raw(client, "/api/auth/refresh", body), "refresh_token")
    assert_refused(
        await post_raw(client, "/api/auth/logout", f'{{"refresh_token": "tok{SURROGATE}"}}'), "refresh_token"
    )


async def test_stream_title_and_description_refuse_lone_surrogates(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token = await quick_user(app)
    assert_refused(await post_raw(client, "/api/streams", f'{{"title": "{SURROGATE}"}}', token), "title")
    created = await client.post("/api/streams", json={"title": "Before"}, headers=bearer(token))
    assert created.status_code == 201, created.text
    url = f"/api/streams/{created.json()['stream_id']}"
    assert_refused(await send_raw(client, "PATCH", url, f'{{"title": "Af{SURROGATE}ter"}}', token), "title")
    body = f'{{"title": "ok", "description": "{UNPAIRED_LOW}"}}'
    assert_refused(await send_raw(client, "PATCH", url, body, token), "description")
    stream = (await client.get(url)).json()
    assert (stream["title"], stream["description"]) == ("Before", None)


@pytest.mark.parametrize("field", ["display_name", "bio", "password", "current_password", "email", "username"])
async def test_profile_update_refuses_lone_surrogates(app: FastAPI, client: httpx.AsyncClient, field: str) -> None:
    user, token = await quick_user(app)
    value = f"{SURROGATE}@example.com" if field == "email" else f"abc{SURROGATE}defghij"
    response = await send_raw(client, "PUT", f"/api/users/{user['user_id']}", f'{{"{field}": "{value}"}}', token)
    assert_refused(response, field)


async def test_ban_reason_refuses_lone_surrogates(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token = await quick_user(app)
    viewer, _ = await quick_user(app)
    stream = (await client.post("/api/streams", json={"title": "Bans"}, headers=bearer(token))).json()
    body = f'{{"user_id": "{viewer["user_id"]}", "reason": "spam {SURROGATE}"}}'
    assert_refused(await post_raw(client, f"/api/streams/{stream['stream_id']}/bans", body, token), "reason")


async def test_surrogate_pairs_are_ordinary_text(app: FastAPI, client: httpx.AsyncClient) -> None:
    """A JSON encoder that escapes everything writes an emoji as a surrogate *pair*: that is valid text."""
    _, token = await quick_user(app)
    created = await post_raw(client, "/api/streams", '{"title": "Live \\ud83c\\udfae now"}', token)
    assert created.status_code == 201, created.text
    assert created.json()["title"] == "Live 🎮 now"


async def test_an_unstorable_key_is_refused_too(client: httpx.AsyncClient) -> None:
    response = await post_raw(client, "/api/auth/login", f'{{"login": "a", "password": "xxxxxxxx", "{SURROGATE}": 1}}')
    assert_error(response, 400, "VALIDATION_ERROR")


# --- Spoofing characters: dropped from shown text ----------------------------------------------------------


async def test_display_name_and_bio_lose_bidi_controls(app: FastAPI, client: httpx.AsyncClient) -> None:
    user, token = await quick_user(app)
    changes = {
        "display_name": f"  Ad{RLO}nim{PDF}\u200b \u3164",
        "bio": f"First line\r\nsecond {LRI}line{PDI}\u2028third\tcolumn\x07",
    }
    response = await client.put(f"/api/users/{user['user_id']}", json=changes, headers=bearer(token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["display_name"] == "Adnim"
    assert body["bio"] == "First line\nsecond line\nthird\tcolumn"
    public = (await client.get(f"/api/users/{user['user_id']}")).json()
    assert (public["display_name"], public["bio"]) == (body["display_name"], body["bio"])


async def test_right_to_left_names_and_emoji_sequences_survive(app: FastAPI, client: httpx.AsyncClient) -> None:
    user, token = await quick_user(app)
    name = "שלום\u200f! 👩\u200d💻 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    response = await client.put(f"/api/users/{user['user_id']}", json={"display_name": name}, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == name


async def test_stream_title_loses_bidi_controls_and_a_title_of_nothing_else_is_blank(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    _, token = await quick_user(app)
    created = await client.post(
        "/api/streams",
        json={"title": f"Speedrun {RLO}4pm.exe{PDF}", "description": f"Rules:\n{LRI}no glitches{PDI}"},
        headers=bearer(token),
    )
    assert created.status_code == 201, created.text
    assert created.json()["title"] == "Speedrun 4pm.exe"
    assert created.json()["description"] == "Rules:\nno glitches"
    url = f"/api/streams/{created.json()['stream_id']}"
    blank = await client.patch(url, json={"title": f" {RLO}{LRI}\u200b "}, headers=bearer(token))
    assert_error(blank, 400, "VALIDATION_ERROR")
    assert (await client.get(url)).json()["title"] == "Speedrun 4pm.exe"


async def test_passwords_are_kept_exactly(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Secrets are only checked as storable: a password with a bidi control still signs in as typed."""
    password = f"pass{RLO}word\u200b phrase"
    registered = await client.post(
        "/api/auth/register", json={"username": "exact", "email": "exact@example.com", "password": password}
    )
    assert registered.status_code == 201, registered.text
    assert (await client.post("/api/auth/login", json={"login": "exact", "password": password})).status_code == 200
    stripped = "password phrase"
    assert_error(
        await client.post("/api/auth/login", json={"login": "exact", "password": stripped}), 401, "INVALID_CREDENTIALS"
    )
