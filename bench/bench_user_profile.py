"""Requests per second of ``GET /api/users/{id}`` (a public profile: the user row and its follower counts)
against a bare ASGI app returning a small JSON body, both served by uvicorn the same way (uvloop, httptools,
one worker, no logging config, no access log), measured in the same run with the load on loopback.
"""

from __future__ import annotations

import secrets
import statistics
import sys
import tempfile
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

NAME = "user_profile"
DESCRIPTION = "GET /api/users/{id} vs a bare ASGI JSON endpoint (requests per second, same uvicorn settings)"
# The lowest acceptable app/baseline ratio; None until the project sets a target.
TARGET_RATIO: float | None = None

FOLLOWERS = 4  # users who follow the profile's owner
FOLLOWING = 2  # of those, how many the owner follows back


def start_app(workdir: Path) -> Server:
    port = free_port()
    env = clean_env(
        LS_ENV="test",
        LS_SECRET_KEY=secrets.token_urlsafe(36),  # 48 characters
        LS_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        LS_HOST="127.0.0.1",
        LS_PORT=str(port),
        LS_PUBLIC_URL=f"http://127.0.0.1:{port}",
        LS_VAR_DIR=str(workdir),
        LS_MEDIA_DIR=str(workdir / "media"),
        LS_LOG_LEVEL="WARNING",
    )
    argv = [sys.executable, "-m", "livestream", "serve", "--migrate"]
    return Server.start("app", argv, port=port, env=env, workdir=workdir, health_path="/healthz")


def start_baseline(workdir: Path) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "bench.baseline_asgi", "--host", "127.0.0.1", "--port", str(port)]
    return Server.start("baseline", argv, port=port, env=clean_env(), workdir=workdir, health_path="/")


def _expect(response: httpx.Response, status: int) -> dict[str, Any]:
    if response.status_code != status:
        raise BenchError(
            f"{response.request.method} {response.request.url.path}: expected {status}, "
            f"got {response.status_code}: {response.text[:500]}"
        )
    body: dict[str, Any] = response.json()
    return body


def seed(base_url: str) -> str:
    """Register the profile's owner and a few followers (some followed back); return the owner's id."""
    tag = secrets.token_hex(3)
    password = secrets.token_urlsafe(16)  # throwaway accounts in a throwaway database

    def account(client: httpx.Client, name: str) -> tuple[str, str]:
        username = f"bench_{name}_{tag}"
        user = _expect(
            client.post(
                "/api/auth/register",
                json={"username": username, "email": f"{username}@example.com", "password": password},
            ),
            201,
        )
        token = _expect(client.post("/api/auth/login", json={"login": username, "password": password}), 200)
        return str(user["user_id"]), str(token["access_token"])

    def follow(client: httpx.Client, token: str, user_id: str) -> None:
        _expect(
            client.post("/api/follows", json={"following_id": user_id}, headers={"Authorization": f"Bearer {token}"}),
            201,
        )

    with httpx.Client(base_url=base_url, timeout=30) as client:
        owner_id, owner_token = account(client, "owner")
        for i in range(FOLLOWERS):
            fan_id, fan_token = account(client, f"fan{i}")
            follow(client, fan_token, owner_id)
            if i < FOLLOWING:
                follow(client, owner_token, fan_id)
    return owner_id


def check_profile(url: str, owner_id: str) -> None:
    """The benchmarked URL must be a real 200 profile with the seeded counts, not a cheap error."""
    body = _expect(httpx.get(url, timeout=10), 200)
    got = (body.get("user_id"), body.get("follower_count"), body.get("following_count"))
    if got != (owner_id, FOLLOWERS, FOLLOWING):
        raise BenchError(
            f"unexpected profile {body}: wanted user {owner_id} with {FOLLOWERS} followers, {FOLLOWING} following"
        )


def run(options: Options) -> BenchResult:
    generator = pick_load_generator(options.loadgen)
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-user-profile-") as tmp:
        workdir = Path(tmp)
        servers: list[Server] = []
        try:
            app = start_app(workdir)
            servers.append(app)
            owner_id = seed(app.base_url)
            profile_url = f"{app.base_url}/api/users/{owner_id}"
            check_profile(profile_url, owner_id)
            baseline = start_baseline(workdir)
            servers.append(baseline)
            _expect(httpx.get(baseline.base_url + "/", timeout=10), 200)

            progress(
                f"  load generator: {generator.version}, {options.connections} connections, "
                f"{options.rounds} rounds x {options.duration_s:g} s after {options.warmup_s:g} s warm-up"
            )
            stats = measure_alternating(
                [
                    Target("baseline (bare ASGI JSON)", baseline.base_url + "/"),
                    Target("app GET /api/users/{id}", profile_url),
                ],
                generator,
                options,
            )
            check_profile(profile_url, owner_id)  # still serving the same profile after the load
        finally:
            for server in reversed(servers):
                server.stop()
    machine["load_average_after"] = machine_info()["load_average"]
    return _result(stats, generator, options, machine)


def _result(
    stats: list[TargetStats], generator: LoadGenerator, options: Options, machine: dict[str, Any]
) -> BenchResult:
    baseline, app = stats
    ratio = app.rps / baseline.rps if baseline.rps else 0.0
    per_round = [a.rps / b.rps if b.rps else 0.0 for a, b in zip(app.runs, baseline.runs, strict=True)]
    paired = statistics.median(per_round)
    failures: list[str] = []
    for s in stats:
        if s.errors:
            failures.append(f"{s.label}: {s.errors} errors (non-200 responses or broken connections)")
    if TARGET_RATIO is not None and ratio < TARGET_RATIO:
        failures.append(f"ratio app/baseline {ratio:.4f} is below the target {TARGET_RATIO}")
    rounds = ", ".join(f"{r:.4f}" for r in per_round)
    report = "\n".join(
        [
            f"{NAME}: {DESCRIPTION}",
            f"{generator.version}, {options.connections} connections, median of {options.rounds} runs of "
            f"{options.duration_s:g} s per target (alternated, after a {options.warmup_s:g} s warm-up)",
            "",
            stats_table(stats),
            "",
            f"ratio app/baseline (median rps): {ratio:.4f}"
            + (f"   target >= {TARGET_RATIO}" if TARGET_RATIO is not None else ""),
            f"per round: {rounds}  (median {paired:.4f})",
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
            "uvicorn", "uvloop", "httptools", "fastapi", "starlette", "sqlalchemy", "aiosqlite"
        ),
        "seed": {"followers": FOLLOWERS, "following": FOLLOWING},
        "baseline": baseline.to_json(),
        "app": app.to_json(),
        "ratio": round(ratio, 5),
        "ratio_per_round": [round(r, 5) for r in per_round],
        "ratio_per_round_median": round(paired, 5),
        "target_ratio": TARGET_RATIO,
    }
    return BenchResult(name=NAME, ok=not failures, report=report, data=data, failures=failures)
