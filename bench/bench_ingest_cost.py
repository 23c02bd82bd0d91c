"""CPU of the Python server process per passthrough stream: 10 publishers push a 6 Mbit/s 720p30 FLV in real time
(``ffmpeg -re -stream_loop -1 -i src.flv -c copy -f flv rtmp://…``), each with its own creator's key, into the real
server (``python -m livestream serve --migrate`` as a subprocess, ``LS_TRANSCODE=passthrough``). The server's CPU
time comes from /proc/<pid>/stat (utime + stime: every thread of the process, none of its ffmpeg children).

Baseline, same run: the same 10 publishers into a trivial asyncio TCP sink (``bench.media_support rtmp-sink``:
the few RTMP replies a publisher waits for, then read and discard), on the same event loop (uvloop): the floor of
receiving the bytes at all.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
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
    child_pids,
    cpu_of,
    cpu_seconds,
    encode_flv,
    ffmpeg_version,
    make_creator,
    parse_media_playlist,
    publisher_file,
    rtmp_url,
    run_async,
    source_state,
)

NAME = "ingest_cost"
DESCRIPTION = "server CPU (% of one core) per passthrough stream, 10 publishers at 6 Mbit/s, vs a read-and-discard sink"
TARGET_PERCENT_PER_STREAM = 3.0
SOURCE_KBPS = 6000
SINK_BOUND_S = 120


@dataclass
class Window:
    label: str
    streams: int
    seconds: float
    cpu_s: float
    children_cpu_s: float | None = None
    bytes_in: int | None = None
    segments: list[int] = field(default_factory=list)  # per stream, during the window
    health: list[dict[str, Any]] = field(default_factory=list)

    @property
    def percent_per_stream(self) -> float:
        return 100 * self.cpu_s / self.seconds / self.streams

    @property
    def children_percent_per_stream(self) -> float | None:
        if self.children_cpu_s is None:
            return None
        return 100 * self.children_cpu_s / self.seconds / self.streams

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "streams": self.streams,
            "seconds": round(self.seconds, 3),
            "cpu_s": round(self.cpu_s, 3),
            "percent_of_core_per_stream": round(self.percent_per_stream, 3),
            "children_cpu_s": None if self.children_cpu_s is None else round(self.children_cpu_s, 3),
            "children_percent_per_stream": (
                None if self.children_percent_per_stream is None else round(self.children_percent_per_stream, 3)
            ),
            "bytes_in": self.bytes_in,
            "segments_per_stream": self.segments,
            "health": self.health,
        }


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
        LS_TRANSCODE="passthrough",
        LS_RTMP_HOST="127.0.0.1",
        LS_RTMP_PORT=str(rtmp_port),
        # Every publisher connects from 127.0.0.1; the default cap (10 per address) would be the limit here.
        LS_RTMP_MAX_CONNECTIONS_PER_IP="1000",
    )
    argv = [sys.executable, "-m", "livestream", "serve", "--migrate"]
    return Server.start("server", argv, port=port, env=env, workdir=workdir, health_path="/healthz"), rtmp_port, media


async def _creators(base_url: str, count: int) -> list[Creator]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        return list(await asyncio.gather(*(make_creator(client, f"cost{i}") for i in range(count))))


def _live_streams(base_url: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base_url}/api/streams", params={"status": "live", "limit": 50}, timeout=10)
    response.raise_for_status()
    return [s for s in response.json()["items"] if s["media_state"] == "live"]


def _segment_count(media: Path, stream_id: str) -> int:
    try:
        playlist = parse_media_playlist((media / "live" / stream_id / "v0" / "index.m3u8").read_text())
    except OSError:
        return 0
    return playlist.media_sequence + len(playlist.segments)


def _wait(condition: Any, timeout_s: float, what: str, procs: list[Any]) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        dead = [p for p in procs if not p.running()]
        if dead:
            raise BenchError(f"{dead[0].name} exited: {dead[0].log_tail()}")
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.2)


def _measure_server(
    workdir: Path, procs: Processes, flv: Path, streams: int, warmup_s: float, window_s: float
) -> Window:
    server, rtmp_port, media = _start_server(workdir)
    try:
        t0 = time.monotonic()
        creators = run_async(_creators(server.base_url, streams))
        progress(f"  {streams} creators registered in {time.monotonic() - t0:.1f} s")
        publishers = [
            procs.spawn(f"publisher-{i}", publisher_file(rtmp_url(rtmp_port, c.key), flv, realtime=True, loop=True))
            for i, c in enumerate(creators)
        ]
        _wait(lambda: len(_live_streams(server.base_url)) >= streams, 60, f"{streams} live streams", publishers)
        live = {s["user_id"]: s["stream_id"] for s in _live_streams(server.base_url)}
        progress(f"  {streams} streams live {time.monotonic() - t0:.1f} s after the start; warm-up {warmup_s:g} s")
        time.sleep(warmup_s)
        pid = server.process.pid
        kids = child_pids(pid)
        ids = [live[c.user_id] for c in creators]
        seg0 = [_segment_count(media, sid) for sid in ids]
        t1, cpu1, kids1 = time.monotonic(), cpu_seconds(pid), cpu_of(kids)
        time.sleep(window_s)
        t2, cpu2, kids2 = time.monotonic(), cpu_seconds(pid), cpu_of(kids)
        seg1 = [_segment_count(media, sid) for sid in ids]
        dead = [p.name for p in publishers if not p.running()]
        if dead:
            raise BenchError(f"publishers stopped during the window: {dead}")
        children = sum(kids2[k] - kids1[k] for k in kids1 if k in kids2)
        window = Window("server", streams, t2 - t1, cpu2 - cpu1, children_cpu_s=children)
        window.segments = [b - a for a, b in zip(seg0, seg1, strict=True)]
        for creator, sid in zip(creators, ids, strict=True):
            health = httpx.get(f"{server.base_url}/api/streams/{sid}/health", headers=creator.auth, timeout=10)
            ingest = (health.json().get("ingest") or {}) if health.status_code == 200 else {}
            window.health.append({"bitrate_kbps": ingest.get("bitrate_kbps"), "fps": ingest.get("fps")})
        if len(kids) < streams:
            raise BenchError(f"expected {streams} ffmpeg children of the server, found {len(kids)}")
        return window
    finally:
        for proc in list(procs.procs):
            if proc.name.startswith("publisher-"):
                procs.stop(proc)
        server.stop()


def _sink_stats(path: Path) -> dict[str, int]:
    try:
        data: dict[str, int] = json.loads(path.read_text())
        return data
    except (OSError, ValueError):
        return {"connections": 0, "publishing": 0, "bytes": 0}


def _measure_sink(workdir: Path, procs: Processes, flv: Path, streams: int, warmup_s: float, window_s: float) -> Window:
    port = free_port()
    stats = workdir / "sink.json"
    argv = [sys.executable, "-m", "bench.media_support", "rtmp-sink", "--port", str(port), "--stats", str(stats)]
    sink = procs.spawn("sink", [*argv, "--max-seconds", str(SINK_BOUND_S)])

    def listening() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    _wait(listening, 20, "the sink to listen", [sink])
    publishers = [
        procs.spawn(f"sink-publisher-{i}", publisher_file(rtmp_url(port, f"k{i}"), flv, realtime=True, loop=True))
        for i in range(streams)
    ]
    try:
        _wait(lambda: _sink_stats(stats)["publishing"] >= streams, 30, f"{streams} publishers on the sink", publishers)
        time.sleep(warmup_s)
        t1, cpu1, bytes1 = time.monotonic(), cpu_seconds(sink.pid), _sink_stats(stats)["bytes"]
        time.sleep(window_s)
        t2, cpu2, bytes2 = time.monotonic(), cpu_seconds(sink.pid), _sink_stats(stats)["bytes"]
        dead = [p.name for p in publishers if not p.running()]
        if dead:
            raise BenchError(f"publishers stopped during the window: {dead}")
        return Window("sink", streams, t2 - t1, cpu2 - cpu1, bytes_in=bytes2 - bytes1)
    finally:
        for proc in publishers:
            procs.stop(proc)
        procs.stop(sink)


def run(options: Options) -> BenchResult:
    streams = 3 if options.quick else 10
    file_s = 3.0 if options.quick else 10.0
    warmup_s = 0.5 if options.quick else 2.0
    window_s = 2.0 if options.quick else 15.0
    sink_window_s = 2.0 if options.quick else 10.0
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-cost-") as tmp:
        workdir = Path(tmp)
        flv = encode_flv(workdir / "src.flv", seconds=file_s, video_kbps=SOURCE_KBPS, cbr=True)
        file_kbps = flv.stat().st_size * 8 / file_s / 1000
        progress(f"  source: {file_s:g} s, {file_kbps:,.0f} kbit/s FLV (video {SOURCE_KBPS}k CBR + audio), looped")
        with Processes(workdir) as procs:
            server = _measure_server(workdir, procs, flv, streams, warmup_s, window_s)
            progress(f"  server: {server.percent_per_stream:.2f}% of a core per stream over {server.seconds:.1f} s")
            sink = _measure_sink(workdir, procs, flv, streams, warmup_s, sink_window_s)
            progress(f"  sink:   {sink.percent_per_stream:.2f}% of a core per stream over {sink.seconds:.1f} s")
    machine["load_average_after"] = machine_info()["load_average"]
    return _result(server, sink, options, machine, file_kbps)


def _result(server: Window, sink: Window, options: Options, machine: dict[str, Any], file_kbps: float) -> BenchResult:
    verdicts = Verdicts()
    verdicts.check(
        "server CPU per passthrough stream", server.percent_per_stream, TARGET_PERCENT_PER_STREAM, unit=" % of a core"
    )
    behind = [n for n in server.segments if n < server.seconds - 2]
    if behind:
        verdicts.failures.append(f"streams fell behind real time: segments in {server.seconds:.0f} s {server.segments}")
    bitrates = [h["bitrate_kbps"] for h in server.health if h.get("bitrate_kbps")]
    sink_mbps = (sink.bytes_in or 0) * 8 / sink.seconds / 1e6
    rows = [
        [
            "server (RTMP + ingest + pipe, passthrough)",
            str(server.streams),
            f"{server.seconds:.1f}",
            f"{server.cpu_s:.2f}",
            f"{server.percent_per_stream:.2f}",
        ],
        [
            "sink (asyncio read and discard)",
            str(sink.streams),
            f"{sink.seconds:.1f}",
            f"{sink.cpu_s:.2f}",
            f"{sink.percent_per_stream:.2f}",
        ],
    ]
    ratio = server.percent_per_stream / sink.percent_per_stream if sink.percent_per_stream else None
    report = "\n".join(
        [
            f"{NAME}: {DESCRIPTION}",
            f"source {file_kbps:,.0f} kbit/s (1280x720 30 fps x264 CBR {SOURCE_KBPS}k + AAC), each publisher "
            "-re -stream_loop -1 -c copy",
            "",
            format_table(["process", "streams", "window s", "CPU s", "% core/stream"], rows),
            "",
            f"ratio server/sink: {ratio:.2f}" if ratio else "ratio server/sink: n/a",
            f"server's ffmpeg children (passthrough copy + recording + keyframe thumbnail): "
            f"{server.children_percent_per_stream:.2f}% of a core per stream (not counted above)"
            if server.children_percent_per_stream is not None
            else "",
            f"streams kept real time: segments per stream in the {server.seconds:.0f} s window {server.segments}; "
            f"ingest bitrate per stream (health API) {min(bitrates, default=0):,.0f}-{max(bitrates, default=0):,.0f} "
            f"kbit/s; the sink received {sink_mbps:.1f} Mbit/s in all",
            *verdicts.lines,
            machine_line(machine),
        ]
    )
    data: dict[str, Any] = {
        "description": DESCRIPTION,
        "date": now_utc(),
        "quick": options.quick,
        "source_kbps": round(file_kbps, 1),
        "target_percent_per_stream": TARGET_PERCENT_PER_STREAM,
        "checks": verdicts.checks,
        "server": server.to_json(),
        "sink": sink.to_json(),
        "ratio_server_sink": None if ratio is None else round(ratio, 3),
        "machine": machine,
        "versions": {"ffmpeg": ffmpeg_version(), **package_versions("uvicorn", "uvloop", "fastapi")},
        "source": source_state(),
    }
    return BenchResult(name=NAME, ok=not verdicts.failures, report=report, data=data, failures=verdicts.failures)
