"""Account emails, the sending side: the job that mails one ``account_tokens`` row, and what each email says.

The job runs after the request's commit. It is the only place that finds out whether an address has an
account, so nothing about that reaches whoever asked (docs/decisions.md, D20):

* a sign-up (``register``): a free address gets a link that creates the account; a taken one gets, instead, a
  "someone tried to sign up with your address" notice, and the row is spent;
* a forgotten password (``reset_password``): an address with an account gets a reset link; one without gets
  nothing, and the row is spent;
* a confirmation (``verify_email``): a link to the account's current address.

The plain token is drawn by the job, its keyed hash stored and committed, and only then the email sent, so the
plain token exists only in the email (never in the database or the job queue). A retry draws a new token: the
link of an attempt that failed half-way dies with it. A row still unsent ten minutes on (its job lost, or out of
attempts) is enqueued again by a periodic reconciler until it expires. ``sent_at`` makes a duplicate run a no-op.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from livestream.auth.accounts import account_token_hash
from livestream.auth.models import AccountToken
from livestream.auth.repository import AccountTokenRepository
from livestream.db import Database, utcnow
from livestream.jobs.periodic import PeriodicRunner
from livestream.jobs.runtime import JobRuntime
from livestream.logging import get_logger
from livestream.mail.message import InvalidEmail, OutgoingEmail
from livestream.mail.sender import Mailer, MailError
from livestream.security import new_opaque_token
from livestream.users.repository import UserRepository

log = get_logger("livestream.auth")

SEND = "auth.account_email"
EMAIL_CHANGED = "auth.email_changed_notice"
ADDRESS_TAKEN = "auth.address_taken_notice"
RESEND_UNSENT = "auth.account_emails_unsent"
# A row unsent for this long has lost its job: the job's own retries are over well before (6 attempts, ~1 min).
UNSENT_AFTER = timedelta(minutes=10)
RESEND_EVERY_S = 300.0
RESEND_BATCH = 200
SITE = "LiveStream Pro"


@dataclass(frozen=True)
class Links:
    public_url: str

    def _page(self, path: str, token: str) -> str:
        return f"{self.public_url.rstrip('/')}/{path}?token={quote(token, safe='')}"

    def verify(self, token: str) -> str:
        return self._page("verify-email", token)

    def reset(self, token: str) -> str:
        return self._page("reset-password", token)

    @property
    def forgot(self) -> str:
        return f"{self.public_url.rstrip('/')}/forgot-password"

    @property
    def login(self) -> str:
        return f"{self.public_url.rstrip('/')}/login"


def _email(to: str, subject: str, paragraphs: list[str], link: tuple[str, str] | None = None) -> OutgoingEmail:
    """Text and HTML from the same paragraphs; every interpolated value is escaped for the HTML part."""
    text = "\n\n".join(paragraphs)
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    if link is not None:
        label, url = link
        text += f"\n\n{label}: {url}"
        body += f'<p><a href="{html.escape(url, quote=True)}">{html.escape(label)}</a></p>'
        body += f'<p style="color:#666;font-size:12px">Or paste this into your browser: {html.escape(url)}</p>'
    text += f"\n\n— {SITE}\n"
    page = f'<!doctype html><html><body style="font-family:sans-serif">{body}<p>— {SITE}</p></body></html>'
    return OutgoingEmail(to=to, subject=subject, text=text, html=page)


def mask_address(address: str) -> str:
    """``j***@example.com``: enough for the owner to recognise, not a full address for a mailbox thief."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


def signup_email(to: str, username: str, url: str) -> OutgoingEmail:
    return _email(
        to,
        f"Confirm your email to finish signing up to {SITE}",
        [
            f"Someone (we hope you) signed up to {SITE} as {username} with this address.",
            "Open the link below within 24 hours to confirm the address and create the account. "
            "If it was not you, ignore this email: no account is created.",
        ],
        ("Confirm my email", url),
    )


