from __future__ import annotations

from datetime import UTC, datetime

from livestream.media.playlists import first_program_date_time, shift_program_date_times

PLAYLIST = """#EXTM3U
#EXT-X-TARGETDURATION:1
#EXT-X-PROGRAM-DATE-TIME:2026-11-29T13:00:00.500+0000
#EXTINF:1.000000,
seg_00001.ts
#EXT-X-PROGRAM-DATE-TIME:2026-11-29T13:00:01.500Z
#EXTINF:1.000000,
seg_00002.ts
"""


def test_first_program_date_time_reads_both_offset_styles() -> None:
    assert first_program_date_time(PLAYLIST) == datetime(2026, 11, 29, 13, 0, 0, 500000, tzinfo=UTC)
    assert first_program_date_time("#EXTM3U\n") is None


def test_shift_moves_every_stamp_and_nothing_else() -> None:
    shifted = shift_program_date_times(PLAYLIST, -1.25)
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-11-29T12:59:59.250Z" in shifted
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-11-29T13:00:00.250Z" in shifted
    assert shifted.count("seg_0000") == 2
    assert shifted.replace("12:59:59.250Z", "").count("#EXTINF:1.000000,") == 2


def test_unparseable_stamp_is_left_alone() -> None:
    text = "#EXT-X-PROGRAM-DATE-TIME:yesterday\n"
    assert shift_program_date_times(text, 3) == text
