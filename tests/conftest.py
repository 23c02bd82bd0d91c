"""Fixtures: the app on SQLite and on the real PostgreSQL, an HTTP client, live servers."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from livestream.app.factory import create_app
from livestream.config import Settings
from livestream.migrate import upgrade
from livestream.models import Base
from tests.support import services
from tests.support.live_server import LiveServer, start_server
from tests.support.smtp_server import SmtpServer, running_smtp_server

SECRET = secrets.token_urlsafe(48)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once per run; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One real PostgreSQL database for this run, migrated once; tests truncate it."""
    url = services.create_postgres_database()
    try:
        upgrade(url)
        yield url
    finally:
        services.drop_postgres_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "livestream.db"
        shutil.copy(sqlite_template, target)
        return f"sqlite+aiosqlite:///{target}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Override in a test module to change settings for its app."""
    return {}


@pytest.fixture
def settings(database_url: str, tmp_path: Path, settings_overrides: dict[str, object]) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "database_url": database_url,
        "secret_key": SECRET,
        "var_dir": tmp_path,
        "media_dir": tmp_path / "media",
        "web_dist": tmp_path / "no-web",
        "public_url": "http://testserver",
        "log_json": True,
        "rtmp_enabled": False,
        # Reconcilers run when a test asks (they would race the fixtures' table truncation otherwise).
        "jobs_periodic": False,
    }
    values.update(settings_overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[object]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        if not settings.is_sqlite:
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            async with application.state.container.db.engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
        yield application


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def redis_url() -> str:
    return services.require_redis()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("live"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3-protocol server (moto) on loopback for the whole run; tests make their own buckets."""
    from tests.support.s3_server import start_s3_server

    server = start_s3_server(tmp_path_factory.mktemp("s3") / "moto.log")
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on loopback collecting what it receives; point an app at it with
    ``settings_overrides`` returning ``smtp_server.settings()``."""
    with running_smtp_server() as server:
        yield server
