"""The ffmpeg command line for one live stream, and small helpers for its pipes.

One process per stream: FLV on stdin, three outputs.

1. the recording: a stream copy of the source into MPEG-TS (a crash mid-write leaves a playable file);
2. the HLS ladder (segments kept for the archive): every rendition from one decode, keyframes forced at the same
   timestamps in every rendition (``-force_key_frames``, no scene-cut keyframes) so segments line up and players
   can switch between them, or the source copied as it is in passthrough mode;
3. the thumbnail: one JPEG replaced every ``thumbnail_interval`` seconds, written to a temporary name and renamed.

The recording is the first output on purpose: ``-progress`` reports ``frame``, ``fps`` and ``bitrate`` for the
first output, so they describe what the publisher sends.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from livestream.media.ladder import Rendition, SourceInfo

MASTER_PLAYLIST = "master.m3u8"
VARIANT_PLAYLIST = "index.m3u8"
THUMBNAIL = "thumbnail.jpg"
THUMBNAIL_WIDTH = 480
DEFAULT_PRESET = "veryfast"
FAST_PRESET = "superfast"
# Encoded pixels per second above which the ladder drops to FAST_PRESET. Measured on 2 cores: the 720p30 ladder
# (720/480/360, 47 Mpx/s) costs about 0.9 core on veryfast; the 1080p30 ladder (109 Mpx/s) about 1.8 cores on
# veryfast, which cannot keep real time beside anything else, and about 1.2 on superfast.
FAST_PRESET_ABOVE_PIXELS_PER_S = 60_000_000
# Assumed when the metadata has no frame rate; only sizes the GOP limit, forced keyframes do the real work.
FALLBACK_FPS = 30.0


def default_ffmpeg() -> str:
    """The binary shipped in the imageio-ffmpeg wheel."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


@dataclass(frozen=True, slots=True)
class HlsLayout:
    """Where the files of one live stream go: ``out_dir/master.m3u8``, ``out_dir/v{i}/index.m3u8`` and segments."""

    out_dir: Path
    variants: int

    @property
    def master(self) -> Path:
        return self.out_dir / MASTER_PLAYLIST

    @property
    def thumbnail(self) -> Path:
        return self.out_dir / THUMBNAIL

    def variant_dir(self, index: int) -> Path:
        return self.out_dir / f"v{index}"

    def variant_playlist(self, index: int) -> Path:
        return self.variant_dir(index) / VARIANT_PLAYLIST

    @property
    def variant_playlists(self) -> list[Path]:
        return [self.variant_playlist(i) for i in range(self.variants)]


def segment_prefix(part: int) -> str:
    """Segment names of one ffmpeg process (a part): ``p001_0.ts``, ``p001_1.ts``… A process started after a
    crash writes the next part beside the earlier ones instead of over them."""
    if not 1 <= part <= 999:
        raise ValueError(f"part {part} is out of range")
    return f"p{part:03d}_"


def _seconds(value: float) -> str:
    """A duration as ffmpeg reads it, without float noise (``1``, ``0.5``)."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _check_path(path: Path) -> str:
    text = str(path)
    # ffmpeg expands %d and %v in the HLS and image2 names; a literal % in a directory would be read as one.
    if "%" in text:
        raise ValueError(f"ffmpeg output paths cannot contain '%': {text}")
    return text


def gop_frames(source: SourceInfo, segment_seconds: float) -> int:
    """The x264 keyframe interval limit: two segments' worth, so only the forced keyframes start segments."""
    fps = source.fps if source.fps > 0 else FALLBACK_FPS
    return max(2, 2 * math.ceil(fps * segment_seconds))


def choose_preset(source: SourceInfo, ladder: Sequence[Rendition]) -> str:
    """veryfast while the ladder is small, superfast for big ones (1080p, or 720p at 60 fps)."""
    fps = source.fps if source.fps > 0 else FALLBACK_FPS
    pixels_per_s = sum(r.width * r.height for r in ladder if not r.copy) * fps
    return FAST_PRESET if pixels_per_s > FAST_PRESET_ABOVE_PIXELS_PER_S else DEFAULT_PRESET


