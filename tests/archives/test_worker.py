"""``livestream worker`` in its own process builds the archives a serving process (jobs_in_process=false)
only enqueues, through the Redis queue; shared database and media directory."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from livestream.app.factory import create_app
from livestream.config import Settings
from tests.api.helpers import container
from tests.archives.conftest import recorded_stream
from tests.conftest import SECRET
from tests.media.helpers import eventually

pytestmark = pytest.mark.redis


@pytest.fixture
def shared(tmp_path: Path, sqlite_template: Path, redis_url: str) -> dict[str, str]:
    import shutil

    shutil.copy(sqlite_template, tmp_path / "shared.db")
    return {
        "LS_ENV": "test",
        "LS_SECRET_KEY": SECRET,
        "LS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}",
        "LS_REDIS_URL": redis_url,
        "LS_JOBS_QUEUE": f"test:jobs:{uuid.uuid4().hex}",
        "LS_MEDIA_DIR": str(tmp_path / "media"),
        "LS_VAR_DIR": str(tmp_path),
    }


@pytest.fixture
def worker(shared: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LS_")} | shared
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "livestream", "worker"], env=env, stdout=log, stderr=log)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


@pytest.fixture
async def api_only(shared: dict[str, str]) -> AsyncIterator[FastAPI]:
    settings = Settings(
        env="test",
        secret_key=SECRET,
        database_url=shared["LS_DATABASE_URL"],
        redis_url=shared["LS_REDIS_URL"],
        jobs_queue=shared["LS_JOBS_QUEUE"],
        jobs_in_process=False,
        media_dir=Path(shared["LS_MEDIA_DIR"]),
        var_dir=Path(shared["LS_VAR_DIR"]),
        web_dist=Path(shared["LS_VAR_DIR"]) / "no-web",
        public_url="http://testserver",
        rtmp_enabled=False,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def test_the_worker_process_builds_what_the_api_process_enqueued(
    api_only: FastAPI, worker: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    transport = httpx.ASGITransport(app=api_only, client=("127.0.0.1", 50002))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        _, token, stream_id = await recorded_stream(api_only, client, seconds=2)
        ended = await client.put(f"/api/streams/{stream_id}/end", headers={"Authorization": f"Bearer {token}"})
        assert ended.status_code == 200
        archive: dict[str, Any] = {}

        async def ready() -> bool:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            link = (await client.get(f"/api/streams/{stream_id}")).json()["archive"]
            archive.update(link or {})
            return bool(link and link["status"] == "ready")

        await eventually(ready, 60)
    stored = container(api_only).settings.media_dir / "archives" / archive["archive_id"]
    assert (stored / "master.m3u8").is_file()
    log = (tmp_path / "worker.log").read_text()
    assert "archive_ready" in log  # built there, not here


def test_the_worker_refuses_to_start_without_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LS_")}
    env |= {"LS_ENV": "test", "LS_SECRET_KEY": SECRET, "LS_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "livestream", "worker"], env=env, capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert b"LS_REDIS_URL" in result.stderr
