"""A stream's kept media as our live transcoder leaves it, made quickly by ffmpeg from a synthetic source:
``live/<stream_id>/master.m3u8``, ``v{i}/index.m3u8`` and ``v{i}/p{part}_{n}.ts`` (1 s segments), and the
recording ``recordings/<stream_id>/part-{part}.ts``."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import imageio_ffmpeg

from livestream.media import files

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
# (width, height, video kbit/s) per rendition: a small ladder, quick to encode.
LADDER = ((480, 270, 600), (320, 180, 300))


def record_part(media_dir: Path, stream_id: uuid.UUID, part: int, seconds: float, *, start_s: float = 0.0) -> None:
    """Encode ``seconds`` of test pattern and tone into the ladder's segments and the recording of ``part``."""
    live = files.live_dir(media_dir, stream_id)
    recordings = files.recordings_dir(media_dir, stream_id)
    live.mkdir(parents=True, exist_ok=True)
    recordings.mkdir(parents=True, exist_ok=True)
    for i in range(len(LADDER)):
        (live / f"v{i}").mkdir(exist_ok=True)
    source = ["-f", "lavfi", "-i", f"testsrc2=size=480x270:rate=30:duration={seconds}"]
    source += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    split = f"[0:v]split={len(LADDER)}" + "".join(f"[s{i}]" for i in range(len(LADDER)))
    scales = [f"[s{i}]scale={w}:{h}[o{i}]" for i, (w, h, _) in enumerate(LADDER)]
    command = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *source]
    command += ["-filter_complex", ";".join([split, *scales])]
    command += ["-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"]
    command += ["-output_ts_offset", f"{start_s}", "-f", "mpegts", str(recordings / f"part-{part:03d}.ts")]
    for i in range(len(LADDER)):
        command += ["-map", f"[o{i}]", "-map", "1:a"]
    command += ["-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-sc_threshold", "0", "-c:a", "aac"]
    command += ["-force_key_frames", "expr:gte(t,n_forced*1)"]
    for i, (_, _, kbps) in enumerate(LADDER):
        command += [f"-b:v:{i}", f"{kbps}k"]
    command += ["-output_ts_offset", f"{start_s}"]
    command += ["-f", "hls", "-hls_time", "1", "-hls_list_size", "6", "-hls_flags", "independent_segments"]
    command += ["-hls_segment_filename", f"{live}/v%v/p{part:03d}_%d.ts", "-master_pl_name", "master.m3u8"]
    command += ["-var_stream_map", " ".join(f"v:{i},a:{i}" for i in range(len(LADDER))), f"{live}/v%v/index.m3u8"]
    subprocess.run(command, check=True, timeout=120, capture_output=True)


def record(media_dir: Path, stream_id: uuid.UUID, seconds: float = 4.0, *, parts: int = 1) -> None:
    """``parts`` parts of ``seconds`` each (a server restart between them), then the finished marker."""
    for part in range(1, parts + 1):
        record_part(media_dir, stream_id, part, seconds, start_s=(part - 1) * 1000.0)
    files.mark_finished(media_dir, stream_id)


def probe_duration(path: Path) -> float:
    """What ffmpeg decodes of a playlist or file, in seconds (it reads every packet)."""
    result = subprocess.run(
        [FFMPEG, "-hide_banner", "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "null", "-", "-stats"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    times = [part.split("time=")[1].split()[0] for part in result.stderr.split("\r") if "time=" in part]
    h, m, s = times[-1].split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def decodes_cleanly(path: Path) -> bool:
    result = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, timeout=120, check=False
    )
    return result.returncode == 0 and not result.stderr.strip()
