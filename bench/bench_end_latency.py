"""``PUT /api/streams/{id}/end`` latency while the stream's transcoder is finishing a 720p ladder.

The real server (``python -m livestream serve --migrate`` as a subprocess, ``LS_TRANSCODE=abr``,
``LS_TRANSCODE_MAX_HEIGHT=720``: 720p/480p/360p). N creators each publish a synthetic 1280x720 30 fps source over
RTMP with ffmpeg in real time, ``LIVE_AT_ONCE`` at a time (two transcoders of the 720p ladder is what two cores
can carry beside the publishers' own encoders). Once a stream is live (``media_state`` live in the API, so its
transcoder is writing segments) and has been for ``HOLD_S``, its creator ends it and the benchmark times the HTTP
answer on the client side (httpx, a keep-alive connection already open). The end answers without waiting for
ffmpeg: the publisher is disconnected and the transcoder finishes in a background task, then the archive job runs.

Baseline, same run: ``GET /api/streams/{id}`` on the same client immediately after each end answer (the same
moments: the transcoder finishing, the other stream live). Target: end p99 at most ``TARGET_P99_MS``; the ratio
end p99 / GET p99 is information. Also information: from the end answer to the transcoder's exit (the
``.finished`` marker ingest writes into the stream's live folder) and to the archive being ready
(``GET /api/streams/{id}`` says ``archive.status == "ready"``; that view may be up to 0.5 s old).
"""

from __future__ import annotations

import asyncio
import json
import queue
import secrets
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
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
    Processes,
    Verdicts,
    ffmpeg_version,
    fmt_s,
    make_creator,
    percentile,
    publisher_synthetic,
    rtmp_url,
    run_async,
    source_state,
)

NAME = "end_latency"
DESCRIPTION = (
    "PUT /api/streams/{id}/end latency while the 720p ladder's transcoder finishes (creators publishing over RTMP, "
    "2 live at once), vs GET /api/streams/{id} at the same moments"
)
TARGET_P99_MS = 200.0
CREATORS = 20
QUICK_CREATORS = 4
LIVE_AT_ONCE = 2
HOLD_S = 3.0  # live this long before the end: the transcoder is in its stride
PUBLISH_BOUND_S = 60  # -t of every publisher: none outlives a stuck benchmark by much
LIVE_TIMEOUT_S = 40
READY_TIMEOUT_S = 60
MAX_HEIGHT = 720


@dataclass
class Sample:
    creator: str
    stream_id: str
    spawn_to_live_s: float
    end_ms: float
    get_ms: float
    end_status: int
    get_status: int
    end_to_finished_s: float | None = None  # the transcoder exited (.finished marker)
    end_to_archive_ready_s: float | None = None
    publisher_exited: bool = False  # by itself, once the server disconnected it


def _start_server(workdir: Path) -> tuple[Server, int, Path]:
    port, rtmp_port = free_port(), free_port()
    media = workdir / "media"
    env = clean_env(
        LS_ENV="test",
        LS_SECRET_KEY=secrets.token_urlsafe(36),
        LS_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        LS_HOST="127.0.0.1",
        LS_PORT=str(port),
        LS_PUBLIC_URL=f"http://127.0.0.1:{port}",
        LS_VAR_DIR=str(workdir),
        LS_MEDIA_DIR=str(media),
        LS_WEB_DIST=str(workdir / "no-web"),
        LS_LOG_LEVEL="WARNING",
        LS_TRANSCODE="abr",
        LS_TRANSCODE_MAX_HEIGHT=str(MAX_HEIGHT),
        LS_RTMP_HOST="127.0.0.1",
        LS_RTMP_PORT=str(rtmp_port),
        LS_RTMP_MAX_CONNECTIONS_PER_IP="1000",
    )
    argv = [sys.executable, "-m", "livestream", "serve", "--migrate"]
    return Server.start("server", argv, port=port, env=env, workdir=workdir, health_path="/healthz"), rtmp_port, media


async def _creators(base_url: str, count: int) -> list[Creator]:
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        return list(await asyncio.gather(*(make_creator(client, f"end{i}") for i in range(count))))


