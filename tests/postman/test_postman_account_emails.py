"""The collection's "Auth: account emails with SMTP" folder, run alone by newman against a server that sends email.

The main run's server has no SMTP, so there sign-up answers 201 and the mailing endpoints 503. Here a second
``livestream serve`` is pointed at a local SMTP server (aiosmtpd, in this process), newman runs only that folder,
and the test then checks what each address received: a sign-up link for the free address, a notice (and no
link) for the taken one, a reset link for the known address, nothing for the unknown one.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy.engine import make_url

from tests.postman.test_postman_collection import COLLECTION, NEWMAN, SEED_PASSWORD, _ensure_newman
from tests.support.live_server import ROOT, LiveServer, start_server
from tests.support.smtp_server import SENDER, Received, SmtpServer, running_smtp_server

FOLDER = "Auth: account emails with SMTP"
OWNER = "mail_owner"
OWNER_EMAIL = "mail_owner@example.com"
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def mailing_server(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[LiveServer]:
    server = start_server(
        tmp_path_factory.mktemp("live-smtp"),
        LS_SMTP_HOST=smtp.host,
        LS_SMTP_PORT=str(smtp.port),
        LS_SMTP_FROM=SENDER,
    )
    try:
        yield server
    finally:
        server.stop()


def _owner_token(server: LiveServer) -> str:
    """An account that exists before email was on (unconfirmed), written into the server's database, signed in."""
    url = make_url(server.env["LS_DATABASE_URL"])
    assert url.database, url
    now = datetime.now(UTC).strftime(SQLITE_DATETIME)
    with closing(sqlite3.connect(url.database, timeout=10)) as db, db:
        db.execute(
            "INSERT INTO users (user_id, username, email, password_hash, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (uuid.uuid4().hex, OWNER, OWNER_EMAIL, PasswordHasher().hash(SEED_PASSWORD), now, now),
        )
    signed_in = httpx.post(
        f"{server.base_url}/api/auth/login", json={"login": OWNER, "password": SEED_PASSWORD}, timeout=10
    )
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["user"]["email_verified"] is False
    return str(signed_in.json()["access_token"])


def test_newman_runs_the_smtp_folder(mailing_server: LiveServer, smtp: SmtpServer) -> None:
    _ensure_newman()
    env_vars = {
        "baseUrl": mailing_server.base_url,
        "smtpOn": "1",
        "smtpOwnerEmail": OWNER_EMAIL,
        "smtpOwnerToken": _owner_token(mailing_server),
    }
    command = [
        str(NEWMAN),
        "run",
        str(COLLECTION),
        "--folder",
        FOLDER,
        *(arg for key, value in env_vars.items() for arg in ("--env-var", f"{key}={value}")),
        "--reporters",
        "cli",
        "--bail",
        "--color",
        "off",
        "--timeout-request",
        "30000",
    ]
    env = {**os.environ, "FORCE_COLOR": "0", "NO_COLOR": "1"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"newman exited with {result.returncode}:\n{output}\n{mailing_server.log()[-6000:]}"
    assert "the same body as for a free address" in output, output
    assert "the same body as for a known address" in output, output
    assert "Retry-After says when" in output, output

    # Five emails reached the owner before the limit (the notice, resets, the confirmation link); nothing more.
    owner = _wait_for(smtp, OWNER_EMAIL, 5)
    assert len(owner) == 5, [m.message["Subject"] for m in owner]
    subjects = [m.message["Subject"] for m in owner]
    assert sum("Someone tried to sign up" in s for s in subjects) == 1, subjects
    assert sum("Confirm your email address" in s for s in subjects) == 1, subjects
    assert sum("Reset your" in s for s in subjects) == 3, subjects
    notice = next(m for m in owner if "Someone tried" in m.message["Subject"])
    assert "verify-email" not in notice.part("plain")
    signups = [m for m in smtp.received() if "Confirm your email to finish" in m.message["Subject"]]
    assert len(signups) == 1
    (address,) = signups[0].recipients
    assert address.startswith("mail_")
    assert f"{mailing_server.base_url}/verify-email?token=" in signups[0].part("plain")
    assert not [m for m in smtp.received() if any(r.startswith("nobody_") for r in m.recipients)]


def _wait_for(smtp: SmtpServer, address: str, count: int) -> list[Received]:
    """The messages to ``address`` once there are ``count`` (the jobs send after newman has its answers)."""
    deadline = time.monotonic() + 15
    while True:
        got = smtp.to(address)
        if len(got) >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.05)
