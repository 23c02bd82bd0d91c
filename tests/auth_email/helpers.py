"""Steps the account-email tests share: reading links out of received mail, ageing tokens in the database."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from livestream.auth.models import AccountToken
from livestream.db import utcnow
from tests.api.helpers import container
from tests.support.smtp_server import Received, SmtpServer

LINK = re.compile(r"(https?://[^\s\"<>]+/(verify-email|reset-password)\?token=([A-Za-z0-9_\-]+))")
# Headers that differ between any two answers, whatever they say.
VARYING_HEADERS = {"date", "x-request-id", "content-length"}


def link_in(message: Received, page: str) -> tuple[str, str]:
    """(the full link, its token) for ``page`` in the text part; the HTML part must carry the same link."""
    found = [m for m in LINK.finditer(message.part("plain")) if m.group(2) == page]
    assert len(found) == 1, message.part("plain")
    url, token = found[0].group(1), found[0].group(3)
    assert f'href="{url}"' in message.part("html")
    return url, token


async def mail_to(smtp: SmtpServer, address: str, count: int = 1, *, within: float = 10.0) -> list[Received]:
    """Wait until ``address`` has ``count`` messages; returns them, oldest first."""
    deadline = time.monotonic() + within
    while True:
        got = smtp.to(address)
        if len(got) >= count:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{address}: expected {count} emails within {within} s, got {len(got)}")
        await asyncio.sleep(0.02)


async def settle(app: Any) -> None:
    """Every job this app enqueued has run (sent, or decided to send nothing)."""
    await container(app).jobs.idle()


async def age_tokens(app: Any, *, by: timedelta) -> None:
    """Move every account token's expiry back by ``by`` (a link that was mailed long ago)."""
    async with container(app).db.sessionmaker() as session:
        await session.execute(update(AccountToken).values(expires_at=utcnow() - by))
        await session.commit()


def comparable(response: httpx.Response) -> tuple[int, Any, dict[str, str]]:
    """What a client can tell of an answer: status, body, and every header but those that always vary."""
    headers = {k: v for k, v in response.headers.items() if k.lower() not in VARYING_HEADERS}
    return response.status_code, response.json(), headers