def someone_tried_email(to: str, links: Links) -> OutgoingEmail:
    return _email(
        to,
        f"Someone tried to sign up to {SITE} with your address",
        [
            f"Someone tried to create a {SITE} account with this email address, which already has an account. "
            "No new account was created and nothing about yours was changed.",
            "If it was you, sign in instead, or reset your password if you have forgotten it. "
            "If it was not you, you can ignore this email.",
        ],
        ("Reset my password", links.forgot),
    )


def address_taken_email(to: str, links: Links) -> OutgoingEmail:
    return _email(
        to,
        f"Someone tried to move a {SITE} account to your address",
        [
            f"Someone signed in to another {SITE} account tried to change its email address to this one, which "
            "already belongs to your account. Nothing was changed, on your account or theirs.",
            "If it was you, there is nothing to do. If it was not you, you can ignore this email.",
        ],
        ("Reset my password", links.forgot),
    )


def verification_email(to: str, username: str, url: str) -> OutgoingEmail:
    return _email(
        to,
        f"Confirm your email address for {SITE}",
        [
            f"Please confirm that this address belongs to the {SITE} account {username}.",
            "The link below works once, for 24 hours. If you did not ask for it, ignore this email.",
        ],
        ("Confirm my email", url),
    )


def reset_email(to: str, username: str, url: str) -> OutgoingEmail:
    return _email(
        to,
        f"Reset your {SITE} password",
        [
            f"Someone (we hope you) asked to reset the password of the {SITE} account {username}.",
            "The link below works once, for 30 minutes; using it signs every device out. "
            "If you did not ask for it, ignore this email: your password stays as it is.",
        ],
        ("Choose a new password", url),
    )


def email_changed_email(to: str, username: str, new_address: str, links: Links) -> OutgoingEmail:
    return _email(
        to,
        f"The email address of your {SITE} account was changed",
        [
            f"The email address of the {SITE} account {username} was changed from this address to "
            f"{mask_address(new_address)}.",
            "If you did this, there is nothing to do. If you did not, someone may have your password: "
            "contact the site's administrator.",
        ],
    )


