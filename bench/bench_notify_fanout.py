"""Go-live for a creator with 100,000 followers against the same for a creator with none (issue 9).

The real server (``python -m livestream serve --migrate`` as a subprocess) on a fresh PostgreSQL database made for
the run and dropped at the end, memory engine (jobs in process, no Redis), ``LS_TRANSCODE=passthrough`` so the CPU
goes to the database. Two creators register through the API; then, straight in the database and outside every
timing, 100,000 users (``--quick``: 20,000) following creator A are written by one set-based statement (users and
follows together, ``generate_series``), a tenth of them with a notification_settings row (in-app go-live left on, so
every follower is still due a notification), then ``VACUUM ANALYZE``. Creator B has no followers.
``BENCH_NOTIFY_OTHER_FOLLOWS=N`` (default 0, at most 999) also has each of those users follow N of 1,000 other
seeded creators, so that A's follows are a minority of the follows table, as on a real platform (N=49: 5,000,000
follows, A's 2 %; about two minutes more of seeding).

Each round, A then B (after one warm-up round of each, not counted), a go-live exactly as a creator does it:

1. ``POST /api/streams`` (timed on the client, a keep-alive connection already open);
2. ffmpeg publishes a short pre-encoded synthetic source (``-re -c copy``, looped) over RTMP with the creator's
   key; timed from the spawn until ``GET /api/streams/{id}`` (polled every 20 ms) says ``media_state`` live: the
   go-live as viewers see it. The first video after ``waiting`` enqueues the ``stream_started`` fan-out;
3. A: from that moment until ``SELECT count(*) FROM notifications WHERE event_key = 'stream_started:<id>'`` (polled
   every 50 ms; a sequential scan, as no index leads with event_key, run without parallel workers) counts every
   follower; B: the same polling (it must stay 0) for ``HOLD_B_S``. Meanwhile
   ``GET /api/streams/{id}`` is timed on every poll: the API while the fan-out runs, against B's at rest;
4. ``PUT /api/streams/{id}/end``, then wait for the publisher to be disconnected and the archive to be ready.

Targets: A/B of the p50s of the POST latency and of publish -> live at most ``TARGET_RATIO``; every A round's rows
all written within ``TARGET_ROWS_S`` of live. Where the time goes, from the database and the server's log: each
batch's start (the batch's rows carry the ``created_at`` the job stamps just before its INSERT), the job's end
(log event ``notifications_fanned_out``), the live transition (``stream_transition``), and, after the rounds,
``EXPLAIN (ANALYZE, BUFFERS)`` of the job's two statements (compiled from ``NotificationRepository`` itself) for the
first batch and one in the middle, the INSERT rolled back. The job logs its end after two more (empty) batch-end
queries, so the client may see every row a little before that log line ("end->seen" below 0).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    BenchError,
    BenchResult,
    Options,
    Server,
    clean_env,
    format_table,
    free_port,
    machine_info,
    machine_line,
    now_utc,
    package_versions,
    progress,
)
from bench.media_support import (
    Creator,
    Proc,
    Processes,
    Verdicts,
    _without_ls_env,
    encode_flv,
    ffmpeg_version,
    fmt_s,
    make_creator,
    percentile,
    publisher_file,
    rtmp_url,
    run_async,
    source_state,
)
from bench.postgres import app_url, create_database, drop_database, dsn

NAME = "notify_fanout"
DESCRIPTION = (
    "go-live of a creator with 100,000 followers vs one with none (PostgreSQL, real server, RTMP publish): "
    "POST /api/streams latency, publish -> media_state live, live -> every stream_started notification row"
)
FOLLOWERS = 100_000
QUICK_FOLLOWERS = 20_000
SETTINGS_SHARE = 0.1  # followers with a notification_settings row (stream_started on)
TARGET_RATIO = 1.2
TARGET_ROWS_S = 10.0
LIVE_POLL_S = 0.02
ROWS_POLL_S = 0.05
HOLD_B_S = 2.0
LIVE_TIMEOUT_S = 30.0
ROWS_TIMEOUT_S = 60.0
ARCHIVE_TIMEOUT_S = 30.0
PUBLISH_BOUND_S = 120  # -t of every looped publisher: none outlives a stuck benchmark by much
SOURCE_S = 4.0  # the pre-encoded source, looped
SOURCE_KBPS = 1500
OTHER_CREATORS = 1_000
COUNT_SQL = "SELECT count(*) FROM notifications WHERE event_key = $1"


# --- the database --------------------------------------------------------------------------------------------


SEED_SQL = """
WITH fans AS (
    INSERT INTO users (user_id, username, email, password_hash, display_name, created_at, updated_at)
    SELECT gen_random_uuid(), 'nf_fan_' || g, 'nf_fan_' || g || '@example.com', '!seeded', 'Fan ' || g, now(), now()
    FROM generate_series(1, $1::int) AS g
    RETURNING user_id
)
INSERT INTO follows (follow_id, follower_id, following_id, created_at, notify)
SELECT gen_random_uuid(), user_id, $2::uuid, now() - random() * interval '365 days', true FROM fans
"""
SEED_SETTINGS_SQL = """
INSERT INTO notification_settings
    (user_id, email, push, stream_started, schedule_reminder, archive_ready, new_follower, updated_at)
