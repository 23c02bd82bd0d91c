"""Sign-up by email, address confirmation and the email change, with SMTP on (a real aiosmtpd server)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from livestream.auth.models import AccountToken
from livestream.users.models import User
from tests.api.helpers import PASSWORD, another_client, assert_error, bearer, container, create_user, quick_user
from tests.auth_email.helpers import age_tokens, comparable, link_in, mail_to, settle
from tests.support.smtp_server import SmtpServer

REGISTER = "/api/auth/register"
VERIFY = "/api/auth/verify-email"
RESEND = "/api/auth/verify-email/resend"


def signup(username: str, email: str, password: str = PASSWORD) -> dict[str, str]:
    return {"username": username, "email": email, "password": password}


async def users_named(app: FastAPI, username: str) -> int:
    async with container(app).db.sessionmaker() as session:
        query = select(func.count()).select_from(User).where(func.lower(User.username) == username.lower())
        return int((await session.execute(query)).scalar_one())


async def test_signup_mails_a_link_that_creates_the_account_once(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    response = await client.post(REGISTER, json=signup("newcomer", "New.Comer@Example.com"))
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "check_email"
    assert "set-cookie" not in response.headers
    # Nothing exists yet: the name cannot sign in (the same answer as for no account at all).
    assert await users_named(app, "newcomer") == 0
    refused = await client.post("/api/auth/login", json={"login": "newcomer", "password": PASSWORD})
    assert_error(refused, 401, "INVALID_CREDENTIALS")

    (message,) = await mail_to(smtp_server, "new.comer@example.com")
    assert message.recipients == ["new.comer@example.com"]
    assert "Confirm your email" in message.message["Subject"]
    url, token = link_in(message, "verify-email")
    assert url.startswith("http://testserver/verify-email?token=")
    assert PASSWORD not in message.part("plain")

    verified = await client.post(VERIFY, json={"token": token})
    assert verified.status_code == 200, verified.text
    assert verified.json() == {"email": "new.comer@example.com", "username": "newcomer", "account_created": True}
    signed_in = await client.post("/api/auth/login", json={"login": "newcomer", "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["user"]["email_verified"] is True

    again = await client.post(VERIFY, json={"token": token})
    assert_error(again, 400, "VERIFICATION_TOKEN_USED")
    assert await users_named(app, "newcomer") == 1


async def test_the_token_is_stored_only_as_a_keyed_hash(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    await client.post(REGISTER, json=signup("hashed", "hashed@example.com"))
    (message,) = await mail_to(smtp_server, "hashed@example.com")
    _, token = link_in(message, "verify-email")
    await settle(app)
    async with container(app).db.sessionmaker() as session:
        (row,) = (await session.execute(select(AccountToken))).scalars().all()
    assert row.token_hash is not None
    assert len(row.token_hash) == 64
    assert token not in row.token_hash
    assert row.sent_at is not None
    assert row.used_at is None


async def test_a_taken_address_answers_like_a_free_one_and_its_owner_is_told(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    await create_user(app, "owner", email="owner@example.com")
    fresh = await client.post(REGISTER, json=signup("stranger1", "free@example.com"))
    taken = await client.post(REGISTER, json=signup("stranger2", "OWNER@example.com"))
    assert comparable(fresh) == comparable(taken)
    assert taken.status_code == 202

    (notice,) = await mail_to(smtp_server, "owner@example.com")
    assert "Someone tried to sign up" in notice.message["Subject"]
    assert "verify-email" not in notice.part("plain")  # no link that could create a second account
    assert "http://testserver/forgot-password" in notice.part("plain")
    await mail_to(smtp_server, "free@example.com")
    await settle(app)
    assert len(smtp_server.to("owner@example.com")) == 1
    # The stranger's name stays free and cannot sign in: nothing tells them which case it was.
    assert await users_named(app, "stranger2") == 0
    refused = await client.post("/api/auth/login", json={"login": "stranger2", "password": PASSWORD})
    assert_error(refused, 401, "INVALID_CREDENTIALS")
    # The owner's account is untouched.
    still = await client.post("/api/auth/login", json={"login": "owner", "password": PASSWORD})
    assert still.status_code == 200


async def test_usernames_stay_public(client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer) -> None:
    await create_user(app, "famous")
    response = await client.post(REGISTER, json=signup("FAMOUS", "someone@example.com"))
    assert_error(response, 409, "USERNAME_TAKEN")
    await settle(app)
    assert smtp_server.received() == []


async def test_weak_passwords_are_refused_before_any_mail(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    response = await client.post(REGISTER, json=signup("weakling", "weak@example.com", "password"))
    assert_error(response, 400, "WEAK_PASSWORD")
    await settle(app)
    assert smtp_server.received() == []


async def test_an_expired_or_unknown_link_is_refused(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    await client.post(REGISTER, json=signup("latecomer", "late@example.com"))
    _, token = link_in((await mail_to(smtp_server, "late@example.com"))[0], "verify-email")
    await age_tokens(app, by=timedelta(seconds=1))
    assert_error(await client.post(VERIFY, json={"token": token}), 400, "VERIFICATION_TOKEN_EXPIRED")
    assert await users_named(app, "latecomer") == 0
    assert_error(await client.post(VERIFY, json={"token": token + "x"}), 400, "INVALID_VERIFICATION_TOKEN")


async def test_a_name_taken_before_the_link_is_used(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    await client.post(REGISTER, json=signup("contested", "first@example.com"))
    _, token = link_in((await mail_to(smtp_server, "first@example.com"))[0], "verify-email")
    await create_user(app, "Contested")
    assert_error(await client.post(VERIFY, json={"token": token}), 409, "USERNAME_TAKEN")
    assert await users_named(app, "contested") == 1


async def test_a_reset_token_is_not_a_confirmation(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    await create_user(app, "mixer", email="mixer@example.com")
    await client.post("/api/auth/forgot-password", json={"email": "mixer@example.com"})
    _, token = link_in((await mail_to(smtp_server, "mixer@example.com"))[0], "reset-password")
    assert_error(await client.post(VERIFY, json={"token": token}), 400, "INVALID_VERIFICATION_TOKEN")


async def test_an_email_change_is_confirmed_at_the_new_address_and_the_old_one_told(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    user, token = await quick_user(app, "mover")
    me = await client.get("/api/users/me", headers=bearer(token))
    assert me.json()["email_verified"] is False  # made straight in the database, never confirmed
    changed = await client.put(
        f"/api/users/{user['user_id']}",
        json={"email": "moved@example.com", "current_password": PASSWORD},
        headers=bearer(token),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["email"] == "moved@example.com"
    assert changed.json()["email_verified"] is False

    (confirm,) = await mail_to(smtp_server, "moved@example.com")
    assert "Confirm your email address" in confirm.message["Subject"]
    _, link_token = link_in(confirm, "verify-email")
    (notice,) = await mail_to(smtp_server, user["email"])
    assert "was changed" in notice.message["Subject"]
    assert "m***@example.com" in notice.part("plain")
    assert "moved@example.com" not in notice.part("plain")

    verified = await client.post(VERIFY, json={"token": link_token})
    assert verified.json() == {"email": "moved@example.com", "username": "mover", "account_created": False}
    me = await client.get("/api/users/me", headers=bearer(token))
    assert me.json()["email_verified"] is True
    # Moving again unconfirms it; the earlier link confirms an address the account no longer has.
    await client.put(
        f"/api/users/{user['user_id']}",
        json={"email": "moved.again@example.com", "current_password": PASSWORD},
        headers=bearer(token),
    )
    await mail_to(smtp_server, "moved.again@example.com")
    me = await client.get("/api/users/me", headers=bearer(token))
    assert me.json()["email_verified"] is False


async def test_moving_to_a_taken_address_answers_like_a_free_one_and_its_owner_is_told(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    await create_user(app, "holder", email="holder@example.com")
    free_mover, free_token = await quick_user(app, "mover1")
    taken_mover, taken_token = await quick_user(app, "mover2")
    free = await client.put(
        f"/api/users/{free_mover['user_id']}",
        json={"email": "nobody.yet@example.com", "current_password": PASSWORD},
        headers=bearer(free_token),
    )
    taken = await client.put(
        f"/api/users/{taken_mover['user_id']}",
        json={"email": "HOLDER@example.com", "current_password": PASSWORD},
        headers=bearer(taken_token),
    )
    assert taken.status_code == free.status_code == 200, taken.text
    assert set(taken.json()) == set(free.json())
    assert (taken.json()["email"], taken.json()["email_verified"]) == ("holder@example.com", False)
    assert (free.json()["email"], free.json()["email_verified"]) == ("nobody.yet@example.com", False)
    assert {k: v for k, v in taken.headers.items() if k.lower() not in {"date", "x-request-id", "content-length"}} == {
        k: v for k, v in free.headers.items() if k.lower() not in {"date", "x-request-id", "content-length"}
    }

    (notice,) = await mail_to(smtp_server, "holder@example.com")
    assert "tried to move" in notice.message["Subject"]
    assert "verify-email" not in notice.part("plain")
    await mail_to(smtp_server, "nobody.yet@example.com")
    await settle(app)
    assert len(smtp_server.to("holder@example.com")) == 1
    assert smtp_server.to(taken_mover["email"]) == []  # nothing changed: no "your address was changed"
    async with container(app).db.sessionmaker() as session:
        addresses = {row.username: row.email for row in await session.execute(select(User.username, User.email))}
    assert addresses["mover2"] == taken_mover["email"]
    assert addresses["holder"] == "holder@example.com"
    assert addresses["mover1"] == "nobody.yet@example.com"


async def test_email_changes_are_throttled_per_address(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    user, token = await quick_user(app, "flooder")
    victims = ["victim.a@example.com", "victim.b@example.com"]
    answers = []
    for n in range(12):
        response = await client.put(
            f"/api/users/{user['user_id']}",
            json={"email": victims[n % 2], "current_password": PASSWORD},
            headers=bearer(token),
        )
        answers.append(response.status_code)
        if response.status_code == 429:
            assert_error(response, 429, "RATE_LIMITED")
            break
    assert answers[-1] == 429, answers
    assert set(answers[:-1]) == {200}
    await settle(app)
    # Links and "your address was changed" notices together: at most the per-address limit (5) each.
    for victim in victims:
        assert 1 <= len(smtp_server.to(victim)) <= 5


async def test_a_wrong_password_is_not_counted_against_the_address(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    user, token = await quick_user(app, "typist")
    for _ in range(5):
        wrong = await client.put(
            f"/api/users/{user['user_id']}",
            json={"email": "typed@example.com", "current_password": "not the password"},
            headers=bearer(token),
        )
        assert_error(wrong, 403, "WRONG_PASSWORD")
    # Five wrong passwords mailed nothing; counted, they would make this sixth request past the limit of 5.
    right = await client.put(
        f"/api/users/{user['user_id']}",
        json={"email": "typed@example.com", "current_password": PASSWORD},
        headers=bearer(token),
    )
    assert right.status_code == 200, right.text
    await mail_to(smtp_server, "typed@example.com")


async def test_a_link_for_an_address_the_account_left_is_refused(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    user, token = await quick_user(app, "fickle")
    resent = await client.post(RESEND, headers=bearer(token))
    assert resent.status_code == 202, resent.text
    _, old_link = link_in((await mail_to(smtp_server, user["email"]))[0], "verify-email")
    await client.put(
        f"/api/users/{user['user_id']}",
        json={"email": "elsewhere@example.com", "current_password": PASSWORD},
        headers=bearer(token),
    )
    assert_error(await client.post(VERIFY, json={"token": old_link}), 400, "INVALID_VERIFICATION_TOKEN")
    me = await client.get("/api/users/me", headers=bearer(token))
    assert me.json()["email_verified"] is False


async def test_resend_mails_a_new_link_and_refuses_a_confirmed_address(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    user, token = await quick_user(app, "forgetful")
    first = await client.post(RESEND, headers=bearer(token))
    assert first.status_code == 202
    assert first.json()["status"] == "accepted"
    (message,) = await mail_to(smtp_server, user["email"])
    _, link_token = link_in(message, "verify-email")
    assert (await client.post(VERIFY, json={"token": link_token})).status_code == 200
    assert_error(await client.post(RESEND, headers=bearer(token)), 409, "EMAIL_ALREADY_VERIFIED")
    assert_error(await client.post(RESEND), 401, "INVALID_TOKEN")


async def test_resend_is_throttled_per_address(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    user, token = await quick_user(app, "impatient")
    for _ in range(5):
        assert (await client.post(RESEND, headers=bearer(token))).status_code == 202
    refused = await client.post(RESEND, headers=bearer(token))
    assert_error(refused, 429, "RATE_LIMITED")
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    await mail_to(smtp_server, user["email"], 5)
    await settle(app)
    assert len(smtp_server.to(user["email"])) == 5


async def test_signups_are_throttled_per_address_and_per_client(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    for n in range(5):
        assert (await client.post(REGISTER, json=signup(f"bomber{n}", "target@example.com"))).status_code == 202
    refused = await client.post(REGISTER, json=signup("bomber5", "target@example.com"))
    assert_error(refused, 429, "RATE_LIMITED")
    assert int(refused.headers["Retry-After"]) >= 1
    # Another client may still sign up with its own address; this one is out of its budget after 20.
    async with another_client(app, host="10.0.0.9") as other:
        assert (await other.post(REGISTER, json=signup("bystander", "bystander@example.com"))).status_code == 202
        for n in range(19):
            ok = await other.post(REGISTER, json=signup(f"spray{n}", f"spray{n}@example.com"))
            assert ok.status_code == 202, (n, ok.text)
        assert_error(await other.post(REGISTER, json=signup("spray", "spray@example.com")), 429, "RATE_LIMITED")
    await settle(app)
    assert len(smtp_server.to("target@example.com")) == 5


@pytest.mark.parametrize(
    "payload",
    [
        {"token": "a" * 100_000},
        {"token": "a" * 201},
        {"token": "abc\u0000def"},
        {"token": ""},
        {"token": 12345},
        {"token": None},
        {"token": ["x"]},
        {},
        {"token": "abc", "extra": 1},
    ],
)
async def test_hostile_verification_bodies_are_400s(client: httpx.AsyncClient, payload: object) -> None:
    response = await client.post(VERIFY, json=payload)
    assert response.status_code == 400, response.text
    assert response.json()["code"] in {"VALIDATION_ERROR", "INVALID_VERIFICATION_TOKEN"}


@pytest.mark.parametrize(
    "raw",
    [b'{"token": "\\ud800abc"}', b'{"token": "\\udfff"}', b"\xff\xfe", b'{"token": "abc"', b"[]"],
)
async def test_unstorable_or_malformed_tokens_are_400s(client: httpx.AsyncClient, raw: bytes) -> None:
    for path in (VERIFY, "/api/auth/reset-password"):
        response = await client.post(path, content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (path, response.text)


async def test_any_string_that_is_not_a_token_is_invalid(client: httpx.AsyncClient) -> None:
    for token in ("x", "💥" * 50, "../../etc/passwd", "' OR 1=1 --", "\u202etoken"):
        assert_error(await client.post(VERIFY, json={"token": token}), 400, "INVALID_VERIFICATION_TOKEN")


async def test_a_taken_address_takes_as_long_to_answer_as_a_free_one(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer
) -> None:
    """The request never looks the address up: the job does, after the answer has gone."""
    for n in range(4):
        await create_user(app, f"holder{n}", email=f"holder{n}@example.com")
    durations: dict[str, list[float]] = {"taken": [], "free": []}
    for n in range(4):
        for kind, address in (("taken", f"holder{n}@example.com"), ("free", f"loose{n}@example.com")):
            async with another_client(app, host=f"10.2.0.{n}") as other:
                started = time.perf_counter()
                answer = await other.post(REGISTER, json=signup(f"{kind}_{n}", address))
                durations[kind].append(time.perf_counter() - started)
            assert answer.status_code == 202
            await settle(app)  # this one's email is not being sent while the next is timed
    taken, free = (sorted(samples)[1] for samples in durations.values())
    assert abs(taken - free) < 0.25, durations


async def test_the_request_never_looks_the_address_up(
    client: httpx.AsyncClient, app: FastAPI, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sign-up and forgot-password do the same work for any address: only the job asks who has it."""
    from livestream.users.repository import UserRepository

    await create_user(app, "lookedup", email="lookedup@example.com")
    lookups: list[str] = []
    for name in ("email_taken", "get_by_email", "get_by_login"):
        original: Callable[..., Awaitable[object]] = getattr(UserRepository, name)

        def recording(
            self: UserRepository,
            *args: object,
            _name: str = name,
            _original: Callable[..., Awaitable[object]] = original,
            **kw: object,
        ) -> Awaitable[object]:
            lookups.append(_name)
            return _original(self, *args, **kw)

        monkeypatch.setattr(UserRepository, name, recording)
    held: list[object] = []

    async def hold(token_id: object) -> None:  # the job is not run: only the request is watched
        held.append(token_id)

    monkeypatch.setattr(container(app).account_emails, "enqueue", hold)
    for address in ("lookedup@example.com", "unknown@example.com"):
        assert (await client.post(REGISTER, json=signup(f"u{len(held)}x", address))).status_code == 202
        assert (await client.post("/api/auth/forgot-password", json={"email": address})).status_code == 202
    assert lookups == []
    assert len(held) == 4
