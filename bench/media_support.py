"""What the media benchmarks share: ffmpeg sources and publishers, processes stopped by PID, HLS playlist
watching, the server in-process (for the RTMP arrival times), the direct-ffmpeg baselines, CPU readings, and a
minimal RTMP sink (``python -m bench.media_support rtmp-sink``) for the ingest-cost floor.

Everything listens and connects on 127.0.0.1 only; every process started here is bounded in time (``-t`` or
``--max-seconds``) and stopped by its PID.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import math
import os
import secrets
import signal
import statistics
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar

from bench.harness import ROOT, BenchError

if TYPE_CHECKING:  # the server's modules load lazily, after the benchmark has cleared the caller's LS_* settings
    from livestream.media.ingest import IngestManager, LivePipeline
    from livestream.media.rtmp.stats import IngestStats

LOOPBACK = "127.0.0.1"
SEGMENT_S = 1.0  # LS_HLS_SEGMENT_SECONDS default
THUMBNAIL_S = 10  # LS_THUMBNAIL_SECONDS default

# The synthetic source: 720p30 test pattern and a tone, one lavfi input with a video and an audio stream, so the
# transcoder's own filter graph and maps (``[0:v:0]``, ``0:a:0``) apply to it unchanged.
WIDTH, HEIGHT, FPS = 1280, 720, 30
SOURCE_GRAPH = f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}[out0];sine=frequency=440:sample_rate=44100[out1]"
# What the publisher encodes, like OBS with the settings docs/streaming.md recommends (x264, 1 s keyframes, CBR).
PUBLISH_VIDEO_KBPS = 3000
PUBLISH_AUDIO_KBPS = 128

TranscodeMode = Literal["abr", "passthrough"]
T = TypeVar("T")


def ffmpeg_exe() -> str:
    """The server's default ffmpeg (the imageio-ffmpeg binary); every benchmark ignores the caller's ``LS_*``
    settings, as ``harness.clean_env`` does for server subprocesses."""
    from livestream.media.ffmpeg import default_ffmpeg

    return default_ffmpeg()


@contextlib.contextmanager
def _without_ls_env() -> Iterator[None]:
    saved = {k: v for k, v in os.environ.items() if k.startswith("LS_")}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(saved)


def source_state() -> dict[str, Any]:
    """The commit measured, and which files under src/ differ from it (the working tree is what runs)."""

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, timeout=20, check=False)
        return out.stdout.decode(errors="replace").strip()

    changed = [line[3:] for line in git("status", "--porcelain", "--", "src").splitlines() if line.strip()]
    return {"commit": git("rev-parse", "HEAD"), "src_changes": changed}


def ffmpeg_version() -> str:
    out = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, timeout=20, check=False)
    first = out.stdout.decode(errors="replace").splitlines()
    return first[0] if first else "ffmpeg"


def source_input(*, realtime: bool, seconds: float) -> list[str]:
    """The synthetic source as an ffmpeg input. ``realtime``: read at the native rate (``-re``), asking for no
    initial burst (a camera cannot send frames from the future). ffmpeg 9 still reads about 0.5 s ahead of the
    wall clock from its start, burst or not; the benchmarks measure when frames really enter instead of
    assuming."""
    pacing = ["-re", "-readrate_initial_burst", "0"] if realtime else []
    return [*pacing, "-t", f"{seconds:g}", "-f", "lavfi", "-i", SOURCE_GRAPH]


def publish_encode(video_kbps: int = PUBLISH_VIDEO_KBPS, *, gop: int = FPS) -> list[str]:
    return [
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-tune",
        "zerolatency",
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(gop),
        "-b:v",
        f"{video_kbps}k",
        "-maxrate",
        f"{video_kbps}k",
        "-bufsize",
        f"{video_kbps}k",
        "-c:a",
        "aac",
        "-b:a",
        f"{PUBLISH_AUDIO_KBPS}k",
    ]


def rtmp_url(port: int, key: str) -> str:
    return f"rtmp://{LOOPBACK}:{port}/live/{key}"


def publisher_synthetic(url: str, seconds: float) -> list[str]:
    """An encoder pushing the synthetic source in real time."""
    return [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        *source_input(realtime=True, seconds=seconds),
        *publish_encode(),
        "-f",
        "flv",
        url,
    ]


def publisher_file(url: str, path: Path, *, realtime: bool, loop: bool = False, bound_s: float = 180) -> list[str]:
    """A pre-encoded FLV pushed as it is (``-c copy``): in real time, or as fast as the server takes it. A looped
    one stops by itself after ``bound_s`` seconds of output, should nobody stop it."""
    pacing = ["-re"] if realtime else []
    looping = ["-stream_loop", "-1"] if loop else []
    bound = ["-t", f"{bound_s:g}"] if loop else []
    return [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        *pacing,
        *looping,
        "-i",
        str(path),
        "-c",
        "copy",
        *bound,
        "-f",
        "flv",
        url,
    ]


def encode_flv(path: Path, *, seconds: float, video_kbps: int, cbr: bool = False, timeout_s: float = 60) -> Path:
    """Pre-encode the synthetic source to an FLV file (as fast as the machine goes). ``cbr``: x264 pads to the
    bitrate with filler data, so a test pattern really costs ``video_kbps`` on the wire."""
    encode = publish_encode(video_kbps)
    if cbr:
        encode += ["-x264-params", "nal-hrd=cbr:force-cfr=1"]
    argv = [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        *source_input(realtime=False, seconds=seconds),
        *encode,
        "-f",
        "flv",
        str(path),
    ]
    run_bounded(argv, timeout_s=timeout_s)
    if not path.is_file() or path.stat().st_size == 0:
        raise BenchError(f"ffmpeg wrote no {path}")
    return path


def run_bounded(argv: Sequence[str], *, timeout_s: float) -> subprocess.CompletedProcess[bytes]:
    """Run a command to completion; one that overstays is killed by its PID."""
    process = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        raise BenchError(f"{Path(argv[0]).name} did not finish within {timeout_s:g} s") from exc
    if process.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-5:]
        raise BenchError(f"{Path(argv[0]).name} exited with {process.returncode}: {' | '.join(tail)}")
    return subprocess.CompletedProcess(list(argv), process.returncode, out, err)


# --- processes ---------------------------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    started_wall: float  # time.time() just before the spawn
    started_mono: float
    log_path: Path | None
    stdout_reader: bool = False  # a thread reads stdout to EOF and closes it

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 10) -> str:
        if self.log_path is None:
            return ""
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


class Processes:
    """Every process a benchmark starts; ``stop_all`` (also on leaving the ``with``) ends each by its PID."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: list[Proc] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def spawn(
        self, name: str, argv: Sequence[str], *, stdout_pipe: bool = False, env: dict[str, str] | None = None
    ) -> Proc:
        log_path = self.logdir / f"{name}.log"
        with log_path.open("wb") as log:
            started_wall, started_mono = time.time(), time.monotonic()
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if stdout_pipe else subprocess.DEVNULL,
                stderr=log,
                env=env,
                cwd=ROOT,
            )
        proc = Proc(name, popen, started_wall, started_mono, log_path)
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc, *, grace_s: float = 5.0) -> None:
        """SIGTERM (ffmpeg finishes its outputs), then SIGKILL after ``grace_s``."""
        if proc.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.popen.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.popen.wait(timeout=10)
        if proc.popen.stdout is not None and not proc.stdout_reader:
            proc.popen.stdout.close()

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc, grace_s=3.0)


