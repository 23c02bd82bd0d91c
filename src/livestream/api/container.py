"""What the app holds for its lifetime, created in the lifespan and reached through ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from livestream.config import Settings
from livestream.db import Database
from livestream.media.ingest import IngestManager
from livestream.media.live_status import LiveStatusCache
from livestream.media.rtmp.server import RTMPServer
from livestream.ratelimit import Counters, make_counters
from livestream.security import JWTCodec


@dataclass
class Container:
    settings: Settings
    db: Database
    counters: Counters
    codec: JWTCodec
    live_status: LiveStatusCache = field(default_factory=LiveStatusCache)
    ingest: IngestManager | None = None
    rtmp: RTMPServer | None = None

    @classmethod
    def build(cls, settings: Settings) -> Container:
        return cls(
            settings=settings,
            db=Database(settings.database_url),
            counters=make_counters(settings.redis_url),
            codec=JWTCodec(
                secret_key=settings.secret_key,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                lifetime=timedelta(minutes=settings.access_token_minutes),
            ),
        )

    async def start_media(self) -> None:
        """Reconcile streams a crash left live, then accept publishers (single node: one process owns ingest)."""
        self.ingest = IngestManager(self.settings, self.db, on_ended=self.live_status.forget)
        await self.ingest.reconcile()
        if self.settings.rtmp_enabled:
            self.rtmp = RTMPServer(self.ingest, host=self.settings.rtmp_host, port=self.settings.rtmp_port)
            await self.rtmp.start()

    async def close(self) -> None:
        if self.rtmp is not None:
            await self.rtmp.stop()
        if self.ingest is not None:
            await self.ingest.close()
        await self.counters.close()
        await self.db.dispose()
