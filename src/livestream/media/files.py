"""Where a stream's media lives on the ingest node's disk, and the marker that says ffmpeg is done with it.

``live/<stream_id>/``: the HLS ladder (``master.m3u8``, ``v{i}/index.m3u8``, segments ``v{i}/p{part}_{n}.ts``)
and the thumbnail; ``recordings/<stream_id>/part-{part}.ts``: the source as it came. Both are the archive's input
and are deleted once the archive is ready and stored.
"""

from __future__ import annotations

import uuid
from pathlib import Path

# Written into the live directory once the stream's transcoder has exited (finished or killed).
FINISHED_MARKER = ".finished"


def live_dir(media_dir: Path, stream_id: uuid.UUID) -> Path:
    return media_dir / "live" / str(stream_id)


def recordings_dir(media_dir: Path, stream_id: uuid.UUID) -> Path:
    return media_dir / "recordings" / str(stream_id)


def recording_parts(media_dir: Path, stream_id: uuid.UUID) -> list[Path]:
    folder = recordings_dir(media_dir, stream_id)
    return sorted(folder.glob("part-*.ts")) if folder.is_dir() else []


def mark_finished(media_dir: Path, stream_id: uuid.UUID) -> None:
    folder = live_dir(media_dir, stream_id)
    if folder.is_dir():
        (folder / FINISHED_MARKER).touch()


def clear_finished(media_dir: Path, stream_id: uuid.UUID) -> None:
    (live_dir(media_dir, stream_id) / FINISHED_MARKER).unlink(missing_ok=True)


def is_finished(media_dir: Path, stream_id: uuid.UUID) -> bool:
    return (live_dir(media_dir, stream_id) / FINISHED_MARKER).exists()


def has_segments(media_dir: Path, stream_id: uuid.UUID) -> bool:
    """Any kept ladder segment with bytes in it (blocking: run it in a thread)."""
    for segment in live_dir(media_dir, stream_id).glob("v*/p*_*.ts"):
        try:
            if segment.stat().st_size > 0:
                return True
        except OSError:
            continue
    return False


def seconds_since_last_write(media_dir: Path, stream_id: uuid.UUID, now: float) -> float:
    """How long nothing in the stream's live directory has changed (blocking: run it in a thread)."""
    import os

    folder = live_dir(media_dir, stream_id)
    newest = 0.0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            try:
                newest = max(newest, os.stat(os.path.join(root, name)).st_mtime)
            except OSError:
                continue
    return now - newest if newest else float("inf")


def remove_stream_media(media_dir: Path, stream_id: uuid.UUID) -> None:
    """The stream's live segments and recording (blocking: run it in a thread)."""
    import shutil

    shutil.rmtree(live_dir(media_dir, stream_id), ignore_errors=True)
    shutil.rmtree(recordings_dir(media_dir, stream_id), ignore_errors=True)
