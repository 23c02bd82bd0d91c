"""What the realtime benchmarks (``chat_fanout``, ``ws_memory``) share: our server and the baseline as loopback
subprocesses, the accounts and the live stream they chat on, the Redis database they flush, and the bounded run of
``bench.ws_loadgen``.

``BENCH_WS_SELF_TEST=1`` puts a second baseline where our server would be (same labels, marked "self-test"): it
checks the benchmark itself end to end, the ratio then being the noise floor (about 1.0).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.harness import ROOT, BenchError, Server, clean_env, free_port
from bench.media_support import _expect, make_creator, run_async

REDIS_URL = "redis://127.0.0.1:6379/14"
SELF_TEST = os.environ.get("BENCH_WS_SELF_TEST", "") not in ("", "0")


@dataclass
class ChatTarget:
    """A server under load and the stream its viewers join."""

    label: str
    server: Server
    stream_id: str
    tokens: list[str]
    kind: str  # "baseline", "memory" or "redis"

    @property
    def pid(self) -> int:
        return self.server.process.pid

    @property
    def ws_url(self) -> str:
        return self.server.base_url.replace("http://", "ws://", 1) + f"/ws/streams/{self.stream_id}"


def start_baseline(workdir: Path, name: str = "baseline") -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "bench.ws_baseline", "--port", str(port)]
    return Server.start(name, argv, port=port, env=clean_env(), workdir=workdir, health_path="/healthz")


def start_ours(workdir: Path, name: str, *, redis_url: str | None) -> Server:
    """``python -m livestream serve --migrate`` on a fresh SQLite database, RTMP off, logins unthrottled."""
    if SELF_TEST:
        return start_baseline(workdir, name)
    port = free_port()
    home = workdir / name
    home.mkdir(parents=True, exist_ok=True)
    settings = {
        "LS_ENV": "test",
        "LS_SECRET_KEY": secrets.token_urlsafe(36),
        "LS_DATABASE_URL": f"sqlite+aiosqlite:///{home / 'bench.db'}",
        "LS_HOST": "127.0.0.1",
        "LS_PORT": str(port),
        "LS_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "LS_VAR_DIR": str(home),
        "LS_MEDIA_DIR": str(home / "media"),
        "LS_WEB_DIST": str(home / "no-web"),
        "LS_LOG_LEVEL": "WARNING",
        "LS_RTMP_ENABLED": "false",
        # Every sender signs in from 127.0.0.1; the login throttle counts per address.
        "LS_LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000",
        "LS_LOGIN_MAX_FAILURES_PER_ACCOUNT": "1000000",
        # The senders' tokens must outlive every round.
        "LS_ACCESS_TOKEN_MINUTES": "240",
    }
    if redis_url:
        settings["LS_REDIS_URL"] = redis_url
    argv = [sys.executable, "-m", "livestream", "serve", "--migrate"]
    return Server.start(name, argv, port=port, env=clean_env(**settings), workdir=workdir, health_path="/healthz")


def flush_redis(url: str = REDIS_URL) -> str | None:
    """Empty the benchmark's Redis database; the reason it could not, or None."""
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        try:
            client.flushdb()
        finally:
            client.close()
    except Exception as exc:
        return f"Redis at {url} is not usable: {type(exc).__name__}: {exc}"
    return None


async def _accounts(base_url: str, senders: int) -> tuple[str, list[str]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        creator = await make_creator(client, "chat")
        stream = _expect(
            await client.post("/api/streams", json={"title": "chat fan-out bench"}, headers=creator.auth), 201
        )
        # One at a time: the accounts are set up once, and SQLite prefers one writer.
        people = [await make_creator(client, f"sender{i}") for i in range(senders)]
        return str(stream["stream_id"]), [p.token for p in people]


def chat_target(label: str, server: Server, kind: str, senders: int) -> ChatTarget:
    """A live stream and ``senders`` signed-in accounts on our server (anything goes on the baseline)."""
    if kind == "baseline" or SELF_TEST:
        return ChatTarget(label, server, secrets.token_hex(8), [f"token-{i}" for i in range(senders)], kind)
    try:
        stream_id, tokens = run_async(_accounts(server.base_url, senders))
    except BenchError as exc:
        raise BenchError(f"{label}: setting up the stream and senders failed: {exc}\n{server.log_tail()}") from exc
    return ChatTarget(label, server, stream_id, tokens, kind)


def run_loadgen(argv: Sequence[str], *, timeout_s: float, log_path: Path) -> dict[str, Any]:
    """Run ``bench.ws_loadgen`` (which ends its own workers) and return its JSON; an overstay is killed by PID."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.ws_loadgen", *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=ROOT,
        )
        try:
            out, _ = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            os.kill(process.pid, signal.SIGKILL)
            process.communicate()
            raise BenchError(f"ws_loadgen did not stop within {timeout_s:g} s") from exc
    lines = out.decode(errors="replace").strip().splitlines()
    if not lines:
        raise BenchError(f"ws_loadgen printed nothing (exit {process.returncode}); see {log_path}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def proc_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for {pid}")


def wait_quiet(pid: int, *, seconds: float = 1.0, timeout_s: float = 15.0) -> None:
    """Wait until the process has spent (almost) no CPU for ``seconds``: the previous run's closes are done."""
    from bench.media_support import cpu_seconds

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(seconds)
        if cpu_seconds(pid) - before < 0.05 * seconds:
            return