# --- CPU time from /proc -----------------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name is in parentheses and may hold spaces; the fields after it are space-separated.
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the process itself: all its threads, none of its children."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def child_pids(pid: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(_stat_fields(int(entry.name))[1]) == pid:
                found.append(int(entry.name))
    return found


def cpu_of(pids: Sequence[int]) -> dict[int, float]:
    readings: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            readings[pid] = cpu_seconds(pid)
    return readings


# --- HLS playlists -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    seq: int
    uri: str
    duration: float
    pdt: float | None  # EXT-X-PROGRAM-DATE-TIME, seconds since the epoch


@dataclass
class MediaPlaylist:
    media_sequence: int
    segments: list[Segment]
    endlist: bool


def parse_pdt(value: str) -> float:
    value = value.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        with contextlib.suppress(ValueError):
            return datetime.strptime(value, fmt).timestamp()
    return datetime.fromisoformat(value).timestamp()


def parse_media_playlist(text: str) -> MediaPlaylist:
    sequence = 0
    segments: list[Segment] = []
    duration: float | None = None
    pdt: float | None = None
    endlist = False
    for line in map(str.strip, text.splitlines()):
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            sequence = int(line.split(":", 1)[1])
        elif line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = parse_pdt(line.split(":", 1)[1])
        elif line == "#EXT-X-ENDLIST":
            endlist = True
        elif line and not line.startswith("#") and duration is not None:
            segments.append(Segment(sequence + len(segments), line, duration, pdt))
            duration, pdt = None, None
    return MediaPlaylist(sequence, segments, endlist)


