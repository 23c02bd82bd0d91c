"""Notification emails against a real SMTP server on loopback (aiosmtpd), on SQLite and PostgreSQL: who gets
one, what it says, once only, retries while the server is down, and the unsubscribe link (signed out)."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from livestream.db import utcnow
from livestream.mail.message import OutgoingEmail
from livestream.mail.sender import Mailer
from livestream.notifications.emails import EMAIL, Links, compose
from livestream.notifications.models import Notification
from livestream.notifications.unsubscribe import unsubscribe_token, user_of_token
from livestream.streams.repository import StreamRepository
from livestream.users.models import User
from tests.api.helpers import assert_error, bearer, container
from tests.api.helpers import quick_user as unverified_user
from tests.conftest import SECRET
from tests.notifications.test_notifications import follow, go_live
from tests.support.smtp_server import Received, SmtpServer

UNSUBSCRIBE = "/api/notifications/unsubscribe"
ONE_CLICK = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def settings_overrides(smtp_server: SmtpServer) -> dict[str, object]:
    # Retries 0.1, 0.2, 0.4… s apart: a test waits a second, not minutes, for the server to come back.
    return smtp_server.settings(jobs_retry_base_seconds=0.1, smtp_attempts=8, smtp_timeout_seconds=5)


async def confirm(app: FastAPI, user: dict[str, Any]) -> None:
    async with container(app).db.unit_of_work() as session:
        await session.execute(
            update(User).where(User.user_id == uuid.UUID(user["user_id"])).values(email_verified_at=utcnow())
        )


async def quick_user(app: FastAPI, username: str | None = None) -> tuple[dict[str, Any], str]:
    """A user whose address is confirmed: notification emails go to confirmed addresses only."""
    user, token = await unverified_user(app, username)
    await confirm(app, user)
    return user, token


async def email_on(client: httpx.AsyncClient, token: str, **kinds: bool) -> None:
    body: dict[str, Any] = {"email": True}
    if kinds:
        body["kinds"] = kinds
    response = await client.put("/api/users/me/notification-settings", json=body, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["email"] is True
    assert response.json()["email_available"] is True


def token_in(received: Received) -> str:
    found = re.search(r"/unsubscribe\?token=([0-9a-f.]+)", received.part("plain"))
    assert found is not None, received.part("plain")
    return found.group(1)


async def emailed_at(app: FastAPI, user_id: str) -> list[Any]:
    async with container(app).db.sessionmaker() as session:
        rows = await session.execute(select(Notification.emailed_at).where(Notification.user_id == uuid.UUID(user_id)))
        return list(rows.scalars())


async def test_a_follower_who_opted_in_gets_one_email_when_the_creator_goes_live(
    app: FastAPI, client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    creator, creator_token = await quick_user(app)
    opted_in, opted_in_token = await quick_user(app)
    in_app_only, in_app_token = await quick_user(app)
    muted, muted_token = await quick_user(app)
    await follow(client, opted_in_token, creator["user_id"])
    await follow(client, in_app_token, creator["user_id"])
    muted_follow = await follow(client, muted_token, creator["user_id"])
    await email_on(client, opted_in_token)
    await email_on(client, muted_token)
    response = await client.put(f"/api/follows/{muted_follow}", json={"notify": False}, headers=bearer(muted_token))
    assert response.status_code == 200

    stream_id = await go_live(app, client, creator_token)
    await container(app).jobs.idle(60)

    (got,) = await smtp_server.wait_for(1)
    assert got.recipients == [opted_in["email"]]
    assert got.message["To"] == opted_in["email"]
    assert got.message["Subject"] == f"{creator['username']} is live: Live now"
    text, body_html = got.part("plain"), got.part("html")
    assert f"http://testserver/watch/{stream_id}" in text
    assert f"http://testserver/u/{creator['username']}" in text
    assert f'href="http://testserver/watch/{stream_id}"' in body_html
    token = token_in(got)
    assert f"http://testserver/unsubscribe?token={token}" in text
    assert f'href="http://testserver/unsubscribe?token={token}"' in body_html
    assert got.message["List-Unsubscribe"] == f"<http://testserver{UNSUBSCRIBE}?token={token}>"
    assert got.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert user_of_token(SECRET, token) == uuid.UUID(opted_in["user_id"])
    # Every follower has the in-app notification; only the opted-in one's was emailed.
    assert [value is not None for value in await emailed_at(app, opted_in["user_id"])] == [True]
    assert await emailed_at(app, in_app_only["user_id"]) == [None]
    assert await emailed_at(app, muted["user_id"]) == []
    assert smtp_server.to(in_app_only["email"]) == []
    assert smtp_server.to(muted["email"]) == []


async def test_the_email_job_run_again_sends_nothing_more(
    app: FastAPI, client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    creator, creator_token = await quick_user(app)
    fan, fan_token = await quick_user(app)
    await follow(client, fan_token, creator["user_id"])
    await email_on(client, fan_token)
    await go_live(app, client, creator_token)
    await smtp_server.wait_for(1)
    c = container(app)
    async with c.db.sessionmaker() as session:
        (notification_id,) = (
            await session.execute(
                select(Notification.notification_id).where(Notification.user_id == uuid.UUID(fan["user_id"]))
            )
        ).scalars()
    # Delivered again (a redelivered message), and the job straight: still one email.
    assert await c.jobs.enqueue(EMAIL, notification_id=str(notification_id))
    await c.jobs.idle(30)
    assert c.notification_emails is not None
    await c.notification_emails.send(str(notification_id))
    assert len(smtp_server.received()) == 1


async def test_a_kind_switched_off_or_email_switched_off_is_not_emailed(
    app: FastAPI, client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    creator, creator_token = await quick_user(app)
    _, fan_token = await quick_user(app)
    await email_on(client, creator_token, new_follower=False)
    await follow(client, fan_token, creator["user_id"])
    await container(app).jobs.idle(30)
    # The kind is off: no notification, so no email.
    assert smtp_server.received() == []
    await email_on(client, creator_token, new_follower=True)
    other, other_token = await quick_user(app)
    await follow(client, other_token, creator["user_id"])
    (got,) = await smtp_server.wait_for(1)
    assert got.recipients == [creator["email"]]
    assert got.message["Subject"] == f"{other['username']} followed you on LiveStream Pro"
    assert "http://testserver/notifications" in got.part("plain")
    # A third follower counts up the unread notification: no email for that.
    _, third_token = await quick_user(app)
    await follow(client, third_token, creator["user_id"])
    await container(app).jobs.idle(30)
    assert len(smtp_server.received()) == 1


async def test_while_the_server_is_down_the_email_waits_and_goes_out_when_it_is_back(
    app: FastAPI, client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    creator, creator_token = await quick_user(app)
    fan, fan_token = await quick_user(app)
    await follow(client, fan_token, creator["user_id"])
    await email_on(client, fan_token)
    c = container(app)
    assert c.notification_emails is not None
    attempts = Attempts(c.notification_emails.mailer)
    c.notification_emails.mailer = attempts
    smtp_server.stop()
    await _go_live_without_waiting(app, client, creator_token)
    await attempts.wait_for_failures(2)
    assert await emailed_at(app, fan["user_id"]) == [None]
    smtp_server.start()
    (got,) = await smtp_server.wait_for(1, within=30)
    assert got.recipients == [fan["email"]]
    await c.jobs.idle(30)
    assert [value is not None for value in await emailed_at(app, fan["user_id"])] == [True]
    assert len(smtp_server.received()) == 1


async def test_a_temporary_refusal_is_retried(app: FastAPI, client: httpx.AsyncClient, smtp_server: SmtpServer) -> None:
    creator, creator_token = await quick_user(app)
    fan, fan_token = await quick_user(app)
    await follow(client, fan_token, creator["user_id"])
    await email_on(client, fan_token)
    smtp_server.refuse = "451 4.7.1 Greylisted, try again"
    await _go_live_without_waiting(app, client, creator_token)
    await _until(lambda: smtp_server.refused >= 1)
    smtp_server.refuse = None
    (got,) = await smtp_server.wait_for(1, within=30)
    assert got.recipients == [fan["email"]]


async def test_a_permanent_refusal_is_not_retried(
    app: FastAPI, client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    creator, creator_token = await quick_user(app)
    fan, fan_token = await quick_user(app)
    await follow(client, fan_token, creator["user_id"])
    await email_on(client, fan_token)
    smtp_server.refuse = "550 5.1.1 No such mailbox"
    await go_live(app, client, creator_token)
    await container(app).jobs.idle(30)
    assert smtp_server.refused == 1
    # Handled for good: the reconciler leaves it alone, even once it is old enough to look stranded.
    assert (await emailed_at(app, fan["user_id"]))[0] is not None
    c = container(app)
    async with c.db.unit_of_work() as session:
        await session.execute(
            update(Notification)
            .where(Notification.user_id == uuid.UUID(fan["user_id"]))
            .values(created_at=utcnow() - timedelta(minutes=30))
        )
    assert c.notification_emails is not None
    await c.notification_emails.reconcile()
    await c.jobs.idle(30)
    assert smtp_server.refused == 1


async def test_an_email_whose_job_was_lost_goes_out_once_by_the_reconciler(
    app: FastAPI, client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    creator, creator_token = await quick_user(app)
    fan, fan_token = await quick_user(app)
    other, other_token = await quick_user(app)
    await follow(client, fan_token, creator["user_id"])
    await follow(client, other_token, creator["user_id"])
    await email_on(client, fan_token)
    c = container(app)
    assert c.notification_emails is not None
    # The email jobs are taken off the queue by a worker that dies: nothing is sent.
    lost: list[dict[str, Any]] = []

    async def dropped(name: str, **payload: Any) -> bool:
        lost.append(payload)
        return True

    real_enqueue = c.jobs.enqueue
    c.jobs.enqueue = dropped  # type: ignore[method-assign]
    try:
        await c.notification_jobs.stream_started(await _stream_of(app, client, creator_token))
    finally:
        c.jobs.enqueue = real_enqueue  # type: ignore[method-assign]
    assert len(lost) == 1
    await c.jobs.idle(30)
    assert smtp_server.received() == []
    # Too recent: its job may still be on its way.
    await c.notification_emails.reconcile()
    await c.jobs.idle(30)
    assert smtp_server.received() == []
    async with c.db.unit_of_work() as session:
        await session.execute(update(Notification).values(created_at=utcnow() - timedelta(minutes=11)))
    await c.notification_emails.reconcile()
    await smtp_server.wait_for(1)
    await c.jobs.idle(30)
    assert [r.recipients for r in smtp_server.received()] == [[fan["email"]]]
    # Handled: the next pass finds nothing, and the follower without email was never a candidate.
    await c.notification_emails.reconcile()
    await c.jobs.idle(30)
    assert len(smtp_server.received()) == 1
    assert (await emailed_at(app, fan["user_id"]))[0] is not None
    assert await emailed_at(app, other["user_id"]) == [None]


async def test_an_unconfirmed_address_gets_no_notification_email_until_it_is_confirmed(
    app: FastAPI, client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    creator, creator_token = await quick_user(app)
    fan, fan_token = await unverified_user(app)
    await follow(client, fan_token, creator["user_id"])
    await email_on(client, fan_token)
    shown = await client.get("/api/users/me/notification-settings", headers=bearer(fan_token))
    assert (shown.json()["email"], shown.json()["email_verified"]) == (True, False)
    await go_live(app, client, creator_token)
    c = container(app)
    await c.jobs.idle(30)
    assert smtp_server.received() == []
    # Not a candidate for the reconciler either, once old enough to look stranded.
    async with c.db.unit_of_work() as session:
        await session.execute(update(Notification).values(created_at=utcnow() - timedelta(minutes=11)))
    assert c.notification_emails is not None
    await c.notification_emails.reconcile()
    await c.jobs.idle(30)
    assert smtp_server.received() == []
    # The job itself (enqueued while the address was confirmed, then changed): nothing to an unconfirmed one.
    async with c.db.sessionmaker() as session:
        (notification_id,) = (
            await session.execute(
                select(Notification.notification_id).where(Notification.user_id == uuid.UUID(fan["user_id"]))
            )
        ).scalars()
    await c.notification_emails.send(str(notification_id))
    assert smtp_server.received() == []
    # Confirmed: the settings say so, and the next notification is emailed.
    await confirm(app, fan)
    shown = await client.get("/api/users/me/notification-settings", headers=bearer(fan_token))
    assert shown.json()["email_verified"] is True
    second, second_token = await quick_user(app)
    await follow(client, fan_token, second["user_id"])
    await go_live(app, client, second_token)
    (got,) = await smtp_server.wait_for(1)
    assert got.recipients == [fan["email"]]
    assert got.message["Subject"].startswith(f"{second['username']} is live")


class Held:
    """The app's mailer, holding every send until ``release``: two copies of one job meet in the middle."""

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer
        self.entered = 0
        self.gate = asyncio.Event()

    async def send(self, message: OutgoingEmail) -> None:
        self.entered += 1
        await self.gate.wait()
        await self.mailer.send(message)


