"""ffmpeg's ``-progress`` output (``key=value`` lines, a block per report ending in ``progress=``) as live stats."""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

_BITRATE = re.compile(r"^\s*([0-9.]+)\s*kbits/s\s*$")
_SPEED = re.compile(r"^\s*([0-9.eE+-]+)\s*x\s*$")
# Rates need reports at least this far apart; before that ffmpeg's own figures stand.
MIN_WINDOW_S = 1.0
_CLOCK = re.compile(r"^(-?)(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")


@dataclass(frozen=True, slots=True)
class TranscoderStats:
    """The latest progress report.

    The first output of the transcoder is the stream copy into the recording, so ``frame``, ``fps`` and
    ``bitrate_kbps`` describe what the publisher sends (frames received, ingest bitrate) and ``speed`` is media
    time over wall time for the whole pipeline.

    ``fps``, ``speed`` and ``bitrate_kbps`` are over the last few seconds, not ffmpeg's averages since the start
    (which a long stream or a quiet reconnect would hide anything in): with input arriving in real time, speed
    is about 1.0; with the input paused, fps and speed fall to 0; a transcoder that cannot keep up holds speed
    below 1.0 while the publisher's socket backs up.
    """

    fps: float = 0.0
    speed: float = 0.0
    out_time_s: float = 0.0
    bitrate_kbps: float = 0.0
    frame: int = 0
    dup_frames: int = 0
    drop_frames: int = 0
    total_size: int = 0
    ended: bool = False
    # time.monotonic() of the report; None before the first one.
    updated_at: float | None = None


def _float(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _int(value: str) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        return None


def _clock_seconds(value: str) -> float | None:
    match = _CLOCK.match(value.strip())
    if match is None:
        return None
    sign, hours, minutes, seconds = match.groups()
    total = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return -total if sign else total


class ProgressParser:
    """Feed it stdout lines; it returns a new ``TranscoderStats`` at the end of each report block.

    Values ffmpeg reports as ``N/A`` (bitrate before the first output bytes, speed at the start) keep the
    previous report's value, and a time before the start counts as zero.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, window: float = 5.0) -> None:
        self._clock = clock
        self._window = window
        self._block: dict[str, str] = {}
        self._stats = TranscoderStats()
        # (time, frame, out_time_s, total_size) of recent reports, oldest first.
        self._samples: deque[tuple[float, int, float, int]] = deque()

    @property
    def stats(self) -> TranscoderStats:
        return self._stats

    def feed(self, line: str) -> TranscoderStats | None:
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        key, value = key.strip(), value.strip()
        if key != "progress":
            self._block[key] = value
            return None
        block, self._block = self._block, {}
        self._stats = self._merge(block, ended=value == "end")
        return self._stats

    def _merge(self, block: dict[str, str], *, ended: bool) -> TranscoderStats:
        old = self._stats
        fps = _float(block.get("fps", ""))
        frame = _int(block.get("frame", ""))
        dup = _int(block.get("dup_frames", ""))
        drop = _int(block.get("drop_frames", ""))
        total_size = _int(block.get("total_size", ""))

        bitrate: float | None = None
        if match := _BITRATE.match(block.get("bitrate", "")):
            bitrate = _float(match.group(1))
        speed: float | None = None
        if match := _SPEED.match(block.get("speed", "")):
            speed = _float(match.group(1))

        out_time: float | None = None
        out_time_us = _int(block.get("out_time_us", ""))
        if out_time_us is not None:
            out_time = out_time_us / 1_000_000
        elif "out_time" in block:
            out_time = _clock_seconds(block["out_time"])

        now = self._clock()
        stats = TranscoderStats(
            fps=old.fps if fps is None else max(0.0, fps),
            speed=old.speed if speed is None else max(0.0, speed),
            out_time_s=old.out_time_s if out_time is None else max(0.0, out_time),
            bitrate_kbps=old.bitrate_kbps if bitrate is None else max(0.0, bitrate),
            frame=old.frame if frame is None else max(0, frame),
            dup_frames=old.dup_frames if dup is None else max(0, dup),
            drop_frames=old.drop_frames if drop is None else max(0, drop),
            total_size=old.total_size if total_size is None else max(0, total_size),
            ended=ended,
            updated_at=now,
        )
        return self._recent(stats, now)

    def _recent(self, stats: TranscoderStats, now: float) -> TranscoderStats:
        """Replace ffmpeg's since-the-start averages by rates over the window, once it spans a second."""
        self._samples.append((now, stats.frame, stats.out_time_s, stats.total_size))
        # Keep one sample at or beyond the window's start, so the span covers the whole window.
        while len(self._samples) > 2 and now - self._samples[1][0] >= self._window:
            self._samples.popleft()
        then, frame, out_time, size = self._samples[0]
        elapsed = now - then
        if elapsed < MIN_WINDOW_S:
            return stats
        media = stats.out_time_s - out_time
        return replace(
            stats,
            fps=round(max(0, stats.frame - frame) / elapsed, 2),
            speed=round(max(0.0, media) / elapsed, 3),
            bitrate_kbps=round(max(0, stats.total_size - size) * 8 / 1000 / media, 1) if media > 0 else 0.0,
        )
