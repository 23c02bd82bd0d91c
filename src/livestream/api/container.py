"""What the app holds for its lifetime, created in the lifespan and reached through ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from livestream.config import Settings
from livestream.db import Database
from livestream.ratelimit import Counters, make_counters
from livestream.security import JWTCodec


@dataclass
class Container:
    settings: Settings
    db: Database
    counters: Counters
    codec: JWTCodec

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

    async def close(self) -> None:
        await self.counters.close()
        await self.db.dispose()
