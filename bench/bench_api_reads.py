"""Requests per second of the API's hot reads, the ones every follower's page load makes when a creator goes
live: ``GET /api/streams/{id}``, ``GET /api/streams?status=live`` and ``GET /api/users/{id}``, against a bare
ASGI app returning a small JSON body. Both are served by uvicorn the same way (uvloop, httptools, one worker,
no logging config, no access log) and measured in the same run, alternated, with the load on loopback.

The app runs twice: the single-node shape (SQLite, memory engine) and the scale-out shape (PostgreSQL on
127.0.0.1, Redis engine). ``/healthz`` (middleware and routing, no work) is measured beside them for scale.
Targets (ratio of median rps to the baseline's in the same run, on both databases), p99 and errors are
enforced: a miss fails the run.
"""

from __future__ import annotations

import secrets
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    BenchError,
    BenchResult,
    LoadGenerator,
    Options,
    Server,
    Target,
    TargetStats,
    clean_env,
    free_port,
    machine_info,
    machine_line,
    measure_alternating,
    now_utc,
    package_versions,
    pick_load_generator,
    progress,
    stats_table,
)
from bench.postgres import app_url, create_database, drop_database

NAME = "api_reads"
DESCRIPTION = (
    "GET /api/streams/{id}, /api/streams?status=live, /api/users/{id} on SQLite and PostgreSQL+Redis "
    "vs a bare ASGI JSON endpoint (rps, same uvicorn settings)"
)

# The lowest acceptable app/baseline ratio of each read, on every database; and the highest p99.
TARGET_RATIOS: dict[str, float] = {"stream": 0.15, "live": 0.15, "user": 0.06}
MAX_P99_MS = 20.0

REDIS_URL = "redis://127.0.0.1:6379/13"  # flushed first; the tests use 15, the chat benchmarks 14

FOLLOWERS = 4  # users who follow the profile's owner; each of them is live too
FOLLOWING = 2  # of those, how many the owner follows back
ENDED = 2  # ended streams, which the live list must skip
LIVE = 1 + FOLLOWERS  # the owner and every follower are live

READS = {
    "stream": "GET /api/streams/{id}",
    "live": "GET /api/streams?status=live",
    "user": "GET /api/users/{id}",
}


@dataclass
class Seeded:
    owner_id: str
    stream_id: str


@dataclass
class AppUnderTest:
    kind: str  # "sqlite" or "postgres"
    server: Server
    seeded: Seeded

    def url(self, read: str) -> str:
        base = self.server.base_url
        return {
            "stream": f"{base}/api/streams/{self.seeded.stream_id}",
            "live": f"{base}/api/streams?status=live",
            "user": f"{base}/api/users/{self.seeded.owner_id}",
        }[read]


def _app_env(workdir: Path, port: int, database_url: str, redis_url: str | None) -> dict[str, str]:
    settings = {
        "LS_ENV": "test",
        "LS_SECRET_KEY": secrets.token_urlsafe(36),  # 48 characters
        "LS_DATABASE_URL": database_url,
        "LS_HOST": "127.0.0.1",
        "LS_PORT": str(port),
        "LS_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "LS_VAR_DIR": str(workdir),
        "LS_MEDIA_DIR": str(workdir / "media"),
        "LS_LOG_LEVEL": "WARNING",
        "LS_RTMP_ENABLED": "false",
    }
    if redis_url:
        settings["LS_REDIS_URL"] = redis_url
    return clean_env(**settings)


def start_app(workdir: Path, name: str, database_url: str, redis_url: str | None) -> Server:
    """The real server (``python -m livestream serve --migrate``), its var directory under ``workdir/name``."""
    port = free_port()
    var_dir = workdir / name
    var_dir.mkdir()
    argv = [sys.executable, "-m", "livestream", "serve", "--migrate"]
    env = _app_env(var_dir, port, database_url, redis_url)
    return Server.start(name, argv, port=port, env=env, workdir=workdir, health_path="/healthz")


def start_baseline(workdir: Path) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "bench.baseline_asgi", "--host", "127.0.0.1", "--port", str(port)]
    return Server.start("baseline", argv, port=port, env=clean_env(), workdir=workdir, health_path="/")


def flush_redis(url: str = REDIS_URL) -> None:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        try:
            client.flushdb()
        finally:
            client.close()
    except Exception as exc:
        raise BenchError(f"Redis at {url} is not usable: {type(exc).__name__}: {exc}") from exc


