"""Chat fan-out over ``/ws/streams/{stream_id}`` (docs/realtime.md): one live stream, N viewers connected, 10 sender
accounts posting 10 messages per second in all (1 each: the server allows 3 per 2 s per user) for a fixed time.

Per run: deliveries per second; publish-to-receive latency (the sender writes ``time.monotonic_ns()`` into the
text, the viewer's process subtracts it from its own reading: CLOCK_MONOTONIC, one clock for the machine on Linux);
lost messages (every viewer, connected before the first send, must get every accepted message: the target is
zero); and the server's CPU seconds per 1,000 deliveries (utime + stime of the server process alone, from
/proc/<pid>/stat, over the window from the first send to the last delivery), so the ratio holds even if the load
generator were the first to saturate. Its own CPU is reported too (``bench.ws_loadgen``: worker processes on
uvloop, RFC 6455 spoken directly on asyncio protocols).

Targets: ours (``python -m livestream serve --migrate``) with the memory engine and with the Redis engine
(``LS_REDIS_URL``, database 14 flushed first) and, in the same run, alternating round by round, the baseline
(``bench.ws_baseline``: bare ``websockets`` + ``broadcast`` on uvloop, same frames). Neither negotiates
permessage-deflate. Viewers connect at most 100 handshakes at a time (all workers together), each batch waiting for
its ``hello``s; publishing starts once every viewer has its ``hello``. Targets at 1,000 viewers: efficiency =
baseline CPU per delivery / ours ≥ 0.7 (ours at most 1.4x), p99 ≤ 100 ms; zero loss at every size.
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import (
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
from bench.media_support import Verdicts, source_state
from bench.ws_support import (
    REDIS_URL,
    SELF_TEST,
    ChatTarget,
    chat_target,
    flush_redis,
    run_loadgen,
    start_baseline,
    start_ours,
    wait_quiet,
)

NAME = "chat_fanout"
DESCRIPTION = "chat fan-out to 1k/5k WebSocket viewers: deliveries/s, latency, loss, server CPU vs bare websockets"
TARGET_EFFICIENCY = 0.7  # baseline CPU per delivery / ours
TARGET_P99_MS = 100.0
TARGET_AT_VIEWERS = 1000
RATE = 10.0  # messages per second, all senders together
SENDERS = 10  # 1 message per second each, under the 3-per-2-s limit


@dataclass
class Series:
    label: str
    kind: str
    viewers: int
    runs: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def median(self, key: str) -> float | None:
        values = [r[key] for r in self.runs if r.get(key) is not None]
        return statistics.median(values) if values else None

    def total(self, key: str) -> int:
        return sum(int(r.get(key) or 0) for r in self.runs)

    @property
    def generator_max_percent(self) -> float | None:
        values = [r["generator_cpu_percent_max_process"] for r in self.runs]
        return max(values) if values else None

    def to_json(self) -> dict[str, Any]:
        keys = ("deliveries_per_s", "p50_ms", "p99_ms", "server_cpu_ms_per_1000", "connect_s", "drain_s")
        return {
            "label": self.label,
            "kind": self.kind,
            "viewers": self.viewers,
            "median": {k: self.median(k) for k in keys},
            "lost": self.total("lost"),
            "closed_during_run": self.total("closed_during_run"),
            "refused": sum(sum(r.get("refused", {}).values()) for r in self.runs),
            "generator_max_percent_of_core": self.generator_max_percent,
            "errors": self.errors,
            "runs": self.runs,
        }


def _workers(viewers: int) -> int:
    return 1 if viewers <= 2000 else 2


def _fanout(target: ChatTarget, viewers: int, publish_s: float, log: Path) -> dict[str, Any]:
    wait_quiet(target.pid)
    tokens = log.parent / f"tokens-{target.kind}.txt"
    tokens.write_text("\n".join(target.tokens) + "\n")
    max_s = int(90 + publish_s + viewers / 100)
    argv = [
        "fanout",
        "--url",
        target.ws_url,
        "--viewers",
        str(viewers),
        "--workers",
        str(_workers(viewers)),
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


def run(options: Options) -> BenchResult:
    sizes = (300,) if options.quick else (1000, 5000)
    publish_s = 3.0 if options.quick else 8.0
    rounds = 1 if options.quick else min(options.rounds, 3)
    machine = machine_info()
    failures: list[str] = []
    series: list[Series] = []
    with tempfile.TemporaryDirectory(prefix="bench-chat-fanout-") as tmp:
        workdir = Path(tmp)
        log = workdir / "ws_loadgen.log"
        targets: list[ChatTarget] = []
        servers = []
        try:
            baseline = start_baseline(workdir)
            servers.append(baseline)
            targets.append(chat_target("baseline (websockets)", baseline, "baseline", SENDERS))
            memory = start_ours(workdir, "ours-memory", redis_url=None)
            servers.append(memory)
            targets.append(chat_target("ours (memory engine)", memory, "memory", SENDERS))
            redis_problem = flush_redis()
            if redis_problem:
                failures.append(f"ours (redis engine) not measured: {redis_problem}")
            else:
                redis = start_ours(workdir, "ours-redis", redis_url=REDIS_URL)
                servers.append(redis)
                targets.append(chat_target("ours (redis engine)", redis, "redis", SENDERS))
            for target in targets:
                try:
                    warm = _fanout(target, 100, 2.0, log)
                    say(f"  warm-up  {target.label:<24} {warm['deliveries_per_s']:>9,.0f} deliveries/s")
                except BenchError as exc:
                    failures.append(f"{target.label}: warm-up failed: {exc}")
            for viewers in sizes:
                group = [Series(t.label, t.kind, viewers) for t in targets]
                series.extend(group)
                for round_no in range(1, rounds + 1):
                    for target, s in zip(targets, group, strict=True):
                        if s.errors:
                            continue
                        try:
                            r = _fanout(target, viewers, publish_s, log)
                        except BenchError as exc:
                            s.errors.append(str(exc))
                            failures.append(f"{target.label} at {viewers} viewers: {exc}")
                            say(f"  {target.label} at {viewers} viewers failed: {exc}")
                            continue
                        s.runs.append(r)
                        say(
                            f"  {viewers:>5} viewers round {round_no}/{rounds} {target.label:<24} "
                            f"{r['deliveries_per_s']:>9,.0f} deliv/s  p50 {r['p50_ms']:.1f} ms  "
                            f"p99 {r['p99_ms']:.1f} ms  lost {r['lost']}  "
                            f"server {r['server_cpu_ms_per_1000']:.2f} ms CPU/1000  "
                            f"generator max {r['generator_cpu_percent_max_process']:.0f}% of a core"
                        )
        finally:
            for server in reversed(servers):
                server.stop()
            log_tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    machine["load_average_after"] = machine_info()["load_average"]
    return _result(series, failures, options, machine, publish_s, rounds, log_tail)


def _result(
    series: list[Series],
    failures: list[str],
    options: Options,
    machine: dict[str, Any],
    publish_s: float,
    rounds: int,
    log_tail: str,
) -> BenchResult:
    verdicts = Verdicts()
    verdicts.failures.extend(failures)
    rows = []
    efficiency: dict[str, float | None] = {}
    for s in series:
        base = next((b for b in series if b.kind == "baseline" and b.viewers == s.viewers), None)
        ours_cpu, base_cpu = s.median("server_cpu_ms_per_1000"), base.median("server_cpu_ms_per_1000") if base else None
        eff = base_cpu / ours_cpu if base_cpu and ours_cpu else None
        efficiency[f"{s.kind}@{s.viewers}"] = None if eff is None else round(eff, 3)

        def cell(value: float | None, fmt: str) -> str:
            return "n/a" if value is None else format(value, fmt)

        rows.append(
            [
                f"{s.label}",
                str(s.viewers),
                cell(s.median("deliveries_per_s"), ",.0f"),
                cell(s.median("p50_ms"), ".1f"),
                cell(s.median("p99_ms"), ".1f"),
                str(s.total("lost")) if s.runs else "n/a",
                cell(ours_cpu, ".2f"),
                cell(eff, ".2f"),
                cell(s.median("connect_s"), ".1f"),
                cell(s.generator_max_percent, ".0f"),
            ]
        )
        if s.kind == "baseline" or not s.runs:
            if s.runs and s.total("lost"):
                verdicts.failures.append(f"baseline lost {s.total('lost')} deliveries at {s.viewers} viewers")
            continue
        name = f"{s.label} at {s.viewers} viewers"
        verdicts.check(f"{name}: lost deliveries", s.total("lost"), 0, unit="")
        if s.total("closed_during_run") or sum(sum(r.get("refused", {}).values()) for r in s.runs):
            verdicts.failures.append(
                f"{name}: {s.total('closed_during_run')} viewers closed during a run, "
                f"refused sends {[r.get('refused') for r in s.runs]}"
            )
        if s.viewers == TARGET_AT_VIEWERS:
            verdicts.check(
                f"{name}: efficiency (baseline CPU/delivery ÷ ours)",
                eff,
                TARGET_EFFICIENCY,
                unit="",
                higher_is_better=True,
            )
            verdicts.check(f"{name}: p99 latency", s.median("p99_ms"), TARGET_P99_MS, unit=" ms")
    headers = [
        "target",
        "viewers",
        "deliveries/s",
        "p50 ms",
        "p99 ms",
        "lost",
        "server ms CPU/1000 deliv",
        "efficiency",
        "connect s",
        "generator max % core",
    ]
    report = "\n".join(
        [
            f"{NAME}: {DESCRIPTION}" + ("  [SELF-TEST: a second baseline stands in for ours]" if SELF_TEST else ""),
            f"{RATE:g} messages/s from {SENDERS} senders for {publish_s:g} s per run, medians of {rounds} alternated "
            "round(s); deliveries count viewers and senders; lost = sum over runs",
            "",
            format_table(headers, rows),
            "",
            "efficiency = baseline server CPU per delivery / ours (1.0 = as cheap as bare websockets.broadcast); "
            "generator max % core = the busiest load-generator process during the window",
            *verdicts.lines,
            machine_line(machine),
        ]
    )
    data: dict[str, Any] = {
        "description": DESCRIPTION,
        "date": now_utc(),
        "quick": options.quick,
        "self_test": SELF_TEST,
        "rate_per_s": RATE,
        "senders": SENDERS,
        "publish_s": publish_s,
        "rounds": rounds,
        "targets": {"efficiency_min": TARGET_EFFICIENCY, "p99_ms_max": TARGET_P99_MS, "at_viewers": TARGET_AT_VIEWERS},
        "efficiency": efficiency,
        "checks": verdicts.checks,
        "series": [s.to_json() for s in series],
        "loadgen_log_tail": log_tail,
        "machine": machine,
        "versions": package_versions("websockets", "uvicorn", "uvloop", "orjson", "redis"),
        "source": source_state(),
    }
    return BenchResult(name=NAME, ok=not verdicts.failures, report=report, data=data, failures=verdicts.failures)