def master_variants(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@dataclass
class SeenSegment:
    seq: int
    duration: float
    pdt: float | None
    listed_at: float  # mtime of the first playlist version that listed it (the write, to a few ms)
    polled_at: float  # time.time() of the poll that first saw it


class PlaylistWatcher:
    """Polls a live stream's folder every ``interval`` s in a thread: when every variant playlist first lists a
    segment, when the master playlist first lists every variant (both: the first playable playlist), and when
    each segment first appears in each variant.

    A playlist is opened, then ``fstat``-ed, then read: ffmpeg writes playlists to a temporary file and renames
    it, so the open file's mtime is the time of the content read."""

    def __init__(self, out_dir: Path, variants: int, *, interval: float = 0.02) -> None:
        self.out_dir = out_dir
        self.interval = interval
        self.variants = [f"v{i}/index.m3u8" for i in range(variants)]
        self.master_listed: list[str] = []  # what the master playlist lists (last read)
        self.master_complete_at: float | None = None  # mtime of the first master listing every variant
        self.variants_ready_at: float | None = None  # latest of the variants' first segment listings
        self.playable_at: float | None = None  # both of the above
        self.seen: dict[str, dict[int, SeenSegment]] = {v: {} for v in self.variants}
        self.last: dict[str, MediaPlaylist] = {}
        self._mtimes: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch-{out_dir.name}", daemon=True)
        self.errors: list[str] = []

    def start(self) -> PlaylistWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.poll()  # one last look

    def _read(self, path: Path) -> tuple[str, float] | None:
        try:
            with path.open("rb") as handle:
                mtime_ns = os.fstat(handle.fileno()).st_mtime_ns
                if self._mtimes.get(str(path)) == mtime_ns:
                    return None
                text = handle.read().decode("utf-8", "replace")
        except OSError:
            return None
        self._mtimes[str(path)] = mtime_ns
        return text, mtime_ns / 1e9

    def poll(self) -> None:
        now = time.time()
        got = self._read(self.out_dir / "master.m3u8")
        if got is not None:
            self.master_listed = master_variants(got[0])
            if self.master_complete_at is None and set(self.variants) <= set(self.master_listed):
                self.master_complete_at = got[1]
        for variant in self.variants:
            got = self._read(self.out_dir / variant)
            if got is None:
                continue
            text, mtime = got
            playlist = parse_media_playlist(text)
            self.last[variant] = playlist
            seen = self.seen[variant]
            for seg in playlist.segments:
                if seg.seq not in seen:
                    seen[seg.seq] = SeenSegment(seg.seq, seg.duration, seg.pdt, mtime, now)
        if self.variants_ready_at is None and all(self.seen[v] for v in self.variants):
            self.variants_ready_at = max(min(s.listed_at for s in self.seen[v].values()) for v in self.variants)
        if self.playable_at is None and self.variants_ready_at is not None and self.master_complete_at is not None:
            self.playable_at = max(self.variants_ready_at, self.master_complete_at)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception as exc:  # a parse error must not kill the watcher silently
                self.errors.append(repr(exc))
            self._stop.wait(self.interval)

    def wait_ready(self, timeout_s: float, alive: Callable[[], bool] | None = None) -> float:
        """Until every variant lists a segment (what the server calls live); see ``playable_at`` for the master."""
        deadline = time.monotonic() + timeout_s
        while self.variants_ready_at is None:
            if time.monotonic() > deadline:
                raise BenchError(f"no segment listed in {self.out_dir} within {timeout_s:g} s")
            if alive is not None and not alive():
                raise BenchError(f"the producer of {self.out_dir} stopped before listing a segment")
            time.sleep(0.02)
        return self.variants_ready_at

    def segments(self) -> list[tuple[int, float, float, float | None, float]]:
        """(seq, media start, duration, pdt, listed_at) of every segment listed by every variant, listed_at being
        when the last variant listed it; media start is the sum of the earlier durations (from segment 0)."""
        first = self.seen[self.variants[0]]
        common = sorted(s for s in first if all(s in self.seen[v] for v in self.variants))
        found: list[tuple[int, float, float, float | None, float]] = []
        start = 0.0
        for expected, seq in enumerate(common):
            if seq != expected:
                break  # a gap: the media start of later segments is unknown
            seg = first[seq]
            listed = max(self.seen[v][seq].listed_at for v in self.variants)
            found.append((seq, start, seg.duration, seg.pdt, listed))
            start += seg.duration
        return found


# --- ffmpeg progress (for the direct-ffmpeg baselines) -------------------------------------------------------------


class ProgressClock:
    """Reads ffmpeg's ``-progress pipe:1`` in a thread. With a ``-re`` input, frame *t* enters ffmpeg at
    ``start + t``; ``start`` is estimated as the least ``wall - out_time`` over the reports (an upper bound: the
    output position trails the input by the encode and mux time, a few milliseconds with zerolatency x264)."""

    def __init__(self, proc: Proc) -> None:
        if proc.popen.stdout is None:
            raise BenchError(f"{proc.name} was started without a stdout pipe")
        proc.stdout_reader = True
        self.stream: IO[bytes] = proc.popen.stdout
        self.start_estimate: float | None = None
        self.reports = 0
        self._out_time: float | None = None
        self._thread = threading.Thread(target=self._run, name="ffmpeg-progress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._read()
        finally:
            self.stream.close()

    def _read(self) -> None:
        for raw in iter(self.stream.readline, b""):
            line = raw.decode(errors="replace").strip()
            key, _, value = line.partition("=")
            if key == "out_time_us" and value.lstrip("-").isdigit():
                self._out_time = int(value) / 1e6
            elif key == "progress":
                now = time.time()
                if self._out_time is not None and self._out_time > 0:
                    self.reports += 1
                    candidate = now - self._out_time
                    if self.start_estimate is None or candidate < self.start_estimate:
                        self.start_estimate = candidate

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)


# --- direct ffmpeg: the baselines ------------------------------------------------------------------------------


def _replace_input(command: list[str], new_input: Sequence[str]) -> list[str]:
    i = command.index("pipe:0")
    if command[i - 3 : i] != ["-f", "flv", "-i"]:
        raise BenchError(f"unexpected transcoder input arguments: {command[i - 3 : i + 1]}")
    return [*command[: i - 3], *new_input, *command[i + 1 :]]


def _drop_recording(command: list[str], recording: Path) -> list[str]:
    """Remove output 1 (the stream-copied recording): from the first ``-map`` to the recording's path."""
    end = command.index(str(recording))
    start = command.index("-map")
    return [*command[:start], *command[end + 1 :]]


def transcoder_command(source: Any, ladder: Sequence[Any], out_dir: Path, recording: Path) -> list[str]:
    """The Transcoder's own argument builder, as the server calls it (default segment and thumbnail settings)."""
    from livestream.media.ffmpeg import build_command

    return build_command(
        ffmpeg=ffmpeg_exe(),
        source=source,
        ladder=ladder,
        out_dir=out_dir,
        recording_path=recording,
        segment_seconds=SEGMENT_S,
        thumbnail_interval=THUMBNAIL_S,
    )


def prepare_out_dir(out_dir: Path, variants: int) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for i in range(variants):
        (out_dir / f"v{i}").mkdir(exist_ok=True)


def direct_from_file(
    source: Any, ladder: Sequence[Any], flv: Path, out_dir: Path, *, limit_s: float | None = None
) -> list[str]:
    """The transcoder's exact command with its input ``-f flv -i pipe:0`` replaced by the file (its first
    ``limit_s`` seconds when given)."""
    recording = out_dir / "recording.ts"
    command = transcoder_command(source, ladder, out_dir, recording)
    limit = ["-t", f"{limit_s:.3f}"] if limit_s is not None else []
    return _replace_input(command, [*limit, "-f", "flv", "-i", str(flv)])


def direct_from_source(source: Any, ladder: Sequence[Any], out_dir: Path, *, seconds: float) -> list[str]:
    """ffmpeg alone: the synthetic source read in real time, straight into the transcoder's HLS output (same
    ladder, encoder and HLS arguments, and the thumbnail), without RTMP, pipe or the recording copy. In
    passthrough the HLS output's ``-c copy`` becomes the publisher's own encode, as there is nothing to copy."""
    recording = out_dir / "recording.ts"
    command = transcoder_command(source, ladder, out_dir, recording)
    command = _drop_recording(command, recording)
    if "-skip_frame:v" in command:
        i = command.index("-skip_frame:v")
        del command[i : i + 2]
    command = _replace_input(command, source_input(realtime=True, seconds=seconds))
    passthrough = any(getattr(r, "copy", False) for r in ladder)
    if passthrough:
        i = command.index("copy")
        if command[i - 1] != "-c":
            raise BenchError("unexpected passthrough arguments")
        command[i - 1 : i + 1] = publish_encode()
    i = command.index("pipe:1")
    command[i + 1 : i + 1] = ["-stats_period", "0.1"]
    return command


# --- the server, in this process ---------------------------------------------------------------------------------


@dataclass
class Creator:
    user_id: str
    username: str
    token: str
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _expect(response: Any, status: int) -> Any:
    if response.status_code != status:
        raise BenchError(
            f"{response.request.method} {response.request.url.path}: expected {status}, "
            f"got {response.status_code}: {response.text[:300]}"
        )
    return response.json()


async def make_creator(client: Any, tag: str) -> Creator:
    """Register, sign in, fetch the stream key (throwaway account in a throwaway database)."""
    username = f"bench_{tag}_{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(16)
    user = _expect(
        await client.post(
            "/api/auth/register", json={"username": username, "email": f"{username}@example.com", "password": password}
        ),
        201,
    )
    token = _expect(await client.post("/api/auth/login", json={"login": username, "password": password}), 200)
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    key = _expect(await client.get("/api/users/me/stream-key", headers=headers), 200)
    return Creator(str(user["user_id"]), username, str(token["access_token"]), str(key["stream_key"]))


class LiveApp:
    """The real application in this process (as tests/media/test_live_pipeline.py runs it), so a benchmark can
    read what the RTMP server recorded (each tag's wall-clock arrival) and the transcoder's arguments.

    ``http_port``: serve it with uvicorn on 127.0.0.1 (for a browser); otherwise requests go through
    httpx's ASGI transport."""

    def __init__(
        self,
        workdir: Path,
        *,
        transcode: TranscodeMode,
        database_url: str,
        secret: str,
        name: str,
        http_port: int | None = None,
        web_dist: Path | None = None,
        log_level: str = "WARNING",
    ) -> None:
        from livestream.config import Settings

        self.http_port = http_port
        with _without_ls_env():  # defaults for everything not set here, whatever the caller's shell says
            self.settings = Settings(
                env="test",
                secret_key=secret,
                database_url=database_url,
                var_dir=workdir,
                media_dir=workdir / f"media-{name}",
                web_dist=web_dist or workdir / "no-web",
                host=LOOPBACK,
                port=http_port or 8000,
                public_url=f"http://{LOOPBACK}:{http_port}" if http_port else "http://testserver",
                rtmp_enabled=True,
                rtmp_host=LOOPBACK,
                rtmp_port=0,
                transcode=transcode,
                hls_segment_seconds=SEGMENT_S,
                thumbnail_seconds=THUMBNAIL_S,
                log_level=log_level,
            )
        self.app: Any = None
        self.client: Any = None
        self._lifespan: Any = None
        self._server: Any = None
        self._server_task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LiveApp:
        import httpx

        from livestream.app.factory import create_app

        self.app = create_app(self.settings)
        if self.http_port is None:
            self._lifespan = self.app.router.lifespan_context(self.app)
            await self._lifespan.__aenter__()
            transport = httpx.ASGITransport(app=self.app, client=(LOOPBACK, 50001))
            self.client = httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30)
            return self
        import uvicorn

        config = uvicorn.Config(
            self.app,
            host=LOOPBACK,
            port=self.http_port,
            log_config=None,
            access_log=False,
            lifespan="on",
            http="httptools",
        )
        self._server = uvicorn.Server(config)
        self._server_task = asyncio.create_task(self._server.serve())
        deadline = time.monotonic() + 30
        while not self._server.started:
            if self._server_task.done() or time.monotonic() > deadline:
                raise BenchError("uvicorn did not start the app")
            await asyncio.sleep(0.05)
        self.client = httpx.AsyncClient(base_url=self.base_url, timeout=30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.client is not None:
            await self.client.aclose()
        if self._lifespan is not None:
            await self._lifespan.__aexit__(None, None, None)
        if self._server is not None and self._server_task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server_task, 40)

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def container(self) -> Any:
        return self.app.state.container

    @property
    def rtmp_port(self) -> int:
        return int(self.container.rtmp.port)

    def pipeline_for_user(self, user_id: str) -> LivePipeline | None:
        ingest: IngestManager = self.container.ingest
        return ingest.pipeline_for_user(uuid.UUID(user_id))

    async def live_stream(self, user_id: str) -> dict[str, Any] | None:
        response = await self.client.get("/api/streams", params={"status": "live", "user_id": user_id})
        items = _expect(response, 200)["items"]
        return items[0] if items else None

    async def end_stream(self, creator: Creator, stream_id: str) -> None:
        response = await self.client.put(f"/api/streams/{stream_id}/end", headers=creator.auth, timeout=60)
        _expect(response, 200)