def thumbnail_width(source: SourceInfo) -> int:
    return max(2, min(THUMBNAIL_WIDTH, source.width) // 2 * 2)


def thumbnail_filter(source: SourceInfo, interval: float) -> str:
    # The first frame at once, then one per interval; quoted so the graph parser leaves the comma alone.
    select = f"select='isnan(prev_selected_t)+gte(t-prev_selected_t,{_seconds(interval)})'"
    return f"{select},scale={thumbnail_width(source)}:-2,setsar=1"


def filter_graph(source: SourceInfo, ladder: Sequence[Rendition], thumbnail_interval: float) -> str:
    """One decode, split into every encoded rendition and the thumbnail; output labels ``[v{i}]`` and ``[th]``."""
    thumb = thumbnail_filter(source, thumbnail_interval)
    encoded = [r for r in ladder if not r.copy]
    if not encoded:
        return f"[0:v:0]{thumb}[th]"
    branches = "".join(f"[s{i}]" for i in range(len(encoded) + 1))
    parts = [f"[0:v:0]split={len(encoded) + 1}{branches}"]
    parts += [f"[s{i}]scale={r.width}:{r.height},setsar=1,format=yuv420p[v{i}]" for i, r in enumerate(encoded)]
    parts.append(f"[s{len(encoded)}]{thumb}[th]")
    return ";".join(parts)


def build_command(
    *,
    ffmpeg: str,
    source: SourceInfo,
    ladder: Sequence[Rendition],
    out_dir: Path,
    recording_path: Path,
    segment_seconds: float = 1.0,
    thumbnail_interval: float = 10.0,
    playlist_size: int = 6,
    part: int = 1,
    preset: str | None = None,
    loglevel: str = "warning",
) -> list[str]:
    """The argument list (never a shell string) for one live stream; see the module docstring."""
    if not ladder:
        raise ValueError("the ladder has no renditions")
    passthrough = any(r.copy for r in ladder)
    if passthrough and len(ladder) != 1:
        raise ValueError("a passthrough ladder has exactly one rendition")
    if segment_seconds <= 0 or thumbnail_interval <= 0:
        raise ValueError("segment_seconds and thumbnail_interval must be positive")

    layout = HlsLayout(out_dir, len(ladder))
    seg = _seconds(segment_seconds)
    audio = source.audio

    args = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        f"level+{loglevel}",
        "-nostats",
        "-progress",
        "pipe:1",
        "-y",
    ]
    if passthrough:
        # Only the thumbnail decodes; keyframes are enough for it and cost a fraction of a full decode.
        args += ["-skip_frame:v", "nokey"]
    # Input: FLV tags on stdin. No read timeout: a publisher reconnecting leaves stdin quiet for a while.
    args += [
        "-f",
        "flv",
        "-i",
        "pipe:0",
        "-filter_complex",
        filter_graph(source, ladder, thumbnail_interval),
    ]

    # 1. The recording, the source as it came.
    args += ["-map", "0:v:0"]
    if audio:
        args += ["-map", "0:a:0"]
    args += ["-c", "copy", "-f", "mpegts", _check_path(recording_path)]

    # 2. The HLS ladder.
    stream_map: list[str] = []
    if passthrough:
        args += ["-map", "0:v:0"]
        if audio:
            args += ["-map", "0:a:0"]
        args += ["-c", "copy"]
        stream_map.append("v:0,a:0" if audio else "v:0")
    else:
        for i in range(len(ladder)):
            args += ["-map", f"[v{i}]"]
            if audio:
                args += ["-map", "0:a:0"]
            stream_map.append(f"v:{i},a:{i}" if audio else f"v:{i}")
        args += [
            "-c:v",
            "libx264",
            "-preset",
            preset or choose_preset(source, ladder),
            "-tune",
            "zerolatency",
            "-profile:v",
            "high",
            "-g",
            str(gop_frames(source, segment_seconds)),
            "-sc_threshold",
            "0",
            "-force_key_frames:v",
            f"expr:gte(t,n_forced*{seg})",
        ]
        for i, r in enumerate(ladder):
            args += [
                f"-b:v:{i}",
                f"{r.video_bitrate_kbps}k",
                f"-maxrate:v:{i}",
                f"{r.maxrate}k",
                f"-bufsize:v:{i}",
                f"{r.bufsize}k",
            ]
        if audio:
            args += ["-c:a", "aac", "-ac", "2"]
            for i, r in enumerate(ladder):
                args += [f"-b:a:{i}", f"{max(r.audio_bitrate_kbps, 32)}k"]
    out = _check_path(out_dir)
    args += [
        "-f",
        "hls",
        "-hls_time",
        seg,
        "-hls_list_size",
        str(playlist_size),
        # Segments stay on disk after they leave the live playlist: the archive is made of them (D16).
        "-hls_flags",
        "independent_segments+program_date_time+temp_file",
        "-hls_segment_type",
        "mpegts",
        "-hls_segment_filename",
        f"{out}/v%v/{segment_prefix(part)}%d.ts",
        "-master_pl_name",
        MASTER_PLAYLIST,
        "-var_stream_map",
        " ".join(stream_map),
        f"{out}/v%v/{VARIANT_PLAYLIST}",
    ]

    # 3. The thumbnail.
    args += [
        "-map",
        "[th]",
        "-c:v",
        "mjpeg",
        "-q:v",
        "5",
        "-fps_mode",
        "vfr",
        "-f",
        "image2",
        "-update",
        "1",
        "-atomic_writing",
        "1",
        _check_path(layout.thumbnail),
    ]
    return args


class LineSplitter:
    """Bytes in, whole lines out; a line longer than ``max_line`` is cut there, so memory stays bounded."""

    def __init__(self, max_line: int = 4096) -> None:
        self._max = max_line
        self._pending = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[str]:
        lines: list[str] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            self._take(data[start:end], lines, complete=True)
            start = end + 1
        self._take(data[start:], lines, complete=False)
        return lines

    def flush(self) -> list[str]:
        lines: list[str] = []
        if self._pending and not self._discarding:
            lines.append(self._decode(bytes(self._pending)))
        self._pending.clear()
        self._discarding = False
        return lines

    def _take(self, piece: bytes, lines: list[str], *, complete: bool) -> None:
        if not self._discarding:
            room = self._max - len(self._pending)
            self._pending += piece[:room]
            if len(piece) > room:
                lines.append(self._decode(bytes(self._pending)) + " …")
                self._pending.clear()
                self._discarding = True
        if complete:
            if not self._discarding:
                lines.append(self._decode(bytes(self._pending)))
            self._pending.clear()
            self._discarding = False

    @staticmethod
    def _decode(raw: bytes) -> str:
        return raw.decode("utf-8", "replace").rstrip("\r")


async def pump_lines(
    stream: asyncio.StreamReader, on_line: Callable[[str], None], *, max_line: int = 4096, chunk: int = 65536
) -> None:
    """Read ``stream`` to EOF, handing each line to ``on_line``; never holds more than one chunk and one line."""
    splitter = LineSplitter(max_line)
    while data := await stream.read(chunk):
        for line in splitter.feed(data):
            on_line(line)
    for line in splitter.flush():
        on_line(line)
