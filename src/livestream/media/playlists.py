"""Small edits of HLS playlists as the origin serves them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_PDT = re.compile(r"^#EXT-X-PROGRAM-DATE-TIME:(\S+)$", re.MULTILINE)


def _parse(value: str) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def first_program_date_time(playlist: str) -> datetime | None:
    match = _PDT.search(playlist)
    return _parse(match.group(1)) if match else None


def shift_program_date_times(playlist: str, seconds: float) -> str:
    """Every EXT-X-PROGRAM-DATE-TIME moved by ``seconds`` (millisecond precision, UTC)."""

    def shifted(match: re.Match[str]) -> str:
        stamp = _parse(match.group(1))
        if stamp is None:
            return match.group(0)
        moved = (stamp + timedelta(seconds=seconds)).astimezone(UTC)
        return "#EXT-X-PROGRAM-DATE-TIME:" + moved.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    return _PDT.sub(shifted, playlist)
