"""What the app holds for its lifetime: built from settings, started and closed by the app's lifespan.

Routers never import this module: they ask the HTTP kit for one object by its type (``provided``), and
``provided_objects`` is the list of what is on offer.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from livestream.archives.finalise import ArchiveEvent, ArchiveFinaliser
from livestream.archives.playback import VodPlayback
from livestream.archives.tasks import ArchiveJobs
from livestream.auth.dependencies import make_auth_service
from livestream.auth.emails import AccountEmails
from livestream.auth.repository import TokenRepository
from livestream.auth.service import AuthService
from livestream.chat import frames
from livestream.chat.gateway import ChatGateway
from livestream.chat.stream_events import StreamEvents
from livestream.config import Settings
from livestream.db import Database, utcnow
from livestream.http.shortcuts import ReadShortcuts
from livestream.jobs.periodic import PeriodicRunner
from livestream.jobs.runtime import JobRuntime
from livestream.logging import get_logger
from livestream.mail.sender import Mailer, make_mailer
from livestream.media.ingest import IngestManager
from livestream.media.live_status import LiveStatusCache
from livestream.media.rtmp.server import RTMPServer
from livestream.notifications.delivery import Delivery
from livestream.notifications.emails import NotificationEmails
from livestream.notifications.live import LiveNotifications
from livestream.notifications.tasks import NotificationJobs
from livestream.push.keys import parse_private_key
from livestream.push.sender import WebPush
from livestream.ratelimit import Counters
from livestream.realtime.engine import Engine
from livestream.realtime.factory import make_engine
from livestream.realtime.hub import Hub
from livestream.schedules.feeds import CalendarFeeds
from livestream.schedules.tasks import ScheduleJobs
from livestream.security import JWTCodec
from livestream.storage.base import Storage
from livestream.storage.factory import make_storage
from livestream.streams.lifecycle import StreamLifecycle, StreamTransition
from livestream.streams.service import Urls
from livestream.streams.views import StreamViews
from livestream.tips.tipping import Tipping
from livestream.users.views import ProfileViews

log = get_logger("livestream.app")


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
    lifecycle: StreamLifecycle
    jobs: JobRuntime
    periodic: PeriodicRunner
    storage: Storage
    playback: VodPlayback
    archive_jobs: ArchiveJobs
    notification_jobs: NotificationJobs
    account_emails: AccountEmails
    delivery: Delivery
    web_push: WebPush
    live_notifications: LiveNotifications
    schedule_jobs: ScheduleJobs
    calendar_feeds: CalendarFeeds
    tipping: Tipping
    rtmp: RTMPServer | None = None
    # None without SMTP (LS_SMTP_HOST unset): no email of any kind is sent.
    mailer: Mailer | None = None
    notification_emails: NotificationEmails | None = None

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

        # Every change of a stream's state goes through the lifecycle; these are its subscribers, in order.
        lifecycle = StreamLifecycle(peak_viewers=events.peak)

        async def viewers_told(transition: StreamTransition) -> None:
            # This process's views first, then the viewers' event.
            stream_views.invalidate(transition.stream_id)
            if transition.kind == "ended":
                live_status.forget(transition.stream_id)
            await events.changed(transition.stream_id)

        lifecycle.subscribe(viewers_told)

        jobs = JobRuntime.for_settings(
            redis_url=settings.redis_url,
            queue=settings.jobs_queue,
            consume=settings.jobs_in_process,
            retry_base_seconds=settings.jobs_retry_base_seconds,
            default_attempts=settings.jobs_max_attempts,
        )
        periodic = PeriodicRunner(db)
        storage = make_storage(settings)
        playback = VodPlayback(db, storage)
        archive_jobs_ref: list[ArchiveJobs] = []

        async def media_finished(stream_id: uuid.UUID) -> None:
            await archive_jobs_ref[0].stream_media_finished(stream_id)

        ingest = IngestManager(
            settings,
            db,
            lifecycle,
            spawn=lambda coroutine, name: jobs.spawn(coroutine, name=name),
            on_media_finished=media_finished,
        )
        lifecycle.subscribe(ingest.on_transition)

        # Channels (the live /ws/me frames, email, push) add themselves to the delivery.
        delivery = Delivery()
        live_notifications = LiveNotifications(settings, db, engine, hub, auth)
        delivery.add("live", live_notifications.delivered)
        notification_jobs = NotificationJobs(
            db,
            jobs,
            retention_days=settings.notification_retention_days,
            delivery=delivery,
            batch=settings.notification_fan_out_batch,
        )
        notification_jobs.register(periodic, reconcile_every=settings.reconcile_interval_seconds)
        lifecycle.subscribe(notification_jobs.on_transition)
        # Email for those who opted in, when SMTP is configured; without it the channel is not there at all.
        mailer = make_mailer(settings)
        notification_emails = None
        if mailer is not None:
            notification_emails = NotificationEmails(
                db,
                jobs,
                mailer,
                public_url=settings.public_url,
                secret_key=settings.secret_key,
                attempts=settings.smtp_attempts,
            )
            notification_emails.register(delivery, periodic)
        # Checked here so a bad LS_VAPID_PRIVATE_KEY stops start-up with a clear error (never the key itself).
        vapid_key = settings.vapid_private_key
        web_push = WebPush(
            db,
            jobs,
            public_url=settings.public_url,
            subject=settings.push_subject,
            allow_private=settings.push_allow_private_endpoints,
            configured_keys=parse_private_key(vapid_key.get_secret_value()) if vapid_key is not None else None,
        )
        web_push.register()
        delivery.add("push", web_push.channel)
        calendar_feeds = CalendarFeeds(db, public_url=settings.public_url)
        schedule_jobs = ScheduleJobs(
            db,
            notification_jobs,
            reminder_minutes=settings.schedule_reminder_minutes,
            every_seconds=settings.schedule_reminder_check_seconds,
            changed=calendar_feeds.changed,
        )
        schedule_jobs.register(periodic)
        lifecycle.subscribe(schedule_jobs.on_transition)

        async def archive_moved(event: ArchiveEvent) -> None:
            if event.status == "ready":
                await notification_jobs.archive_is_ready(event.archive_id, event.stream_id, event.user_id)
            stream_views.invalidate(event.stream_id)
            playback.forget(event.archive_id)
            frame = frames.archive_status(
                event.archive_id, event.stream_id, event.status, event.progress, event.failure_reason
            )
            await events.publish(event.stream_id, frame)

        finaliser = ArchiveFinaliser(
            db,
            storage,
            media_dir=settings.media_dir,
            ffmpeg=settings.ffmpeg_path,
            mp4=settings.archive_mp4,
            media_busy=ingest.finishing,
            notify=archive_moved,
        )
        archive_jobs = ArchiveJobs(db, finaliser, jobs)
        archive_jobs_ref.append(archive_jobs)
        archive_jobs.register(periodic, reconcile_every=settings.reconcile_interval_seconds)
        lifecycle.subscribe(archive_jobs.on_transition)

        async def purge_expired_tokens() -> None:
            async with db.unit_of_work() as session:
                await TokenRepository(session).purge_expired(utcnow())

        periodic.every("streams.end_stale", settings.reconcile_interval_seconds, ingest.end_stale)
        periodic.every("auth.purge_expired", 3600, purge_expired_tokens)
        # Sign-up links, address confirmations and password resets (off, and said so, without LS_SMTP_HOST).
        account_emails = AccountEmails(db, jobs, mailer, secret_key=settings.secret_key, public_url=settings.public_url)
        account_emails.register(periodic, attempts=settings.smtp_attempts)
        periodic.every("jobs.purge_claims", 24 * 3600, periodic.purge_claims)
        # Tips: the payment provider, its webhook events, settlement and the pending reconciler (off without
        # LS_PAYMENTS).
        tipping = Tipping.build(settings, db, engine, jobs, periodic, delivery)

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
            ingest=ingest,
            chat_gateway=ChatGateway(settings, db, engine, hub, auth),
            lifecycle=lifecycle,
            jobs=jobs,
            periodic=periodic,
            storage=storage,
            playback=playback,
            archive_jobs=archive_jobs,
            notification_jobs=notification_jobs,
            account_emails=account_emails,
            delivery=delivery,
            mailer=mailer,
            notification_emails=notification_emails,
            web_push=web_push,
            live_notifications=live_notifications,
            schedule_jobs=schedule_jobs,
            calendar_feeds=calendar_feeds,
            tipping=tipping,
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
            StreamLifecycle: self.lifecycle,
            JobRuntime: self.jobs,
            Storage: self.storage,
            VodPlayback: self.playback,
            ArchiveJobs: self.archive_jobs,
            NotificationJobs: self.notification_jobs,
            AccountEmails: self.account_emails,
            Delivery: self.delivery,
            WebPush: self.web_push,
            LiveNotifications: self.live_notifications,
            ScheduleJobs: self.schedule_jobs,
            CalendarFeeds: self.calendar_feeds,
            Tipping: self.tipping,
        }

    async def start(self) -> None:
        await self.hub.start()
        await self.start_jobs(periodic=self.settings.jobs_in_process and self.settings.jobs_periodic)
        await self.start_media()

    async def start_jobs(self, *, periodic: bool) -> None:
        """The job runtime (and, where jobs run, the periodic reconcilers and purges)."""
        await self.jobs.start()
        # The VAPID keys: read (or made, by the first process ever) before any push is sent or subscribed.
        await self.web_push.start()
        if periodic:
            self.periodic.start()

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
        """Each part in order, each on its own: one that fails is logged and the rest still close."""
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        if self.rtmp is not None:
            steps.append(("rtmp", self.rtmp.stop))
        steps += [
            ("ingest", self.ingest.close),
            ("periodic", self.periodic.close),
            ("jobs", self.jobs.close),
            ("web_push", self.web_push.close),  # its own send threads, after the jobs that use them
            ("tipping", self.tipping.close),  # the provider's HTTP client, after the jobs that use it
            ("playback", self.playback.close),
            ("storage", self.storage.close),
            # Background refreshes of the public views and counts read the database and the engine.
            ("stream_views", self.stream_views.close),
            ("profile_views", self.profile_views.close),
            ("calendar_feeds", self.calendar_feeds.close),
            ("events", self.events.close),
            ("hub", self.hub.close),  # closes the engine, and with it the counters
            ("db", self.db.dispose),
        ]
        for name, close in steps:
            try:
                await close()
            except Exception as exc:
                log.error("close_failed", part=name, error=f"{type(exc).__name__}: {exc}")