class Slot:
    """One publisher at a time: publish, wait until live, hold, end (timed), GET (timed), wait for the archive."""

    def __init__(self, index: int, server: Server, rtmp_port: int, media: Path, procs: Processes) -> None:
        self.index = index
        self.server = server
        self.rtmp_port = rtmp_port
        self.media = media
        self.procs = procs
        self.client = httpx.Client(base_url=server.base_url, timeout=30)
        self.client.get("/healthz").raise_for_status()  # the keep-alive connection is open before any timing

    def close(self) -> None:
        self.client.close()

    def _live_stream(self, user_id: str) -> dict[str, Any] | None:
        response = self.client.get("/api/streams", params={"status": "live", "user_id": user_id})
        response.raise_for_status()
        items = [s for s in response.json()["items"] if s["media_state"] == "live"]
        return items[0] if items else None

    def run(self, creator: Creator, n: int) -> Sample:
        publisher = self.procs.spawn(
            f"publisher-{n}", publisher_synthetic(rtmp_url(self.rtmp_port, creator.key), PUBLISH_BOUND_S)
        )
        spawned = time.monotonic()
        try:
            deadline = spawned + LIVE_TIMEOUT_S
            while (stream := self._live_stream(creator.user_id)) is None:
                if not publisher.running():
                    raise BenchError(f"publisher {n} exited before its stream was live: {publisher.log_tail()}")
                if time.monotonic() > deadline:
                    raise BenchError(f"stream {n} not live {LIVE_TIMEOUT_S} s after its publisher started")
                time.sleep(0.1)
            live_after = time.monotonic() - spawned
            time.sleep(HOLD_S)
            if not publisher.running():
                raise BenchError(f"publisher {n} exited while live: {publisher.log_tail()}")
            stream_id = str(stream["stream_id"])
            t0 = time.perf_counter()
            ended = self.client.put(f"/api/streams/{stream_id}/end", headers=creator.auth)
            t1 = time.perf_counter()
            got = self.client.get(f"/api/streams/{stream_id}")
            t2 = time.perf_counter()
            sample = Sample(
                creator.username,
                stream_id,
                round(live_after, 3),
                round((t1 - t0) * 1000, 3),
                round((t2 - t1) * 1000, 3),
                ended.status_code,
                got.status_code,
            )
            if ended.status_code != 200 or ended.json().get("status") != "ended":
                raise BenchError(f"end of stream {n}: {ended.status_code} {ended.text[:300]}")
            self._follow(sample, t1, publisher)
            return sample
        finally:
            self.procs.stop(publisher)

    def _follow(self, sample: Sample, ended_at: float, publisher: Any) -> None:
        """Until the archive is ready: when the transcoder exited, when the archive was ready, and whether the
        publisher was disconnected."""
        marker = self.media / "live" / sample.stream_id / ".finished"
        deadline = ended_at + READY_TIMEOUT_S
        next_get = 0.0
        while time.perf_counter() < deadline:
            now = time.perf_counter()
            if sample.end_to_finished_s is None and marker.exists():
                sample.end_to_finished_s = round(now - ended_at, 3)
            if not publisher.running():
                sample.publisher_exited = True
            if now >= next_get:
                next_get = now + 0.2
                response = self.client.get(f"/api/streams/{sample.stream_id}")
                archive = response.json().get("archive") if response.status_code == 200 else None
                if archive is not None and archive.get("status") == "ready":
                    sample.end_to_archive_ready_s = round(time.perf_counter() - ended_at, 3)
                    return
                if archive is not None and archive.get("status") == "failed":
                    raise BenchError(f"the archive of {sample.stream_id} failed: {archive}")
            time.sleep(0.05)
        raise BenchError(f"the archive of {sample.stream_id} was not ready {READY_TIMEOUT_S} s after the end")


def _measure(workdir: Path, procs: Processes, count: int) -> tuple[list[Sample], dict[str, Any]]:
    server, rtmp_port, media = _start_server(workdir)
    info: dict[str, Any] = {}
    slots: list[Slot] = []
    try:
        t0 = time.monotonic()
        creators = run_async(_creators(server.base_url, count))
        info["register_s"] = round(time.monotonic() - t0, 1)
        progress(f"  {count} creators registered in {info['register_s']:.1f} s")
        work: queue.Queue[tuple[int, Creator]] = queue.Queue()
        for n, creator in enumerate(creators):
            work.put((n, creator))
        samples: list[Sample] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def worker(slot: Slot) -> None:
            time.sleep(slot.index * (HOLD_S / LIVE_AT_ONCE + 1))  # staggered: the ends do not coincide
            while not errors:
                try:
                    n, creator = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    sample = slot.run(creator, n)
                except BaseException as exc:
                    errors.append(exc)
                    return
                with lock:
                    samples.append(sample)
                    done = len(samples)
                progress(
                    f"  {done:>2}/{count} slot {slot.index}: live {sample.spawn_to_live_s:.1f} s after the spawn, "
                    f"end {sample.end_ms:7.2f} ms, GET {sample.get_ms:6.2f} ms, transcoder exited "
                    f"{fmt_s(sample.end_to_finished_s, 2)} s and archive ready "
                    f"{fmt_s(sample.end_to_archive_ready_s, 2)} s after the end"
                )

        slots = [Slot(i, server, rtmp_port, media, procs) for i in range(LIVE_AT_ONCE)]
        t1 = time.monotonic()
        threads = [threading.Thread(target=worker, args=(slot,), name=f"slot-{slot.index}") for slot in slots]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        info["publish_phase_s"] = round(time.monotonic() - t1, 1)
        if errors:
            raise BenchError(f"{type(errors[0]).__name__}: {errors[0]}") from errors[0]
        info["server_log"] = _log_events(server.log_path)
        return samples, info
    finally:
        for slot in slots:
            slot.close()
        server.stop()


