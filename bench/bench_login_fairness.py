"""Login fairness: chat fan-out latency while sign-ins hash passwords on the same server (issue 7).

Every sign-in costs one Argon2id verification (64 MiB, about 0.2 s of CPU with the production parameters). They run
on the server's hashing threads, a bounded number at once (``LS_PASSWORD_HASH_CONCURRENCY``, default one per 4 CPUs)
at a lower priority, never on the event loop that also carries the chat. This measures what the chat feels of it:
one server (``python -m livestream serve --migrate``, memory engine, as ``chat_fanout`` starts it), 1,000 viewers of
one stream and 10 senders posting 10 messages per second in all for 8 s (``bench.ws_loadgen fanout``, exactly as
``chat_fanout`` runs it), with and without a login driver offering 20 sign-ins per second (correct passwords, 10
accounts in turn, each a fresh request on keep-alive connections) from the start of the viewers' connections to
the end of the drain. Runs alternate: without, with, without, with, ... The figure is the median of the runs'
publish-to-receive p99 with logins over the median without; target <= 1.5.

The driver (this module run as ``python -m bench.bench_login_fairness driver``) keeps at most one second's worth of
sign-ins waiting (20): past what the machine can hash (on 2 CPUs 1 to 7 a second, depending on what else runs), an
attempt is counted as skipped instead of growing a queue that would outlive the run. Its report: offered,
completed and skipped sign-ins, their statuses and latency. Before each run the server must have been idle for a
second (the previous run's hashes and closes done).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    ROOT,
    BenchError,
    BenchResult,
    Options,
    format_table,
    machine_info,
    machine_line,
    now_utc,
    package_versions,
)
from bench.harness import progress as say
from bench.media_support import Verdicts, _expect, run_async, source_state
from bench.ws_support import ChatTarget, chat_target, run_loadgen, start_ours, wait_quiet

NAME = "login_fairness"
DESCRIPTION = "chat fan-out p99 at 1k viewers with 20 logins/s against the same server vs without logins"
TARGET_RATIO = 1.5  # p99 with logins / p99 without
TARGET_AT_VIEWERS = 1000
LOGIN_RATE = 20.0  # sign-ins offered per second
LOGIN_ACCOUNTS = 10
RATE = 10.0  # chat messages per second, all senders together (as chat_fanout)
SENDERS = 10
QUIET_TIMEOUT_S = 60.0


@dataclass
class Series:
    label: str
    logins: bool
    viewers: int
    runs: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def median(self, key: str) -> float | None:
        values = [r[key] for r in self.runs if r.get(key) is not None]
        return statistics.median(values) if values else None

    def login_median(self, key: str) -> float | None:
        values = [r["login"][key] for r in self.runs if r.get("login") and r["login"].get(key) is not None]
        return statistics.median(values) if values else None

    def total(self, key: str) -> int:
        return sum(int(r.get(key) or 0) for r in self.runs)

    def to_json(self) -> dict[str, Any]:
        keys = ("deliveries_per_s", "p50_ms", "p99_ms", "max_ms", "server_cpu_ms_per_1000")
        return {
            "label": self.label,
            "logins": self.logins,
            "viewers": self.viewers,
            "median": {k: self.median(k) for k in keys},
            "lost": self.total("lost"),
            "errors": self.errors,
            "runs": self.runs,
        }


# --- the login driver (its own process) ------------------------------------------------------------------------


async def drive_logins(
    base_url: str, accounts: list[tuple[str, str]], rate: float, max_seconds: float
) -> dict[str, Any]:
    """Offer ``rate`` sign-ins a second until SIGTERM (or ``max_seconds``); report what came of them."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.call_later(max_seconds, stop.set)
    max_waiting = max(1, int(rate))
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    waiting: set[asyncio.Task[None]] = set()
    offered = skipped = 0
    limits = httpx.Limits(max_connections=max_waiting, max_keepalive_connections=max_waiting)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:

        async def one(login: str, password: str) -> None:
            started = time.monotonic()
            try:
                response = await client.post("/api/auth/login", json={"login": login, "password": password})
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
                return
            statuses[str(response.status_code)] += 1
            if response.status_code == 200:
                latencies.append(time.monotonic() - started)

        t0 = time.monotonic()
        while not stop.is_set():
            if len(waiting) >= max_waiting:
                skipped += 1
            else:
                login, password = accounts[offered % len(accounts)]
                task = asyncio.create_task(one(login, password))
                waiting.add(task)
                task.add_done_callback(waiting.discard)
            offered += 1
            due = t0 + offered / rate
            delay = due - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
        elapsed = time.monotonic() - t0
        unfinished = len(waiting)
        for task in list(waiting):
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
    latencies.sort()
    completed = statuses.get("200", 0)

    def pct(q: float) -> float | None:
        return round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1) if latencies else None

    return {
        "offered": offered,
        "offered_per_s": round(offered / elapsed, 2) if elapsed else None,
        "completed": completed,
        "completed_per_s": round(completed / elapsed, 2) if elapsed else None,
        "skipped": skipped,
        "unfinished_at_stop": unfinished,
        "statuses": dict(statuses),
        "latency_p50_ms": pct(0.50),
        "latency_p99_ms": pct(0.99),
        "seconds": round(elapsed, 2),
    }


