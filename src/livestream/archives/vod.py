"""An HLS VOD made of the segments viewers watched live: one file per rendition, byte-range playlists.

Input: a stream's live directory (``media/files.py``): ``master.m3u8`` and ``v{i}/p{part}_{n}.ts``, every segment
kept (ffmpeg no longer deletes them). Output, in a work directory: ``v{i}.ts`` (the rendition's segments joined
end to end; each still starts with its PAT/PMT and a keyframe), ``v{i}.m3u8`` (``#EXT-X-PLAYLIST-TYPE:VOD``,
``#EXT-X-BYTERANGE`` per segment, ``#EXT-X-DISCONTINUITY`` where one ffmpeg process (a part) gives way to the
next, ``#EXT-X-ENDLIST``) and ``master.m3u8``. No re-encode: the cost is copying bytes (docs/decisions.md, D16).

Blocking file work: run it in a thread. Durations come from the segments' own timestamps (``media/mpegts.py``),
or from ffmpeg's EXTINF where its last live playlist still lists the segment.
"""

from __future__ import annotations

import contextlib
import math
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from livestream.media import mpegts
from livestream.media.ffmpeg import MASTER_PLAYLIST, VARIANT_PLAYLIST

_SEGMENT = re.compile(r"^p(\d{3})_(\d+)\.ts$")
_VARIANT = re.compile(r"^v(\d+)$")
_BANDWIDTH = re.compile(r"(?<![-A-Z])BANDWIDTH=(\d+)")
COPY_CHUNK = 4 * 1024 * 1024


class NothingRecorded(Exception):
    """The stream has no kept segments: there is nothing to archive."""


@dataclass(frozen=True, slots=True)
class Segment:
    part: int
    index: int
    path: Path
    size: int


@dataclass(slots=True)
class Rendition:
    index: int
    segments: list[Segment]
    durations: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"v{self.index}"

    @property
    def duration(self) -> float:
        return sum(self.durations)


@dataclass(frozen=True, slots=True)
class VodBuild:
    """What ``build_vod`` wrote into the work directory."""

    media: list[Path]  # v{i}.ts
    playlists: list[Path]  # v{i}.m3u8, then master.m3u8 last
    duration: float  # seconds, of the first (top) rendition
    parts: int


def renditions(live_dir: Path) -> list[Rendition]:
    """Every rendition folder's kept segments, in (part, index) order."""
    found: list[Rendition] = []
    if not live_dir.is_dir():
        return found
    for child in sorted(live_dir.iterdir(), key=lambda p: p.name):
        match = _VARIANT.match(child.name)
        if not match or not child.is_dir():
            continue
        segments = []
        for item in child.iterdir():
            name = _SEGMENT.match(item.name)
            if name and item.is_file():
                size = item.stat().st_size
                if size > 0:
                    segments.append(Segment(int(name.group(1)), int(name.group(2)), item, size))
        segments.sort(key=lambda s: (s.part, s.index))
        if segments:
            found.append(Rendition(int(match.group(1)), segments))
    found.sort(key=lambda r: r.index)
    return found


def _listed_durations(playlist: Path) -> dict[str, float]:
    """EXTINF of each segment ffmpeg's live playlist still lists (its last few)."""
    listed: dict[str, float] = {}
    try:
        text = playlist.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return listed
    duration: float | None = None
    for line in map(str.strip, text.splitlines()):
        if line.startswith("#EXTINF:"):
            with contextlib.suppress(ValueError):
                duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#"):
            if duration is not None:
                listed[Path(line).name] = duration
            duration = None
    return listed