async def wait_until(predicate: Callable[[], Awaitable[T | None]], timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout_s:g} s waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class ArrivalLog:
    """Video tags' wall-clock arrivals at the RTMP server, read from the connection's IngestStats (it keeps the
    last 1024 tags: 14 s at 30 fps with AAC audio, so the new ones are read every 0.2 s)."""

    connect_wall: float | None = None
    video: dict[int, float] = field(default_factory=dict)  # tag timestamp (ms) -> arrival (time.time())
    stats: IngestStats | None = None
    seen: int = 0  # tags of ``stats`` already read
    missed: int = 0  # tags that left IngestStats' history before they were read

    def absorb(self) -> None:
        if self.stats is None:
            return
        self.connect_wall = self.stats.started_at
        arrivals = self.stats.arrivals_since(self.seen)
        total = self.stats.tags
        self.missed += total - self.seen - len(arrivals)
        self.seen = total
        for arrival in arrivals:
            if arrival.tag_type == 9:
                # The AVC sequence header shares the first frame's timestamp and comes just before it.
                previous = self.video.get(arrival.timestamp_ms)
                if previous is None or arrival.wall_time > previous:
                    self.video[arrival.timestamp_ms] = arrival.wall_time

    def sorted_frames(self) -> list[tuple[int, float]]:
        return sorted(self.video.items())


