"""Notification emails: the "email" delivery channel, and the job that sends one notification's email.

The channel is told of every committed batch (``Delivery``); in one query it finds which new notifications go
to someone who turned email on (and that kind), and enqueues one ``notifications.email`` job for each. It
never sends: the fan-out goes on at once. The job reads the notification, checks it was not emailed yet and
that the recipient still wants it, claims it (``email_claimed_at``, a 5-minute lease), sends, then sets
``emailed_at``: run twice, even at once, it sends once. A failure worth
retrying (no connection, a 4xx) raises, and the job runtime runs it again with backoff; a permanent refusal
(5xx) is logged and dropped. A crash between the send and ``emailed_at`` sends that email again on the retry:
at least once, never silently lost.

With no SMTP configured none of this is registered (``app/container.py``).
"""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from livestream.db import Database, utcnow
from livestream.jobs.periodic import PeriodicRunner
from livestream.jobs.runtime import JobRuntime
from livestream.logging import get_logger
from livestream.mail.message import InvalidEmail, OutgoingEmail
from livestream.mail.sender import Mailer, MailError
from livestream.notifications.delivery import Delivery, Written
from livestream.notifications.models import Notification, NotificationSettings
from livestream.notifications.repository import NotificationRepository
from livestream.notifications.unsubscribe import unsubscribe_token
from livestream.payments.money import payload_amount
from livestream.users.models import User

log = get_logger("livestream.notifications")

EMAIL = "notifications.email"
RECONCILE = "notifications.email_reconcile"
# Unhandled emails of the last day, older than the job's own retries take, are enqueued again every 10 minutes.
RECONCILE_EVERY = timedelta(minutes=10)
RECONCILE_AFTER = timedelta(minutes=10)
RECONCILE_HORIZON = timedelta(days=1)
RECONCILE_LIMIT = 5_000
# Enqueued this many at a time: with Redis each enqueue is a round trip, so a batch of 5,000 opted-in followers
# does not wait for 5,000 of them in a row.
ENQUEUE_AT_ONCE = 100
# How long an email job holds a notification's email: longer than one send can take (the SMTP timeout is at most
# 10 minutes, 30 s by default), shorter than the reconciler's 10 minutes.
CLAIM_LEASE = timedelta(minutes=5)
SITE = "LiveStream Pro"
_NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(value: object, limit: int = 120) -> str:
    """User text for a subject or a line of a body: control characters (line breaks) become spaces, bounded."""
    text = _NOT_ONE_LINE.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Links:
    public_url: str

    @property
    def base(self) -> str:
        return self.public_url.rstrip("/")

    def watch(self, stream_id: object) -> str:
        return f"{self.base}/watch/{quote(str(stream_id), safe='')}"

    def channel(self, username: object) -> str:
        return f"{self.base}/u/{quote(str(username), safe='')}"

    @property
    def notifications(self) -> str:
        return f"{self.base}/notifications"

    @property
    def settings(self) -> str:
        return f"{self.base}/settings/notifications"

    @property
    def earnings(self) -> str:
        return f"{self.base}/earnings"

    def unsubscribe_page(self, token: str) -> str:
        return f"{self.base}/unsubscribe?token={quote(token, safe='')}"

    def unsubscribe_api(self, token: str) -> str:
        return f"{self.base}/api/notifications/unsubscribe?token={quote(token, safe='')}"


@dataclass(frozen=True)
class Content:
    """What one email says: the subject, a lead sentence, and the one link it is about (label, URL)."""

    subject: str
    lead: str
    link_label: str
    link: str
    detail: str | None = None


def _creator_name(payload: dict[str, Any]) -> tuple[str, str | None]:
    creator = payload.get("creator")
    if not isinstance(creator, dict):
        return "Someone you follow", None
    username = creator.get("username")
    name = creator.get("display_name") or username or "Someone you follow"
    return one_line(name, 60), str(username) if username else None


