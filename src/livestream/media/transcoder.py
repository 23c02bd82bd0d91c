"""One ffmpeg process per live stream: FLV bytes in, HLS ladder, recording and thumbnail out.

The RTMP side calls ``await write(chunk)`` with the FLV stream (header first, then tags); ``write`` waits for the
pipe to drain, so a transcoder that falls behind slows the publisher's socket instead of growing a buffer. Across
a publisher reconnect the caller keeps feeding the same process: ffmpeg has no read timeout on stdin, so a quiet
pipe only pauses it and the recording stays one file.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from livestream.logging import get_logger
from livestream.media.ffmpeg import HlsLayout, build_command, pump_lines, segment_prefix
from livestream.media.ladder import Rendition, SourceInfo
from livestream.media.progress import ProgressParser, TranscoderStats

_log = get_logger("livestream.media.transcoder")

_VARIANT_DIR = re.compile(r"^v\d+$")
_BANDWIDTH = re.compile(r"(?<![-A-Z])BANDWIDTH=(\d+)")
_STALE_SUFFIXES = (".m3u8", ".ts", ".tmp")
# How long a failed write waits for ffmpeg's exit status and last words before raising.
_EXIT_GRACE_S = 5.0
_TAIL_IN_LOG = 30
_FLV_SIGNATURE = b"FLV"


class TranscoderError(RuntimeError):
    """ffmpeg failed, died, or the transcoder was used out of order. ``stderr_tail`` holds ffmpeg's last lines."""

    def __init__(self, message: str, *, returncode: int | None = None, stderr_tail: Sequence[str] = ()) -> None:
        self.returncode = returncode
        self.stderr_tail = list(stderr_tail)
        detail = f"{message} (exit code {returncode})" if returncode is not None else message
        why = _reason(self.stderr_tail)
        super().__init__(f"{detail}: {why}" if why else detail)


def _reason(tail: Sequence[str], lines: int = 4) -> str:
    """ffmpeg's last few error lines (the first of them usually says what went wrong), else its last line."""
    errors = [line.strip() for line in tail if "[error]" in line or "[fatal]" in line]
    if errors:
        return " | ".join(errors[-lines:])
    return next((line.strip() for line in reversed(tail) if line.strip()), "")


