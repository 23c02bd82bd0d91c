"""A real SMTP server on loopback for tests (aiosmtpd), collecting what it receives.

It runs on its own thread and loop (aiosmtpd's ``Controller``), so the app under test talks to it over TCP
like to any mail server. ``stop()`` and ``start()`` again on the same port simulate an outage; ``refuse``
makes it answer RCPT with a given reply (a 4xx or 5xx) instead. ``tls_context`` makes it offer STARTTLS, and
``auth=True`` makes it take AUTH (even without TLS, as a careless server would), recording each ``Login``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

SENDER = "LiveStream Test <noreply@livestream.example.com>"


@dataclass(frozen=True)
class Received:
    mail_from: str
    recipients: list[str]
    message: EmailMessage

    def part(self, subtype: str) -> str:
        """The decoded text of the text/<subtype> part (plain or html)."""
        found = self.message.get_body(preferencelist=(subtype,))
        assert found is not None, f"no text/{subtype} part"
        content: str = found.get_content()
        return content


@dataclass(frozen=True)
class Login:
    login: str
    password: str
    encrypted: bool  # whether it came over TLS


class _Authenticator:
    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login = Login(auth_data.login.decode(), auth_data.password.decode(), encrypted=session.ssl is not None)
        with self.owner.lock:
            self.owner.logins.append(login)
        return AuthResult(success=True)


class _Handler:
    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.owner.refuse is not None:
            with self.owner.lock:
                self.owner.refused += 1
            return self.owner.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        mail_from = envelope.mail_from or ""
        with self.owner.lock:
            self.owner.messages.append(Received(mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class SmtpServer:
    host = "127.0.0.1"

    def __init__(
        self, port: int | None = None, *, tls_context: ssl.SSLContext | None = None, auth: bool = False
    ) -> None:
        self.port = port or free_port()
        self.tls_context = tls_context
        self.auth = auth
        self.logins: list[Login] = []
        self.messages: list[Received] = []
        self.lock = threading.Lock()
        self.refuse: str | None = None
        self.refused = 0  # recipients answered with ``refuse``
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        if self._controller is not None:
            return
        options: dict[str, Any] = {}
        if self.tls_context is not None:
            options["tls_context"] = self.tls_context
        if self.auth:
            options.update(authenticator=_Authenticator(self), auth_require_tls=False)
        controller = Controller(_Handler(self), hostname=self.host, port=self.port, ready_timeout=10, **options)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def settings(self, **extra: Any) -> dict[str, Any]:
        """Settings overrides that point the app at this server."""
        return {"smtp_host": self.host, "smtp_port": self.port, "smtp_from": SENDER, **extra}

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def to(self, address: str) -> list[Received]:
        return [m for m in self.received() if address.lower() in (r.lower() for r in m.recipients)]

    async def wait_for(self, count: int, *, within: float = 10.0) -> list[Received]:
        """At least ``count`` messages received, or AssertionError after ``within`` seconds."""
        deadline = time.monotonic() + within
        while True:
            got = self.received()
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} emails within {within} s, got {len(got)}")
            await asyncio.sleep(0.02)


@contextlib.contextmanager
def running_smtp_server(*, tls_context: ssl.SSLContext | None = None, auth: bool = False) -> Iterator[SmtpServer]:
    """A started server on a free port, stopped on exit (the ``smtp_server`` fixture in tests/conftest.py)."""
    server = SmtpServer(tls_context=tls_context, auth=auth)
    server.start()
    try:
        yield server
    finally:
        server.stop()