SELECT follower_id, true, false, true, true, true, true, now()
FROM follows WHERE following_id = $1::uuid AND random() < $2::float8
"""

SEED_OTHER_CREATORS_SQL = """
INSERT INTO users (user_id, username, email, password_hash, display_name, created_at, updated_at)
SELECT gen_random_uuid(), 'nf_creator_' || g, 'nf_creator_' || g || '@example.com', '!seeded', NULL, now(), now()
FROM generate_series(0, $1::int - 1) AS g
"""
# Fan j follows the creators (7j + 13k) mod 1000 for k < N: N distinct creators (13 is prime to 1000).
SEED_OTHER_FOLLOWS_SQL = """
WITH c AS (SELECT user_id, substr(username, 12)::int AS i FROM users WHERE username LIKE 'nf\\_creator\\_%'),
     f AS (SELECT user_id, substr(username, 8)::int AS j FROM users WHERE username LIKE 'nf\\_fan\\_%')
INSERT INTO follows (follow_id, follower_id, following_id, created_at, notify)
SELECT gen_random_uuid(), f.user_id, c.user_id, now() - random() * interval '365 days', true
FROM f CROSS JOIN generate_series(0, $1::int - 1) AS k JOIN c ON c.i = (f.j * 7 + k * 13) % $2::int
"""


def other_follows() -> int:
    raw = os.environ.get("BENCH_NOTIFY_OTHER_FOLLOWS", "0").strip() or "0"
    try:
        value = int(raw)
    except ValueError as exc:
        raise BenchError(f"BENCH_NOTIFY_OTHER_FOLLOWS must be an integer, not {raw!r}") from exc
    if not 0 <= value < OTHER_CREATORS:
        raise BenchError(f"BENCH_NOTIFY_OTHER_FOLLOWS must be in [0, {OTHER_CREATORS - 1}]")
    return value


async def _seed(dsn: str, creator_id: str, followers: int, other: int) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        t0 = time.perf_counter()
        await conn.execute(SEED_SQL, followers, uuid.UUID(creator_id))
        await conn.execute(SEED_SETTINGS_SQL, uuid.UUID(creator_id), SETTINGS_SHARE)
        if other:
            await conn.execute(SEED_OTHER_CREATORS_SQL, OTHER_CREATORS)
            await conn.execute(SEED_OTHER_FOLLOWS_SQL, other, OTHER_CREATORS)
        t1 = time.perf_counter()
        await conn.execute("VACUUM ANALYZE users, follows, notification_settings")
        t2 = time.perf_counter()
        count = await conn.fetchval("SELECT count(*) FROM follows WHERE following_id = $1", uuid.UUID(creator_id))
        total = await conn.fetchval("SELECT count(*) FROM follows")
        settings = await conn.fetchval("SELECT count(*) FROM notification_settings")
    finally:
        await conn.close()
    if count != followers or total != followers * (1 + other):
        raise BenchError(
            f"seeded {count} follows of A and {total} in all, wanted {followers} and {followers * (1 + other)}"
        )
    return {
        "followers": int(count),
        "other_follows_per_follower": other,
        "follows_total": int(total),
        "settings_rows": int(settings),
        "insert_s": round(t1 - t0, 2),
        "vacuum_analyze_s": round(t2 - t1, 2),
    }


# --- the server ----------------------------------------------------------------------------------------------


def _start_server(workdir: Path, database: str) -> tuple[Server, int]:
    port, rtmp_port = free_port(), free_port()
    env = clean_env(
        LS_ENV="test",
        LS_SECRET_KEY=secrets.token_urlsafe(36),
        LS_DATABASE_URL=app_url(database),
        LS_HOST="127.0.0.1",
        LS_PORT=str(port),
        LS_PUBLIC_URL=f"http://127.0.0.1:{port}",
        LS_VAR_DIR=str(workdir),
        LS_MEDIA_DIR=str(workdir / "media"),
        LS_WEB_DIST=str(workdir / "no-web"),
        # INFO: the live transition and the fan-out's end are read from the log.
        LS_LOG_LEVEL="INFO",
        LS_TRANSCODE="passthrough",
        LS_RTMP_HOST="127.0.0.1",
        LS_RTMP_PORT=str(rtmp_port),
    )
    argv = [sys.executable, "-m", "livestream", "serve", "--migrate"]
    return Server.start("server", argv, port=port, env=env, workdir=workdir, health_path="/healthz"), rtmp_port


# --- one go-live ---------------------------------------------------------------------------------------------


@dataclass
class GoLive:
    creator: str  # "A" or "B"
    round: int  # 0: warm-up
    stream_id: str
    post_ms: float
    publish_to_live_s: float
    expected_rows: int
    live_to_rows_s: float | None = None  # A: client-observed, from live to the poll that counted every row
    rows: int = 0
    rows_per_s: float | None = None
    count_polls: int = 0
    count_query_ms: list[float] = field(default_factory=list)
    get_ms: list[float] = field(default_factory=list)  # GET /api/streams/{id} while fanning out (A) or holding (B)
    end_ms: float | None = None
    archive_ready: bool = False
    # From the database and the server's log (filled after the rounds):
    batch_starts: list[float] = field(default_factory=list)  # epoch seconds, one per batch (created_at)
    batch_rows: list[int] = field(default_factory=list)
    server_live_at: float | None = None  # stream_transition kind=live
    server_fanned_out_at: float | None = None  # notifications_fanned_out
    server_batches: int | None = None
    server_rows: int | None = None
    live_seen_wall: float | None = None  # time.time() of the poll that saw live

    @property
    def server_live_to_done_s(self) -> float | None:
        if self.server_live_at is None or self.server_fanned_out_at is None:
            return None
        return self.server_fanned_out_at - self.server_live_at


class Bench:
    def __init__(
        self, server: Server, rtmp_port: int, dsn: str, source: Path, procs: Processes, creators: dict[str, Creator]
    ) -> None:
        self.server = server
        self.rtmp_port = rtmp_port
        self.dsn = dsn
        self.source = source
        self.procs = procs
        self.creators = creators
        self.client: httpx.AsyncClient | None = None
        self.conn: Any = None
        self.spawned = 0

    async def __aenter__(self) -> Bench:
        import asyncpg

        self.client = httpx.AsyncClient(base_url=self.server.base_url, timeout=30)
        (await self.client.get("/healthz")).raise_for_status()  # the keep-alive connection is open before timing
        self.conn = await asyncpg.connect(self.dsn, timeout=10)
        await self.conn.execute("SET max_parallel_workers_per_gather = 0")  # the poll takes at most one core
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.client is not None:
            await self.client.aclose()
        if self.conn is not None:
            await self.conn.close()

    async def _get(self, stream_id: str) -> tuple[dict[str, Any], float]:
        assert self.client is not None
        t0 = time.perf_counter()
        response = await self.client.get(f"/api/streams/{stream_id}")
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status_code != 200:
            raise BenchError(f"GET /api/streams/{stream_id}: {response.status_code} {response.text[:200]}")
        return response.json(), elapsed

    async def _count(self, key: str) -> tuple[int, float, float]:
        """Rows of the event, the moment the query was sent (its snapshot), and how long it took (ms)."""
        sent = time.perf_counter()
        count = int(await self.conn.fetchval(COUNT_SQL, key))
        return count, sent, (time.perf_counter() - sent) * 1000

    async def go_live(self, label: str, round_no: int, expected_rows: int) -> GoLive:
        assert self.client is not None
        creator = self.creators[label]
        title = f"Notify bench {label} round {round_no}"
        t0 = time.perf_counter()
        response = await self.client.post("/api/streams", json={"title": title}, headers=creator.auth)
        post_ms = (time.perf_counter() - t0) * 1000
        if response.status_code != 201:
            raise BenchError(f"POST /api/streams ({label}): {response.status_code} {response.text[:300]}")
        stream_id = str(response.json()["stream_id"])
        self.spawned += 1
        argv = publisher_file(
            rtmp_url(self.rtmp_port, creator.key), self.source, realtime=True, loop=True, bound_s=PUBLISH_BOUND_S
        )
        publisher = self.procs.spawn(f"publisher-{self.spawned}", argv)
        try:
            sample = await self._until_live(label, round_no, stream_id, post_ms, expected_rows, publisher)
            if expected_rows:
                await self._until_rows(sample)
            else:
                await self._hold(sample)
            await self._end(sample, creator, publisher)
        finally:
            self.procs.stop(publisher)
        return sample

    async def _until_live(
        self, label: str, round_no: int, stream_id: str, post_ms: float, expected: int, publisher: Proc
    ) -> GoLive:
        deadline = publisher.started_mono + LIVE_TIMEOUT_S
        while True:
            body, _ = await self._get(stream_id)
            now = time.monotonic()
            if body.get("media_state") == "live":
                sample = GoLive(label, round_no, stream_id, round(post_ms, 3), now - publisher.started_mono, expected)
                sample.live_seen_wall = time.time()
                return sample
            if not publisher.running():
                raise BenchError(f"the publisher of {label} exited before live: {publisher.log_tail()}")
            if now > deadline:
                raise BenchError(f"{label}'s stream {stream_id} not live {LIVE_TIMEOUT_S:g} s after the publish")
            await asyncio.sleep(LIVE_POLL_S)

    async def _until_rows(self, sample: GoLive) -> None:
        key = f"stream_started:{sample.stream_id}"
        live_at = time.perf_counter()
        while True:
            count, sent, query_ms = await self._count(key)
            sample.count_polls += 1
            sample.count_query_ms.append(round(query_ms, 3))
            sample.rows = count
            if count >= sample.expected_rows:
                elapsed = max(sent - live_at, 0.0)
                sample.live_to_rows_s = elapsed
                sample.rows_per_s = count / elapsed if elapsed > 0 else math.inf
                return
            if sent - live_at > ROWS_TIMEOUT_S:
                raise BenchError(
                    f"{count} of {sample.expected_rows} notification rows {ROWS_TIMEOUT_S:g} s after live "
                    f"(stream {sample.stream_id})"
                )
            _, get_ms = await self._get(sample.stream_id)
            sample.get_ms.append(round(get_ms, 3))
            await asyncio.sleep(ROWS_POLL_S)

    async def _hold(self, sample: GoLive) -> None:
        """B: the same polling as A's wait, for ``HOLD_B_S``; no row may appear."""
        key = f"stream_started:{sample.stream_id}"
        until = time.perf_counter() + HOLD_B_S
        while time.perf_counter() < until:
            count, _, query_ms = await self._count(key)
            sample.count_polls += 1
            sample.count_query_ms.append(round(query_ms, 3))
            sample.rows = count
            _, get_ms = await self._get(sample.stream_id)
            sample.get_ms.append(round(get_ms, 3))
            await asyncio.sleep(ROWS_POLL_S)
        if sample.rows:
            raise BenchError(f"creator B has no followers, yet {sample.rows} notifications were written")

    async def _end(self, sample: GoLive, creator: Creator, publisher: Proc) -> None:
        assert self.client is not None
        t0 = time.perf_counter()
        response = await self.client.put(f"/api/streams/{sample.stream_id}/end", headers=creator.auth)
        sample.end_ms = round((time.perf_counter() - t0) * 1000, 3)
        if response.status_code != 200:
            raise BenchError(f"PUT /api/streams/{sample.stream_id}/end: {response.status_code} {response.text[:200]}")
        deadline = time.monotonic() + ARCHIVE_TIMEOUT_S
        while time.monotonic() < deadline:
            body, _ = await self._get(sample.stream_id)
            archive = body.get("archive") or {}
            if archive.get("status") == "ready" and not publisher.running():
                sample.archive_ready = True
                break
            if archive.get("status") == "failed":
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.3)  # let the archive job's last writes settle before the next go-live

    async def batches(self, sample: GoLive) -> None:
        """Each batch's INSERT stamps its rows with one created_at: the batch's start, and its size."""
        rows = await self.conn.fetch(
            "SELECT created_at, count(*) AS n FROM notifications WHERE event_key = $1 GROUP BY 1 ORDER BY 1",
            f"stream_started:{sample.stream_id}",
        )
        sample.batch_starts = [r["created_at"].timestamp() for r in rows]
        sample.batch_rows = [int(r["n"]) for r in rows]


