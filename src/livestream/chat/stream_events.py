"""Live stream events on the chat socket: state, title and description changes, and the stored peak."""

from __future__ import annotations

import uuid

from livestream.chat import frames
from livestream.chat.service import channel_of
from livestream.db import Database
from livestream.logging import get_logger
from livestream.realtime.engine import Engine
from livestream.streams.repository import StreamRepository

log = get_logger(__name__)


class StreamEvents:
    def __init__(self, engine: Engine, db: Database) -> None:
        self.engine = engine
        self.db = db

    async def viewer_count(self, stream_id: uuid.UUID) -> int:
        return (await self.engine.presence_count(channel_of(stream_id))).count

    async def peak(self, stream_id: uuid.UUID) -> int:
        return (await self.engine.presence_count(channel_of(stream_id))).peak

    async def changed(self, stream_id: uuid.UUID) -> None:
        """Tell the stream's viewers its committed state; on the end, store the peak viewer count.

        Called after the change is committed, by the API and by ingest. A failure here must not undo or fail
        the change itself: viewers then catch up from the next event or the REST fallback.
        """
        try:
            async with self.db.sessionmaker() as session:
                streams = StreamRepository(session)
                stream = await streams.get(stream_id)
                if stream is None:
                    return
                if stream.status == "ended":
                    # The peak moves to the database and the engine forgets the channel (the memory engine
                    # would otherwise keep a peak for every stream it ever served).
                    await streams.record_peak(stream_id, await self.engine.presence_clear(channel_of(stream_id)))
                    await session.commit()
                payload = frames.stream_status(stream)
            await self.engine.publish(channel_of(stream_id), payload)
        except Exception as exc:
            log.warning("stream_event_failed", stream_id=str(stream_id), error=str(exc))
