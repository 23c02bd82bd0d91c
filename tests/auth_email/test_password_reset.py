"""Forgotten passwords: the same answer for every address, a single-use 30-minute link, every session ended."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from livestream.auth.emails import AccountEmails
from livestream.auth.models import AccountToken
from livestream.db import utcnow
from tests.api.helpers import PASSWORD, another_client, assert_error, bearer, container, create_user
from tests.auth_email.helpers import age_tokens, comparable, link_in, mail_to, settle
from tests.support.smtp_server import SmtpServer

FORGOT = "/api/auth/forgot-password"
RESET = "/api/auth/reset-password"
NEW_PASSWORD = "a much better passphrase"


async def sign_in(client: httpx.AsyncClient, login: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post(
        "/api/auth/login", json={"login": login, "password": password, "include_refresh_token": True}
    )


async def reset_link(client: httpx.AsyncClient, smtp: SmtpServer, address: str, count: int = 1) -> str:
    response = await client.post(FORGOT, json={"email": address})
    assert response.status_code == 202, response.text
    messages = await mail_to(smtp, address, count)
    _, token = link_in(messages[-1], "reset-password")
    return token


async def test_known_and_unknown_addresses_get_the_same_answer_and_only_one_gets_mail(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    await create_user(app, "known", email="known@example.com")
    known = await client.post(FORGOT, json={"email": "Known@Example.com"})
    unknown = await client.post(FORGOT, json={"email": "nobody@example.com"})
    assert known.status_code == 202
    assert comparable(known) == comparable(unknown)

    (message,) = await mail_to(smtp_server, "known@example.com")
    assert "Reset your" in message.message["Subject"]
    url, _ = link_in(message, "reset-password")
    assert url.startswith("http://testserver/reset-password?token=")
    await settle(app)
    assert [m.recipients for m in smtp_server.received()] == [["known@example.com"]]
    # The unknown address's row is spent by the job: nothing can ever use it.
    async with container(app).db.sessionmaker() as session:
        rows = (await session.execute(select(AccountToken).where(AccountToken.email == "nobody@example.com"))).scalars()
        (row,) = rows.all()
    assert row.used_at is not None
    assert row.token_hash is None
    assert row.user_id is None


async def test_the_answer_takes_as_long_for_a_known_as_for_an_unknown_address(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    """The request only writes a row and enqueues; the account lookup and the send happen in the job."""
    await create_user(app, "timed", email="timed@example.com")
    async with another_client(app, host="10.1.0.1") as other:
        durations: dict[str, list[float]] = {"timed@example.com": [], "ghost@example.com": []}
        for _ in range(4):
            for address, samples in durations.items():
                started = time.perf_counter()
                assert (await other.post(FORGOT, json={"email": address})).status_code == 202
                samples.append(time.perf_counter() - started)
    known, unknown = (sorted(samples)[1] for samples in durations.values())
    # Generous: a loaded CI machine jitters; an SMTP round trip in the request would be far slower still.
    assert abs(known - unknown) < 0.25, durations


async def test_a_reset_ends_every_session_and_the_new_password_works(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    user = await create_user(app, "resetter", email="resetter@example.com")
    first = (await sign_in(client, "resetter")).json()
    async with another_client(app, host="10.0.0.2") as laptop:
        second = (await sign_in(laptop, "resetter@example.com")).json()
    token = await reset_link(client, smtp_server, "resetter@example.com")

    done = await client.post(RESET, json={"token": token, "password": NEW_PASSWORD})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "password_reset"

    for session in (first, second):
        refreshed = await client.post("/api/auth/refresh", json={"refresh_token": session["refresh_token"]})
        assert_error(refreshed, 401, "INVALID_REFRESH_TOKEN")
        me = await client.get("/api/users/me", headers=bearer(session["access_token"]))
        assert_error(me, 401, "INVALID_TOKEN")
    assert_error(await sign_in(client, "resetter"), 401, "INVALID_CREDENTIALS")
    signed_in = await sign_in(client, "resetter", NEW_PASSWORD)
    assert signed_in.status_code == 200, signed_in.text
    # The link reached the address: that confirms it.
    assert signed_in.json()["user"]["email_verified"] is True
    assert signed_in.json()["user"]["user_id"] == user["user_id"]

    again = await client.post(RESET, json={"token": token, "password": "yet another passphrase"})
    assert_error(again, 400, "RESET_TOKEN_USED")


async def test_a_used_link_voids_the_others(client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer) -> None:
    await create_user(app, "twice", email="twice@example.com")
    older = await reset_link(client, smtp_server, "twice@example.com")
    newer = await reset_link(client, smtp_server, "twice@example.com", 2)
    assert older != newer
    assert (await client.post(RESET, json={"token": newer, "password": NEW_PASSWORD})).status_code == 200
    assert_error(await client.post(RESET, json={"token": older, "password": NEW_PASSWORD}), 400, "RESET_TOKEN_USED")


async def test_an_expired_link_is_refused(client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer) -> None:
    await create_user(app, "slow", email="slow@example.com")
    token = await reset_link(client, smtp_server, "slow@example.com")
    async with container(app).db.sessionmaker() as session:
        (row,) = (await session.execute(select(AccountToken))).scalars().all()
    assert timedelta(minutes=29) < row.expires_at - row.created_at <= timedelta(minutes=30)
    await age_tokens(app, by=timedelta(seconds=1))
    assert_error(await client.post(RESET, json={"token": token, "password": NEW_PASSWORD}), 400, "RESET_TOKEN_EXPIRED")
    assert (await sign_in(client, "slow")).status_code == 200


async def test_the_new_password_follows_the_signup_rules(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    await create_user(app, "ruled", email="ruled@example.com")
    token = await reset_link(client, smtp_server, "ruled@example.com")
    for weak in ("password", "Ruled@Example.com", "qwertyuiop"):
        assert_error(await client.post(RESET, json={"token": token, "password": weak}), 400, "WEAK_PASSWORD")
    assert_error(await client.post(RESET, json={"token": token, "password": "short"}), 400, "VALIDATION_ERROR")
    assert_error(await client.post(RESET, json={"token": token, "password": "x" * 129}), 400, "VALIDATION_ERROR")
    # A refused password leaves the link usable.
    assert (await client.post(RESET, json={"token": token, "password": NEW_PASSWORD})).status_code == 200


async def test_a_link_for_an_address_the_account_left_is_refused(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    user = await create_user(app, "leaver", email="leaver@example.com")
    token = await reset_link(client, smtp_server, "leaver@example.com")
    signed_in = (await sign_in(client, "leaver")).json()
    moved = await client.put(
        f"/api/users/{user['user_id']}",
        json={"email": "new.home@example.com", "current_password": PASSWORD},
        headers=bearer(signed_in["access_token"]),
    )
    assert moved.status_code == 200
    assert_error(await client.post(RESET, json={"token": token, "password": NEW_PASSWORD}), 400, "INVALID_RESET_TOKEN")


async def test_forgot_password_is_throttled_per_address_and_per_client(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    await create_user(app, "victim", email="victim@example.com")
    for _ in range(5):
        assert (await client.post(FORGOT, json={"email": "victim@example.com"})).status_code == 202
    refused = await client.post(FORGOT, json={"email": "VICTIM@example.com"})
    assert_error(refused, 429, "RATE_LIMITED")
    assert int(refused.headers["Retry-After"]) >= 1
    # An unknown address is limited after as many requests: a 429 says nothing about an account either.
    async with another_client(app, host="10.0.0.3") as other:
        for _ in range(5):
            assert (await other.post(FORGOT, json={"email": "ghost@example.com"})).status_code == 202
        assert_error(await other.post(FORGOT, json={"email": "ghost@example.com"}), 429, "RATE_LIMITED")
    async with another_client(app, host="10.0.0.4") as sprayer:
        for n in range(20):
            assert (await sprayer.post(FORGOT, json={"email": f"s{n}@example.com"})).status_code == 202
        assert_error(await sprayer.post(FORGOT, json={"email": "s99@example.com"}), 429, "RATE_LIMITED")
    await settle(app)
    assert len(smtp_server.to("victim@example.com")) == 5


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "not-an-address"},
        {"email": "a" * 300 + "@example.com"},
        {"email": "nul\u0000@example.com"},
        {"email": 5},
        {},
        {"email": "x@example.com", "more": True},
    ],
)
async def test_hostile_forgot_password_bodies_are_400s(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer, payload: object
) -> None:
    response = await client.post(FORGOT, json=payload)
    assert_error(response, 400, "VALIDATION_ERROR")
    await settle(app)
    assert smtp_server.received() == []


@pytest.mark.parametrize(
    "payload",
    [
        {"token": "t" * 50_000, "password": NEW_PASSWORD},
        {"token": "tok\u0000en", "password": NEW_PASSWORD},
        {"token": "token", "password": "pass\u0000word123"},
        {"token": "token"},
        {"password": NEW_PASSWORD},
        {"token": ["token"], "password": NEW_PASSWORD},
    ],
)
async def test_hostile_reset_bodies_are_400s(client: httpx.AsyncClient, payload: object) -> None:
    assert_error(await client.post(RESET, json=payload), 400, "VALIDATION_ERROR")


async def test_a_garbage_token_is_invalid(client: httpx.AsyncClient) -> None:
    for token in ("x", "\U0001f4a5" * 40, "%00", "\u202etoken"):
        assert_error(
            await client.post(RESET, json={"token": token, "password": NEW_PASSWORD}), 400, "INVALID_RESET_TOKEN"
        )


async def test_a_mail_server_outage_is_retried(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    await create_user(app, "patient", email="patient@example.com")
    smtp_server.stop()
    assert (await client.post(FORGOT, json={"email": "patient@example.com"})).status_code == 202
    # The first attempt has failed (connection refused) and its retry waits: the server comes back.
    jobs = container(app).jobs
    deadline = time.monotonic() + 10
    while not any(task.get_name() == "retry:auth.account_email" for task in jobs._background):
        assert time.monotonic() < deadline, "the failed send was not scheduled again"
        await asyncio.sleep(0.01)
    smtp_server.start()
    (message,) = await mail_to(smtp_server, "patient@example.com", within=20)
    _, token = link_in(message, "reset-password")
    assert (await client.post(RESET, json={"token": token, "password": NEW_PASSWORD})).status_code == 200


async def test_a_refused_recipient_spends_the_row(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    await create_user(app, "bounced", email="bounced@example.com")
    smtp_server.refuse = "550 no such mailbox"
    assert (await client.post(FORGOT, json={"email": "bounced@example.com"})).status_code == 202
    await settle(app)
    async with container(app).db.sessionmaker() as session:
        (row,) = (await session.execute(select(AccountToken))).scalars().all()
    assert row.used_at is not None
    assert smtp_server.received() == []


async def test_a_lost_job_is_sent_by_the_reconciler(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    await create_user(app, "orphan", email="orphan@example.com")
    async with container(app).db.sessionmaker() as session:
        session.add(
            AccountToken(
                purpose="reset_password",
                email="orphan@example.com",
                expires_at=utcnow() + timedelta(minutes=20),
                created_at=utcnow() - timedelta(minutes=11),
            )
        )
        # One too young to be called lost (its job may still be running), one spent, one expired.
        session.add(
            AccountToken(
                purpose="reset_password", email="orphan@example.com", expires_at=utcnow() + timedelta(minutes=30)
            )
        )
        session.add(
            AccountToken(
                purpose="reset_password",
                email="orphan@example.com",
                expires_at=utcnow() + timedelta(minutes=20),
                created_at=utcnow() - timedelta(minutes=11),
                used_at=utcnow(),
            )
        )
        session.add(
            AccountToken(
                purpose="reset_password",
                email="orphan@example.com",
                expires_at=utcnow() - timedelta(minutes=1),
                created_at=utcnow() - timedelta(minutes=31),
            )
        )
        await session.commit()
    emails: AccountEmails = container(app).account_emails
    await emails.resend_unsent()
    (message,) = await mail_to(smtp_server, "orphan@example.com")
    _, token = link_in(message, "reset-password")
    await settle(app)
    # Run again, and as a duplicate job: the row is sent, nothing goes twice.
    await emails.resend_unsent()
    await settle(app)
    assert len(smtp_server.to("orphan@example.com")) == 1
    assert (await client.post(RESET, json={"token": token, "password": NEW_PASSWORD})).status_code == 200


async def test_expired_tokens_are_purged(client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer) -> None:
    from livestream.auth.repository import TokenRepository

    await create_user(app, "purged", email="purged@example.com")
    await reset_link(client, smtp_server, "purged@example.com")
    await client.post(FORGOT, json={"email": "other@example.com"})
    await settle(app)
    async with container(app).db.unit_of_work() as session:
        await TokenRepository(session).purge_expired(utcnow())
    async with container(app).db.sessionmaker() as session:
        assert len((await session.execute(select(AccountToken))).scalars().all()) == 2
    await age_tokens(app, by=timedelta(seconds=1))
    async with container(app).db.unit_of_work() as session:
        await TokenRepository(session).purge_expired(utcnow())
    async with container(app).db.sessionmaker() as session:
        assert (await session.execute(select(AccountToken))).scalars().all() == []
