"""The ABR ladder: never above the source, sensible rungs, passthrough."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livestream.media.ladder import (
    MIN_LOWER_RUNG_KBPS,
    STANDARD_RUNGS,
    Rendition,
    SourceInfo,
    build_ladder,
    reference_bitrate_kbps,
)


def source(width: int = 1280, height: int = 720, kbps: int | None = None, *, audio: bool = True) -> SourceInfo:
    return SourceInfo(width=width, height=height, fps=30, video_bitrate_kbps=kbps, audio=audio)


def shape(ladder: list[Rendition]) -> list[tuple[str, int, int, int]]:
    return [(r.name, r.width, r.height, r.video_bitrate_kbps) for r in ladder]


def test_1080p_source_gets_the_four_standard_rungs() -> None:
    ladder = build_ladder(source(1920, 1080))
    assert shape(ladder) == [
        ("1080p", 1920, 1080, 6000),
        ("720p", 1280, 720, 3000),
        ("480p", 854, 480, 1200),
        ("360p", 640, 360, 700),
    ]
    assert [r.audio_bitrate_kbps for r in ladder] == [128, 128, 96, 64]
    assert not any(r.copy for r in ladder)


def test_720p_source_never_gets_a_1080p_rung() -> None:
    assert [r.name for r in build_ladder(source(1280, 720))] == ["720p", "480p", "360p"]


def test_720p_at_2500k_caps_the_top_rung_to_the_source_bitrate() -> None:
    ladder = build_ladder(source(1280, 720, 2500))
    assert shape(ladder) == [("720p", 1280, 720, 2500), ("480p", 854, 480, 1200), ("360p", 640, 360, 700)]


def test_low_bitrate_source_scales_lower_rungs_down_with_it() -> None:
    ladder = build_ladder(source(1280, 720, 1000))
    assert [r.video_bitrate_kbps for r in ladder] == [1000, 544, 353]


def test_very_low_bitrate_source_drops_rungs_too_poor_to_watch() -> None:
    ladder = build_ladder(source(1280, 720, 500))
    assert [r.name for r in ladder] == ["720p", "480p"]
    assert all(r.video_bitrate_kbps >= MIN_LOWER_RUNG_KBPS for r in ladder[1:])
    assert build_ladder(source(1280, 720, 90))[0].video_bitrate_kbps == 90


def test_400p_source_gets_its_own_height_plus_360p() -> None:
    ladder = build_ladder(source(712, 400))
    assert [(r.name, r.width, r.height) for r in ladder] == [("400p", 712, 400), ("360p", 640, 360)]
    # Between the 360p and 480p standard bitrates.
    assert 700 < ladder[0].video_bitrate_kbps < 1200


def test_source_smaller_than_360p_gets_one_rendition_at_its_size() -> None:
    ladder = build_ladder(source(426, 240))
    assert [(r.name, r.width, r.height) for r in ladder] == [("240p", 426, 240)]


def test_4k_source_tops_out_at_1080p() -> None:
    ladder = build_ladder(source(3840, 2160, 20000))
    assert ladder[0].name == "1080p"
    assert (ladder[0].width, ladder[0].height, ladder[0].video_bitrate_kbps) == (1920, 1080, 6000)


def test_max_height_keeps_a_big_source_affordable() -> None:
    ladder = build_ladder(source(1920, 1080, 8000), max_height=720)
    assert shape(ladder) == [("720p", 1280, 720, 3000), ("480p", 854, 480, 1200), ("360p", 640, 360, 700)]
    assert [r.name for r in build_ladder(source(1280, 720), max_height=1080)] == ["720p", "480p", "360p"]
    with pytest.raises(ValueError, match="max_height"):
        build_ladder(source(), max_height=0)


def test_odd_sizes_become_even_without_growing() -> None:
    ladder = build_ladder(source(853, 481))
    assert (ladder[0].width, ladder[0].height) == (852, 480)
    assert all(r.width % 2 == 0 and r.height % 2 == 0 for r in ladder)


def test_portrait_source_is_sized_by_its_short_side() -> None:
    ladder = build_ladder(source(720, 1280))
    assert [(r.name, r.width, r.height) for r in ladder] == [
        ("720p", 720, 1280),
        ("480p", 480, 854),
        ("360p", 360, 640),
    ]


def test_zero_bitrate_in_metadata_means_unknown() -> None:
    assert shape(build_ladder(source(1280, 720, 0))) == shape(build_ladder(source(1280, 720, None)))


def test_no_audio_means_no_audio_bitrate() -> None:
    assert all(r.audio_bitrate_kbps == 0 for r in build_ladder(source(audio=False)))


def test_peak_and_buffer_follow_the_average() -> None:
    top = build_ladder(source(1920, 1080))[0]
    assert (top.maxrate, top.bufsize) == (6600, 9000)
    assert top.bandwidth_bps == (6600 + 128) * 1000


def test_passthrough_is_one_copied_rendition_at_source_size() -> None:
    (only,) = build_ladder(source(1280, 720, 4500), "passthrough")
    assert only.copy
    assert (only.name, only.width, only.height, only.video_bitrate_kbps) == ("source", 1280, 720, 4500)


def test_passthrough_keeps_odd_sizes_and_estimates_an_unknown_bitrate() -> None:
    (only,) = build_ladder(source(853, 481, None, audio=False), "passthrough")
    assert (only.width, only.height) == (853, 481)
    assert only.video_bitrate_kbps == reference_bitrate_kbps(481)
    assert only.audio_bitrate_kbps == 0


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        build_ladder(source(), "hevc")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("width", "height", "fps", "kbps"),
    [(0, 720, 30, None), (1280, 1, 30, None), (1280, 720, -1, None), (1280, 720, float("nan"), None), (64, 64, 30, -5)],
)
def test_nonsense_sources_are_refused(width: int, height: int, fps: float, kbps: int | None) -> None:
    with pytest.raises(ValueError, match="source"):
        SourceInfo(width=width, height=height, fps=fps, video_bitrate_kbps=kbps, audio=True)


def test_reference_bitrate_hits_the_standard_rungs_and_grows_with_size() -> None:
    for side, kbps, _audio in STANDARD_RUNGS:
        assert reference_bitrate_kbps(side) == kbps
    values = [reference_bitrate_kbps(side) for side in range(2, 2200, 7)]
    assert values == sorted(values)


sources = st.builds(
    SourceInfo,
    width=st.integers(min_value=2, max_value=7680),
    height=st.integers(min_value=2, max_value=4320),
    fps=st.sampled_from([0.0, 15.0, 24.0, 29.97, 30.0, 50.0, 60.0]),
    video_bitrate_kbps=st.none() | st.integers(min_value=0, max_value=60000),
    audio=st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(sources)
def test_abr_ladder_properties(src: SourceInfo) -> None:
    ladder = build_ladder(src, "abr")
    assert ladder, "at least one rung"
    for r in ladder:
        assert r.width <= src.width
        assert r.height <= src.height
        assert r.width % 2 == 0
        assert r.height % 2 == 0
        assert min(r.width, r.height) <= max(side for side, _v, _a in STANDARD_RUNGS)
        assert r.video_bitrate_kbps >= 1
        if src.video_bitrate_kbps:
            assert r.video_bitrate_kbps <= src.video_bitrate_kbps
        assert r.maxrate >= r.video_bitrate_kbps
        assert r.bufsize >= r.maxrate
        assert (r.audio_bitrate_kbps > 0) == src.audio
        assert not r.copy
        # Aspect preserved, to within the rounding to even sizes (one pixel on a side).
        assert abs(r.width * src.height - r.height * src.width) <= max(src.width, src.height)
    heights = [r.height for r in ladder]
    widths = [r.width for r in ladder]
    bitrates = [r.video_bitrate_kbps for r in ladder]
    assert heights == sorted(set(heights), reverse=True), "heights strictly decreasing"
    assert widths == sorted(set(widths), reverse=True), "widths strictly decreasing"
    assert bitrates == sorted(set(bitrates), reverse=True), "bitrates strictly decreasing"
    assert len({r.name for r in ladder}) == len(ladder)
    # The top rung is the source's own size, or 1080p for anything larger.
    assert min(ladder[0].width, ladder[0].height) == min(max(2, min(src.width, src.height) // 2 * 2), 1080)


@given(sources)
def test_passthrough_properties(src: SourceInfo) -> None:
    (only,) = build_ladder(src, "passthrough")
    assert only.copy
    assert (only.width, only.height) == (src.width, src.height)
    assert only.video_bitrate_kbps >= 1
    if src.video_bitrate_kbps:
        assert only.video_bitrate_kbps == src.video_bitrate_kbps
