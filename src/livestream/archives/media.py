"""ffmpeg runs of the archive job: the poster frame and the MP4 download. Argument lists, never shell strings."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

POSTER_WIDTH = 640
# The poster is taken this far in (a fraction of the duration, at most POSTER_MAX_S): past a black first frame.
POSTER_AT = 0.1
POSTER_MAX_S = 30.0


class MediaToolError(RuntimeError):
    """ffmpeg failed; the message carries its last lines."""


async def run_ffmpeg(ffmpeg: str, args: list[str], *, timeout: float) -> None:  # noqa: ASYNC109 - it kills
    process = await asyncio.create_subprocess_exec(
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            _, stderr = await process.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        tail = stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise MediaToolError(f"ffmpeg exited with {process.returncode}: {' | '.join(tail)[:300]}")


async def make_poster(ffmpeg: str, source: Path, duration: float, target: Path) -> None:
    at = min(duration * POSTER_AT, POSTER_MAX_S)
    await run_ffmpeg(
        ffmpeg,
        [
            "-ss",
            f"{at:.3f}",
            "-i",
            str(source),
            "-frames:v",
            "1",
            "-vf",
            f"scale='min({POSTER_WIDTH},iw)':-2",
            "-q:v",
            "4",
            "-f",
            "image2",
            str(target),
        ],
        timeout=60,
    )


async def make_mp4(ffmpeg: str, sources: list[Path], target: Path, *, timeout: float) -> None:  # noqa: ASYNC109
    """The sources (MPEG-TS recording parts) joined and remuxed into one MP4, the index first (+faststart)."""
    listing = target.with_suffix(".txt")
    # The concat demuxer's list format: one quoted path per line, a quote inside escaped.
    listing.write_text(
        "".join("file '{}'\n".format(str(path.resolve()).replace("'", "'\\''")) for path in sources),
        encoding="utf-8",
    )
    try:
        await run_ffmpeg(
            ffmpeg,
            [
                "-f",
                "concat",
                "-safe",
                "0",
                "-i",
                str(listing),
                "-map",
                "0:v:0",
                "-map",
                "0:a:0?",
                "-c",
                "copy",
                "-movflags",
                "+faststart",
                "-f",
                "mp4",
                str(target),
            ],
            timeout=timeout,
        )
    finally:
        listing.unlink(missing_ok=True)