# --- the server's log ----------------------------------------------------------------------------------------


def _read_log(path: Path, samples: list[GoLive]) -> dict[str, int]:
    """Live transitions and fan-out ends into the samples; counts of warning and error events."""
    by_stream = {s.stream_id: s for s in samples}
    counts: dict[str, int] = {}
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        if entry.get("level") in ("warning", "error", "critical"):
            key = f"{entry['level']}: {entry.get('event')}"
            counts[key] = counts.get(key, 0) + 1
        sample = by_stream.get(str(entry.get("stream_id")))
        if sample is None or "timestamp" not in entry:
            continue
        at = datetime.fromisoformat(str(entry["timestamp"]).replace("Z", "+00:00")).timestamp()
        if entry.get("event") == "stream_transition" and entry.get("kind") == "live" and sample.server_live_at is None:
            sample.server_live_at = at
        elif entry.get("event") == "notifications_fanned_out":
            sample.server_fanned_out_at = at
            sample.server_batches = entry.get("batches")
            sample.server_rows = entry.get("rows")
    return counts


# --- EXPLAIN ANALYZE of the job's statements -----------------------------------------------------------------


class _CaptureSession:
    """Stands in for an AsyncSession to take the statements NotificationRepository builds, as they are."""

    class _Bind:
        class dialect:  # as Engine.dialect
            name = "postgresql"

    class _Result:
        rowcount = 0

        def scalar_one_or_none(self) -> None:
            return None

        def __iter__(self) -> Any:
            return iter(())

    def __init__(self) -> None:
        self.statements: list[Any] = []

    def get_bind(self) -> Any:
        return self._Bind()

    async def execute(self, statement: Any) -> Any:
        self.statements.append(statement)
        return self._Result()


