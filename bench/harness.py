"""What every benchmark shares: options, server subprocesses, load generators, alternating measurement,
tables and the JSON result files.

Load only ever goes to loopback addresses, every load run is bounded in time, and every process started
here is stopped by its PID before the benchmark returns.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx

from bench.loadgen import loopback_target

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
WRK_SCRIPT = BENCH_DIR / "wrk_report.lua"
WRK = "/usr/bin/wrk"

LoadgenChoice = Literal["auto", "wrk", "python"]


class BenchError(RuntimeError):
    """A benchmark could not produce a meaningful measurement."""


@dataclass(frozen=True)
class Options:
    quick: bool = False
    loadgen: LoadgenChoice = "auto"
    # Several short alternated runs resist a noisy machine better than a few long ones.
    duration_s: float = 6.0
    warmup_s: float = 2.0
    rounds: int = 5
    connections: int = 16

    @classmethod
    def make(
        cls,
        *,
        quick: bool = False,
        loadgen: LoadgenChoice = "auto",
        duration_s: float | None = None,
        rounds: int | None = None,
        connections: int | None = None,
    ) -> Options:
        base = cls(quick=True, duration_s=2.0, warmup_s=1.0, rounds=2) if quick else cls()
        return cls(
            quick=quick,
            loadgen=loadgen,
            duration_s=duration_s if duration_s is not None else base.duration_s,
            warmup_s=min(base.warmup_s, duration_s) if duration_s is not None else base.warmup_s,
            rounds=rounds if rounds is not None else base.rounds,
            connections=connections if connections is not None else base.connections,
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any LS_* setting of the caller, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LS_")}
    env.update(overrides)
    return env


@dataclass
class Server:
    """A server subprocess on a loopback port; ``stop()`` ends it by its PID."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    @classmethod
    def start(
        cls,
        name: str,
        argv: Sequence[str],
        *,
        port: int,
        env: Mapping[str, str],
        workdir: Path,
        health_path: str = "/",
        timeout_s: float = 60.0,
    ) -> Server:
        log_path = workdir / f"{name}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(list(argv), env=dict(env), stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT)
        server = cls(name=name, process=process, base_url=f"http://127.0.0.1:{port}", log_path=log_path)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BenchError(f"{name} exited with {process.returncode} on start:\n{server.log_tail()}")
            try:
                if httpx.get(server.base_url + health_path, timeout=1).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        server.stop()
        raise BenchError(f"{name} did not answer {health_path} within {timeout_s:g} s:\n{server.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class LoadResult:
    tool: str
    connections: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    detail: dict[str, Any] = field(default_factory=dict)


class LoadGenerator(Protocol):
    name: str
    version: str

    def run(self, url: str, *, connections: int, duration_s: float) -> LoadResult: ...


def _run_bounded(argv: Sequence[str], timeout_s: float) -> str:
    """Run a load generator and return its stdout; a run that overstays is killed by its PID."""
    process = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        raise BenchError(f"{argv[0]} did not stop within {timeout_s:g} s") from exc
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
    if process.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited with {process.returncode}:\n{err.decode(errors='replace')}")
    return out.decode(errors="replace")


class WrkLoadGenerator:
    """``wrk`` with one thread (the server has the other core), counting every non-200 through Lua."""

    name = "wrk"

    def __init__(self, path: str = WRK) -> None:
        self.path = path
        probe = subprocess.run([path, "-v"], capture_output=True, check=False, timeout=10)
        first = (probe.stdout or probe.stderr).decode(errors="replace").strip().splitlines()
        self.version = first[0].split(" [")[0] if first else "wrk"

    def run(self, url: str, *, connections: int, duration_s: float) -> LoadResult:
        loopback_target(url)
        seconds = max(1, round(duration_s))
        argv = [self.path, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(WRK_SCRIPT), url]
        out = _run_bounded(argv, timeout_s=seconds + 30)
        line = next((x for x in out.splitlines() if x.startswith("BENCH_JSON ")), None)
        if line is None:
            raise BenchError(f"wrk printed no BENCH_JSON line:\n{out}")
        raw: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
        duration = raw["duration_us"] / 1e6
        socket_errors = raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"]
        # wrk counts statuses >= 400 itself; the script counts anything but 200 (which includes those).
        errors = int(socket_errors + max(raw["non200"], raw["status_errors"]))
        return LoadResult(
            tool=self.version,
            connections=connections,
            duration_s=round(duration, 3),
            requests=int(raw["requests"]),
            rps=round(raw["requests"] / duration, 1) if duration > 0 else 0.0,
            p50_ms=round(raw["p50_us"] / 1000, 3),
            p99_ms=round(raw["p99_us"] / 1000, 3),
            errors=errors,
            detail=raw,
        )


class PythonLoadGenerator:
    """bench/loadgen.py in its own process (so it does not share a GIL with anything else)."""

    name = "python"
    version = "bench.loadgen (asyncio+uvloop, keep-alive HTTP/1.1)"

    def run(self, url: str, *, connections: int, duration_s: float) -> LoadResult:
        loopback_target(url)
        argv = [
            sys.executable,
            "-m",
            "bench.loadgen",
            "--url",
            url,
            "--connections",
            str(connections),
            "--duration",
            f"{duration_s:g}",
        ]
        raw: dict[str, Any] = json.loads(_run_bounded(argv, timeout_s=duration_s + 30))
        return LoadResult(
            tool=self.version,
            connections=int(raw["connections"]),
            duration_s=float(raw["duration_s"]),
            requests=int(raw["requests"]),
            rps=float(raw["rps"]),
            p50_ms=float(raw["p50_ms"]),
            p99_ms=float(raw["p99_ms"]),
            errors=int(raw["errors"]),
            detail=raw,
        )


def pick_load_generator(choice: LoadgenChoice) -> LoadGenerator:
    wrk = shutil.which("wrk") or (WRK if Path(WRK).is_file() else None)
    if choice == "wrk" or (choice == "auto" and wrk):
        if not wrk:
            raise BenchError("wrk is not installed (apt-get install -y wrk), use --loadgen python")
        return WrkLoadGenerator(wrk)
    return PythonLoadGenerator()


@dataclass
class Target:
    label: str
    url: str


@dataclass
class TargetStats:
    label: str
    url: str
    warmup: LoadResult | None = None
    runs: list[LoadResult] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return statistics.median(r.rps for r in self.runs)

    @property
    def p50_ms(self) -> float:
        return statistics.median(r.p50_ms for r in self.runs)

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.p99_ms for r in self.runs)

    @property
    def errors(self) -> int:
        """Errors in every run, the warm-up included."""
        return sum(r.errors for r in self.runs) + (self.warmup.errors if self.warmup else 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "url": self.url,
            "median": {"rps": self.rps, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms},
            "best_rps": max(r.rps for r in self.runs),
            "errors": self.errors,
            "warmup": asdict(self.warmup) if self.warmup else None,
            "runs": [asdict(r) for r in self.runs],
        }


