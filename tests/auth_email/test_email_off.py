"""Without SMTP: sign-up answers as it always did (201, EMAIL_TAKEN), and the mailing endpoints say email is off."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.api.helpers import PASSWORD, assert_error, bearer, create_user, quick_user


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {}


async def test_signup_is_immediate_and_a_taken_address_is_said(client: httpx.AsyncClient, app: FastAPI) -> None:
    created = await client.post(
        "/api/auth/register", json={"username": "direct", "email": "direct@example.com", "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    assert created.json()["email_verified"] is False
    again = await client.post(
        "/api/auth/register", json={"username": "direct2", "email": "DIRECT@example.com", "password": PASSWORD}
    )
    assert_error(again, 409, "EMAIL_TAKEN")
    assert (await client.post("/api/auth/login", json={"login": "direct", "password": PASSWORD})).status_code == 200


async def test_forgot_password_and_resend_say_email_is_off(client: httpx.AsyncClient, app: FastAPI) -> None:
    await create_user(app, "offline", email="offline@example.com")
    for address in ("offline@example.com", "nobody@example.com"):
        assert_error(await client.post("/api/auth/forgot-password", json={"email": address}), 409, "EMAIL_DISABLED")
    _, token = await quick_user(app, "unconfirmed")
    assert_error(await client.post("/api/auth/verify-email/resend", headers=bearer(token)), 409, "EMAIL_DISABLED")


async def test_an_email_change_unconfirms_the_address(client: httpx.AsyncClient, app: FastAPI) -> None:
    user, token = await quick_user(app, "changer")
    changed = await client.put(
        f"/api/users/{user['user_id']}",
        json={"email": "changed@example.com", "current_password": PASSWORD},
        headers=bearer(token),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["email_verified"] is False


async def test_links_are_still_checked(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/api/auth/verify-email", json={"token": "nope"}), 400, "INVALID_VERIFICATION_TOKEN")
    response = await client.post("/api/auth/reset-password", json={"token": "nope", "password": "long enough pass"})
    assert_error(response, 400, "INVALID_RESET_TOKEN")