def _compiled(statement: Any) -> tuple[str, list[Any]]:
    """SQL text and positional arguments as SQLAlchemy's asyncpg dialect sends them."""
    from sqlalchemy.dialects.postgresql.asyncpg import dialect

    compiled = statement.compile(dialect=dialect())
    params = compiled.construct_params()
    processors = compiled._bind_processors
    args = [processors[k](params[k]) if k in processors else params[k] for k in compiled.positiontup or []]
    return compiled.string, args


async def _explain(dsn: str, creator_id: str, batch: int) -> dict[str, Any]:
    """The batch-end SELECT and the INSERT … SELECT for the first batch and one in the middle, as the job would
    run them for a new event (EXPLAIN ANALYZE, BUFFERS; the INSERTs rolled back)."""
    import asyncpg

    with _without_ls_env():
        from livestream.db import utcnow
        from livestream.notifications.repository import NotificationRepository

    creator = uuid.UUID(creator_id)
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        ids = [
            r["follow_id"]
            for r in await conn.fetch(
                "SELECT follow_id FROM follows WHERE following_id = $1 ORDER BY follow_id", creator
            )
        ]
        middle = (len(ids) // batch // 2) * batch
        cases = {"first batch": (None, ids[min(batch, len(ids)) - 1])}
        if middle > 0:
            cases["middle batch"] = (ids[middle - 1], ids[min(middle + batch, len(ids)) - 1])
        payload = {
            "stream_id": str(uuid.uuid4()),
            "title": "EXPLAIN",
            "creator": {"user_id": creator_id, "username": "creator_a", "display_name": None},
        }
        plans: dict[str, Any] = {}
        for name, (after, upto) in cases.items():
            capture = _CaptureSession()
            repo = NotificationRepository(capture)  # type: ignore[arg-type]
            await repo.follower_batch_end(creator, after, batch)
            await repo.fan_out(
                creator,
                after=after,
                upto=upto,
                kind="stream_started",
                event_key=f"stream_started:explain-{uuid.uuid4()}",
                payload=payload,
            )
            select_sql, select_args = _compiled(capture.statements[0])
            insert_sql, insert_args = _compiled(capture.statements[-1])
            select_plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + select_sql, *select_args)
            tx = conn.transaction()
            await tx.start()
            try:
                insert_plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + insert_sql, *insert_args)
            finally:
                await tx.rollback()
            plans[name] = {
                "batch_end_sql": select_sql,
                "batch_end_plan": [r[0] for r in select_plan],
                "insert_sql": insert_sql,
                "insert_plan": [r[0] for r in insert_plan],
            }
        plans["notifications_rows"] = int(await conn.fetchval("SELECT count(*) FROM notifications"))
        plans["captured_at"] = utcnow().isoformat()
        return plans
    finally:
        await conn.close()


