"""Throwaway PostgreSQL databases for the benchmarks that need one: made for a run and dropped after it."""

from __future__ import annotations

import asyncio
import secrets

from bench.harness import BenchError

HOST = "postgres@127.0.0.1:5432"
POSTGRES_ADMIN_DSN = f"postgresql://{HOST}/postgres"


def dsn(database: str) -> str:
    """asyncpg's address of ``database``."""
    return f"postgresql://{HOST}/{database}"


def app_url(database: str) -> str:
    """``LS_DATABASE_URL`` for ``database``."""
    return f"postgresql+asyncpg://{HOST}/{database}"


async def _admin(statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def create_database(prefix: str) -> str:
    """A new empty database named ``<prefix>_<random>``; BenchError when PostgreSQL is not there."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        raise BenchError(f"PostgreSQL at {POSTGRES_ADMIN_DSN} is not usable: {type(exc).__name__}: {exc}") from exc
    return name


def drop_database(name: str) -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