def _expect(response: httpx.Response, status: int) -> dict[str, Any]:
    if response.status_code != status:
        raise BenchError(
            f"{response.request.method} {response.request.url.path}: expected {status}, "
            f"got {response.status_code}: {response.text[:500]}"
        )
    body: dict[str, Any] = response.json()
    return body


def seed(base_url: str) -> Seeded:
    """The profile's owner live, followed by a few users who are live too (some followed back), and a few
    ended streams; returns the owner's id and their stream's."""
    tag = secrets.token_hex(3)
    password = secrets.token_urlsafe(16)  # throwaway accounts in a throwaway database

    def account(client: httpx.Client, name: str) -> tuple[str, dict[str, str]]:
        username = f"bench_{name}_{tag}"
        user = _expect(
            client.post(
                "/api/auth/register",
                json={"username": username, "email": f"{username}@example.com", "password": password},
            ),
            201,
        )
        token = _expect(client.post("/api/auth/login", json={"login": username, "password": password}), 200)
        return str(user["user_id"]), {"Authorization": f"Bearer {token['access_token']}"}

    def follow(client: httpx.Client, auth: dict[str, str], user_id: str) -> None:
        _expect(client.post("/api/follows", json={"following_id": user_id}, headers=auth), 201)

    def go_live(client: httpx.Client, auth: dict[str, str], title: str) -> str:
        created = _expect(client.post("/api/streams", json={"title": title, "description": "bench"}, headers=auth), 201)
        return str(created["stream_id"])

    with httpx.Client(base_url=base_url, timeout=60) as client:
        owner_id, owner_auth = account(client, "owner")
        fans: list[dict[str, str]] = []
        for i in range(FOLLOWERS):
            fan_id, fan_auth = account(client, f"fan{i}")
            fans.append(fan_auth)
            follow(client, fan_auth, owner_id)
            if i < FOLLOWING:
                follow(client, owner_auth, fan_id)
        for i in range(ENDED):
            ended = go_live(client, fans[i], f"Earlier stream {i}")
            _expect(client.put(f"/api/streams/{ended}/end", headers=fans[i]), 200)
        for i, fan_auth in enumerate(fans):
            go_live(client, fan_auth, f"Fan {i} live")
        stream_id = go_live(client, owner_auth, "The owner is live")
    return Seeded(owner_id=owner_id, stream_id=stream_id)


def check(app: AppUnderTest) -> None:
    """Each benchmarked URL must be a real 200 answer with the seeded data, not a cheap error."""
    seeded = app.seeded
    stream = _expect(httpx.get(app.url("stream"), timeout=10), 200)
    if (stream.get("stream_id"), stream.get("status"), stream.get("user", {}).get("user_id")) != (
        seeded.stream_id,
        "live",
        seeded.owner_id,
    ):
        raise BenchError(f"{app.kind}: unexpected stream {stream}")
    page = _expect(httpx.get(app.url("live"), timeout=10), 200)
    items = page.get("items", [])
    if len(items) != LIVE or any(item.get("status") != "live" for item in items):
        raise BenchError(f"{app.kind}: wanted {LIVE} live streams, got {page}")
    profile = _expect(httpx.get(app.url("user"), timeout=10), 200)
    got = (profile.get("user_id"), profile.get("follower_count"), profile.get("following_count"))
    if got != (seeded.owner_id, FOLLOWERS, FOLLOWING):
        raise BenchError(
            f"{app.kind}: unexpected profile {profile}: wanted user {seeded.owner_id} with {FOLLOWERS} followers, "
            f"{FOLLOWING} following"
        )


def _label(kind: str, read: str) -> str:
    return f"{kind} {READS[read]}"