async def collect_arrivals(app: LiveApp, user_id: str, log: ArrivalLog, stop: asyncio.Event) -> None:
    while not stop.is_set():
        if log.stats is None:
            log.stats = app.container.ingest.publisher_stats(uuid.UUID(user_id))
        log.absorb()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)
    log.absorb()


# --- per-segment figures -------------------------------------------------------------------------------------


@dataclass
class SegmentTiming:
    seq: int
    media_end: float  # seconds of media from the first video frame to the segment's end
    last_frame_in: float  # wall time its last video frame entered (RTMP arrival, or the -re clock)
    listed_at: float  # wall time every variant playlist listed it
    pdt: float | None
    first_frame_in: float

    @property
    def delay(self) -> float:
        return self.listed_at - self.last_frame_in

    @property
    def pdt_offset(self) -> float | None:
        """How much later than its first frame's entry ffmpeg stamps the segment (positive: stamped late)."""
        return None if self.pdt is None else self.pdt - self.first_frame_in


def timings_from_arrivals(watcher: PlaylistWatcher, frames: list[tuple[int, float]]) -> list[SegmentTiming]:
    """Segments whose every frame arrived while the log was kept; the last frame of a segment is the last video
    tag before its end (media time from the first video tag, segment 0 starting at it)."""
    if not frames:
        return []
    ts0 = frames[0][0]
    times = [(ts - ts0) / 1000 for ts, _ in frames]
    last_time = times[-1]
    found: list[SegmentTiming] = []
    for seq, start, duration, pdt, listed in watcher.segments():
        end = start + duration
        if end > last_time:
            break  # its end, and so its closing keyframe, had not arrived when the log stopped
        i_last = bisect.bisect_left(times, end - 0.0005) - 1
        i_first = bisect.bisect_left(times, start - 0.0005)
        if i_last < 0 or i_first >= len(times):
            continue
        found.append(SegmentTiming(seq, end, frames[i_last][1], listed, pdt, frames[i_first][1]))
    return found


