"""Archives end to end through the API on local storage, on SQLite and PostgreSQL: a recorded stream ends, the
job turns its kept segments into a VOD, the API shows it, its owner retries or deletes it."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from livestream.archives.tasks import FINALISE
from livestream.media import files
from tests.api.helpers import assert_error, bearer, container, quick_user
from tests.archives.conftest import end_and_wait, recorded_stream
from tests.support.recordings import decodes_cleanly, probe_duration


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # Failures retry after 0.05, 0.1 s: the give-up path in a test's time.
    return {"jobs_retry_base_seconds": 0.05, "jobs_max_attempts": 3, "archive_mp4": True}


async def test_a_recorded_stream_becomes_a_ready_vod_and_its_sources_go(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user, token, stream_id = await recorded_stream(app, client, seconds=5)
    archive = await end_and_wait(app, client, token, stream_id)
    assert archive["status"] == "ready", archive
    assert archive["progress"] == 100
    assert archive["stream_id"] == stream_id
    assert archive["user"]["username"] == user["username"]
    assert archive["title"] == "Archive me"
    assert abs(archive["duration"] - 5) <= 1
    media_dir = container(app).settings.media_dir
    stored = media_dir / "archives" / archive["archive_id"]
    on_disk = sum(p.stat().st_size for p in stored.iterdir())
    assert archive["file_size"] == on_disk
    assert sorted(p.name for p in stored.iterdir()) == [
        "archive.mp4",
        "master.m3u8",
        "poster.jpg",
        "v0.m3u8",
        "v0.ts",
        "v1.m3u8",
        "v1.ts",
    ]
    assert archive["hls_url"] == f"http://testserver/vod/{archive['archive_id']}/master.m3u8"
    assert archive["thumbnail_url"].endswith("/poster.jpg")
    assert archive["mp4_url"].endswith("/archive.mp4")
    # The VOD decodes whole, and lasts what was recorded (the job's figure matches what a player sees).
    assert decodes_cleanly(stored / "master.m3u8")
    assert abs(probe_duration(stored / "master.m3u8") - 5) <= 1
    assert abs(probe_duration(stored / "archive.mp4") - 5) <= 1
    # The MP4's index comes first (+faststart): moov before mdat.
    head = (stored / "archive.mp4").read_bytes()[:200_000]
    assert head.find(b"moov") < head.find(b"mdat")
    # Sources are gone once the archive is stored.
    assert not files.live_dir(media_dir, uuid.UUID(stream_id)).exists()
    assert not files.recordings_dir(media_dir, uuid.UUID(stream_id)).exists()
    # The stream's view links it.
    link = (await client.get(f"/api/streams/{stream_id}")).json()["archive"]
    assert link == {
        "archive_id": archive["archive_id"],
        "status": "ready",
        "progress": 100,
        "duration": archive["duration"],
        "hls_url": archive["hls_url"],
        "thumbnail_url": archive["thumbnail_url"],
    }


async def test_vod_is_served_with_playlists_byte_ranges_and_cache_headers(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    _, token, stream_id = await recorded_stream(app, client, seconds=3)
    archive = await end_and_wait(app, client, token, stream_id)
    base = f"/vod/{archive['archive_id']}"
    master = await client.get(f"{base}/master.m3u8")
    assert master.status_code == 200
    assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert "v0.m3u8" in master.text
    assert "v1.m3u8" in master.text
    variant = await client.get(f"{base}/v0.m3u8")
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in variant.text
    assert variant.text.rstrip().endswith("#EXT-X-ENDLIST")
    assert "#EXT-X-BYTERANGE:" in variant.text
    whole = await client.get(f"{base}/v0.ts")
    assert whole.status_code == 200
    assert "immutable" in whole.headers["cache-control"]
    part = await client.get(f"{base}/v0.ts", headers={"Range": "bytes=188-375"})
    assert part.status_code == 206
    assert part.content == whole.content[188:376]
    poster = await client.get(f"{base}/poster.jpg")
    assert poster.status_code == 200
    assert poster.content[:2] == b"\xff\xd8"
    # Names outside the archive's own files are refused, whatever they try.
    for name in ("..%2F..%2Fsecret_key", "v0.ts.bak", "index.m3u8", "%2e%2e", "v0.m3u8%00"):
        response = await client.get(f"{base}/{name}")
        assert response.status_code == 404, name
    assert_error(await client.get(f"/vod/{uuid.uuid4()}/master.m3u8"), 404, "ARCHIVE_NOT_FOUND")


async def test_reconnect_parts_after_a_restart_join_one_timeline_with_a_discontinuity(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    _, token, stream_id = await recorded_stream(app, client, seconds=3, parts=2)
    archive = await end_and_wait(app, client, token, stream_id)
    assert archive["status"] == "ready"
    assert abs(archive["duration"] - 6) <= 1
    stored = container(app).settings.media_dir / "archives" / archive["archive_id"]
    variant = (stored / "v0.m3u8").read_text()
    assert variant.count("#EXT-X-DISCONTINUITY") == 1
    assert abs(probe_duration(stored / "master.m3u8") - 6) <= 1


async def test_a_job_delivered_twice_even_at_once_makes_one_archive(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token, stream_id = await recorded_stream(app, client, seconds=3)
    archive = await end_and_wait(app, client, token, stream_id)
    c = container(app)
    # The same job again, twice at once, and the "media finished" hint once more.
    await asyncio.gather(
        c.jobs.enqueue(FINALISE, archive_id=archive["archive_id"]),
        c.jobs.enqueue(FINALISE, archive_id=archive["archive_id"]),
        c.archive_jobs.stream_media_finished(uuid.UUID(stream_id)),
    )
    await c.jobs.idle(30)
    listed = (await client.get("/api/archives", params={"user_id": archive["user_id"]})).json()["items"]
    assert [a["archive_id"] for a in listed] == [archive["archive_id"]]
    again = (await client.get(f"/api/archives/{archive['archive_id']}")).json()
    assert again["status"] == "ready"
    assert again["file_size"] == archive["file_size"]


async def test_two_runs_racing_on_a_fresh_archive_build_it_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token, stream_id = await recorded_stream(app, client, seconds=3)
    c = container(app)
    archive_id = await c.archive_jobs.finaliser.ensure(uuid.UUID(stream_id))
    assert archive_id is None  # still live: no archive yet
    ended = await client.put(f"/api/streams/{stream_id}/end", headers=bearer(token))
    assert ended.status_code == 200
    archive_id = await c.archive_jobs.finaliser.ensure(uuid.UUID(stream_id))
    assert archive_id is not None
    results = await asyncio.gather(
        c.archive_jobs.finaliser.finalise(str(archive_id)),
        c.archive_jobs.finaliser.finalise(str(archive_id)),
        return_exceptions=True,
    )
    assert not [r for r in results if isinstance(r, BaseException)], results
    await c.jobs.idle(30)
    final = (await client.get(f"/api/archives/{archive_id}")).json()
    assert final["status"] == "ready"
    stored = c.settings.media_dir / "archives" / str(archive_id)
    assert final["file_size"] == sum(p.stat().st_size for p in stored.iterdir())


async def test_storage_failing_is_retried_then_failed_with_a_reason_then_the_owner_retries(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    _, token, stream_id = await recorded_stream(app, client, seconds=3)
    media_dir: Path = container(app).settings.media_dir
    # A file where the archives folder should be: every store fails, as a full or read-only disk would.
    await asyncio.to_thread(media_dir.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread((media_dir / "archives").write_text, "in the way")
    archive = await end_and_wait(app, client, token, stream_id)
    assert archive["status"] == "failed", archive
    assert archive["failure_reason"]
    # A fixed sentence: the detail (server paths, the backend's words) goes to the log only.
    assert archive["failure_reason"] == "the archive could not be stored: storage is unavailable"
    # The sources are kept for the retry.
    assert files.live_dir(media_dir, uuid.UUID(stream_id)).is_dir()
    # Not playable; others cannot retry it, and a public list does not show it.
    assert_error(await client.get(f"/vod/{archive['archive_id']}/master.m3u8"), 409, "ARCHIVE_NOT_READY")
    _, stranger = await quick_user(app)
    retry_url = f"/api/archives/{archive['archive_id']}/retry"
    assert_error(await client.post(retry_url, headers=bearer(stranger)), 403, "NOT_YOUR_ARCHIVE")
    assert (await client.post(retry_url)).status_code == 401
    public = (await client.get("/api/archives", params={"user_id": archive["user_id"]})).json()
    assert public["items"] == []
    mine = (await client.get("/api/archives", params={"user_id": archive["user_id"]}, headers=bearer(token))).json()
    assert [a["status"] for a in mine["items"]] == ["failed"]
    # The disk is fixed; the owner retries.
    (media_dir / "archives").unlink()
    retried = await client.post(retry_url, headers=bearer(token))
    assert retried.status_code == 202, retried.text
    assert retried.json()["status"] == "processing"
    assert retried.json()["failure_reason"] is None
    await container(app).jobs.idle(60)
    done = (await client.get(f"/api/archives/{archive['archive_id']}")).json()
    assert done["status"] == "ready", done
    assert_error(await client.post(retry_url, headers=bearer(token)), 409, "ARCHIVE_NOT_FAILED")


async def test_delete_is_for_the_owner_and_removes_the_stored_files(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token, stream_id = await recorded_stream(app, client, seconds=2)
    archive = await end_and_wait(app, client, token, stream_id)
    stored = container(app).settings.media_dir / "archives" / archive["archive_id"]
    assert stored.is_dir()
    url = f"/api/archives/{archive['archive_id']}"
    _, stranger = await quick_user(app)
    assert_error(await client.delete(url, headers=bearer(stranger)), 403, "NOT_YOUR_ARCHIVE")
    assert (await client.delete(url)).status_code == 401
    assert stored.is_dir()
    deleted = await client.delete(url, headers=bearer(token))
    assert deleted.status_code == 204
    assert not stored.exists() or not any(stored.iterdir())
    assert_error(await client.get(url), 404, "ARCHIVE_NOT_FOUND")
    assert_error(await client.delete(url, headers=bearer(token)), 404, "ARCHIVE_NOT_FOUND")
    assert (await client.get(f"/api/streams/{stream_id}")).json()["archive"] is None
    # The reconciler does not bring it back.
    await container(app).archive_jobs.reconcile()
    await container(app).jobs.idle(30)
    assert (await client.get(f"/api/streams/{stream_id}")).json()["archive"] is None


async def test_list_needs_a_valid_user_id_and_pages_newest_first(app: FastAPI, client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/archives"), 400, "VALIDATION_ERROR")
    assert_error(await client.get("/api/archives", params={"user_id": "nope"}), 400, "VALIDATION_ERROR")
    assert_error(await client.get("/api/archives", params={"user_id": "\x00"}), 400, "VALIDATION_ERROR")
    assert_error(await client.get("/api/archives/not-a-uuid"), 400, "VALIDATION_ERROR")
    user, token = await quick_user(app)
    made = []
    for _ in range(3):
        _, _, stream_id = await recorded_stream(app, client, seconds=1, token=token)
        made.append((await end_and_wait(app, client, token, stream_id))["archive_id"])
    first = (await client.get("/api/archives", params={"user_id": user["user_id"], "limit": 2})).json()
    assert [a["archive_id"] for a in first["items"]] == made[::-1][:2]
    assert first["next_cursor"]
    rest = (
        await client.get(
            "/api/archives", params={"user_id": user["user_id"], "limit": 2, "cursor": first["next_cursor"]}
        )
    ).json()
    assert [a["archive_id"] for a in rest["items"]] == made[:1]
    assert rest["next_cursor"] is None
    assert_error(
        await client.get("/api/archives", params={"user_id": user["user_id"], "cursor": "%%%"}), 400, "INVALID_CURSOR"
    )


async def test_a_stream_that_never_received_media_gets_no_archive(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token = await quick_user(app)
    created = await client.post("/api/streams", json={"title": "Nobody came"}, headers=bearer(token))
    stream_id = created.json()["stream_id"]
    assert (await client.put(f"/api/streams/{stream_id}/end", headers=bearer(token))).status_code == 200
    await container(app).jobs.idle(30)
    assert (await client.get(f"/api/streams/{stream_id}")).json()["archive"] is None


async def test_reconciler_makes_the_archive_a_crash_missed(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token, stream_id = await recorded_stream(app, client, seconds=2)
    c = container(app)
    c.lifecycle._subscribers.remove(c.archive_jobs.on_transition)  # the process died before the event
    try:
        assert (await client.put(f"/api/streams/{stream_id}/end", headers=bearer(token))).status_code == 200
        await c.jobs.idle(30)
        assert (await client.get(f"/api/streams/{stream_id}")).json()["archive"] is None
    finally:
        c.lifecycle.subscribe(c.archive_jobs.on_transition)
    await c.archive_jobs.reconcile()
    await c.jobs.idle(60)
    link = (await client.get(f"/api/streams/{stream_id}")).json()["archive"]
    assert link is not None
    assert link["status"] == "ready"


async def test_nothing_recorded_fails_at_once_with_its_reason(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token, stream_id = await recorded_stream(app, client, seconds=1)
    live = files.live_dir(container(app).settings.media_dir, uuid.UUID(stream_id))
    for segment in await asyncio.to_thread(lambda: list(live.glob("v*/p*.ts"))):
        await asyncio.to_thread(segment.write_bytes, b"\x00" * 188 * 4)  # torn: no timestamp in it
    archive = await end_and_wait(app, client, token, stream_id)
    assert archive["status"] == "failed"
    assert archive["failure_reason"] == "no video was recorded for this stream"


async def test_no_segments_at_all_makes_no_archive(app: FastAPI, client: httpx.AsyncClient) -> None:
    """OBS connected (media time was written) but sent nothing: no replay to make, no failed archive to show."""
    _, token, stream_id = await recorded_stream(app, client, seconds=1)
    live = files.live_dir(container(app).settings.media_dir, uuid.UUID(stream_id))
    for segment in await asyncio.to_thread(lambda: list(live.glob("v*/p*.ts"))):
        await asyncio.to_thread(segment.unlink)
    assert (await client.put(f"/api/streams/{stream_id}/end", headers=bearer(token))).status_code == 200
    await container(app).jobs.idle(30)
    assert (await client.get(f"/api/streams/{stream_id}")).json()["archive"] is None


async def test_deleting_while_the_job_stores_leaves_nothing_and_nothing_comes_back(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token, stream_id = await recorded_stream(app, client, seconds=2)
    c = container(app)
    storage = c.storage
    real_put = storage.put_file
    uploading = asyncio.Event()

    async def slow_put(*args: Any, **kwargs: Any) -> int:
        uploading.set()
        await asyncio.sleep(0.3)
        return await real_put(*args, **kwargs)

    monkeypatch.setattr(storage, "put_file", slow_put)
    assert (await client.put(f"/api/streams/{stream_id}/end", headers=bearer(token))).status_code == 200
    await asyncio.wait_for(uploading.wait(), 30)
    link = (await client.get(f"/api/streams/{stream_id}")).json()["archive"]
    assert (await client.delete(f"/api/archives/{link['archive_id']}", headers=bearer(token))).status_code == 204
    await c.jobs.idle(60)
    stored = c.settings.media_dir / "archives" / link["archive_id"]
    assert not await asyncio.to_thread(lambda: stored.exists() and any(stored.iterdir()))
    assert_error(await client.get(f"/api/archives/{link['archive_id']}"), 404, "ARCHIVE_NOT_FOUND")
    # A late "transcoder finished" and the reconciler do not make it again.
    await c.archive_jobs.stream_media_finished(uuid.UUID(stream_id))
    await c.archive_jobs.reconcile()
    await c.jobs.idle(30)
    assert (await client.get(f"/api/streams/{stream_id}")).json()["archive"] is None


async def test_end_answers_while_the_archive_waits_for_the_transcoder(app: FastAPI, client: httpx.AsyncClient) -> None:
    """No finished marker yet (a transcoder of another process still flushing): the job waits, then builds."""
    _, token, stream_id = await recorded_stream(app, client, seconds=2)
    media_dir = container(app).settings.media_dir
    files.clear_finished(media_dir, uuid.UUID(stream_id))
    ended = await client.put(f"/api/streams/{stream_id}/end", headers=bearer(token))
    assert ended.status_code == 200
    await asyncio.sleep(1.5)
    link = (await client.get(f"/api/streams/{stream_id}")).json()["archive"]
    assert link["status"] == "processing"  # waiting, not failed
    files.mark_finished(media_dir, uuid.UUID(stream_id))
    await container(app).jobs.idle(60)
    assert (await client.get(f"/api/streams/{stream_id}")).json()["archive"]["status"] == "ready"
