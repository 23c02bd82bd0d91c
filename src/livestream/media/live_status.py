"""Whether a stream is live, as the HLS origin needs to know for every request."""

from __future__ import annotations

import time
import uuid

from livestream.db import Database
from livestream.streams.repository import StreamRepository

_LIVE_TTL_S = 1.0


class LiveStatusCache:
    """Whether a stream is live, remembered for a second: segment requests must not each cost a query."""

    def __init__(self) -> None:
        self._seen: dict[uuid.UUID, tuple[bool, float]] = {}

    async def is_live(self, db: Database, stream_id: uuid.UUID) -> bool:
        now = time.monotonic()
        cached = self._seen.get(stream_id)
        if cached is not None and now - cached[1] < _LIVE_TTL_S:
            return cached[0]
        async with db.sessionmaker() as session:
            stream = await StreamRepository(session).get(stream_id)
        live = stream is not None and stream.status == "live"
        if len(self._seen) > 10_000:
            self._seen.clear()
        self._seen[stream_id] = (live, now)
        return live

    def forget(self, stream_id: uuid.UUID) -> None:
        """Called when a stream ends, so this process stops serving it at once."""
        self._seen.pop(stream_id, None)
