"""How a publisher connection feeds its pipeline, with or without onMetaData (and with nonsense in it)."""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Any

import pytest

from livestream.media.ingest import AUDIO, SCRIPT, VIDEO, IngestSession, LivePipeline, _source_info


class _Manager:
    def __init__(self) -> None:
        self.started: list[tuple[dict[str, Any], bool | None]] = []
        self.fed: list[tuple[int, int]] = []

    async def start_transcoder(
        self, pipeline: LivePipeline, metadata: dict[str, Any], *, has_audio: bool | None = None
    ) -> None:
        self.started.append((metadata, has_audio))
        pipeline.transcoder = object()  # type: ignore[assignment]

    async def feed(self, pipeline: LivePipeline, tag_type: int, timestamp: int, payload: bytes) -> None:
        self.fed.append((tag_type, timestamp))


def _session() -> tuple[IngestSession, _Manager]:
    manager = _Manager()
    pipeline = LivePipeline(stream_id=uuid.uuid4(), user_id=uuid.uuid4(), out_dir=Path("/nonexistent"))
    return IngestSession(manager, pipeline), manager  # type: ignore[arg-type]


async def test_without_metadata_the_first_video_tag_starts_the_transcoder_with_held_tags() -> None:
    session, manager = _session()
    await session.on_tag(AUDIO, 0, b"\xaf\x00")
    await session.on_tag(SCRIPT, 0, b"meta")
    assert manager.started == []
    await session.on_tag(VIDEO, 0, b"\x17\x00")
    await session.on_tag(VIDEO, 33, b"\x27\x01")
    assert len(manager.started) == 1
    metadata, has_audio = manager.started[0]
    assert has_audio is True
    assert _source_info(metadata, has_audio=has_audio).audio is True
    assert manager.fed == [(AUDIO, 0), (VIDEO, 0), (VIDEO, 33)]


async def test_video_only_source_is_not_declared_with_audio() -> None:
    session, manager = _session()
    await session.on_tag(VIDEO, 0, b"\x17\x00")
    metadata, has_audio = manager.started[0]
    assert has_audio is False
    assert _source_info(metadata, has_audio=has_audio).audio is False


def test_source_info_from_metadata() -> None:
    info = _source_info(
        {"width": 1920.0, "height": 1080.0, "framerate": 60.0, "videodatarate": 6000.0, "audiocodecid": 10.0}
    )
    assert (info.width, info.height, info.fps, info.video_bitrate_kbps, info.audio) == (1920, 1080, 60.0, 6000, True)
    silent = _source_info({"width": 640.0, "height": 360.0})
    assert silent.audio is False


@pytest.mark.parametrize("key", ["width", "height", "framerate", "videodatarate", "audiodatarate"])
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, -1920.0, 0.0, 1e300, 10**400, True, "1920"])
def test_source_info_treats_impossible_metadata_as_absent(key: str, value: object) -> None:
    """onMetaData is the publisher's word: Infinity once raised OverflowError and closed the connection."""
    info = _source_info({key: value})
    assert (info.width, info.height, info.fps, info.video_bitrate_kbps) == (1280, 720, 30.0, None)
    assert info.audio is False


def test_source_info_keeps_plausible_extremes_and_drops_sizes_too_small_to_encode() -> None:
    info = _source_info({"width": 7680.0, "height": 4320.0, "framerate": 240.0, "videodatarate": 100_000.0})
    assert (info.width, info.height, info.fps, info.video_bitrate_kbps) == (7680, 4320, 240.0, 100_000)
    tiny = _source_info({"width": 1.0, "height": 0.5})  # SourceInfo refuses these: they once raised ValueError
    assert (tiny.width, tiny.height) == (1280, 720)