def _plan_time(lines: list[str], label: str) -> float | None:
    for line in lines:
        if line.strip().startswith(label):
            try:
                return float(line.split(":", 1)[1].strip().split()[0])
            except (ValueError, IndexError):
                return None
    return None


def _trigger_lines(lines: list[str]) -> list[str]:
    return [line.strip() for line in lines if line.strip().startswith("Trigger")]


# --- the run -------------------------------------------------------------------------------------------------


def _measure(
    workdir: Path, procs: Processes, followers: int, rounds: int, other: int
) -> tuple[list[GoLive], dict[str, Any]]:
    info: dict[str, Any] = {"followers": followers, "rounds": rounds, "other_follows_per_follower": other}
    t0 = time.monotonic()
    source = encode_flv(workdir / "source.flv", seconds=SOURCE_S, video_kbps=SOURCE_KBPS)
    info["source_encode_s"] = round(time.monotonic() - t0, 1)
    database = create_database("ls_bench_notify")
    info["database"] = database
    server: Server | None = None
    try:
        server, rtmp_port = _start_server(workdir, database)
        creators = run_async(_make_creators(server.base_url))
        t1 = time.monotonic()
        info["seed"] = run_async(_seed(dsn(database), creators["A"].user_id, followers, other))
        info["seed"]["total_s"] = round(time.monotonic() - t1, 2)
        progress(
            f"  seeded {followers:,} followers of A in {info['seed']['insert_s']:.1f} s "
            f"(+ VACUUM ANALYZE {info['seed']['vacuum_analyze_s']:.1f} s), {info['seed']['settings_rows']:,} "
            f"with a settings row; B has none; {info['seed']['follows_total']:,} follows in all"
        )
        samples = run_async(_rounds(server, rtmp_port, dsn(database), source, procs, creators, followers, rounds))
        server.stop()
        info["server_log"] = _read_log(server.log_path, samples)
        progress("  EXPLAIN ANALYZE of the job's statements ...")
        info["explain"] = run_async(_explain(dsn(database), creators["A"].user_id, _fan_out_batch()))
        return samples, info
    finally:
        if server is not None:
            server.stop()
        drop_database(database)