class Transcoder:
    """Runs ffmpeg for one stream. ``start``, then ``write`` FLV bytes, then ``finish`` (or ``kill``)."""

    def __init__(
        self,
        ffmpeg: str,
        source: SourceInfo,
        ladder: Sequence[Rendition],
        out_dir: Path,
        recording_path: Path,
        segment_seconds: float = 1.0,
        thumbnail_interval: float = 10.0,
        *,
        playlist_size: int = 6,
        part: int = 1,
        preset: str | None = None,
        stderr_lines: int = 200,
        poll_interval: float = 0.1,
        max_input_before_output: int = 64 * 2**20,
        logger: Any = None,
    ) -> None:
        self.source = source
        self.ladder = list(ladder)
        self.out_dir = Path(out_dir)
        self.recording_path = Path(recording_path)
        self.segment_seconds = segment_seconds
        self.thumbnail_interval = thumbnail_interval
        self.part = part
        self.layout = HlsLayout(self.out_dir, len(self.ladder))
        # Builds (and so validates) the command now: a bad ladder fails here, not in a background task.
        self.command = build_command(
            ffmpeg=ffmpeg,
            source=source,
            ladder=self.ladder,
            out_dir=self.out_dir,
            recording_path=self.recording_path,
            segment_seconds=segment_seconds,
            thumbnail_interval=thumbnail_interval,
            playlist_size=playlist_size,
            part=part,
            preset=preset,
        )
        self._poll_interval = poll_interval
        self._max_input_before_output = max_input_before_output
        self._head = b""
        self._written = 0
        self._failure: TranscoderError | None = None
        self._log = logger if logger is not None else _log.bind(out_dir=str(self.out_dir))
        self._stderr: deque[str] = deque(maxlen=stderr_lines)
        self._progress = ProgressParser()
        self._proc: asyncio.subprocess.Process | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._playlist_task: asyncio.Task[None] | None = None
        self._exited = asyncio.Event()
        self._ready = asyncio.Event()
        self._first_playlist_at: float | None = None
        self._stopping = False  # finish() or kill() was called: an exit from now on is expected
        self._killed = False

    # --- state -----------------------------------------------------------------------------------------------

    @property
    def stats(self) -> TranscoderStats:
        return self._progress.stats

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.returncode

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and not self._exited.is_set()

    @property
    def first_playlist_at(self) -> float | None:
        """``time.monotonic()`` when the master and every variant playlist first listed a segment."""
        return self._first_playlist_at

    @property
    def master_playlist(self) -> Path:
        return self.layout.master

    @property
    def variant_playlists(self) -> list[Path]:
        return self.layout.variant_playlists

    @property
    def thumbnail_path(self) -> Path:
        return self.layout.thumbnail

    def stderr_tail(self, lines: int | None = None) -> list[str]:
        tail = list(self._stderr)
        return tail if lines is None else tail[-lines:]

    # --- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._proc is not None:
            raise TranscoderError("the transcoder was already started")
        await asyncio.to_thread(self._prepare_files)
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                # Its own session: a Ctrl-C meant for the app does not cut the recording short; we close stdin.
                start_new_session=True,
            )
        except OSError as exc:
            raise TranscoderError(f"cannot run ffmpeg ({self.command[0]}): {exc}") from exc
        proc = self._proc
        assert proc.stdout is not None
        assert proc.stderr is not None
        self._log.info("transcoder_started", pid=proc.pid, renditions=[r.name for r in self.ladder])
        readers = [
            asyncio.create_task(pump_lines(proc.stdout, self._on_progress_line)),
            asyncio.create_task(pump_lines(proc.stderr, self._stderr.append, max_line=1000)),
        ]
        self._playlist_task = asyncio.create_task(self._watch_playlists())
        self._tasks = [*readers, asyncio.create_task(self._watch_exit(proc, readers)), self._playlist_task]

    async def write(self, data: bytes) -> None:
        """Send FLV bytes to ffmpeg and wait until the pipe has room (back-pressure)."""
        proc = self._require_started()
        if self._failure is not None:
            raise self._failure
        if self._stopping:
            raise TranscoderError("the transcoder is finishing or stopped; no more input")
        if self._exited.is_set() or proc.returncode is not None:
            raise self._died("ffmpeg is not running")
        if len(self._head) < len(_FLV_SIGNATURE):
            self._head += data[: len(_FLV_SIGNATURE) - len(self._head)]
            if not _FLV_SIGNATURE.startswith(self._head):
                await self._fail(f"the input is not an FLV stream (it starts with {self._head!r})")
        self._written += len(data)
        if self._written > self._max_input_before_output and self.stats.updated_at is None:
            # ffmpeg's FLV demuxer resyncs through garbage for as long as it is fed; stop it here.
            await self._fail(f"ffmpeg found no audio or video in the first {self._written} bytes of input")
        assert proc.stdin is not None
        try:
            proc.stdin.write(data)
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exited.wait(), _EXIT_GRACE_S)
            raise self._died("ffmpeg stopped reading its input") from exc

    async def finish(self, timeout: float | None = 30.0) -> None:  # noqa: ASYNC109 - it kills on timeout
        """Close ffmpeg's input and wait for it to flush and exit (playlists get EXT-X-ENDLIST).

        Raises ``TranscoderError`` if ffmpeg exits with an error, or does not exit within ``timeout`` seconds
        (it is killed then).
        """
        proc = self._require_started()
        if self._failure is not None:
            await self.kill()
            raise self._failure
        self._stopping = True
        assert proc.stdin is not None
        if not proc.stdin.is_closing():
            proc.stdin.close()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await proc.stdin.wait_closed()
        try:
            await asyncio.wait_for(self._exited.wait(), timeout)
        except TimeoutError:
            self._log.error("transcoder_finish_timeout", timeout=timeout, stderr_tail=self.stderr_tail(_TAIL_IN_LOG))
            await self.kill()
            raise TranscoderError(
                f"ffmpeg did not finish within {timeout} s and was killed", stderr_tail=self.stderr_tail()
            ) from None
        if self._playlist_task is not None:
            # It takes one last look at the playlists once ffmpeg has exited.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._playlist_task), _EXIT_GRACE_S)
        await self._stop_watchers()
        if self._killed:
            raise TranscoderError("ffmpeg was killed", returncode=proc.returncode, stderr_tail=self.stderr_tail())
        if proc.returncode != 0:
            raise self._died("ffmpeg failed")
        self._log.info("transcoder_finished", stats=self._stats_fields())

    async def kill(self) -> None:
        """Hard stop: SIGKILL, then wait for the process and its pipes. Safe to call at any time, repeatedly."""
        proc = self._proc
        if proc is None:
            return
        self._stopping = True
        if proc.returncode is None and not self._exited.is_set():
            self._killed = True
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        await self._exited.wait()
        await self._stop_watchers()
        if proc.stdin is not None:
            proc.stdin.close()

    async def wait_first_playlist(self, timeout: float | None = None) -> float:  # noqa: ASYNC109 - the agreed API
        """Wait until ``master.m3u8`` and every variant playlist list at least one segment.

        Returns ``first_playlist_at``. Raises ``TimeoutError`` after ``timeout`` seconds, ``TranscoderError`` if
        ffmpeg exits first.
        """
        self._require_started()
        if self._first_playlist_at is None:
            ready = asyncio.ensure_future(self._ready.wait())
            exited = asyncio.ensure_future(self._exited.wait())
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in (ready, exited):
                    waiter.cancel()
                await asyncio.gather(ready, exited, return_exceptions=True)
        if self._first_playlist_at is None:
            if self._failure is not None:
                raise self._failure
            raise self._died("ffmpeg exited before the first playlist")
        return self._first_playlist_at

    async def wait(self) -> int:
        """Wait for ffmpeg to exit, however that happens; returns its exit code."""
        proc = self._require_started()
        await self._exited.wait()
        assert proc.returncode is not None
        return proc.returncode

    async def __aenter__(self) -> Transcoder:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # A block that did not finish() leaves nothing running behind it.
        await self.kill()

    # --- internals -------------------------------------------------------------------------------------------

    def _require_started(self) -> asyncio.subprocess.Process:
        if self._proc is None:
            raise TranscoderError("the transcoder is not started")
        return self._proc

    async def _fail(self, message: str) -> NoReturn:
        """Stop ffmpeg for a reason of our own; every later call reports the same error."""
        self._failure = TranscoderError(message, stderr_tail=self.stderr_tail())
        self._log.error("transcoder_input_rejected", error=message, stderr_tail=self.stderr_tail(_TAIL_IN_LOG))
        await self.kill()
        raise self._failure

    def _died(self, message: str) -> TranscoderError:
        return TranscoderError(message, returncode=self.returncode, stderr_tail=self.stderr_tail())

    def _stats_fields(self) -> dict[str, Any]:
        s = self.stats
        return {"fps": s.fps, "speed": s.speed, "out_time_s": s.out_time_s, "bitrate_kbps": s.bitrate_kbps}

    def _on_progress_line(self, line: str) -> None:
        self._progress.feed(line)

    def _prepare_files(self) -> None:
        if self.recording_path.exists():
            # Never overwrite a recording: it is the archive.
            raise TranscoderError(f"the recording {self.recording_path} already exists")
        self.recording_path.parent.mkdir(parents=True, exist_ok=True)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        # Playlists and segments left by an earlier process would pass for this one's first playlist.
        for path in (self.layout.master, self.layout.thumbnail):
            for stale in (path, path.with_name(path.name + ".tmp"), path.with_name(path.name + ".fix.tmp")):
                stale.unlink(missing_ok=True)
        # Earlier parts' segments stay (the archive joins them); only this part's names are reused.
        own_segment = segment_prefix(self.part)
        for child in self.out_dir.iterdir():
            if child.is_dir() and _VARIANT_DIR.match(child.name):
                for stale in child.iterdir():
                    ours = stale.suffix != ".ts" or stale.name.startswith(own_segment)
                    if stale.is_file() and stale.suffix in _STALE_SUFFIXES and ours:
                        stale.unlink(missing_ok=True)
        for i in range(len(self.ladder)):
            self.layout.variant_dir(i).mkdir(exist_ok=True)

    async def _watch_exit(self, proc: asyncio.subprocess.Process, readers: list[asyncio.Task[None]]) -> None:
        returncode = await proc.wait()
        # The readers end at EOF; wait for them so the stderr tail is complete, but never forever.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*readers, return_exceptions=True), _EXIT_GRACE_S)
        self._exited.set()
        if not self._stopping:
            self._log.error(
                "transcoder_died", returncode=returncode, stderr_tail=self.stderr_tail(_TAIL_IN_LOG), pid=proc.pid
            )
        elif returncode != 0 and not self._killed:
            self._log.warning(
                "transcoder_failed", returncode=returncode, stderr_tail=self.stderr_tail(_TAIL_IN_LOG), pid=proc.pid
            )

    async def _watch_playlists(self) -> None:
        while True:
            exited = self._exited.is_set()
            if await asyncio.to_thread(self._playlists_ready):
                self._first_playlist_at = time.monotonic()
                if not exited:
                    await asyncio.to_thread(self._correct_master_bandwidth)
                self._ready.set()
                self._log.info("transcoder_first_playlist", stats=self._stats_fields())
                return
            if exited:
                return
            await asyncio.sleep(self._poll_interval)

    def _playlists_ready(self) -> bool:
        if not self.layout.master.is_file():
            return False
        return all(_has_segment(path) for path in self.layout.variant_playlists)

    def _correct_master_bandwidth(self) -> None:
        """Raise a variant's BANDWIDTH to what its first segments measure, when ffmpeg's figure is lower.

        ffmpeg writes the live master once, from the streams' nominal bitrates; a copied stream whose FLV
        metadata has no ``videodatarate`` counts only its audio (75 kbit/s for a 7.8 Mbit/s source). At the end
        ffmpeg rewrites the master with measured figures, so this matters only while the stream is live.
        """
        master = self.layout.master
        try:
            lines = master.read_text(encoding="utf-8").splitlines()
        except OSError:
            return
        changed = False
        listed = {
            lines[i + 1].strip()
            for i, line in enumerate(lines)
            if line.startswith("#EXT-X-STREAM-INF:") and i + 1 < len(lines)
        }
        for rendition, playlist in zip(self.ladder, self.layout.variant_playlists, strict=True):
            uri = playlist.relative_to(self.out_dir).as_posix()
            if uri in listed:
                continue
            # ffmpeg leaves a variant out of the live master when it cannot tell its bitrate (a copied stream
            # whose FLV metadata has none), and hls.js then finds nothing to play: list it ourselves.
            bandwidth = max(_peak_bps(playlist), rendition.bandwidth_bps)
            lines += [f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={rendition.width}x{rendition.height}", uri]
            changed = True
        for i, line in enumerate(lines):
            if not line.startswith("#EXT-X-STREAM-INF:") or i + 1 >= len(lines):
                continue
            declared = _BANDWIDTH.search(line)
            measured = _peak_bps(self.out_dir / lines[i + 1].strip())
            if declared is not None and measured > int(declared.group(1)):
                lines[i] = _BANDWIDTH.sub(f"BANDWIDTH={measured}", line, count=1)
                changed = True
        if changed:
            temporary = master.with_name(master.name + ".fix.tmp")
            temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
            os.replace(temporary, master)
            self._log.info("master_bandwidth_corrected")

    async def _stop_watchers(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _segments(playlist: Path) -> list[tuple[float, Path]]:
    """(duration, path) of each segment a media playlist lists."""
    try:
        text = playlist.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found: list[tuple[float, Path]] = []
    duration: float | None = None
    for line in map(str.strip, text.splitlines()):
        if line.startswith("#EXTINF:"):
            with contextlib.suppress(ValueError):
                duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#"):
            if duration is not None:
                found.append((duration, playlist.parent / line))
            duration = None
    return found


def _peak_bps(playlist: Path) -> int:
    """The highest bitrate of the playlist's segments (bits per second), 0 when none can be measured."""
    peak = 0
    for duration, segment in _segments(playlist):
        if duration < 0.1:
            continue
        with contextlib.suppress(OSError):
            peak = max(peak, math.ceil(segment.stat().st_size * 8 / duration))
    return peak


def _has_segment(playlist: Path) -> bool:
    try:
        text = playlist.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(line and not line.startswith("#") for line in map(str.strip, text.splitlines()))