def driver_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_login_fairness driver")
    parser.add_argument("--url", required=True, help="http://127.0.0.1:PORT (loopback only)")
    parser.add_argument("--accounts-file", required=True, help="one 'login password' a line")
    parser.add_argument("--rate", type=float, default=LOGIN_RATE)
    parser.add_argument("--max-seconds", type=float, default=300)
    args = parser.parse_args(argv)
    if not args.url.startswith(("http://127.0.0.1:", "http://localhost:")):
        parser.error("the driver only targets loopback")
    accounts = [tuple(line.split(" ", 1)) for line in Path(args.accounts_file).read_text().splitlines() if line]
    result = run_async(drive_logins(args.url, accounts, args.rate, args.max_seconds))  # type: ignore[arg-type]
    print(json.dumps(result), flush=True)
    return 0


class LoginDriver:
    """The driver subprocess: started before a run, stopped (SIGTERM, then by PID if it overstays) after it."""

    def __init__(self, base_url: str, accounts_file: Path, *, rate: float, max_seconds: float, log: Path) -> None:
        self._log = log.open("ab")
        argv = [
            sys.executable,
            "-m",
            "bench.bench_login_fairness",
            "driver",
            "--url",
            base_url,
            "--accounts-file",
            str(accounts_file),
            "--rate",
            f"{rate:g}",
            "--max-seconds",
            f"{max_seconds:g}",
        ]
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log, cwd=ROOT
        )

    def stop(self) -> dict[str, Any]:
        try:
            if self.process.poll() is None:
                os.kill(self.process.pid, signal.SIGTERM)
            try:
                out, _ = self.process.communicate(timeout=30)
            except subprocess.TimeoutExpired as exc:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.communicate()
                raise BenchError("the login driver did not stop within 30 s") from exc
        finally:
            self._log.close()
        lines = out.decode(errors="replace").strip().splitlines()
        if not lines:
            raise BenchError(f"the login driver printed nothing (exit {self.process.returncode})")
        result: dict[str, Any] = json.loads(lines[-1])
        return result


# --- the benchmark ---------------------------------------------------------------------------------------------


async def _login_accounts(base_url: str, count: int) -> list[tuple[str, str]]:
    accounts = []
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for i in range(count):
            username = f"bench_login_{i}_{secrets.token_hex(3)}"
            password = secrets.token_urlsafe(16)
            body = {"username": username, "email": f"{username}@example.com", "password": password}
            _expect(await client.post("/api/auth/register", json=body), 201)
            accounts.append((username, password))
        # Each signs in once: the code paths are warm and every account is known to work.
        for username, password in accounts:
            _expect(await client.post("/api/auth/login", json={"login": username, "password": password}), 200)
    return accounts


