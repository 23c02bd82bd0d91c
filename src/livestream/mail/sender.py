"""Sending email: the ``Mailer`` protocol, and ``SmtpMailer`` on aiosmtplib.

One connection per message: notification and account emails are few and sent by jobs, so a pool would hold
idle connections that servers drop anyway. STARTTLS is used whenever the server offers it (and required with
``LS_SMTP_REQUIRE_TLS``); port 465 speaks TLS from the first byte. With a user name (``LS_SMTP_USER``) TLS is
required: the password is never sent over a connection that is not encrypted, whether the server offers no
STARTTLS or someone on the path stripped it from the EHLO answer; only ``LS_SMTP_ALLOW_PLAINTEXT_AUTH`` (never
in production) lets it through. The password is a ``SecretStr`` and is handed to aiosmtplib only: it never
appears in a log line or an error.
"""

from __future__ import annotations

import ssl
from typing import Protocol

import aiosmtplib

from livestream.config import Settings
from livestream.logging import get_logger
from livestream.mail.message import OutgoingEmail, checked_sender, to_mime

log = get_logger("livestream.mail")

IMPLICIT_TLS_PORT = 465


class MailError(Exception):
    """Sending failed. ``permanent``: the server refused the message for good (5xx), trying again is useless;
    otherwise (no connection, a timeout, a 4xx) a later attempt may succeed."""

    def __init__(self, message: str, *, permanent: bool = False, code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


class Mailer(Protocol):
    async def send(self, message: OutgoingEmail) -> None: ...


class SmtpMailer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        require_tls: bool = False,
        allow_plaintext_auth: bool = False,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = checked_sender(sender)
        self.username = username
        self._password = password
        self.timeout = timeout
        self.require_tls = require_tls
        self.allow_plaintext_auth = allow_plaintext_auth
        self.tls_context = tls_context

    async def _start_tls(self, client: aiosmtplib.SMTP) -> None:
        await client.ehlo()
        if client.supports_extension("starttls"):
            await client.starttls()
            return
        if self.username and not self.allow_plaintext_auth:
            # Permanent: the next attempt meets the same server; the operator has to act.
            log.error(
                "smtp_auth_refused_without_tls",
                host=self.host,
                port=self.port,
                reason="the server offers no STARTTLS; the password is not sent in clear text",
                fix="use port 465 or a server with STARTTLS (LS_SMTP_ALLOW_PLAINTEXT_AUTH outside production only)",
            )
            raise MailError(
                f"SMTP server {self.host}:{self.port} offers no STARTTLS: refusing to send the SMTP password "
                "unencrypted",
                permanent=True,
            )
        if self.require_tls:
            raise MailError(f"SMTP server {self.host}:{self.port} offers no STARTTLS (LS_SMTP_REQUIRE_TLS)")

    def __repr__(self) -> str:  # no password, ever
        return f"SmtpMailer(host={self.host!r}, port={self.port}, sender={str(self.sender)!r})"

    async def send(self, message: OutgoingEmail) -> None:
        mime = to_mime(message, self.sender)
        implicit = self.port == IMPLICIT_TLS_PORT
        # STARTTLS and AUTH are driven here, not by aiosmtplib's connect: its "STARTTLS when offered" would log in
        # over the plain connection when the offer is missing.
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            timeout=self.timeout,
            use_tls=implicit,
            start_tls=False,
            tls_context=self.tls_context,
        )
        try:
            async with client:
                if not implicit:
                    await self._start_tls(client)
                if self.username:
                    await client.login(self.username, self._password or "")
                await client.send_message(mime, sender=self.sender.addr_spec, recipients=[message.to])
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            permanent = bool(codes) and all(code >= 500 for code in codes)
            raise MailError(
                f"recipient refused ({codes})", permanent=permanent, code=codes[0] if codes else None
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise MailError(
                f"SMTP server answered {exc.code}: {exc.message}", permanent=exc.code >= 500, code=exc.code
            ) from exc
        except aiosmtplib.SMTPException as exc:
            # Connection refused or dropped, timeouts, STARTTLS missing when required: worth another attempt.
            raise MailError(f"SMTP: {type(exc).__name__}: {exc}") from exc
        except (OSError, ssl.SSLError) as exc:
            raise MailError(f"SMTP connection: {type(exc).__name__}: {exc}") from exc
        log.info("email_sent", to_domain=message.to.rpartition("@")[2], subject_length=len(message.subject))


def make_mailer(settings: Settings) -> Mailer | None:
    """The configured mailer; None when ``LS_SMTP_HOST`` is unset (email is off)."""
    if settings.smtp_host is None or settings.smtp_from is None:
        return None
    return SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        username=settings.smtp_user,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password is not None else None,
        timeout=settings.smtp_timeout_seconds,
        require_tls=settings.smtp_require_tls,
        allow_plaintext_auth=settings.smtp_allow_plaintext_auth,
    )
