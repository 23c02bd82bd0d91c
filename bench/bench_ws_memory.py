"""A raid on one live stream's ``/ws/streams/{stream_id}``: 10,000 viewers join and stay idle. Measured per target:

- memory per idle connection = (VmRSS with N connected − VmRSS with none) / N, VmRSS of the server process from
  /proc/<pid>/status, read after a few seconds of quiet;
- CPU per join = the server process's utime + stime (/proc/<pid>/stat) from before the first connection to the
  last ``hello``, / N: the handshake, the join and the hello, nothing else;
- the time for the N viewers to connect, from the first connection to the last ``hello`` (``bench.ws_loadgen``:
  100 handshakes at a time, each batch waiting for its ``hello``s).

Each measurement runs on a fresh server (a raid meets a server that has not seen these viewers): 20 viewers connect
and leave first (lazy imports, first allocations), then the idle RSS is read and the N viewers connect. Targets:
ours with the memory engine and with the Redis engine, and the baseline (``bench.ws_baseline``: bare ``websockets``
on uvloop, same frames, no compression), alternated round by round (baseline, memory, Redis, baseline, ...); the
figures are medians over the rounds. Targets for ours: memory and CPU per join at most ``TARGET_RATIO`` times the
baseline's, at most ``TARGET_KB_PER_CONNECTION`` KB per connection, and 10,000 viewers connected within
``TARGET_CONNECT_10K_S`` seconds.
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
    Server,
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

NAME = "ws_memory"
DESCRIPTION = "a raid of 10,000 idle WebSocket viewers: server RSS and CPU per viewer, connect time, vs bare websockets"
TARGET_KB_PER_CONNECTION = 40.0
TARGET_RATIO = 2.0  # ours / baseline, for memory per connection and for CPU per join
TARGET_CONNECT_10K_S = 8.0
FULL_VIEWERS = 10_000
WARMUP_VIEWERS = 20
SETTLE_S = 3.0


@dataclass
class Measurement:
    label: str
    kind: str
    viewers: int
    rss0_kb: int
    rss_kb: int
    connect_s: float
    join_cpu_s: float

    @property
    def kb_per_connection(self) -> float:
        return (self.rss_kb - self.rss0_kb) / self.viewers

    @property
    def join_cpu_ms(self) -> float:
        return 1000 * self.join_cpu_s / self.viewers

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "kind": self.kind,
            "viewers": self.viewers,
            "rss0_kb": self.rss0_kb,
            "rss_kb": self.rss_kb,
            "kb_per_connection": round(self.kb_per_connection, 3),
            "connect_s": self.connect_s,
            "join_cpu_s": self.join_cpu_s,
            "join_cpu_ms_per_viewer": round(self.join_cpu_ms, 4),
        }


@dataclass
class Series:
    label: str
    kind: str
    runs: list[Measurement] = field(default_factory=list)

    def median(self, key: str) -> float | None:
        values = [float(getattr(m, key)) for m in self.runs]
        return statistics.median(values) if values else None


def _idle(target: ChatTarget, viewers: int, settle_s: float, log: Path) -> dict[str, Any]:
    workers = 1 if viewers <= 2000 else 2
    max_s = int(60 + settle_s + viewers / 100)
    argv = [
        "idle",
        "--url",
        target.ws_url,
        "--viewers",
        str(viewers),
        "--workers",
        str(workers),
        "--server-pid",
        str(target.pid),
        "--settle",
        f"{settle_s:g}",
        "--max-seconds",
        str(max_s),
    ]
    result = run_loadgen(argv, timeout_s=max_s + 30, log_path=log)
    if "error" in result:
        tail = "\n".join(target.server.log_tail(200).splitlines()[-12:])
        raise BenchError(f"{target.label}: {result['error']}\n  server log tail:\n{tail}")
    return result


def _measure(target: ChatTarget, viewers: int, log: Path) -> Measurement:
    _idle(target, WARMUP_VIEWERS, 0.5, log)
    wait_quiet(target.pid, seconds=1.0)
    result = _idle(target, viewers, SETTLE_S, log)
    if target.server.process.poll() is not None:
        raise BenchError(f"{target.label} exited during the run:\n{target.server.log_tail()}")
    return Measurement(
        target.label,
        target.kind,
        int(result["viewers"]),
        result["rss0_kb"],
        result["rss_kb"],
        result["raid_s"],
        result["join_cpu_s"],
    )


def run(options: Options) -> BenchResult:
    viewers = 2000 if options.quick else FULL_VIEWERS
    rounds = 1 if options.quick else max(1, min(options.rounds, 2))
    machine = machine_info()
    failures: list[str] = []
    plan: list[tuple[str, str]] = [("baseline (websockets)", "baseline"), ("ours (memory engine)", "memory")]
    redis_problem = flush_redis()
    if redis_problem:
        failures.append(f"ours (redis engine) not measured: {redis_problem}")
    else:
        plan.append(("ours (redis engine)", "redis"))
    series = [Series(label, kind) for label, kind in plan]
    with tempfile.TemporaryDirectory(prefix="bench-ws-memory-") as tmp:
        workdir = Path(tmp)
        log = workdir / "ws_loadgen.log"
        for round_no in range(1, rounds + 1):
            for s in series:
                server: Server | None = None
                name = f"{s.kind}-server-{round_no}"
                try:
                    if s.kind == "baseline":
                        server = start_baseline(workdir, name)
                    else:
                        if s.kind == "redis":
                            flush_redis()
                        server = start_ours(workdir, name, redis_url=REDIS_URL if s.kind == "redis" else None)
                    target = chat_target(s.label, server, s.kind, 1)
                    m = _measure(target, viewers, log)
                    s.runs.append(m)
                    say(
                        f"  round {round_no}/{rounds} {s.label:<24} {m.viewers:,} viewers in {m.connect_s:.1f} s, "
                        f"{m.join_cpu_ms:.3f} ms CPU per join; RSS {m.rss0_kb / 1024:.1f} → {m.rss_kb / 1024:.1f} "
                        f"MiB, {m.kb_per_connection:.1f} KB per connection"
                    )
                except BenchError as exc:
                    failures.append(f"{s.label} (round {round_no}): {exc}")
                    say(f"  {s.label} failed: {exc}")
                finally:
                    if server is not None:
                        server.stop()
    machine["load_average_after"] = machine_info()["load_average"]
    return _result(series, failures, options, machine, viewers, rounds)


def _ratio(ours: float | None, base: float | None) -> float | None:
    return ours / base if ours is not None and base else None


def _result(
    series: list[Series],
    failures: list[str],
    options: Options,
    machine: dict[str, Any],
    viewers: int,
    rounds: int,
) -> BenchResult:
    verdicts = Verdicts()
    verdicts.failures.extend(failures)
    base = next((s for s in series if s.kind == "baseline" and s.runs), None)
    base_kb = base.median("kb_per_connection") if base else None
    base_cpu = base.median("join_cpu_ms") if base else None
    rows = []
    ratios: dict[str, dict[str, float | None]] = {}

    def cell(value: float | None, fmt: str) -> str:
        return "n/a" if value is None else format(value, fmt)

    for s in series:
        kb, cpu, connect = s.median("kb_per_connection"), s.median("join_cpu_ms"), s.median("connect_s")
        rss0, rss = s.median("rss0_kb"), s.median("rss_kb")
        kb_ratio, cpu_ratio = _ratio(kb, base_kb), _ratio(cpu, base_cpu)
        ratios[s.kind] = {"kb_per_connection": kb_ratio, "join_cpu": cpu_ratio}
        rows.append(
            [
                s.label,
                cell(kb, ".1f"),
                cell(kb_ratio, ".2f"),
                cell(cpu, ".3f"),
                cell(cpu_ratio, ".2f"),
                cell(connect, ".1f"),
                cell(None if rss0 is None else rss0 / 1024, ".1f"),
                cell(None if rss is None else rss / 1024, ".1f"),
            ]
        )
        if s.kind == "baseline" or not s.runs:
            continue
        verdicts.check(f"{s.label}: RSS per connection", kb, TARGET_KB_PER_CONNECTION, unit=" KB")
        verdicts.check(f"{s.label}: RSS per connection ÷ baseline", kb_ratio, TARGET_RATIO, unit="")
        verdicts.check(f"{s.label}: server CPU per join ÷ baseline", cpu_ratio, TARGET_RATIO, unit="")
        if viewers == FULL_VIEWERS:
            verdicts.check(f"{s.label}: {viewers:,} viewers connected in", connect, TARGET_CONNECT_10K_S, unit=" s")
    if not any(s.kind != "baseline" and s.runs for s in series):
        verdicts.failures.append("no measurement of our server")
    report = "\n".join(
        [
            f"{NAME}: {DESCRIPTION}" + ("  [SELF-TEST: a second baseline stands in for ours]" if SELF_TEST else ""),
            f"{viewers:,} idle viewers per target on a fresh server (after {WARMUP_VIEWERS} came and went), "
            f"medians of {rounds} alternated round(s); RSS read {SETTLE_S:g} s after the last hello; KB = 1024 bytes; "
            "CPU per join = server utime+stime from the first connection to the last hello / viewers",
            "",
            format_table(
                [
                    "target",
                    "KB/conn",
                    "× baseline",
                    "ms CPU/join",
                    "× baseline",
                    f"connect {viewers:,} s",
                    "RSS idle MiB",
                    f"RSS {viewers:,} MiB",
                ],
                rows,
            ),
            "",
            *verdicts.lines,
            machine_line(machine),
        ]
    )
    data: dict[str, Any] = {
        "description": DESCRIPTION,
        "date": now_utc(),
        "quick": options.quick,
        "self_test": SELF_TEST,
        "viewers": viewers,
        "rounds": rounds,
        "targets": {
            "kb_per_connection_max": TARGET_KB_PER_CONNECTION,
            "ratio_max": TARGET_RATIO,
            "connect_10k_s_max": TARGET_CONNECT_10K_S,
        },
        "ratios": ratios,
        "checks": verdicts.checks,
        "series": [{"label": s.label, "kind": s.kind, "runs": [m.to_json() for m in s.runs]} for s in series],
        "machine": machine,
        "versions": package_versions("websockets", "uvicorn", "uvloop", "orjson", "redis"),
        "source": source_state(),
    }
    return BenchResult(name=NAME, ok=not verdicts.failures, report=report, data=data, failures=verdicts.failures)
