"""An outgoing email, checked when it is made, and its MIME form (multipart/alternative: text, then HTML).

Header injection is impossible by construction: a recipient, subject or extra header with a line break (or NUL)
is refused here, before any MIME is built; the stdlib's ``email`` package then folds and encodes what is left.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP

from email_validator import EmailNotValidError, validate_email

# Bounds: RFC 5321 caps an address at 254 octets; a subject past a few hundred characters is a bug, not a subject.
MAX_ADDRESS = 254
MAX_SUBJECT = 300
MAX_HEADER_VALUE = 2000
MAX_BODY = 1024 * 1024
_BREAKS = re.compile(r"[\r\n\x00\u2028\u2029\x85]")
_HEADER_NAME = re.compile(r"[!-9;-~]{1,76}")  # printable ASCII without ':' (RFC 5322 ftext)
# Headers the sender writes itself; an extra one of these names would duplicate or override them.
_RESERVED_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version", "content-type", "sender"}
)


class InvalidEmail(ValueError):
    """An email that must not be sent as it is (a line break in a header, a malformed address)."""


def checked_address(value: str) -> str:
    """A bare address (``user@example.com``), validated; the normalised form."""
    if not isinstance(value, str) or _BREAKS.search(value) or len(value) > MAX_ADDRESS:
        raise InvalidEmail("the address must be one line of at most 254 characters")
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidEmail(f"not an email address: {exc}") from exc


def checked_sender(value: str) -> Address:
    """``LS_SMTP_FROM``: an address or ``Name <address>``."""
    if _BREAKS.search(value):
        raise InvalidEmail("LS_SMTP_FROM must be one line")
    found = email.utils.getaddresses([value])
    if len(found) != 1 or not found[0][1]:
        raise InvalidEmail("LS_SMTP_FROM is not one address nor 'Name <address>'")
    name, address = found[0]
    try:
        normalized = checked_address(address)
    except InvalidEmail as exc:
        raise InvalidEmail(f"LS_SMTP_FROM: {exc}") from exc
    local, _, domain = normalized.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def _one_line(what: str, value: str, limit: int) -> str:
    if not isinstance(value, str) or _BREAKS.search(value):
        raise InvalidEmail(f"the {what} must be one line (no CR, LF or NUL)")
    if len(value) > limit:
        raise InvalidEmail(f"the {what} is longer than {limit} characters")
    return value


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str  # plain-text body
    html: str  # HTML body: whoever builds it escapes everything interpolated
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. List-Unsubscribe

    def __post_init__(self) -> None:
        object.__setattr__(self, "to", checked_address(self.to))
        _one_line("subject", self.subject, MAX_SUBJECT)
        for body in (self.text, self.html):
            if not isinstance(body, str) or "\x00" in body or len(body) > MAX_BODY:
                raise InvalidEmail("a body must be text without NUL, at most 1 MiB")
        for name, value in self.headers.items():
            if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
                raise InvalidEmail(f"not a header name: {name!r}")
            if name.lower() in _RESERVED_HEADERS:
                raise InvalidEmail(f"the {name} header is written by the sender")
            _one_line(f"{name} header", value, MAX_HEADER_VALUE)
        object.__setattr__(self, "headers", dict(self.headers))


def to_mime(message: OutgoingEmail, sender: Address, *, now: datetime | None = None) -> EmailMessage:
    """The message as sent: From, To, Subject, Date, Message-ID, the extra headers, text and HTML parts."""
    mime = EmailMessage(policy=SMTP)
    mime["From"] = sender
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Date"] = email.utils.format_datetime(now or datetime.now(UTC))
    mime["Message-ID"] = email.utils.make_msgid(domain=sender.domain)
    for name, value in message.headers.items():
        mime[name] = value
    mime.set_content(message.text, subtype="plain", charset="utf-8")
    mime.add_alternative(message.html, subtype="html", charset="utf-8")
    return mime
