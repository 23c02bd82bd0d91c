"""Presentation timestamps read straight from MPEG-TS files: how long a kept HLS segment lasts.

A segment of our ladder starts on a forced keyframe, so its start is the PTS of its first video PES packet; its
duration is the next segment's start minus its own. Only the first and last few kilobytes of a file are read.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

PACKET = 188
SYNC = 0x47
PTS_HZ = 90_000
PTS_WRAP = 1 << 33
# Enough packets to pass the PAT, the PMT and a keyframe's first PES header.
HEAD_BYTES = 64 * 1024
TAIL_BYTES = 256 * 1024


def _pes_timestamps(data: bytes, *, video_only: bool = True) -> Iterator[int]:
    """The PTS of every PES packet that starts in ``data`` (whole TS packets, aligned on the sync byte)."""
    start = data.find(bytes([SYNC]))
    # A sync byte followed by another one packet later: the packet grid (a 0x47 inside a payload is not).
    while start >= 0 and start + PACKET < len(data) and data[start + PACKET] != SYNC:
        start = data.find(bytes([SYNC]), start + 1)
    if start < 0:
        return
    for offset in range(start, len(data) - PACKET + 1, PACKET):
        packet = data[offset : offset + PACKET]
        if packet[0] != SYNC or not packet[1] & 0x40:  # not aligned, or no payload unit start
            continue
        control = (packet[3] >> 4) & 0x3
        payload = 4
        if control & 0x2:
            payload += 1 + packet[4]
        if not control & 0x1 or payload + 14 > PACKET:
            continue
        pes = packet[payload:]
        if pes[:3] != b"\x00\x00\x01":
            continue
        stream_id = pes[3]
        if video_only and not 0xE0 <= stream_id <= 0xEF:
            continue
        if not video_only and not (0xC0 <= stream_id <= 0xEF):
            continue
        if not (pes[7] >> 6) & 0x2:
            continue
        p = pes[9:14]
        yield ((p[0] >> 1) & 0x07) << 30 | p[1] << 22 | (p[2] >> 1) << 15 | p[3] << 7 | p[4] >> 1


def first_pts(path: Path) -> int | None:
    """The first video PTS of the file (any PES PTS when it has no video); None when there is none."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    for video_only in (True, False):
        for pts in _pes_timestamps(head, video_only=video_only):
            return pts
    return None


def tail_span(path: Path) -> tuple[int, int] | None:
    """(last video PTS, the shortest gap between video frames seen) near the end of the file, in 90 kHz ticks."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - TAIL_BYTES) // PACKET * PACKET)
        tail = handle.read()
    stamps = sorted(set(_pes_timestamps(tail)))
    if not stamps:
        return None
    gaps = [b - a for a, b in itertools.pairwise(stamps) if b > a]
    return stamps[-1], min(gaps) if gaps else PTS_HZ // 30


def ticks_between(start: int, end: int) -> int:
    """``end - start`` across the 33-bit PTS wrap (every 26.5 hours)."""
    return (end - start) % PTS_WRAP


def seconds(ticks: int) -> float:
    return ticks / PTS_HZ