def timings_from_clock(watcher: PlaylistWatcher, start_wall: float, fps: float = FPS) -> list[SegmentTiming]:
    """The same for a direct ffmpeg reading a ``-re`` source: frame *t* enters at ``start_wall + t``."""
    frame = 1 / fps
    found: list[SegmentTiming] = []
    for seq, start, duration, pdt, listed in watcher.segments():
        end = start + duration
        last_frame = math.ceil(round(end / frame, 6)) * frame - frame
        found.append(SegmentTiming(seq, end, start_wall + last_frame, listed, pdt, start_wall + start))
    return found


def ingest_time_of(frames: list[tuple[int, float]], media_s: float) -> float | None:
    """Wall time the frame at ``media_s`` (from the first video frame) arrived."""
    if not frames:
        return None
    ts0 = frames[0][0]
    target = ts0 + media_s * 1000
    i = bisect.bisect_right([ts for ts, _ in frames], target + 0.5) - 1
    return frames[max(i, 0)][1] if i < len(frames) else None


# --- statistics and verdicts -----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (like numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "min": round(min(values), 4),
        "p50": round(statistics.median(values), 4),
        "p95": round(percentile(values, 0.95), 4),
        "max": round(max(values), 4),
    }


@dataclass
class Verdicts:
    """PASS/FAIL lines against targets; a miss is a failure of the run, never an exception."""

    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)

    def check(
        self, label: str, value: float | None, target: float, *, unit: str, higher_is_better: bool = False
    ) -> None:
        sign = ">=" if higher_is_better else "<="
        if value is None or math.isnan(value):
            ok = False
            shown = "n/a"
        else:
            ok = value >= target if higher_is_better else value <= target
            shown = f"{value:.3f}{unit}"
        line = f"{'PASS' if ok else 'FAIL'}  {label}: {shown}  (target {sign} {target:g}{unit})"
        self.lines.append(line)
        self.checks.append({"label": label, "value": value, "target": target, "op": sign, "ok": ok})
        if not ok:
            self.failures.append(f"{label}: {shown} misses the target {sign} {target:g}{unit}")


