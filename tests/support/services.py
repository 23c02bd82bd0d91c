"""Reaching the real PostgreSQL and Redis; skip when absent unless LS_REQUIRE_SERVICES=1."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid

import pytest

POSTGRES_ADMIN_DSN = os.environ.get("LS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
# Each pytest-xdist worker its own Redis database (tests flush theirs): gw0 → 15, gw1 → 14, …
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_REDIS_DB = 15 - (int(_WORKER[2:]) if _WORKER[2:].isdigit() else 0) % 8
REDIS_URL = os.environ.get("LS_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{_REDIS_DB}")
CHROMIUM = os.environ.get("LS_TEST_CHROMIUM", "/usr/bin/chromium")


def services_required() -> bool:
    return os.environ.get("LS_REQUIRE_SERVICES") == "1"


def unavailable(what: str) -> None:
    """Skip, or fail when CI demands every service."""
    if services_required():
        pytest.fail(f"{what} is required (LS_REQUIRE_SERVICES=1) but unavailable")
    pytest.skip(f"{what} unavailable")


async def _pg_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def create_postgres_database() -> str:
    """A fresh database for this test run; returns its SQLAlchemy URL."""
    name = f"ls_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, Exception) as exc:  # connection refused, auth, timeout
        unavailable(f"PostgreSQL ({type(exc).__name__}: {exc})")
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def redis_available() -> bool:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def require_redis() -> str:
    if not redis_available():
        unavailable(f"Redis at {REDIS_URL}")
    return REDIS_URL


def require_chromium() -> str:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        unavailable(f"Chromium at {CHROMIUM}")
    return CHROMIUM


CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