def measure_alternating(targets: Sequence[Target], generator: LoadGenerator, options: Options) -> list[TargetStats]:
    """Warm each target up, then run them in turn (A, B, A, B, ...) for ``options.rounds`` rounds, so slow
    drifts of a noisy machine hit every target alike."""
    stats = [TargetStats(t.label, t.url) for t in targets]
    for s in stats:
        s.warmup = generator.run(s.url, connections=options.connections, duration_s=options.warmup_s)
        progress(f"  warm-up  {s.label:<28} {s.warmup.rps:>10,.1f} rps  errors {s.warmup.errors}")
    for round_no in range(1, options.rounds + 1):
        for s in stats:
            result = generator.run(s.url, connections=options.connections, duration_s=options.duration_s)
            s.runs.append(result)
            progress(
                f"  round {round_no}/{options.rounds} {s.label:<28} {result.rps:>10,.1f} rps  "
                f"p50 {result.p50_ms:.2f} ms  p99 {result.p99_ms:.2f} ms  errors {result.errors}"
            )
    return stats


def progress(line: str) -> None:
    print(line, flush=True)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-align the first column, right-align the others."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def fmt(row: Sequence[str]) -> str:
        cells = [str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(row)]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(headers), rule, *(fmt(r) for r in rows)])


def stats_table(stats: Sequence[TargetStats]) -> str:
    rows = [[s.label, f"{s.rps:,.1f}", f"{s.p50_ms:.2f}", f"{s.p99_ms:.2f}", str(s.errors)] for s in stats]
    return format_table(["target", "rps", "p50 ms", "p99 ms", "errors"], rows)


def machine_line(machine: dict[str, Any]) -> str:
    """The closing line of every report: the machine and how busy it was around the run."""
    return (
        f"{machine['usable_cpus']} cpus ({machine['cpu_model']}), load average "
        f"{machine['load_average'][0]:.2f} before, {machine['load_average_after'][0]:.2f} after"
    )


def machine_info() -> dict[str, Any]:
    cpu_model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 0
    return {
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "usable_cpus": usable,
        "cpu_model": cpu_model,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def package_versions(*names: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


@dataclass
class BenchResult:
    name: str
    ok: bool
    report: str
    data: dict[str, Any]
    failures: list[str] = field(default_factory=list)


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_result(result: BenchResult) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{result.name}.json"
    payload = {**result.data, "name": result.name, "ok": result.ok, "failures": result.failures}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