def _fan_out_batch() -> int:
    with _without_ls_env():
        from livestream.notifications.tasks import FAN_OUT_BATCH
    return int(FAN_OUT_BATCH)


async def _make_creators(base_url: str) -> dict[str, Creator]:
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        a = await make_creator(client, "notifyA")
        b = await make_creator(client, "notifyB")
    return {"A": a, "B": b}


async def _rounds(
    server: Server,
    rtmp_port: int,
    dsn: str,
    source: Path,
    procs: Processes,
    creators: dict[str, Creator],
    followers: int,
    rounds: int,
) -> list[GoLive]:
    samples: list[GoLive] = []
    async with Bench(server, rtmp_port, dsn, source, procs, creators) as bench:
        for round_no in range(rounds + 1):
            for label, expected in (("A", followers), ("B", 0)):
                sample = await bench.go_live(label, round_no, expected)
                if expected:
                    await bench.batches(sample)
                samples.append(sample)
                tag = "warm-up" if round_no == 0 else f"round {round_no}/{rounds}"
                rows = (
                    f", {sample.rows:,} rows {sample.live_to_rows_s:.2f} s after live "
                    f"({sample.rows_per_s:,.0f} rows/s, {len(sample.batch_starts)} batches)"
                    if expected and sample.live_to_rows_s is not None
                    else ""
                )
                progress(
                    f"  {tag:<11} {label}: POST {sample.post_ms:6.2f} ms, publish -> live "
                    f"{sample.publish_to_live_s:.3f} s{rows}, GET p50 {_p(sample.get_ms, 0.5):.2f} ms "
                    f"p99 {_p(sample.get_ms, 0.99):.2f} ms"
                )
    return samples


def _p(values: list[float], q: float) -> float:
    return percentile(values, q) if values else math.nan


def run(options: Options) -> BenchResult:
    followers = QUICK_FOLLOWERS if options.quick else FOLLOWERS
    rounds = options.rounds
    other = other_follows()
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-notify-fanout-") as tmp:
        workdir = Path(tmp)
        with Processes(workdir) as procs:
            samples, info = _measure(workdir, procs, followers, rounds, other)
    machine["load_average_after"] = machine_info()["load_average"]
    return _result(samples, info, options, machine)


