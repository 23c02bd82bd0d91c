"""The ABR ladder: which renditions to encode for a source, never above its resolution or bitrate.

Rung sizes are named by the short side of the picture ("720p" is 1280x720 landscape or 720x1280 portrait), so a
phone held upright gets the same bitrates per pixel as a landscape camera. Every width and height is even (4:2:0
chroma needs it) and no rendition is larger than the source in either dimension.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

TranscodeMode = Literal["abr", "passthrough"]

# (short side, video kbps, audio kbps): the standard rungs, largest first.
STANDARD_RUNGS: tuple[tuple[int, int, int], ...] = (
    (1080, 6000, 128),
    (720, 3000, 128),
    (480, 1200, 96),
    (360, 700, 64),
)
# Peak rate and VBV buffer, in percent of the average video bitrate.
MAXRATE_PERCENT = 110
BUFSIZE_PERCENT = 150
# A lower rung worse than this is not worth a viewer's time; the top rung is kept whatever its bitrate.
MIN_LOWER_RUNG_KBPS = 200
# How a lower rung's bitrate follows the source's: bitrate grows with pixel count to the power 0.75, so with the
# short side to the power 1.5.
_BITRATE_EXPONENT = 1.5
# Passthrough with no bitrate in the metadata: the audio figure for the master playlist's BANDWIDTH.
PASSTHROUGH_AUDIO_KBPS = 128


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What the publisher's onMetaData says about the stream."""

    width: int
    height: int
    fps: float
    video_bitrate_kbps: int | None
    audio: bool

    def __post_init__(self) -> None:
        if self.width < 2 or self.height < 2:
            raise ValueError(f"source size {self.width}x{self.height} is too small")
        if self.fps < 0 or not math.isfinite(self.fps):
            raise ValueError(f"source fps {self.fps} is not valid")
        if self.video_bitrate_kbps is not None and self.video_bitrate_kbps < 0:
            raise ValueError(f"source bitrate {self.video_bitrate_kbps} is negative")

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)

    @property
    def known_bitrate_kbps(self) -> int | None:
        """The metadata bitrate, or None when absent or zero (encoders in CRF mode send 0)."""
        return self.video_bitrate_kbps or None


@dataclass(frozen=True, slots=True)
class Rendition:
    """One variant of the HLS ladder. Bitrates in kbit/s; ``maxrate`` and ``bufsize`` are x264's VBV figures."""

    name: str
    width: int
    height: int
    video_bitrate_kbps: int
    audio_bitrate_kbps: int
    maxrate: int
    bufsize: int
    # Passthrough: the source's own video and audio, no encode.
    copy: bool = False

    @property
    def bandwidth_bps(self) -> int:
        """Peak bits per second, as the master playlist's BANDWIDTH wants it."""
        return (self.maxrate + self.audio_bitrate_kbps) * 1000


def reference_bitrate_kbps(short_side: int) -> int:
    """The standard video bitrate for a picture of this short side, interpolated by pixel count between rungs."""
    points = sorted((side, kbps) for side, kbps, _audio in STANDARD_RUNGS)
    low_side, low_kbps = points[0]
    if short_side <= low_side:
        return max(1, round(low_kbps * (short_side / low_side) ** 2))
    for high_side, high_kbps in points[1:]:
        if short_side <= high_side:
            share = (short_side**2 - low_side**2) / (high_side**2 - low_side**2)
            return round(low_kbps + share * (high_kbps - low_kbps))
        low_side, low_kbps = high_side, high_kbps
    return low_kbps


def _audio_kbps(short_side: int) -> int:
    for side, _video, audio in STANDARD_RUNGS:
        if short_side >= side:
            return audio
    return STANDARD_RUNGS[-1][2]


def _even_floor(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _even_round(value: float) -> int:
    return max(2, math.floor(value / 2 + 0.5) * 2)


def _size_for(source: SourceInfo, short_side: int) -> tuple[int, int]:
    """Width and height for a rung, aspect preserved, both even and neither above the source's."""
    if short_side >= source.short_side:
        return _even_floor(source.width), _even_floor(source.height)
    short = _even_floor(short_side)
    if source.width >= source.height:
        long = min(_even_round(source.width * short / source.height), _even_floor(source.width))
        return long, short
    long = min(_even_round(source.height * short / source.width), _even_floor(source.height))
    return short, long


def _rendition(name: str, width: int, height: int, video_kbps: int, audio_kbps: int) -> Rendition:
    return Rendition(
        name=name,
        width=width,
        height=height,
        video_bitrate_kbps=video_kbps,
        audio_bitrate_kbps=audio_kbps,
        maxrate=-(-video_kbps * MAXRATE_PERCENT // 100),
        bufsize=-(-video_kbps * BUFSIZE_PERCENT // 100),
    )


def build_ladder(
    source: SourceInfo, mode: TranscodeMode = "abr", *, max_height: int = STANDARD_RUNGS[0][0]
) -> list[Rendition]:
    """Renditions for ``source``, best first.

    ``abr``: the top rung is the source's own size (or ``max_height``, 1080p by default, for anything larger),
    then every standard rung below it; bitrates are the standard ones, capped by the source's and scaled down
    with it for lower rungs, so no rung is larger or richer than what the publisher sends. A lower
    ``max_height`` (720) keeps a 1080p source affordable on a small host. ``passthrough``: one rendition that
    is the source itself, copied without an encode.
    """
    if mode == "passthrough":
        return [_passthrough(source)]
    if mode != "abr":
        raise ValueError(f"unknown transcode mode {mode!r}")
    if max_height < 2:
        raise ValueError(f"max_height {max_height} is too small")

    source_kbps = source.known_bitrate_kbps
    top_side = min(source.short_side, max_height)
    sides = [top_side] + [side for side, _video, _audio in STANDARD_RUNGS if side < top_side]

    ladder: list[Rendition] = []
    for side in sides:
        width, height = _size_for(source, side)
        short = min(width, height)
        kbps = reference_bitrate_kbps(short)
        if source_kbps is not None:
            kbps = min(kbps, math.floor(source_kbps * (short / source.short_side) ** _BITRATE_EXPONENT))
        kbps = max(1, kbps)
        if ladder:
            above = ladder[-1]
            if width >= above.width or height >= above.height or kbps >= above.video_bitrate_kbps:
                continue
            if kbps < MIN_LOWER_RUNG_KBPS:
                break
        audio = _audio_kbps(short) if source.audio else 0
        ladder.append(_rendition(f"{short}p", width, height, kbps, audio))
    return ladder


def _passthrough(source: SourceInfo) -> Rendition:
    kbps = source.known_bitrate_kbps or reference_bitrate_kbps(source.short_side)
    audio = PASSTHROUGH_AUDIO_KBPS if source.audio else 0
    return replace(_rendition("source", source.width, source.height, kbps, audio), copy=True)
