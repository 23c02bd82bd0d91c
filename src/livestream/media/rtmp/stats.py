"""Ingest health of one publisher, computed from the FLV tags it sends.

Rates over wall time use a sliding window (``window`` seconds); the frame rate and keyframe interval use the
tags' own timestamps, so they describe the stream as encoded, whatever the network did to its pacing. Each tag's
wall-clock arrival is kept too (``last_arrival``, ``arrivals_since``, the last ``history`` of them): it is recorded
before the session's ``on_tag`` runs, so inside ``on_tag`` ``stats.last_arrival`` is the arrival of that very tag.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["IngestStats", "TagArrival", "audio_codec_name", "video_codec_name"]

AUDIO: Final = 8
VIDEO: Final = 9
SCRIPT: Final = 18
_MASK: Final = 0xFFFFFFFF

VIDEO_CODECS: Final = {
    2: "h263",
    3: "screen",
    4: "vp6",
    5: "vp6a",
    6: "screen2",
    7: "h264",
    12: "hevc",
    13: "av1",
}
VIDEO_FOURCCS: Final = {b"avc1": "h264", b"hvc1": "hevc", b"av01": "av1", b"vp09": "vp9", b"vp08": "vp8"}
AUDIO_CODECS: Final = {
    0: "pcm",
    1: "adpcm",
    2: "mp3",
    3: "pcm_le",
    4: "nellymoser",
    5: "nellymoser",
    6: "nellymoser",
    7: "g711a",
    8: "g711u",
    10: "aac",
    11: "speex",
    13: "opus",
    14: "mp3",
}
AUDIO_FOURCCS: Final = {
    b"mp4a": "aac",
    b"Opus": "opus",
    b"fLaC": "flac",
    b"ac-3": "ac3",
    b"ec-3": "eac3",
    b".mp3": "mp3",
}


def video_codec_name(codec_id: int | None, fourcc: bytes | None = None) -> str | None:
    if fourcc is not None:
        return VIDEO_FOURCCS.get(fourcc, fourcc.decode("latin-1").strip())
    return None if codec_id is None else VIDEO_CODECS.get(codec_id, f"codec-{codec_id}")


def audio_codec_name(codec_id: int | None, fourcc: bytes | None = None) -> str | None:
    if fourcc is not None:
        return AUDIO_FOURCCS.get(fourcc, fourcc.decode("latin-1").strip())
    return None if codec_id is None else AUDIO_CODECS.get(codec_id, f"codec-{codec_id}")


@dataclass(frozen=True, slots=True)
class TagArrival:
    tag_type: int
    timestamp_ms: int
    size: int
    wall_time: float  # time.time() when the last byte of the tag was read from the socket
    keyframe: bool = False


@dataclass(frozen=True, slots=True)
class _VideoInfo:
    frame: bool  # a coded picture (not a sequence header, end of sequence or command)
    keyframe: bool
    codec_id: int | None
    fourcc: bytes | None


def _video_info(payload: bytes) -> _VideoInfo:
    if not payload:
        return _VideoInfo(False, False, None, None)
    first = payload[0]
    frame_type = (first >> 4) & 0x07
    if first & 0x80:  # enhanced RTMP: ExVideoTagHeader, the low nibble is the packet type, a FourCC follows
        packet_type = first & 0x0F
        fourcc = payload[1:5] if len(payload) >= 5 else None
        # 1 CodedFrames, 3 CodedFramesX, 6 Multitrack carry pictures; 0/2/4/5 are headers and metadata.
        frame = packet_type in (1, 3, 6) and frame_type != 5
        return _VideoInfo(frame, frame and frame_type == 1, None, fourcc)
    codec = first & 0x0F
    frame = frame_type != 5
    if codec in (7, 12, 13) and (len(payload) < 2 or payload[1] != 1):
        frame = False  # AVCPacketType 0 (sequence header) or 2 (end of sequence)
    return _VideoInfo(frame, frame and frame_type == 1, codec, None)


class IngestStats:
    def __init__(
        self,
        *,
        window: float = 5.0,
        history: int = 1024,
        keyframes_kept: int = 8,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.window = window
        self._clock = clock
        self._wall_clock = wall_clock
        self.started_at: float = wall_clock()
        self.tags = 0
        self.bytes_total = 0
        self.video_frames = 0
        self.audio_frames = 0
        self.keyframes = 0
        self.video_codec_id: int | None = None
        self.audio_codec_id: int | None = None
        self.video_fourcc: bytes | None = None
        self.audio_fourcc: bytes | None = None
        self.last_timestamp_ms: int | None = None
        self.last_video_timestamp_ms: int | None = None
        self.last_audio_timestamp_ms: int | None = None
        self.last_arrival: TagArrival | None = None
        self._arrivals: deque[TagArrival] = deque(maxlen=history)
        self.metadata: dict[str, Any] = {}
        self._first_at: float | None = None
        self._bytes: deque[tuple[float, int]] = deque()
        self._bytes_in_window = 0
        self._frames: deque[tuple[float, int]] = deque()
        self._keyframe_times: deque[int] = deque(maxlen=max(2, keyframes_kept))

    # --- recording ---------------------------------------------------------------------------------------

    def record(
        self,
        tag_type: int,
        timestamp_ms: int,
        payload: bytes,
        *,
        wall_time: float | None = None,
        now: float | None = None,
    ) -> TagArrival:
        """Account for one tag; ``wall_time``/``now`` default to the wall and monotonic clocks."""
        now = self._clock() if now is None else now
        wall_time = self._wall_clock() if wall_time is None else wall_time
        if self._first_at is None:
            self._first_at = now
        self.tags += 1
        self.bytes_total += len(payload)
        self._bytes.append((now, len(payload)))
        self._bytes_in_window += len(payload)
        self.last_timestamp_ms = timestamp_ms
        keyframe = False
        if tag_type == VIDEO:
            self.last_video_timestamp_ms = timestamp_ms
            info = _video_info(payload)
            if info.codec_id is not None:
                self.video_codec_id = info.codec_id
            if info.fourcc is not None:
                self.video_fourcc = info.fourcc
            if info.frame:
                self.video_frames += 1
                self._frames.append((now, timestamp_ms))
                if info.keyframe:
                    keyframe = True
                    self.keyframes += 1
                    self._keyframe_times.append(timestamp_ms)
        elif tag_type == AUDIO and payload:
            self.last_audio_timestamp_ms = timestamp_ms
            codec = payload[0] >> 4
            self.audio_codec_id = codec
            if codec == 9 and len(payload) >= 5:  # enhanced RTMP audio: a FourCC follows
                self.audio_fourcc = payload[1:5]
            if not (codec == 10 and len(payload) >= 2 and payload[1] == 0):  # not the AAC sequence header
                self.audio_frames += 1
        self._prune(now)
        arrival = TagArrival(tag_type, timestamp_ms, len(payload), wall_time, keyframe)
        self.last_arrival = arrival
        self._arrivals.append(arrival)
        return arrival

    def record_metadata(self, metadata: dict[str, Any]) -> None:
        self.metadata = dict(metadata)

    def _prune(self, now: float) -> None:
        horizon = now - self.window
        while self._bytes and self._bytes[0][0] < horizon:
            self._bytes_in_window -= self._bytes.popleft()[1]
        while self._frames and self._frames[0][0] < horizon:
            self._frames.popleft()

    # --- reading -----------------------------------------------------------------------------------------

    @property
    def bitrate_bps(self) -> float:
        """Tag bytes received in the last ``window`` seconds, in bits per second."""
        if self._first_at is None:
            return 0.0
        now = self._clock()
        self._prune(now)
        # A young connection has not filled the window; at least a second keeps the first keyframe from
        # reading as a burst of hundreds of megabits.
        span = max(min(self.window, now - self._first_at), 1.0)
        return self._bytes_in_window * 8 / span

    @property
    def fps(self) -> float:
        """Video frames per second of media time, over the frames received in the last ``window`` seconds."""
        self._prune(self._clock())
        if len(self._frames) < 2:
            return 0.0
        span_ms = (self._frames[-1][1] - self._frames[0][1]) & _MASK
        if span_ms == 0 or span_ms > 0x7FFFFFFF:
            return 0.0
        return (len(self._frames) - 1) * 1000 / span_ms

    @property
    def keyframe_interval(self) -> float | None:
        """Mean seconds of media time between the last few video keyframes; None before the second keyframe."""
        if len(self._keyframe_times) < 2:
            return None
        span_ms = (self._keyframe_times[-1] - self._keyframe_times[0]) & _MASK
        if span_ms > 0x7FFFFFFF:
            return None
        return span_ms / 1000 / (len(self._keyframe_times) - 1)

    @property
    def video_codec(self) -> str | None:
        return video_codec_name(self.video_codec_id, self.video_fourcc)

    @property
    def audio_codec(self) -> str | None:
        return audio_codec_name(self.audio_codec_id, self.audio_fourcc)

    @property
    def history(self) -> int:
        """How many of the latest arrivals are kept."""
        return self._arrivals.maxlen or 0

    def arrivals_since(self, seen: int = 0) -> list[TagArrival]:
        """The arrivals of the tags after the first ``seen`` (``tags`` counts them all), oldest first.

        Only the last ``history`` are kept: a reader more than that behind gets those, and can tell what it
        missed from ``tags``. Pass ``tags`` as it was at the previous call to read each arrival once.
        """
        missing = self.tags - max(0, seen)
        if missing <= 0:
            return []
        kept = self._arrivals
        return list(itertools.islice(kept, max(0, len(kept) - missing), None))

    @property
    def last_tag_wall_time(self) -> float | None:
        return None if self.last_arrival is None else self.last_arrival.wall_time

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "bitrate_bps": round(self.bitrate_bps, 1),
            "fps": round(self.fps, 3),
            "keyframe_interval_s": self.keyframe_interval,
            "video_codec": self.video_codec,
            "video_codec_id": self.video_codec_id,
            "audio_codec": self.audio_codec,
            "audio_codec_id": self.audio_codec_id,
            "last_timestamp_ms": self.last_timestamp_ms,
            "last_tag_wall_time": self.last_tag_wall_time,
            "tags": self.tags,
            "bytes": self.bytes_total,
            "video_frames": self.video_frames,
            "audio_frames": self.audio_frames,
            "keyframes": self.keyframes,
            "started_at": self.started_at,
        }
