"""What the app holds for its lifetime: built from settings, started and closed by the app's lifespan.

Routers never import this module: they ask the HTTP kit for one object by its type (``provided``), and
``provided_objects`` is the list of what is on offer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from livestream.auth.dependencies import make_auth_service
from livestream.auth.service import AuthService
from livestream.chat import frames
from livestream.chat.gateway import ChatGateway
from livestream.chat.stream_events import StreamEvents
from livestream.config import Settings
from livestream.db import Database
from livestream.http.shortcuts import ReadShortcuts
from livestream.media.ingest import IngestManager
from livestream.media.live_status import LiveStatusCache
from livestream.media.rtmp.server import RTMPServer
from livestream.ratelimit import Counters
from livestream.realtime.engine import Engine
from livestream.realtime.factory import make_engine
from livestream.realtime.hub import Hub
from livestream.security import JWTCodec
from livestream.streams.service import Urls
from livestream.streams.views import StreamViews
from livestream.users.views import ProfileViews


@dataclass
class Container:
    settings: Settings
    db: Database
    engine: Engine
    hub: Hub
    events: StreamEvents
    stream_views: StreamViews
    profile_views: ProfileViews
    shortcuts: ReadShortcuts
    codec: JWTCodec
    live_status: LiveStatusCache
    ingest: IngestManager
    chat_gateway: ChatGateway
    rtmp: RTMPServer | None = None

    @classmethod
    def build(cls, settings: Settings) -> Container:
        db = Database(settings.database_url)
        engine = make_engine(settings.redis_url)
        hub = Hub(engine, presence_ttl=settings.presence_ttl_seconds, count_frame=frames.viewers)
        # Viewer counts in API answers: the memory engine counts in this process, exactly; the Redis engine's
        # count is a round trip, shared for half a second (as a viewer may see it: at most 1 s old).
        events = StreamEvents(engine, db, count_max_age=0.0 if settings.redis_url is None else 0.5)
        stream_views = StreamViews(db, Urls(settings.public_url), events.viewer_count)
        codec = JWTCodec(
            secret_key=settings.secret_key,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            lifetime=timedelta(minutes=settings.access_token_minutes),
        )
        live_status = LiveStatusCache()

        def auth(session: AsyncSession) -> AuthService:
            return make_auth_service(session, settings, codec)

        async def authenticate(session: AsyncSession, token: str) -> uuid.UUID:
            user, _ = await auth(session).authenticate(token)
            return user.user_id

        # A stream's view shows its creator's name: an account change drops both.
        profile_views = ProfileViews(db, authenticate, also_shown_in=[stream_views.invalidate])

        async def stream_changed(stream_id: uuid.UUID) -> None:
            # Ingest's committed changes: this process's views first, then the viewers' event.
            stream_views.invalidate(stream_id)
            await events.changed(stream_id)

        return cls(
            settings=settings,
            db=db,
            engine=engine,
            hub=hub,
            events=events,
            stream_views=stream_views,
            profile_views=profile_views,
            shortcuts=ReadShortcuts(),
            codec=codec,
            live_status=live_status,
            ingest=IngestManager(settings, db, on_ended=live_status.forget, on_change=stream_changed),
            chat_gateway=ChatGateway(settings, db, engine, hub, auth),
        )

    @property
    def counters(self) -> Counters:
        """Rate-limit counters live in the realtime engine: in memory, or in Redis shared by every process."""
        return self.engine.counters

    def provided_objects(self) -> dict[type[Any], object]:
        """What routers may ask for by type (``livestream.http.deps.provided``)."""
        return {
            Settings: self.settings,
            Database: self.db,
            Engine: self.engine,
            Hub: self.hub,
            StreamEvents: self.events,
            StreamViews: self.stream_views,
            ProfileViews: self.profile_views,
            ReadShortcuts: self.shortcuts,
            JWTCodec: self.codec,
            Counters: self.counters,
            LiveStatusCache: self.live_status,
            IngestManager: self.ingest,
            ChatGateway: self.chat_gateway,
        }

    async def start(self) -> None:
        await self.hub.start()
        await self.start_media()

    async def start_media(self) -> None:
        """Reconcile streams a crash left live, then accept publishers (single node: one process owns ingest)."""
        await self.ingest.reconcile()
        if self.settings.rtmp_enabled:
            self.rtmp = RTMPServer(
                self.ingest,
                host=self.settings.rtmp_host,
                port=self.settings.rtmp_port,
                max_connections_per_ip=self.settings.rtmp_max_connections_per_ip,
            )
            await self.rtmp.start()

    async def close(self) -> None:
        if self.rtmp is not None:
            await self.rtmp.stop()
        await self.ingest.close()
        # Background refreshes of the public views and counts read the database and the engine.
        await self.stream_views.close()
        await self.profile_views.close()
        await self.events.close()
        await self.hub.close()  # closes the engine, and with it the counters
        await self.db.dispose()