def _fanout(target: ChatTarget, viewers: int, publish_s: float, log: Path) -> dict[str, Any]:
    """The same ``ws_loadgen fanout`` run as ``chat_fanout``'s."""
    tokens = log.parent / "tokens.txt"
    tokens.write_text("\n".join(target.tokens) + "\n")
    max_s = int(90 + publish_s + viewers / 100)
    argv = [
        "fanout",
        "--url",
        target.ws_url,
        "--viewers",
        str(viewers),
        "--workers",
        "1" if viewers <= 2000 else "2",
        "--tokens-file",
        str(tokens),
        "--rate",
        f"{RATE:g}",
        "--duration",
        f"{publish_s:g}",
        "--server-pid",
        str(target.pid),
        "--max-seconds",
        str(max_s),
    ]
    result = run_loadgen(argv, timeout_s=max_s + 30, log_path=log)
    if "error" in result:
        tail = "\n".join(target.server.log_tail(200).splitlines()[-12:])
        raise BenchError(f"{target.label}: {result['error']}\n  server log tail:\n{tail}")
    if target.server.process.poll() is not None:
        raise BenchError(f"{target.label} exited during the run:\n{target.server.log_tail()}")
    return result


def _one_run(
    target: ChatTarget, viewers: int, publish_s: float, *, logins: bool, accounts_file: Path, log: Path
) -> dict[str, Any]:
    wait_quiet(target.pid, timeout_s=QUIET_TIMEOUT_S)
    if not logins:
        return _fanout(target, viewers, publish_s, log)
    max_s = 90 + publish_s + viewers / 100
    driver = LoginDriver(target.server.base_url, accounts_file, rate=LOGIN_RATE, max_seconds=max_s, log=log)
    try:
        result = _fanout(target, viewers, publish_s, log)
    finally:
        login = driver.stop()
    result["login"] = login
    return result


def run(options: Options) -> BenchResult:
    viewers = 300 if options.quick else TARGET_AT_VIEWERS
    publish_s = 3.0 if options.quick else 8.0
    # p99 of 80 messages is about the second-worst message: one stall anywhere on the machine moves it, so the
    # medians need more runs than chat_fanout's.
    rounds = 1 if options.quick else min(options.rounds, 5)
    machine = machine_info()
    failures: list[str] = []
    group = [Series("without logins", False, viewers), Series(f"with {LOGIN_RATE:g} logins/s", True, viewers)]
    with tempfile.TemporaryDirectory(prefix="bench-login-fairness-") as tmp:
        workdir = Path(tmp)
        log = workdir / "loadgen.log"
        server = start_ours(workdir, "ours-memory", redis_url=None)
        try:
            target = chat_target("ours (memory engine)", server, "memory", SENDERS)
            accounts = run_async(_login_accounts(server.base_url, LOGIN_ACCOUNTS))
            accounts_file = workdir / "accounts.txt"
            accounts_file.write_text("".join(f"{u} {p}\n" for u, p in accounts))
            for logins in (False, True):
                warm = _one_run(target, 100, 2.0, logins=logins, accounts_file=accounts_file, log=log)
                say(f"  warm-up  {'with' if logins else 'without'} logins  p99 {warm['p99_ms']:.1f} ms")
            for round_no in range(1, rounds + 1):
                for s in group:
                    if s.errors:
                        continue
                    try:
                        r = _one_run(target, viewers, publish_s, logins=s.logins, accounts_file=accounts_file, log=log)
                    except BenchError as exc:
                        s.errors.append(str(exc))
                        failures.append(f"{s.label} at {viewers} viewers: {exc}")
                        say(f"  {s.label} failed: {exc}")
                        continue
                    s.runs.append(r)
                    login = r.get("login")
                    extra = (
                        f"  logins {login['completed_per_s']:.1f}/s done of {login['offered_per_s']:.1f}/s offered, "
                        f"p50 {login['latency_p50_ms']} ms"
                        if login
                        else ""
                    )
                    say(
                        f"  round {round_no}/{rounds} {s.label:<18} {r['deliveries_per_s']:>8,.0f} deliv/s  "
                        f"p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  max {r['max_ms']:.1f} ms  "
                        f"lost {r['lost']}{extra}"
                    )
        finally:
            server.stop()
            log_tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    machine["load_average_after"] = machine_info()["load_average"]
    return _result(group, failures, options, machine, publish_s, rounds, log_tail)