async def _notification_without_its_job(app: FastAPI, client: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    """A go-live notification for an opted-in fan whose email job was taken off the queue (not run)."""
    creator, creator_token = await quick_user(app)
    fan, fan_token = await quick_user(app)
    await follow(client, fan_token, creator["user_id"])
    await email_on(client, fan_token)
    c = container(app)

    async def dropped(name: str, **payload: Any) -> bool:
        return True

    real_enqueue = c.jobs.enqueue
    c.jobs.enqueue = dropped  # type: ignore[method-assign]
    try:
        await c.notification_jobs.stream_started(await _stream_of(app, client, creator_token))
    finally:
        c.jobs.enqueue = real_enqueue  # type: ignore[method-assign]
    async with c.db.sessionmaker() as session:
        (notification_id,) = (
            await session.execute(
                select(Notification.notification_id).where(Notification.user_id == uuid.UUID(fan["user_id"]))
            )
        ).scalars()
    return str(notification_id), fan


async def test_two_copies_of_one_email_job_at_once_send_one_email(
    app: FastAPI, client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    notification_id, fan = await _notification_without_its_job(app, client)
    emails = container(app).notification_emails
    assert emails is not None
    held = Held(emails.mailer)
    emails.mailer = held
    first = asyncio.create_task(emails.send(notification_id))
    await _until(lambda: held.entered == 1)
    # The second copy (a retry, the reconciler's) runs while the first is still talking to the server.
    second = asyncio.create_task(emails.send(notification_id))
    done, _ = await asyncio.wait([second], timeout=5)
    held.gate.set()
    await asyncio.gather(first, second)
    assert second in done, "the second copy waited on the mailer: it was sending too"
    assert held.entered == 1
    assert [r.recipients for r in await smtp_server.wait_for(1)] == [[fan["email"]]]
    await container(app).jobs.idle(30)
    assert len(smtp_server.received()) == 1
    assert (await emailed_at(app, fan["user_id"]))[0] is not None


async def test_a_claim_left_by_a_dead_job_is_taken_over_once_its_lease_is_out(
    app: FastAPI, client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    notification_id, fan = await _notification_without_its_job(app, client)
    emails = container(app).notification_emails
    assert emails is not None
    ident = uuid.UUID(notification_id)
    async with container(app).db.unit_of_work() as session:
        await session.execute(
            update(Notification).where(Notification.notification_id == ident).values(email_claimed_at=utcnow())
        )
    await emails.send(notification_id)  # a live claim: this copy sends nothing
    assert smtp_server.received() == []
    async with container(app).db.unit_of_work() as session:
        await session.execute(
            update(Notification)
            .where(Notification.notification_id == ident)
            .values(email_claimed_at=utcnow() - timedelta(minutes=6))
        )
    await emails.send(notification_id)
    assert [r.recipients for r in await smtp_server.wait_for(1)] == [[fan["email"]]]


async def _stream_of(app: FastAPI, client: httpx.AsyncClient, token: str) -> str:
    created = await client.post("/api/streams", json={"title": "Lost jobs"}, headers=bearer(token))
    assert created.status_code == 201, created.text
    return str(created.json()["stream_id"])


async def test_the_unsubscribe_link_works_signed_out_and_turns_email_off(
    app: FastAPI, client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    creator, creator_token = await quick_user(app)
    fan, fan_token = await quick_user(app)
    await follow(client, fan_token, creator["user_id"])
    await email_on(client, fan_token)
    await go_live(app, client, creator_token)
    (got,) = await smtp_server.wait_for(1)
    # The one-click POST a mail client makes (RFC 8058): the List-Unsubscribe URL, a form body, no credentials.
    url = urlsplit(got.message["List-Unsubscribe"].strip("<>"))
    token = parse_qs(url.query)["token"][0]
    response = await client.post(f"{url.path}?{url.query}", content="List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert response.status_code == 200, response.text
    assert response.json() == {"email": False, "username": fan["username"]}
    settings = await client.get("/api/users/me/notification-settings", headers=bearer(fan_token))
    assert settings.json()["email"] is False
    # The page's form: the token in a JSON body; again is fine.
    again = await client.post(UNSUBSCRIBE, json={"token": token})
    assert again.status_code == 200
    assert again.json()["email"] is False
    # The next go-live: in-app only.
    second, second_token = await quick_user(app)
    await follow(client, fan_token, second["user_id"])
    await go_live(app, client, second_token)
    await container(app).jobs.idle(30)
    assert len(smtp_server.received()) == 1
    assert [value is None for value in await emailed_at(app, fan["user_id"])].count(True) == 1


def forged_tokens(user_id: uuid.UUID) -> list[str]:
    real = unsubscribe_token(SECRET, user_id)
    other_user = unsubscribe_token(SECRET, uuid.uuid4())
    return [
        "garbage",
        unsubscribe_token("another-secret-" + "x" * 40, user_id),  # signed with someone else's key
        f"{user_id.hex}.{other_user.partition('.')[2]}",  # another user's signature
        real[:-1] + ("0" if real[-1] != "0" else "1"),  # one digit off
        real.upper(),
        real + "0",
        " ",
        "\u202e" + real,
    ]


async def test_forged_or_garbage_tokens_are_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    fan, fan_token = await quick_user(app)
    await email_on(client, fan_token)
    for token in forged_tokens(uuid.UUID(fan["user_id"])):
        assert_error(
            await client.post(UNSUBSCRIBE, params={"token": token}, headers=ONE_CLICK), 400, "UNSUBSCRIBE_TOKEN_INVALID"
        )
        assert_error(await client.post(UNSUBSCRIBE, json={"token": token}), 400, "UNSUBSCRIBE_TOKEN_INVALID")
    assert (await client.get("/api/users/me/notification-settings", headers=bearer(fan_token))).json()["email"] is True


@pytest.mark.parametrize(
    ("request_kwargs", "code"),
    [
        ({}, "UNSUBSCRIBE_TOKEN_MISSING"),
        ({"content": "List-Unsubscribe=One-Click", "headers": ONE_CLICK}, "UNSUBSCRIBE_TOKEN_MISSING"),
        ({"json": {}}, "VALIDATION_ERROR"),
        ({"json": {"token": 5}}, "VALIDATION_ERROR"),
        ({"json": {"token": "a\x00b"}}, "VALIDATION_ERROR"),
        ({"json": {"token": "a", "extra": 1}}, "VALIDATION_ERROR"),
        ({"json": {"token": "a" * 201}}, "VALIDATION_ERROR"),
        ({"json": ["token"]}, "VALIDATION_ERROR"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, "INVALID_JSON"),
        ({"content": b"\xff\xfe", "headers": {"content-type": "application/json"}}, "INVALID_JSON"),
        ({"params": {"token": "a" * 201}}, "VALIDATION_ERROR"),
        ({"content": b'{"token": "\\ud800"}', "headers": {"content-type": "application/json"}}, "VALIDATION_ERROR"),
        ({"params": {"token": "x"}, "content": b"{", "headers": {"content-type": "application/json"}}, "INVALID_JSON"),
    ],
)
async def test_bad_unsubscribe_requests_are_400s(
    client: httpx.AsyncClient, request_kwargs: dict[str, Any], code: str
) -> None:
    assert_error(await client.post(UNSUBSCRIBE, **request_kwargs), 400, code)


async def test_a_deleted_account_unsubscribes_quietly(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.post(UNSUBSCRIBE, json={"token": unsubscribe_token(SECRET, uuid.uuid4())})
    assert response.status_code == 200
    assert response.json() == {"email": False, "username": None}


def test_user_text_cannot_break_the_headers_or_the_html() -> None:
    notification = Notification(
        notification_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        type="stream_started",
        payload={
            "stream_id": str(uuid.uuid4()),
            "title": "Evil\r\nBcc: victim@example.com <script>alert(1)</script>",
            "creator": {"username": "ada", "display_name": "Ada\n<b>Lovelace</b>"},
        },
    )
    message = compose(notification, "fan@example.com", Links("https://live.example.com/"), "t.k")
    assert "\n" not in message.subject
    assert "\r" not in message.subject
    assert message.subject.startswith("Ada <b>Lovelace</b> is live: Evil Bcc: victim@example.com")
    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.html
    assert "&lt;b&gt;Lovelace&lt;/b&gt;" in message.html
    assert "https://live.example.com/unsubscribe?token=t.k" in message.text


@pytest.mark.parametrize(
    ("kind", "payload", "subject", "link"),
    [
        (
            "schedule_reminder",
            {"title": "Q&A", "starts_at": "2027-01-01T10:00:00Z", "creator": {"username": "ada", "display_name": None}},
            "Starting soon: Q&A by ada",
            "https://live.example.com/u/ada",
        ),
        (
            "archive_ready",
            {"archive_id": "a", "stream_id": "s1", "title": "My show"},
            "Your replay is ready: My show",
            "https://live.example.com/watch/s1",
        ),
        (
            "new_follower",
            {"count": 3, "names": ["Bo", "Cy", "Di"]},
            "Bo and 2 more followed you on LiveStream Pro",
            "https://live.example.com/notifications",
        ),
        ("something_new", {}, "New notification on LiveStream Pro", "https://live.example.com/notifications"),
    ],
)
def test_each_kind_has_its_subject_and_link(kind: str, payload: dict[str, Any], subject: str, link: str) -> None:
    notification = Notification(notification_id=uuid.uuid4(), user_id=uuid.uuid4(), type=kind, payload=payload)
    message = compose(notification, "fan@example.com", Links("https://live.example.com"), "t.k")
    assert message.subject == subject
    assert link in message.text
    assert f'href="{link}"' in message.html


# --- helpers ---------------------------------------------------------------------------------------------


class Attempts:
    """The app's mailer, counting the attempts that failed (the job's retries)."""

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer
        self.failures = 0

    async def send(self, message: OutgoingEmail) -> None:
        try:
            await self.mailer.send(message)
        except Exception:
            self.failures += 1
            raise

    async def wait_for_failures(self, count: int) -> None:
        await _until(lambda: self.failures >= count)


async def _until(condition: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def _go_live_without_waiting(app: FastAPI, client: httpx.AsyncClient, token: str) -> str:
    """As go_live, but without waiting for the jobs (the email job is retrying in the background)."""
    created = await client.post("/api/streams", json={"title": "Live now"}, headers=bearer(token))
    assert created.status_code == 201, created.text
    stream_id = str(created.json()["stream_id"])
    c = container(app)
    async with c.db.unit_of_work() as session:
        streams = StreamRepository(session)
        stream = await streams.get(uuid.UUID(stream_id))
        assert stream is not None
        c.lifecycle.set_media_state(streams, stream, "live")
    return stream_id