def measure(rendition: Rendition, live_dir: Path) -> None:
    """Fill ``rendition.durations``; segments without a readable timestamp are dropped (a torn last write)."""
    listed = _listed_durations(live_dir / rendition.name / VARIANT_PLAYLIST)
    starts = [(segment, mpegts.first_pts(segment.path)) for segment in rendition.segments]
    kept = [(segment, pts) for segment, pts in starts if pts is not None]
    rendition.segments = [segment for segment, _ in kept]
    durations: list[float] = []
    for i, (segment, pts) in enumerate(kept):
        if segment.path.name in listed:
            durations.append(listed[segment.path.name])
            continue
        following = kept[i + 1] if i + 1 < len(kept) else None
        next_start = following[1] if following is not None and following[0].part == segment.part else None
        if pts is not None and next_start is not None:
            durations.append(mpegts.seconds(mpegts.ticks_between(pts, next_start)))
            continue
        # The last segment of a part that no playlist lists (the process was killed): its own span.
        tail = mpegts.tail_span(segment.path)
        if tail is None or pts is None:
            durations.append(0.0)
        else:
            last, frame = tail
            durations.append(mpegts.seconds(mpegts.ticks_between(pts, last) + frame))
    rendition.durations = durations


def _variant_playlist(rendition: Rendition, media_name: str) -> str:
    target = max(1, math.ceil(max(rendition.durations, default=1.0)))
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:4",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    offset = 0
    part = rendition.segments[0].part if rendition.segments else 0
    for segment, duration in zip(rendition.segments, rendition.durations, strict=True):
        if segment.part != part:
            lines.append("#EXT-X-DISCONTINUITY")
            part = segment.part
        lines += [f"#EXTINF:{duration:.6f},", f"#EXT-X-BYTERANGE:{segment.size}@{offset}", media_name]
        offset += segment.size
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _peak_bps(rendition: Rendition) -> int:
    return max(
        (math.ceil(s.size * 8 / d) for s, d in zip(rendition.segments, rendition.durations, strict=True) if d >= 0.1),
        default=0,
    )


def _master(live_dir: Path, built: list[Rendition]) -> str:
    """ffmpeg's master (its final rewrite has measured bitrates, resolutions and codecs), pointed at the VOD
    playlists; made up from the segments when there is none (the process was killed before writing it)."""
    attributes: dict[str, str] = {}
    try:
        lines = (live_dir / MASTER_PLAYLIST).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:") and i + 1 < len(lines):
            variant = lines[i + 1].strip().split("/", 1)[0]
            attributes[variant] = line
    out = ["#EXTM3U", "#EXT-X-VERSION:4", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rendition in built:
        measured = _peak_bps(rendition)
        line = attributes.get(rendition.name, f"#EXT-X-STREAM-INF:BANDWIDTH={max(measured, 1)}")
        declared = _BANDWIDTH.search(line)
        if declared is not None and measured > int(declared.group(1)):
            line = _BANDWIDTH.sub(f"BANDWIDTH={measured}", line, count=1)
        out += [line, f"{rendition.name}.m3u8"]
    return "\n".join(out) + "\n"


def build_vod(live_dir: Path, work_dir: Path, progress: Callable[[float], None] | None = None) -> VodBuild:
    """Join every rendition's kept segments into ``work_dir``; ``progress(fraction)`` as bytes are copied."""
    found = renditions(live_dir)
    for rendition in found:
        measure(rendition, live_dir)
    found = [r for r in found if r.segments]
    if not found:
        raise NothingRecorded("no video was recorded for this stream")
    work_dir.mkdir(parents=True, exist_ok=True)
    total = sum(s.size for r in found for s in r.segments) or 1
    copied = 0
    media: list[Path] = []
    playlists: list[Path] = []
    for rendition in found:
        target = work_dir / f"{rendition.name}.ts"
        with target.open("wb") as out:
            for segment in rendition.segments:
                with segment.path.open("rb") as source:
                    shutil.copyfileobj(source, out, COPY_CHUNK)
                copied += segment.size
                if progress is not None:
                    progress(copied / total)
        media.append(target)
        playlist = work_dir / f"{rendition.name}.m3u8"
        playlist.write_text(_variant_playlist(rendition, target.name), encoding="utf-8")
        playlists.append(playlist)
    master = work_dir / MASTER_PLAYLIST
    master.write_text(_master(live_dir, found), encoding="utf-8")
    playlists.append(master)
    parts = len({s.part for r in found for s in r.segments})
    return VodBuild(media=media, playlists=playlists, duration=found[0].duration, parts=parts)