def _log_events(path: Path) -> dict[str, int]:
    """How often each warning or error event appears in the server's log (JSON lines)."""
    counts: dict[str, int] = {}
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("warning", "error", "critical"):
            key = f"{entry['level']}: {entry.get('event')}"
            counts[key] = counts.get(key, 0) + 1
    return counts


def run(options: Options) -> BenchResult:
    count = QUICK_CREATORS if options.quick else CREATORS
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-end-latency-") as tmp:
        workdir = Path(tmp)
        with Processes(workdir) as procs:
            samples, info = _measure(workdir, procs, count)
    machine["load_average_after"] = machine_info()["load_average"]
    return _result(samples, info, options, machine)


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    return {
        "n": len(values),
        "p50": round(percentile(values, 0.5), 3),
        "p99": round(percentile(values, 0.99), 3),
        "max": round(max(values), 3),
    }


def _result(samples: list[Sample], info: dict[str, Any], options: Options, machine: dict[str, Any]) -> BenchResult:
    end = _stats([s.end_ms for s in samples])
    get = _stats([s.get_ms for s in samples])
    finished = _stats([s.end_to_finished_s for s in samples if s.end_to_finished_s is not None])
    ready = _stats([s.end_to_archive_ready_s for s in samples if s.end_to_archive_ready_s is not None])
    live = _stats([s.spawn_to_live_s for s in samples])
    ratio = end["p99"] / get["p99"] if end["p99"] is not None and get["p99"] else None
    verdicts = Verdicts()
    verdicts.check("PUT /api/streams/{id}/end p99", end["p99"], TARGET_P99_MS, unit=" ms")
    bad = [s for s in samples if s.end_status != 200 or s.get_status != 200]
    if bad:
        verdicts.failures.append(f"{len(bad)} end or GET answers were not 200")
    exited = sum(1 for s in samples if s.publisher_exited)

    def row(label: str, st: dict[str, float | None], unit: str, digits: int) -> list[str]:
        return [label, str(st["n"]), *(fmt_s(st[k], digits) + unit for k in ("p50", "p99", "max"))]

    table = format_table(
        ["measure", "n", "p50", "p99", "max"],
        [
            row("PUT /api/streams/{id}/end", end, " ms", 2),
            row("GET /api/streams/{id} just after (baseline)", get, " ms", 2),
            row("end answer -> transcoder exited (.finished)", finished, " s", 2),
            row("end answer -> archive ready (GET, polled 0.2 s)", ready, " s", 2),
            row("publisher spawn -> media_state live", live, " s", 2),
        ],
    )
    report = "\n".join(
        [
            f"{NAME}: {DESCRIPTION}",
            f"{len(samples)} creators, each publishing 1280x720 30 fps (x264 ultrafast 3000k + AAC) in real time, "
            f"{LIVE_AT_ONCE} live at once; LS_TRANSCODE=abr, LS_TRANSCODE_MAX_HEIGHT={MAX_HEIGHT} (720p/480p/360p); "
            f"each ended {HOLD_S:g} s after it was live; latencies client side (httpx, keep-alive)",
            "",
            table,
            "",
            f"ratio end p99 / GET p99: {ratio:.2f}" if ratio is not None else "ratio end p99 / GET p99: n/a",
            f"publishers disconnected by the server after the end: {exited}/{len(samples)}; creators registered in "
            f"{info.get('register_s')} s, publishing phase {info.get('publish_phase_s')} s",
            f"warnings and errors in the server's log: {info.get('server_log') or 'none'}",
            *verdicts.lines,
            machine_line(machine),
        ]
    )
    data: dict[str, Any] = {
        "description": DESCRIPTION,
        "date": now_utc(),
        "quick": options.quick,
        "options": {"creators": len(samples), "live_at_once": LIVE_AT_ONCE, "hold_s": HOLD_S, "max_height": MAX_HEIGHT},
        "target_p99_ms": TARGET_P99_MS,
        "checks": verdicts.checks,
        "end_ms": end,
        "get_ms": get,
        "ratio_end_get_p99": None if ratio is None else round(ratio, 3),
        "end_to_finished_s": finished,
        "end_to_archive_ready_s": ready,
        "spawn_to_live_s": live,
        "info": info,
        "samples": [asdict(s) for s in samples],
        "machine": machine,
        "versions": {"ffmpeg": ffmpeg_version(), **package_versions("uvicorn", "uvloop", "fastapi", "httpx")},
        "source": source_state(),
    }
    return BenchResult(name=NAME, ok=not verdicts.failures, report=report, data=data, failures=verdicts.failures)
