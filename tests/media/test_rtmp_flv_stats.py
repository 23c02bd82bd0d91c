"""FLV writing (what the app pipes into ffmpeg) and ingest stats from tags."""

from __future__ import annotations

import pytest

from livestream.media.rtmp.flv import (
    FLV_HEADER,
    FLVError,
    FLVTag,
    flv_header,
    flv_tag,
    is_video_keyframe,
    read_flv,
)
from livestream.media.rtmp.stats import IngestStats


def test_flv_header_layout() -> None:
    assert flv_header(True, True) == b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"
    assert flv_header(False, True)[4] == 0x01
    assert flv_header(True, False)[4] == 0x04
    assert flv_header(True, True) == FLV_HEADER


def test_flv_tag_layout_with_extended_timestamp() -> None:
    tag = flv_tag(9, 0x12345678, b"\x17\x01abc")
    assert tag[:11] == b"\x09\x00\x00\x05\x34\x56\x78\x12\x00\x00\x00"
    assert tag[11:16] == b"\x17\x01abc"
    assert tag[16:] == (11 + 5).to_bytes(4, "big")


def test_flv_round_trip() -> None:
    tags = [FLVTag(18, 0, b"\x02\x00\x0aonMetaData"), FLVTag(9, 0, b"\x17\x00"), FLVTag(8, 0x01000000, b"\xaf\x01")]
    data = flv_header(True, True) + b"".join(flv_tag(t.tag_type, t.timestamp_ms, t.payload) for t in tags)
    assert list(read_flv(data)) == tags


@pytest.mark.parametrize(("tag_type", "size"), [(7, 1), (9, 0x1000000)])
def test_flv_tag_refuses_what_flv_cannot_hold(tag_type: int, size: int) -> None:
    with pytest.raises(FLVError):
        flv_tag(tag_type, 0, bytes(size))


def test_read_flv_refuses_truncation() -> None:
    with pytest.raises(FLVError):
        list(read_flv(FLV_HEADER + flv_tag(9, 0, b"\x17\x01")[:-6]))


def test_keyframe_detection() -> None:
    assert is_video_keyframe(b"\x17\x01")
    assert not is_video_keyframe(b"\x27\x01")
    assert is_video_keyframe(b"\x91hvc1")  # enhanced RTMP: ExHeader bit, frame type 1, CodedFrames
    assert not is_video_keyframe(b"")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


AVC_SEQUENCE_HEADER = b"\x17\x00\x00\x00\x00" + bytes(20)
AAC_SEQUENCE_HEADER = b"\xaf\x00\x12\x10"


def publish_seconds(stats: IngestStats, clock: Clock, seconds: int, *, fps: int = 30, gop: int = 60) -> None:
    """Tags of a 30 fps stream, 2 s GOPs, 1000 bytes a frame, 43 AAC frames a second of 200 bytes, in real time."""
    stats.record(9, 0, AVC_SEQUENCE_HEADER)
    stats.record(8, 0, AAC_SEQUENCE_HEADER)
    for frame in range(seconds * fps):
        timestamp = frame * 1000 // fps
        clock.now = 100.0 + timestamp / 1000
        stats.record(9, timestamp, (b"\x17\x01" if frame % gop == 0 else b"\x27\x01") + bytes(998))
        if frame % 7 == 0:
            stats.record(8, timestamp, b"\xaf\x01" + bytes(198))


def test_stats_of_a_steady_stream() -> None:
    clock = Clock()
    stats = IngestStats(window=5.0, clock=clock, wall_clock=lambda: 1_700_000_000.0)
    publish_seconds(stats, clock, 10)
    assert (stats.video_codec, stats.video_codec_id) == ("h264", 7)
    assert (stats.audio_codec, stats.audio_codec_id) == ("aac", 10)
    assert stats.video_frames == 300  # the sequence header is no frame
    assert stats.keyframes == 5
    assert stats.fps == pytest.approx(30, rel=0.01)
    assert stats.keyframe_interval == pytest.approx(2.0, rel=0.01)
    # 30 frames of 1000 bytes and ~4.3 audio frames of 200 bytes a second: ~247 kbit/s
    assert stats.bitrate_bps == pytest.approx((30 * 1000 + 30 / 7 * 200) * 8, rel=0.05)
    assert stats.last_timestamp_ms == 9966
    assert stats.last_tag_wall_time == 1_700_000_000.0
    snapshot = stats.snapshot()
    assert (snapshot["video_codec"], snapshot["tags"]) == ("h264", stats.tags)


def test_stats_decay_when_the_publisher_stalls() -> None:
    clock = Clock()
    stats = IngestStats(window=5.0, clock=clock)
    publish_seconds(stats, clock, 3)
    assert stats.bitrate_bps > 0
    clock.now += 10
    assert stats.bitrate_bps == 0
    assert stats.fps == 0


def test_stats_before_any_tag() -> None:
    stats = IngestStats()
    assert stats.bitrate_bps == 0
    assert stats.fps == 0
    assert stats.keyframe_interval is None
    assert (stats.video_codec, stats.audio_codec) == (None, None)
    assert stats.last_tag_wall_time is None


def test_enhanced_rtmp_codecs() -> None:
    stats = IngestStats()
    stats.record(9, 0, b"\x90hvc1" + bytes(10))  # SequenceStart
    stats.record(9, 33, b"\x91hvc1" + bytes(10))  # key frame, CodedFrames
    stats.record(8, 0, b"\x90Opus" + bytes(4))
    assert stats.video_codec == "hevc"
    assert (stats.video_frames, stats.keyframes) == (1, 1)
    assert stats.audio_codec == "opus"
