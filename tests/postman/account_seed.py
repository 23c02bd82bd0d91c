"""Account-email links for the Postman collection's "Auth: account emails" folder.

The test server sends no email (no SMTP), and newman could not read a mailbox anyway: so the rows a sign-up or a
forgotten password would have written, and the links their emails would have carried, are written here straight
into the server's SQLite database, hashed with the server's own secret as ``auth.emails`` hashes them.
"""

from __future__ import annotations

import secrets
import sqlite3
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from argon2 import PasswordHasher
from sqlalchemy.engine import make_url

from livestream.auth.accounts import account_token_hash
from tests.support.live_server import LiveServer

SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


def _when(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime(SQLITE_DATETIME)


def seed_account_tokens(live_server: LiveServer, password: str) -> dict[str, str]:
    """Collection variables: the tokens of seeded links (good, expired, used, for a taken name), the names
    they are for, and a signed-in account whose password a reset link changes."""
    url = make_url(live_server.env["LS_DATABASE_URL"])
    assert url.get_backend_name() == "sqlite", url
    assert url.database, url
    secret = (Path(live_server.env["LS_VAR_DIR"]) / "secret_key").read_text().strip()
    run = secrets.token_hex(4)
    api = httpx.Client(base_url=live_server.base_url, timeout=10)
    with api:
        taken = f"taken_{run}"
        reset_name = f"reset_{run}"
        for name in (taken, reset_name):
            made = api.post(
                "/api/auth/register", json={"username": name, "email": f"{name}@example.com", "password": password}
            )
            assert made.status_code == 201, made.text
        reset_user_id = str(api.get(f"/api/users/by-username/{reset_name}").json()["user_id"])
        signed_in = api.post("/api/auth/login", json={"login": reset_name, "password": password})
        assert signed_in.status_code == 200, signed_in.text
    tokens = {
        key: secrets.token_urlsafe(32)
        for key in ("verify", "expired", "used", "taken", "reset", "resetOld", "resetUsed")
    }
    signup = f"signup_{run}"
    pending_hash = PasswordHasher().hash(password)
    later, past = timedelta(hours=1), timedelta(hours=-1)
    rows = [
        # (token key, purpose, user, email, username, expires, used)
        ("verify", "register", None, f"{signup}@example.com", signup, later, False),
        ("expired", "register", None, f"late_{run}@example.com", f"late_{run}", past, False),
        ("used", "register", None, f"used_{run}@example.com", f"used_{run}", later, True),
        ("taken", "register", None, f"other_{run}@example.com", taken, later, False),
        ("reset", "reset_password", reset_user_id, f"{reset_name}@example.com", None, later, False),
        ("resetOld", "reset_password", reset_user_id, f"{reset_name}@example.com", None, past, False),
        ("resetUsed", "reset_password", reset_user_id, f"{reset_name}@example.com", None, later, True),
    ]
    with closing(sqlite3.connect(url.database, timeout=10)) as db, db:
        for key, purpose, user_id, email, username, expires, used in rows:
            now = _when(timedelta())
            db.execute(
                "INSERT INTO account_tokens (token_id, user_id, purpose, email, username, password_hash, token_hash,"
                " expires_at, sent_at, used_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    uuid.uuid4().hex,
                    uuid.UUID(user_id).hex if user_id else None,
                    purpose,
                    email,
                    username,
                    pending_hash if purpose == "register" else None,
                    account_token_hash(secret, tokens[key], purpose),
                    _when(expires),
                    now,
                    now if used else None,
                    now,
                ),
            )
    return {
        "verifyToken": tokens["verify"],
        "verifyName": signup,
        "verifyExpiredToken": tokens["expired"],
        "verifyUsedToken": tokens["used"],
        "verifyTakenToken": tokens["taken"],
        "resetToken": tokens["reset"],
        "resetExpiredToken": tokens["resetOld"],
        "resetUsedToken": tokens["resetUsed"],
        "resetName": reset_name,
        "resetAccess": str(signed_in.json()["access_token"]),
    }