# --- the report ----------------------------------------------------------------------------------------------


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _where_the_time_goes(sample: GoLive) -> dict[str, Any]:
    """One A round: live -> first batch's INSERT, the batch-to-batch intervals, last INSERT -> job logged its end,
    job's end -> the poll that counted every row."""
    out: dict[str, Any] = {"stream_id": sample.stream_id, "round": sample.round}
    starts = sample.batch_starts
    if sample.server_live_at is not None and starts:
        out["live_to_first_insert_s"] = round(starts[0] - sample.server_live_at, 4)
    if len(starts) > 1:
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        out["batch_interval_s"] = {
            "n": len(gaps),
            "first": round(gaps[0], 4),
            "p50": round(statistics.median(gaps), 4),
            "max": round(max(gaps), 4),
            "last": round(gaps[-1], 4),
        }
    if sample.server_fanned_out_at is not None and starts:
        out["last_insert_to_job_end_s"] = round(sample.server_fanned_out_at - starts[-1], 4)
    if sample.server_live_to_done_s is not None:
        out["server_live_to_job_end_s"] = round(sample.server_live_to_done_s, 4)
    if sample.server_fanned_out_at is not None and sample.live_seen_wall is not None and sample.live_to_rows_s:
        observed = sample.live_seen_wall + sample.live_to_rows_s
        out["job_end_to_observed_s"] = round(observed - sample.server_fanned_out_at, 4)
    if sample.server_live_at is not None and sample.live_seen_wall is not None:
        out["server_live_to_client_seen_s"] = round(sample.live_seen_wall - sample.server_live_at, 4)
    out["batches"] = len(starts)
    out["batch_rows"] = sorted(set(sample.batch_rows))
    return out