def fmt_s(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def run_async(coro: Awaitable[T]) -> T:
    """Run a coroutine on uvloop, the loop ``livestream serve`` uses."""
    try:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)  # type: ignore[arg-type]
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)  # type: ignore[arg-type]


# --- a minimal RTMP sink: the floor for the ingest cost -----------------------------------------------------------

_HANDSHAKE = 1536


def _amf_string(value: str) -> bytes:
    raw = value.encode()
    return b"\x02" + struct.pack(">H", len(raw)) + raw


def _amf_number(value: float) -> bytes:
    return b"\x00" + struct.pack(">d", value)


def _amf_object(values: dict[str, str]) -> bytes:
    body = b"".join(struct.pack(">H", len(k)) + k.encode() + _amf_string(v) for k, v in values.items())
    return b"\x03" + body + b"\x00\x00\x09"


def _rtmp_message(csid: int, type_id: int, stream_id: int, body: bytes, chunk: int = 128) -> bytes:
    header = bytes([csid]) + b"\x00\x00\x00" + len(body).to_bytes(3, "big") + bytes([type_id])
    header += struct.pack("<I", stream_id)
    parts = [header + body[:chunk]]
    parts += [bytes([0xC0 | csid]) + body[i : i + chunk] for i in range(chunk, len(body), chunk)]
    return b"".join(parts)


