"""Server memory per idle WebSocket viewer: 10,000 viewers connect to one live stream's ``/ws/streams/{stream_id}``
and stay; per connection = (VmRSS with N connected − VmRSS with none) / N, VmRSS of the server process from
/proc/<pid>/status.

Each target runs on a fresh server: 20 viewers connect and leave first (lazy imports, first allocations), then the
idle RSS is read, the N viewers connect in paced batches (each waits for its ``hello``), and the RSS is read again
after a few seconds of quiet. Targets: ours with the memory engine and with the Redis engine, and the baseline
(``bench.ws_baseline``: bare ``websockets`` on uvloop, same frames, no compression). Target: ours ≤ 40 KB per
connection.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
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
DESCRIPTION = "server RSS per idle WebSocket viewer, 10,000 on one stream, vs bare websockets"
TARGET_KB_PER_CONNECTION = 40.0
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

    @property
    def kb_per_connection(self) -> float:
        return (self.rss_kb - self.rss0_kb) / self.viewers

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "kind": self.kind,
            "viewers": self.viewers,
            "rss0_kb": self.rss0_kb,
            "rss_kb": self.rss_kb,
            "kb_per_connection": round(self.kb_per_connection, 3),
            "connect_s": self.connect_s,
        }


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
        target.label, target.kind, int(result["viewers"]), result["rss0_kb"], result["rss_kb"], result["connect_s"]
    )


def run(options: Options) -> BenchResult:
    viewers = 2000 if options.quick else 10_000
    machine = machine_info()
    failures: list[str] = []
    measurements: list[Measurement] = []
    plan: list[tuple[str, str]] = [("baseline (websockets)", "baseline"), ("ours (memory engine)", "memory")]
    redis_problem = flush_redis()
    if redis_problem:
        failures.append(f"ours (redis engine) not measured: {redis_problem}")
    else:
        plan.append(("ours (redis engine)", "redis"))
    with tempfile.TemporaryDirectory(prefix="bench-ws-memory-") as tmp:
        workdir = Path(tmp)
        log = workdir / "ws_loadgen.log"
        for label, kind in plan:
            server: Server | None = None
            try:
                if kind == "baseline":
                    server = start_baseline(workdir, f"{kind}-server")
                else:
                    if kind == "redis":
                        flush_redis()
                    server = start_ours(workdir, f"{kind}-server", redis_url=REDIS_URL if kind == "redis" else None)
                target = chat_target(label, server, kind, 1)
                m = _measure(target, viewers, log)
                measurements.append(m)
                say(
                    f"  {label:<24} {m.viewers:,} viewers in {m.connect_s:.1f} s: RSS {m.rss0_kb / 1024:.1f} → "
                    f"{m.rss_kb / 1024:.1f} MiB, {m.kb_per_connection:.1f} KB per connection"
                )
            except BenchError as exc:
                failures.append(f"{label}: {exc}")
                say(f"  {label} failed: {exc}")
            finally:
                if server is not None:
                    server.stop()
    machine["load_average_after"] = machine_info()["load_average"]
    return _result(measurements, failures, options, machine, viewers)


def _result(
    measurements: list[Measurement], failures: list[str], options: Options, machine: dict[str, Any], viewers: int
) -> BenchResult:
    verdicts = Verdicts()
    verdicts.failures.extend(failures)
    base = next((m for m in measurements if m.kind == "baseline"), None)
    rows = []
    for m in measurements:
        ratio = m.kb_per_connection / base.kb_per_connection if base and base.kb_per_connection > 0 else None
        rows.append(
            [
                m.label,
                f"{m.viewers:,}",
                f"{m.rss0_kb / 1024:.1f}",
                f"{m.rss_kb / 1024:.1f}",
                f"{m.kb_per_connection:.1f}",
                "n/a" if ratio is None else f"{ratio:.2f}",
                f"{m.connect_s:.1f}",
            ]
        )
        if m.kind != "baseline":
            verdicts.check(f"{m.label}: RSS per connection", m.kb_per_connection, TARGET_KB_PER_CONNECTION, unit=" KB")
    if not any(m.kind != "baseline" for m in measurements):
        verdicts.failures.append("no measurement of our server")
    report = "\n".join(
        [
            f"{NAME}: {DESCRIPTION}" + ("  [SELF-TEST: a second baseline stands in for ours]" if SELF_TEST else ""),
            f"{viewers:,} idle viewers per target on a fresh server (after {WARMUP_VIEWERS} came and went); "
            f"RSS read {SETTLE_S:g} s after the last hello; KB = 1024 bytes",
            "",
            format_table(
                ["target", "viewers", "RSS idle MiB", f"RSS {viewers:,} MiB", "KB/conn", "× baseline", "connect s"],
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
        "target_kb_per_connection": TARGET_KB_PER_CONNECTION,
        "checks": verdicts.checks,
        "measurements": [m.to_json() for m in measurements],
        "machine": machine,
        "versions": package_versions("websockets", "uvicorn", "uvloop", "orjson", "redis"),
        "source": source_state(),
    }
    return BenchResult(name=NAME, ok=not verdicts.failures, report=report, data=data, failures=verdicts.failures)