def _result(samples: list[GoLive], info: dict[str, Any], options: Options, machine: dict[str, Any]) -> BenchResult:
    measured = [s for s in samples if s.round > 0]
    a = [s for s in measured if s.creator == "A"]
    b = [s for s in measured if s.creator == "B"]
    followers = int(info["followers"])
    post_a, post_b = _median([s.post_ms for s in a]), _median([s.post_ms for s in b])
    live_a, live_b = _median([s.publish_to_live_s for s in a]), _median([s.publish_to_live_s for s in b])
    rows_s = [s.live_to_rows_s for s in a if s.live_to_rows_s is not None]
    rate = [s.rows_per_s for s in a if s.rows_per_s is not None]
    server_done = [s.server_live_to_done_s for s in a if s.server_live_to_done_s is not None]
    get_a = [v for s in a for v in s.get_ms]
    get_b = [v for s in b for v in s.get_ms]
    count_ms = [v for s in measured for v in s.count_query_ms]
    post_ratio, live_ratio = _ratio(post_a, post_b), _ratio(live_a, live_b)

    verdicts = Verdicts()
    verdicts.check("POST /api/streams p50 ratio A/B", post_ratio, TARGET_RATIO, unit="")
    verdicts.check("publish -> media_state live p50 ratio A/B", live_ratio, TARGET_RATIO, unit="")
    verdicts.check(
        f"live -> all {followers:,} notification rows, slowest round",
        max(rows_s) if len(rows_s) == len(a) and rows_s else None,
        TARGET_ROWS_S,
        unit=" s",
    )
    wrong = [s for s in a if s.rows != followers or (s.server_rows is not None and s.server_rows != followers)]
    if wrong:
        verdicts.failures.append(f"{len(wrong)} A rounds did not write exactly {followers:,} rows")
    not_ready = sum(1 for s in measured if not s.archive_ready)

    def stat_row(label: str, values: list[float], unit: str, digits: int) -> list[str]:
        if not values:
            return [label, "0", "n/a", "n/a", "n/a", "n/a"]
        return [
            label,
            str(len(values)),
            fmt_s(min(values), digits) + unit,
            fmt_s(statistics.median(values), digits) + unit,
            fmt_s(percentile(values, 0.99) if len(values) >= 10 else max(values), digits) + unit,
            fmt_s(max(values), digits) + unit,
        ]

    table = format_table(
        ["measure", "n", "min", "p50", "p99|max", "max"],
        [
            stat_row("A POST /api/streams", [s.post_ms for s in a], " ms", 2),
            stat_row("B POST /api/streams (baseline)", [s.post_ms for s in b], " ms", 2),
            stat_row("A publish -> media_state live", [s.publish_to_live_s for s in a], " s", 3),
            stat_row("B publish -> media_state live (baseline)", [s.publish_to_live_s for s in b], " s", 3),
            stat_row("A live -> all rows (client poll)", rows_s, " s", 3),
            stat_row("A live -> job's end (server log)", server_done, " s", 3),
            stat_row("A rows per second (client poll)", rate, "", 0),
            stat_row("A GET /api/streams/{id} while fanning out", get_a, " ms", 2),
            stat_row("B GET /api/streams/{id} at rest (baseline)", get_b, " ms", 2),
            stat_row("count(*) poll query (A and B)", count_ms, " ms", 2),
            stat_row("PUT /api/streams/{id}/end (A and B)", [s.end_ms for s in measured if s.end_ms], " ms", 2),
        ],
    )
    breakdown = [_where_the_time_goes(s) for s in a]
    breakdown_rows = [
        [
            str(d["round"]),
            str(d.get("batches")),
            fmt_s(d.get("live_to_first_insert_s")),
            fmt_s((d.get("batch_interval_s") or {}).get("p50")),
            fmt_s((d.get("batch_interval_s") or {}).get("max")),
            fmt_s(d.get("last_insert_to_job_end_s")),
            fmt_s(d.get("server_live_to_job_end_s")),
            fmt_s(d.get("job_end_to_observed_s")),
        ]
        for d in breakdown
    ]
    breakdown_table = format_table(
        ["A round", "batches", "live->1st INSERT", "batch p50", "batch max", "last->end", "job", "end->seen"],
        breakdown_rows,
    )
    explain = info.get("explain") or {}
    plan_lines: list[str] = []
    for case in ("first batch", "middle batch"):
        plan = explain.get(case)
        if not plan:
            continue
        select_ms = _plan_time(plan["batch_end_plan"], "Execution Time")
        insert_ms = _plan_time(plan["insert_plan"], "Execution Time")
        triggers = "; ".join(_trigger_lines(plan["insert_plan"])) or "no trigger lines"
        plan_lines.append(
            f"  {case}: batch-end SELECT {fmt_s(select_ms, 1)} ms, INSERT … SELECT {fmt_s(insert_ms, 1)} ms "
            f"({triggers})"
        )
    missed = bool(verdicts.failures)
    full_plans: list[str] = []
    if missed:
        for case in ("first batch", "middle batch"):
            plan = explain.get(case)
            if plan:
                full_plans += [f"-- {case}: batch-end SELECT", *plan["batch_end_plan"]]
                full_plans += [f"-- {case}: INSERT … SELECT (rolled back)", *plan["insert_plan"]]

    seed = info.get("seed", {})
    report = "\n".join(
        [
            f"{NAME}: {DESCRIPTION}",
            f"PostgreSQL, memory engine, LS_TRANSCODE=passthrough; A has {followers:,} followers "
            f"({seed.get('settings_rows', 0):,} with a settings row), B none; {seed.get('follows_total', 0):,} follows "
            f"in all (BENCH_NOTIFY_OTHER_FOLLOWS={info.get('other_follows_per_follower', 0)}); {len(a)} rounds of A "
            "then B after a warm-up of each; latencies client side (httpx keep-alive)",
            "",
            table,
            "",
            f"ratio A/B of the POST p50: {fmt_s(post_ratio)}; of the publish -> live p50: {fmt_s(live_ratio)}; "
            f"GET p50 while fanning out / at rest: {fmt_s(_ratio(_median(get_a), _median(get_b)))}",
            "where A's fan-out time goes (server clock: log events and each batch's created_at):",
            breakdown_table,
            "EXPLAIN ANALYZE after the rounds "
            f"({explain.get('notifications_rows', 0):,} notification rows in the table):",
            *plan_lines,
            *full_plans,
            f"archives not ready after the end: {not_ready}; seeding {seed.get('total_s')} s (outside the timings)",
            f"warnings and errors in the server's log: {info.get('server_log') or 'none'}",
            *verdicts.lines,
            machine_line(machine),
        ]
    )
    data: dict[str, Any] = {
        "description": DESCRIPTION,
        "date": now_utc(),
        "quick": options.quick,
        "options": {
            "followers": followers,
            "rounds": len(a),
            "settings_share": SETTINGS_SHARE,
            "other_follows_per_follower": info.get("other_follows_per_follower", 0),
            "live_poll_s": LIVE_POLL_S,
            "rows_poll_s": ROWS_POLL_S,
            "hold_b_s": HOLD_B_S,
        },
        "targets": {"ratio": TARGET_RATIO, "rows_s": TARGET_ROWS_S},
        "checks": verdicts.checks,
        "post_ms": {"A_p50": post_a, "B_p50": post_b, "ratio": post_ratio},
        "publish_to_live_s": {"A_p50": live_a, "B_p50": live_b, "ratio": live_ratio},
        "live_to_rows_s": {"max": max(rows_s) if rows_s else None, "p50": _median(rows_s)},
        "rows_per_s_p50": _median(rate),
        "server_live_to_job_end_s_p50": _median(server_done),
        "get_ms": {"A_p50": _median(get_a), "B_p50": _median(get_b)},
        "breakdown": breakdown,
        "info": info,
        "samples": [asdict(s) for s in samples],
        "machine": machine,
        "versions": {"ffmpeg": ffmpeg_version(), **package_versions("uvicorn", "sqlalchemy", "asyncpg", "httpx")},
        "source": source_state(),
    }
    return BenchResult(name=NAME, ok=not verdicts.failures, report=report, data=data, failures=verdicts.failures)