def content_for(kind: str, payload: dict[str, Any], links: Links) -> Content:
    """Subject, text and link of each kind of notification (payloads as notifications/tasks.py and schedules
    write them); an unknown kind points at the notifications page."""
    title = one_line(payload.get("title") or "Untitled", 100)
    if kind == "stream_started":
        name, username = _creator_name(payload)
        detail = f"Channel: {links.channel(username)}" if username else None
        return Content(
            subject=f"{name} is live: {title}",
            lead=f"{name} just went live on {SITE}: “{title}”.",
            link_label="Watch now",
            link=links.watch(payload.get("stream_id", "")),
            detail=detail,
        )
    if kind == "schedule_reminder":
        name, username = _creator_name(payload)
        starts = one_line(payload.get("starts_at") or "soon", 40)
        return Content(
            subject=f"Starting soon: {title} by {name}",
            lead=f"{name} planned “{title}”, starting at {starts} (UTC).",
            link_label=f"Go to {name}'s channel",
            link=links.channel(username) if username else links.notifications,
        )
    if kind == "archive_ready":
        return Content(
            subject=f"Your replay is ready: {title}",
            lead=f"The recording of your stream “{title}” is ready to watch and share.",
            link_label="Watch the replay",
            link=links.watch(payload.get("stream_id", "")),
        )
    if kind == "new_follower":
        names = [one_line(n, 60) for n in payload.get("names", []) if n] or ["Someone"]
        count = int(payload.get("count", 1) or 1)
        who = names[0] if count == 1 else f"{names[0]} and {count - 1} more"
        return Content(
            subject=f"{who} followed you on {SITE}",
            lead=f"{who} started following you.",
            link_label="See your notifications",
            link=links.notifications,
        )
    if kind == "tip_received":
        sender_value = payload.get("sender")
        sender: dict[str, Any] = sender_value if isinstance(sender_value, dict) else {}
        who = one_line(sender.get("display_name") or sender.get("username") or "A viewer", 60)
        money = payload_amount(payload)
        message = payload.get("message")
        return Content(
            subject=f"{who} tipped you {money}" if money else f"{who} sent you a tip",
            lead=f"{who} sent you a tip of {money}." if money else f"{who} sent you a tip.",
            link_label="See your earnings",
            link=links.earnings,
            detail=f"Their message: {one_line(message, 200)}" if isinstance(message, str) and message else None,
        )
    return Content(
        subject=f"New notification on {SITE}",
        lead=f"You have a new notification on {SITE}.",
        link_label="See your notifications",
        link=links.notifications,
    )