def _result(
    group: list[Series],
    failures: list[str],
    options: Options,
    machine: dict[str, Any],
    publish_s: float,
    rounds: int,
    log_tail: str,
) -> BenchResult:
    from livestream.security import default_hash_concurrency

    verdicts = Verdicts()
    verdicts.failures.extend(failures)
    without, with_logins = group
    base_p99, load_p99 = without.median("p99_ms"), with_logins.median("p99_ms")
    ratio = load_p99 / base_p99 if base_p99 and load_p99 else None

    def cell(value: float | None, fmt: str) -> str:
        return "n/a" if value is None else format(value, fmt)

    rows = []
    for s in group:
        rows.append(
            [
                s.label,
                str(s.viewers),
                cell(s.median("deliveries_per_s"), ",.0f"),
                cell(s.median("p50_ms"), ".1f"),
                cell(s.median("p99_ms"), ".1f"),
                cell(s.median("max_ms"), ".1f"),
                str(s.total("lost")) if s.runs else "n/a",
                cell(s.median("server_cpu_ms_per_1000"), ".2f"),
                cell(s.login_median("completed_per_s"), ".1f") if s.logins else "-",
                cell(s.login_median("latency_p50_ms"), ".0f") if s.logins else "-",
                cell(s.login_median("latency_p99_ms"), ".0f") if s.logins else "-",
            ]
        )
        if s.runs and s.total("lost"):
            verdicts.failures.append(f"{s.label}: {s.total('lost')} deliveries lost")
        if s.total("closed_during_run") or sum(sum(r.get("refused", {}).values()) for r in s.runs):
            verdicts.failures.append(f"{s.label}: viewers closed or sends refused during a run")
        for r in s.runs:
            login = r.get("login") or {}
            odd = {k: v for k, v in login.get("statuses", {}).items() if k != "200"}
            if odd:
                verdicts.failures.append(f"{s.label}: sign-ins answered other than 200: {odd}")
    if without.viewers == TARGET_AT_VIEWERS:
        verdicts.check(
            f"chat p99 with {LOGIN_RATE:g} logins/s ÷ without, at {without.viewers} viewers",
            ratio,
            TARGET_RATIO,
            unit="",
        )
    headers = [
        "run",
        "viewers",
        "deliveries/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "lost",
        "server ms CPU/1000 deliv",
        "logins done/s",
        "login p50 ms",
        "login p99 ms",
    ]
    concurrency = default_hash_concurrency()
    report = "\n".join(
        [
            f"{NAME}: {DESCRIPTION}",
            f"{RATE:g} chat messages/s from {SENDERS} senders for {publish_s:g} s per run; {LOGIN_RATE:g} sign-ins/s "
            f"offered (at most {int(LOGIN_RATE)} waiting) from the viewers' connect to the drain; medians of "
            f"{rounds} alternated round(s); concurrent hashes: {concurrency} (the default)",
            "",
            format_table(headers, rows),
            "",
            f"p99 without logins {cell(base_p99, '.1f')} ms, with {cell(load_p99, '.1f')} ms: "
            f"ratio {cell(ratio, '.2f')} (target <= {TARGET_RATIO:g})",
            *verdicts.lines,
            machine_line(machine),
        ]
    )
    data: dict[str, Any] = {
        "description": DESCRIPTION,
        "date": now_utc(),
        "quick": options.quick,
        "login_rate_per_s": LOGIN_RATE,
        "login_accounts": LOGIN_ACCOUNTS,
        "hash_concurrency": concurrency,
        "chat_rate_per_s": RATE,
        "senders": SENDERS,
        "publish_s": publish_s,
        "rounds": rounds,
        "p99_ms": {"without_logins": base_p99, "with_logins": load_p99},
        "ratio": None if ratio is None else round(ratio, 3),
        "targets": {"ratio_max": TARGET_RATIO, "at_viewers": TARGET_AT_VIEWERS},
        "checks": verdicts.checks,
        "series": [s.to_json() for s in group],
        "loadgen_log_tail": log_tail,
        "machine": machine,
        "versions": package_versions("argon2-cffi", "uvicorn", "uvloop", "httpx"),
        "source": source_state(),
    }
    return BenchResult(name=NAME, ok=not verdicts.failures, report=report, data=data, failures=verdicts.failures)


if __name__ == "__main__":
    if sys.argv[1:2] != ["driver"]:
        sys.exit("usage: python -m bench.bench_login_fairness driver --url ... (the benchmark: python -m bench)")
    sys.exit(driver_main(sys.argv[2:]))
