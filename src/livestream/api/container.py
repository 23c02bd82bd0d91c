"""What the app holds for its lifetime, created in the lifespan and reached through ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from livestream.chat import frames
from livestream.chat.stream_events import StreamEvents
from livestream.config import Settings
from livestream.db import Database
from livestream.media.ingest import IngestManager
from livestream.media.live_status import LiveStatusCache
from livestream.media.rtmp.server import RTMPServer
from livestream.ratelimit import Counters
from livestream.realtime.engine import Engine
from livestream.realtime.factory import make_engine
from livestream.realtime.hub import Hub
from livestream.security import JWTCodec


@dataclass
class Container:
    settings: Settings
    db: Database
    engine: Engine
    hub: Hub
    events: StreamEvents
    codec: JWTCodec
    live_status: LiveStatusCache = field(default_factory=LiveStatusCache)
    ingest: IngestManager | None = None
    rtmp: RTMPServer | None = None

    @classmethod
    def build(cls, settings: Settings) -> Container:
        db = Database(settings.database_url)
        engine = make_engine(settings.redis_url)
        return cls(
            settings=settings,
            db=db,
            engine=engine,
            hub=Hub(engine, presence_ttl=settings.presence_ttl_seconds, count_frame=frames.viewers),
            events=StreamEvents(engine, db),
            codec=JWTCodec(
                secret_key=settings.secret_key,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                lifetime=timedelta(minutes=settings.access_token_minutes),
            ),
        )

    @property
    def counters(self) -> Counters:
        """Rate-limit counters live in the realtime engine: in memory, or in Redis shared by every process."""
        return self.engine.counters

    async def start(self) -> None:
        await self.hub.start()
        await self.start_media()

    async def start_media(self) -> None:
        """Reconcile streams a crash left live, then accept publishers (single node: one process owns ingest)."""
        self.ingest = IngestManager(
            self.settings, self.db, on_ended=self.live_status.forget, on_change=self.events.changed
        )
        await self.ingest.reconcile()
        if self.settings.rtmp_enabled:
            self.rtmp = RTMPServer(self.ingest, host=self.settings.rtmp_host, port=self.settings.rtmp_port)
            await self.rtmp.start()

    async def close(self) -> None:
        if self.rtmp is not None:
            await self.rtmp.stop()
        if self.ingest is not None:
            await self.ingest.close()
        await self.hub.close()  # closes the engine, and with it the counters
        await self.db.dispose()