def run(options: Options) -> BenchResult:
    generator = pick_load_generator(options.loadgen)
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-api-reads-") as tmp:
        workdir = Path(tmp)
        servers: list[Server] = []
        pg_name: str | None = None
        try:
            sqlite_server = start_app(workdir, "app-sqlite", f"sqlite+aiosqlite:///{workdir}/bench.db", None)
            servers.append(sqlite_server)
            apps = [AppUnderTest("sqlite", sqlite_server, seed(sqlite_server.base_url))]
            pg_name = create_database("ls_bench")
            flush_redis()
            pg_url = app_url(pg_name)
            pg_server = start_app(workdir, "app-postgres", pg_url, REDIS_URL)
            servers.append(pg_server)
            apps.append(AppUnderTest("postgres", pg_server, seed(pg_server.base_url)))
            for app in apps:
                check(app)
            baseline = start_baseline(workdir)
            servers.append(baseline)
            _expect(httpx.get(baseline.base_url + "/", timeout=10), 200)

            targets = [
                Target("baseline (bare ASGI JSON)", baseline.base_url + "/"),
                Target("GET /healthz", sqlite_server.base_url + "/healthz"),
            ]
            targets += [Target(_label(app.kind, read), app.url(read)) for app in apps for read in READS]
            progress(
                f"  load generator: {generator.version}, {options.connections} connections, "
                f"{options.rounds} rounds x {options.duration_s:g} s per target after {options.warmup_s:g} s warm-up"
            )
            stats = measure_alternating(targets, generator, options)
            for app in apps:
                check(app)  # still serving the same data after the load
        finally:
            for server in reversed(servers):
                server.stop()
            if pg_name is not None:
                drop_database(pg_name)
    machine["load_average_after"] = machine_info()["load_average"]
    return _result(stats, generator, options, machine)


def _ratio_rows(stats: list[TargetStats]) -> tuple[list[dict[str, Any]], list[str]]:
    baseline = stats[0]
    rows: list[dict[str, Any]] = []
    failures: list[str] = []
    for s in stats:
        if s.errors:
            failures.append(f"{s.label}: {s.errors} errors (non-200 responses or broken connections)")
    for s in stats[1:]:
        kind, _, read_label = s.label.partition(" ")
        read = next((key for key, label in READS.items() if label == read_label), None)
        ratio = s.rps / baseline.rps if baseline.rps else 0.0
        per_round = [a.rps / b.rps if b.rps else 0.0 for a, b in zip(s.runs, baseline.runs, strict=True)]
        target = TARGET_RATIOS.get(read) if read else None
        rows.append(
            {
                "label": s.label,
                "ratio": round(ratio, 5),
                "ratio_per_round": [round(r, 5) for r in per_round],
                "target_ratio": target,
                "p99_ms": s.p99_ms,
            }
        )
        if target is None:
            continue
        if ratio < target:
            failures.append(f"{s.label}: ratio {ratio:.4f} is below the target {target} ({kind})")
        if s.p99_ms > MAX_P99_MS:
            failures.append(f"{s.label}: p99 {s.p99_ms:.2f} ms is above {MAX_P99_MS:g} ms")
    return rows, failures


def _result(
    stats: list[TargetStats], generator: LoadGenerator, options: Options, machine: dict[str, Any]
) -> BenchResult:
    rows, failures = _ratio_rows(stats)
    width = max(len(r["label"]) for r in rows)
    lines = []
    for row in rows:
        target = f"   target >= {row['target_ratio']}" if row["target_ratio"] is not None else ""
        rounds = ", ".join(f"{r:.3f}" for r in row["ratio_per_round"])
        lines.append(f"{row['label']:<{width}}  {row['ratio']:.4f}{target}   (per round {rounds})")
    report = "\n".join(
        [
            f"{NAME}: {DESCRIPTION}",
            f"{generator.version}, {options.connections} connections, median of {options.rounds} runs of "
            f"{options.duration_s:g} s per target (alternated, after a {options.warmup_s:g} s warm-up)",
            "",
            stats_table(stats),
            "",
            f"ratio to the baseline (median rps); p99 target <= {MAX_P99_MS:g} ms on the reads:",
            *lines,
            f"{statistics.median(r.rps for r in stats[0].runs):,.1f} rps baseline median",
            machine_line(machine),
        ]
    )
    data: dict[str, Any] = {
        "description": DESCRIPTION,
        "date": now_utc(),
        "quick": options.quick,
        "options": {
            "duration_s": options.duration_s,
            "warmup_s": options.warmup_s,
            "rounds": options.rounds,
            "connections": options.connections,
        },
        "load_generator": generator.version,
        "machine": machine,
        "versions": package_versions(
            "uvicorn", "uvloop", "httptools", "fastapi", "starlette", "sqlalchemy", "aiosqlite", "asyncpg", "orjson"
        ),
        "seed": {"followers": FOLLOWERS, "following": FOLLOWING, "live": LIVE, "ended": ENDED},
        "targets": [s.to_json() for s in stats],
        "ratios": rows,
        "target_ratios": TARGET_RATIOS,
        "max_p99_ms": MAX_P99_MS,
    }
    return BenchResult(name=NAME, ok=not failures, report=report, data=data, failures=failures)