def compose(notification: Notification, address: str, links: Links, token: str) -> OutgoingEmail:
    """The email for one notification: text and HTML (everything interpolated escaped), the unsubscribe link in
    the body, and List-Unsubscribe with one-click POST (RFC 8058) in the headers."""
    content = content_for(notification.type, notification.payload or {}, links)
    unsubscribe = links.unsubscribe_page(token)
    text_lines = [content.lead, "", f"{content.link_label}: {content.link}"]
    if content.detail:
        text_lines.append(content.detail)
    text_lines += [
        "",
        "--",
        f"You get this email because you turned on email notifications on {SITE}.",
        f"Unsubscribe from these emails: {unsubscribe}",
        f"Notification settings: {links.settings}",
        "",
    ]
    e = html.escape
    detail_html = f"<p>{e(content.detail)}</p>" if content.detail else ""
    body_html = (
        "<!doctype html>\n"
        '<html><body style="font-family:sans-serif;line-height:1.5">'
        f"<p>{e(content.lead)}</p>"
        f'<p><a href="{e(content.link, quote=True)}">{e(content.link_label)}</a></p>'
        f"{detail_html}"
        '<hr><p style="color:#666;font-size:12px">'
        f"You get this email because you turned on email notifications on {e(SITE)}. "
        f'<a href="{e(unsubscribe, quote=True)}">Unsubscribe</a> · '
        f'<a href="{e(links.settings, quote=True)}">Notification settings</a>'
        "</p></body></html>\n"
    )
    return OutgoingEmail(
        to=address,
        subject=one_line(content.subject, 200),
        text="\n".join(text_lines),
        html=body_html,
        headers={
            "List-Unsubscribe": f"<{links.unsubscribe_api(token)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def wanted(notification: Notification, user: User, settings: NotificationSettings | None) -> bool:
    """Still to be emailed: not yet, a confirmed address, email on and this kind on (a user may have switched or
    changed address since). An unconfirmed address may be anyone's: it gets nothing until its link comes back."""
    if notification.emailed_at is not None or not user.email or user.email_verified_at is None:
        return False
    if settings is None or not settings.email:
        return False
    return bool(getattr(settings, notification.type, False))


class NotificationEmails:
    def __init__(
        self,
        db: Database,
        runtime: JobRuntime,
        mailer: Mailer,
        *,
        public_url: str,
        secret_key: str,
        attempts: int,
    ) -> None:
        self.db = db
        self.runtime = runtime
        self.mailer = mailer
        self.links = Links(public_url)
        self.secret_key = secret_key
        self.attempts = attempts

    def register(self, delivery: Delivery, periodic: PeriodicRunner) -> None:
        self.runtime.register(EMAIL, self.send, attempts=self.attempts, on_give_up=self._gave_up)
        delivery.add("email", self.delivered)
        periodic.every(RECONCILE, RECONCILE_EVERY.total_seconds(), self.reconcile)

    async def delivered(self, rows: Sequence[Written]) -> None:
        """The channel: one job per new notification whose recipient wants it by email (one query per batch)."""
        fresh = [row.notification_id for row in rows if row.new]
        if not fresh:
            return
        async with self.db.sessionmaker() as session:
            due = await NotificationRepository(session).email_due(fresh)
        for start in range(0, len(due), ENQUEUE_AT_ONCE):
            chunk = due[start : start + ENQUEUE_AT_ONCE]
            await asyncio.gather(*(self.runtime.enqueue(EMAIL, notification_id=str(ident)) for ident in chunk))
        if due:
            log.info("notification_emails_enqueued", emails=len(due), rows=len(rows))

    async def reconcile(self) -> None:
        """Enqueue again the emails of the last day that were never handled: a job a killed worker took off the
        queue is gone (the queue is only a hint), and so is one that gave up while the SMTP server was down."""
        now = utcnow()
        async with self.db.sessionmaker() as session:
            stranded = await NotificationRepository(session).email_stranded(
                since=now - RECONCILE_HORIZON, until=now - RECONCILE_AFTER, limit=RECONCILE_LIMIT
            )
        for start in range(0, len(stranded), ENQUEUE_AT_ONCE):
            chunk = stranded[start : start + ENQUEUE_AT_ONCE]
            await asyncio.gather(*(self.runtime.enqueue(EMAIL, notification_id=str(ident)) for ident in chunk))
        if stranded:
            log.warning("notification_emails_reenqueued", emails=len(stranded))

    async def send(self, notification_id: str) -> None:
        """The job: send one notification's email, once."""
        ident = uuid.UUID(notification_id)
        async with self.db.sessionmaker() as session:
            found = await NotificationRepository(session).email_context(ident)
        if found is None:
            return  # purged, or the recipient's account is gone
        notification, user, settings = found
        if not wanted(notification, user, settings):
            await self._handled(ident)  # switched off meanwhile: nothing to send, ever
            return
        # Copies of this job may run at once (a retry, the reconciler's re-enqueue, a redelivered message): the
        # claim lets one of them send.
        claimed_at = utcnow()
        async with self.db.unit_of_work() as session:
            claimed = await NotificationRepository(session).claim_email(ident, now=claimed_at, lease=CLAIM_LEASE)
        if not claimed:
            log.info("notification_email_claimed_elsewhere", notification_id=notification_id)
            return
        token = unsubscribe_token(self.secret_key, user.user_id)
        try:
            message = compose(notification, user.email, self.links, token)
            await self.mailer.send(message)
        except InvalidEmail as exc:
            log.warning("notification_email_invalid", notification_id=notification_id, error=str(exc))
            await self._handled(ident)
            return
        except MailError as exc:
            if exc.permanent:
                log.warning("notification_email_refused", notification_id=notification_id, code=exc.code)
                await self._handled(ident)
                return
            await self._release(ident, claimed_at)  # the retry may take it at once
            raise
        except BaseException:
            await asyncio.shield(self._release(ident, claimed_at))
            raise
        await self._handled(ident)

    async def _release(self, ident: uuid.UUID, claimed_at: datetime) -> None:
        async with self.db.unit_of_work() as session:
            await NotificationRepository(session).release_email(ident, claimed_at)

    async def _handled(self, ident: uuid.UUID) -> None:
        """Sent, refused for good or no longer wanted: ``emailed_at`` says the email needs nothing more."""
        async with self.db.unit_of_work() as session:
            await NotificationRepository(session).mark_emailed(ident)

    async def _gave_up(self, payload: dict[str, Any], error: BaseException) -> None:
        log.error("notification_email_dropped", notification_id=payload.get("notification_id"), error=str(error))