class AccountEmails:
    """The jobs that send account emails; ``enabled`` says whether this server sends email at all."""

    def __init__(
        self, db: Database, runtime: JobRuntime, mailer: Mailer | None, *, secret_key: str, public_url: str
    ) -> None:
        self.db = db
        self.runtime = runtime
        self.mailer = mailer
        self.secret_key = secret_key
        self.links = Links(public_url)

    @property
    def enabled(self) -> bool:
        return self.mailer is not None

    def register(self, periodic: PeriodicRunner, *, attempts: int | None = None) -> None:
        self.runtime.register(SEND, self.send, attempts=attempts)
        self.runtime.register(EMAIL_CHANGED, self.email_changed_notice, attempts=attempts)
        self.runtime.register(ADDRESS_TAKEN, self.address_taken_notice, attempts=attempts)
        periodic.every(RESEND_UNSENT, RESEND_EVERY_S, self.resend_unsent)

    # --- triggers (after commit) -------------------------------------------------------------------------

    async def enqueue(self, token_id: uuid.UUID) -> None:
        await self.runtime.enqueue(SEND, token_id=str(token_id))

    async def address_changed(self, user_id: uuid.UUID, old_email: str, new_email: str) -> None:
        if self.enabled:
            await self.runtime.enqueue(EMAIL_CHANGED, user_id=str(user_id), old_email=old_email, new_email=new_email)

    async def address_taken(self, address: str) -> None:
        if self.enabled:
            await self.runtime.enqueue(ADDRESS_TAKEN, address=address)

    # --- jobs ----------------------------------------------------------------------------------------------

    async def send(self, token_id: str) -> None:
        if self.mailer is None:
            log.info("account_email_not_sent", reason="email is off", token_id=token_id)
            return
        ident = uuid.UUID(token_id)
        message, spend_after = await self._prepare(ident)
        if message is None:
            return
        try:
            await self.mailer.send(message)
        except MailError as exc:
            if not exc.permanent:
                raise  # the runtime retries with backoff; the retry draws a new token
            log.warning("account_email_refused", token_id=token_id, code=exc.code)
            await self._mark(ident, spent=True)
            return
        await self._mark(ident, spent=spend_after)
        log.info("account_email_sent", token_id=token_id)

    async def _prepare(self, token_id: uuid.UUID) -> tuple[OutgoingEmail | None, bool]:
        """The email for a row (None: nothing to send) and whether the row is spent once it is sent."""
        now = utcnow()
        async with self.db.unit_of_work() as session:
            tokens, users = AccountTokenRepository(session), UserRepository(session)
            row = await tokens.get(token_id)
            if row is None or row.sent_at is not None or row.used_at is not None or row.expires_at <= now:
                return None, False
            try:
                if row.purpose == "register":
                    if await users.email_taken(row.email):
                        # No token: this row can never create an account. Spent once the notice is sent.
                        return someone_tried_email(row.email, self.links), True
                    token = self._new_token(row)
                    return signup_email(row.email, row.username or "", self.links.verify(token)), False
                user = await (users.get_by_email(row.email) if row.user_id is None else users.get(row.user_id))
                if user is None or user.email.lower() != row.email.lower():
                    # No account has this address (any more): nothing is sent, and nobody is told.
                    row.used_at = now
                    return None, False
                row.user_id = user.user_id
                token = self._new_token(row)
                if row.purpose == "reset_password":
                    return reset_email(user.email, user.username, self.links.reset(token)), False
                return verification_email(user.email, user.username, self.links.verify(token)), False
            except InvalidEmail as exc:
                # An address the validator took but the mail check refuses: nothing will ever send to it.
                log.warning("account_email_unsendable", token_id=str(token_id), error=str(exc))
                row.used_at, row.token_hash = now, None
                return None, False

    def _new_token(self, row: AccountToken) -> str:
        token = new_opaque_token()
        row.token_hash = account_token_hash(self.secret_key, token, row.purpose)
        return token

    async def _mark(self, token_id: uuid.UUID, *, spent: bool) -> None:
        async with self.db.unit_of_work() as session:
            row = await AccountTokenRepository(session).get(token_id)
            if row is not None:
                row.sent_at = utcnow()
                if spent:
                    row.used_at, row.password_hash = row.sent_at, None

    async def email_changed_notice(self, user_id: str, old_email: str, new_email: str) -> None:
        """A notice to the address an account just left (best effort: retried, not reconciled)."""
        if self.mailer is None:
            return
        async with self.db.sessionmaker() as session:
            user = await UserRepository(session).get(uuid.UUID(user_id))
        if user is None:
            return
        try:
            message = email_changed_email(old_email, user.username, new_email, self.links)
        except InvalidEmail as exc:
            log.warning("account_email_unsendable", job=EMAIL_CHANGED, error=str(exc))
            return
        try:
            await self.mailer.send(message)
        except MailError as exc:
            if not exc.permanent:
                raise
            log.warning("account_email_refused", job=EMAIL_CHANGED, code=exc.code)

    async def address_taken_notice(self, address: str) -> None:
        """A notice to the owner of an address another account tried to move to (best effort, like the above)."""
        if self.mailer is None:
            return
        async with self.db.sessionmaker() as session:
            owner = await UserRepository(session).get_by_email(address)
        if owner is None:
            return  # freed since: nobody to tell
        try:
            message = address_taken_email(owner.email, self.links)
        except InvalidEmail as exc:
            log.warning("account_email_unsendable", job=ADDRESS_TAKEN, error=str(exc))
            return
        try:
            await self.mailer.send(message)
        except MailError as exc:
            if not exc.permanent:
                raise
            log.warning("account_email_refused", job=ADDRESS_TAKEN, code=exc.code)

    async def resend_unsent(self) -> None:
        """Reconciler: rows whose email never went (a lost job, a spent retry budget) are enqueued again."""
        now = utcnow()
        async with self.db.sessionmaker() as session:
            unsent = await AccountTokenRepository(session).unsent(
                created_before=now - UNSENT_AFTER, now=now, limit=RESEND_BATCH
            )
        for token_id in unsent:
            await self.enqueue(token_id)
        if unsent:
            log.info("account_emails_requeued", count=len(unsent))