def _command_txn(buffer: bytes, name: str, start: int) -> tuple[float, int] | None:
    """Find an AMF0 command by name (the name and its transaction id are at the start of a message, so always in
    its first chunk) and return its transaction id and where the search may go on."""
    needle = _amf_string(name) + b"\x00"
    i = buffer.find(needle, start)
    if i < 0 or len(buffer) < i + len(needle) + 8:
        return None
    txn = struct.unpack(">d", buffer[i + len(needle) : i + len(needle) + 8])[0]
    return txn, i + len(needle) + 8


class _SinkStats:
    def __init__(self) -> None:
        self.connections = 0
        self.publishing = 0
        self.bytes = 0


async def _sink_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stats: _SinkStats) -> None:
    """The RTMP a publisher needs before it sends media (plain handshake, connect, createStream, publish
    answered with canned replies), then read and discard until it goes away."""
    stats.connections += 1
    try:
        c0c1 = await reader.readexactly(1 + _HANDSHAKE)
        s1 = struct.pack(">I", 0) + b"\x00\x00\x00\x00" + os.urandom(_HANDSHAKE - 8)
        writer.write(b"\x03" + s1 + c0c1[1:])
        await writer.drain()
        await reader.readexactly(_HANDSHAKE)  # C2
        buffer = b""
        pos = 0
        step = 0
        while step < 3:
            data = await reader.read(65536)
            if not data:
                return
            buffer += data
            if step == 0 and (found := _command_txn(buffer, "connect", pos)):
                txn, pos = found
                info = {"level": "status", "code": "NetConnection.Connect.Success", "description": "ok"}
                body = _amf_string("_result") + _amf_number(txn) + b"\x05" + _amf_object(info)
                writer.write(_rtmp_message(3, 20, 0, body))
                step = 1
            if step == 1 and (found := _command_txn(buffer, "createStream", pos)):
                txn, pos = found
                writer.write(
                    _rtmp_message(3, 20, 0, _amf_string("_result") + _amf_number(txn) + b"\x05" + _amf_number(1))
                )
                step = 2
            if step == 2 and (found := _command_txn(buffer, "publish", pos)):
                _txn, pos = found
                info = {"level": "status", "code": "NetStream.Publish.Start", "description": "ok"}
                body = _amf_string("onStatus") + _amf_number(0) + b"\x05" + _amf_object(info)
                writer.write(_rtmp_message(5, 20, 1, body))
                step = 3
            await writer.drain()
        stats.publishing += 1
        stats.bytes += len(buffer) - pos
        while data := await reader.read(65536):
            stats.bytes += len(data)
        stats.publishing -= 1
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve_sink(port: int, stats_path: Path, max_seconds: float) -> None:
    stats = _SinkStats()
    server = await asyncio.start_server(lambda r, w: _sink_connection(r, w, stats), LOOPBACK, port)
    deadline = time.monotonic() + max_seconds
    async with server:
        while time.monotonic() < deadline:
            record = {"connections": stats.connections, "publishing": stats.publishing, "bytes": stats.bytes}
            tmp = stats_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(record))
            os.replace(tmp, stats_path)
            await asyncio.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.media_support")
    sub = parser.add_subparsers(dest="command", required=True)
    sink = sub.add_parser("rtmp-sink", help="accept RTMP publishers on 127.0.0.1 and discard their media")
    sink.add_argument("--port", type=int, required=True)
    sink.add_argument("--stats", type=Path, required=True, help="JSON counters, rewritten every 0.5 s")
    sink.add_argument("--max-seconds", type=float, default=120.0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_serve_sink(args.port, args.stats, args.max_seconds))
    except ImportError:  # pragma: no cover
        asyncio.run(_serve_sink(args.port, args.stats, args.max_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
