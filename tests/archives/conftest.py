"""Archives through the app: a recorded stream ends, the job builds its VOD into storage."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from livestream.app.container import Container
from livestream.db import utcnow
from livestream.streams.repository import StreamRepository
from tests.api.helpers import bearer, container, quick_user
from tests.support.recordings import record


async def recorded_stream(
    app: FastAPI, client: httpx.AsyncClient, *, seconds: float = 4.0, parts: int = 1, token: str | None = None
) -> tuple[dict[str, Any], str, str]:
    """A creator whose live stream received ``seconds`` of media per part; returns (user, token, stream_id).
    The stream is still live: end it through the API."""
    if token is None:
        user, token = await quick_user(app)
    else:
        user = (await client.get("/api/users/me", headers=bearer(token))).json()
    created = await client.post("/api/streams", json={"title": "Archive me"}, headers=bearer(token))
    assert created.status_code == 201, created.text
    stream_id = created.json()["stream_id"]
    c: Container = container(app)
    record(c.settings.media_dir, uuid.UUID(stream_id), seconds, parts=parts)
    async with c.db.unit_of_work() as session:
        assert await StreamRepository(session).touch_ingest(uuid.UUID(stream_id), utcnow())
    return user, token, stream_id


async def end_and_wait(app: FastAPI, client: httpx.AsyncClient, token: str, stream_id: str) -> dict[str, Any]:
    """End the stream through the API, let the jobs run, return the archive (any status)."""
    ended = await client.put(f"/api/streams/{stream_id}/end", headers=bearer(token))
    assert ended.status_code == 200, ended.text
    await container(app).jobs.idle(60)
    link = (await client.get(f"/api/streams/{stream_id}")).json()["archive"]
    assert link is not None
    archive: dict[str, Any] = (await client.get(f"/api/archives/{link['archive_id']}", headers=bearer(token))).json()
    return archive
