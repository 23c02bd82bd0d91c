"""All queries on notifications and notification settings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, String, and_, delete, exists, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Exists

from livestream.db import UTCDateTime, utcnow
from livestream.follows.models import Follow
from livestream.notifications.delivery import Written
from livestream.notifications.models import KINDS, Notification, NotificationSettings
from livestream.pagination import Cursor
from livestream.streams.models import Stream
from livestream.users.models import User


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    # --- fan-out ---------------------------------------------------------------------------------------------

    async def follower_batch_end(self, creator_id: uuid.UUID, after: uuid.UUID | None, size: int) -> uuid.UUID | None:
        """The follow_id that ends the next batch of ``size`` follows of the creator after ``after`` (in follow_id
        order); None when there are no more."""
        query = select(Follow.follow_id).where(Follow.following_id == creator_id).order_by(Follow.follow_id)
        if after is not None:
            query = query.where(Follow.follow_id > after)
        first_past = (await self.session.execute(query.offset(size - 1).limit(1))).scalar_one_or_none()
        if first_past is not None:
            return first_past
        # Fewer than ``size`` left: the last of them.
        last = query.order_by(None).order_by(Follow.follow_id.desc()).limit(1)
        result: uuid.UUID | None = (await self.session.execute(last)).scalar_one_or_none()
        return result

    async def fan_out(
        self,
        creator_id: uuid.UUID,
        *,
        after: uuid.UUID | None,
        upto: uuid.UUID,
        kind: str,
        event_key: str,
        payload: dict[str, Any],
    ) -> list[Written]:
        """One notification for each follower in (after, upto] who has not muted the creator nor turned the kind
        off, in one INSERT … SELECT; followers notified before (same event) are skipped. Returns the rows written."""
        new_id: Any = func.gen_random_uuid() if self._postgres else func.lower(func.hex(func.randomblob(16)))
        muted_kind = _kind_off(kind)
        source = select(
            new_id,
            Follow.follower_id,
            literal(kind, String()),
            literal(payload, JSON()),
            literal(event_key, String()),
            literal(utcnow(), UTCDateTime()),
        ).where(
            Follow.following_id == creator_id,
            Follow.notify.is_(True),
            Follow.follow_id <= upto,
            ~muted_kind,
        )
        if after is not None:
            source = source.where(Follow.follow_id > after)
        columns = ["notification_id", "user_id", "type", "payload", "event_key", "created_at"]
        dialect = postgresql if self._postgres else sqlite
        statement = (
            dialect.insert(Notification)
            .from_select(columns, source)
            .on_conflict_do_nothing(index_elements=["user_id", "event_key"])
            .returning(Notification.notification_id, Notification.user_id, Notification.created_at)
        )
        result = await self.session.execute(statement)
        return [
            Written(notification_id=row[0], user_id=row[1], kind=kind, payload=payload, created_at=row[2])
            for row in result
        ]

    async def live_streams_started_between(
        self, earliest: datetime, latest: datetime, limit: int
    ) -> list[tuple[uuid.UUID, uuid.UUID, datetime]]:
        """(stream, creator, started_at) of the streams whose video has arrived and is still on, opened between
        the two moments, oldest first."""
        query = (
            select(Stream.stream_id, Stream.user_id, Stream.started_at)
            .where(
                Stream.status == "live",
                Stream.media_state.in_(("live", "reconnecting")),
                Stream.started_at >= earliest,
                Stream.started_at <= latest,
            )
            .order_by(Stream.started_at)
            .limit(limit)
        )
        return [(row[0], row[1], row[2]) for row in await self.session.execute(query)]

    async def someone_not_told(
        self, creator_id: uuid.UUID, *, kind: str, event_key: str, followed_by: datetime
    ) -> bool:
        """Whether a follower who followed at ``followed_by`` or before and would get ``kind`` from this creator has
        no notification of the event: a finished fan-out leaves none. Walks the follows from the newest follow_id,
        where a fan-out cut short left its gap (the fan-out goes in follow_id order)."""
        told = exists().where(Notification.user_id == Follow.follower_id, Notification.event_key == event_key)
        query = (
            select(Follow.follow_id)
            .where(
                Follow.following_id == creator_id,
                Follow.notify.is_(True),
                Follow.created_at <= followed_by,
                ~told,
                ~_kind_off(kind),
            )
            .order_by(Follow.follow_id.desc())
            .limit(1)
        )
        return (await self.session.execute(query)).first() is not None

    async def add_unless_there(self, notification: Notification) -> Written | None:
        """One notification for one recipient; None when that event already reached them."""
        dialect = postgresql if self._postgres else sqlite
        notification_id = notification.notification_id or uuid.uuid4()
        created_at = notification.created_at or utcnow()
        values = {
            "notification_id": notification_id,
            "user_id": notification.user_id,
            "type": notification.type,
            "payload": notification.payload,
            "event_key": notification.event_key,
            "created_at": created_at,
        }
        statement = dialect.insert(Notification).values(**values)
        statement = statement.on_conflict_do_nothing(index_elements=["user_id", "event_key"])
        result = await self.session.execute(statement.returning(Notification.notification_id))
        if result.first() is None:
            return None
        return Written(
            notification_id=notification_id,
            user_id=notification.user_id,
            kind=notification.type,
            payload=notification.payload,
            created_at=created_at,
        )

    async def lock_for_counting(self, user_id: uuid.UUID, kind: str) -> None:
        """PostgreSQL: one transaction at a time counts into a user's batched notification of ``kind`` (two
        follows at once would each start one, or overwrite each other's count). SQLite has one writer anyway."""
        if self._postgres:
            await self.session.execute(
                select(func.pg_advisory_xact_lock(func.hashtextextended(literal(f"{kind}:{user_id}"), 0)))
            )

    async def unread_of_kind(self, user_id: uuid.UUID, kind: str) -> Notification | None:
        result = await self.session.execute(
            select(Notification)
            .where(Notification.user_id == user_id, Notification.type == kind, Notification.read_at.is_(None))
            .order_by(Notification.created_at.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    # --- reading ---------------------------------------------------------------------------------------------

    async def get(self, notification_id: uuid.UUID) -> Notification | None:
        return await self.session.get(Notification, notification_id)

    async def page(self, user_id: uuid.UUID, *, unread: bool, limit: int, cursor: Cursor | None) -> list[Notification]:
        query = (
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.created_at.desc(), Notification.notification_id.desc())
            .limit(limit)
        )
        if unread:
            query = query.where(Notification.read_at.is_(None))
        if cursor is not None:
            query = query.where(
                or_(
                    Notification.created_at < cursor.created_at,
                    and_(Notification.created_at == cursor.created_at, Notification.notification_id < cursor.id),
                )
            )
        return list((await self.session.execute(query)).scalars())

    async def unread_count(self, user_id: uuid.UUID) -> int:
        query = select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        return int((await self.session.execute(query)).scalar_one())

    async def count_event(self, event_key: str) -> int:
        query = select(func.count()).where(Notification.event_key == event_key)
        return int((await self.session.execute(query)).scalar_one())

    # --- writing ---------------------------------------------------------------------------------------------

    async def mark_read(self, user_id: uuid.UUID, notification_id: uuid.UUID | None = None) -> int:
        """Mark one (or, with None, every) unread notification of the user read; returns how many changed."""
        statement = (
            update(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=utcnow())
        )
        if notification_id is not None:
            statement = statement.where(Notification.notification_id == notification_id)
        result = await self.session.execute(statement)
        return int(getattr(result, "rowcount", 0) or 0)

    async def purge_before(self, moment: datetime) -> int:
        result = await self.session.execute(delete(Notification).where(Notification.created_at < moment))
        return int(getattr(result, "rowcount", 0) or 0)

    # --- email ---------------------------------------------------------------------------------------------

    async def email_due(self, notification_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        """Of these notifications, the ones to email, in one query: not emailed yet, and the recipient has a
        confirmed address and turned email on, and this kind of notification too."""
        if not notification_ids:
            return []
        kind_on = or_(
            *(and_(Notification.type == kind, getattr(NotificationSettings, kind).is_(True)) for kind in KINDS)
        )
        query = (
            select(Notification.notification_id)
            .join(NotificationSettings, NotificationSettings.user_id == Notification.user_id)
            .join(User, User.user_id == Notification.user_id)
            .where(
                Notification.notification_id.in_(notification_ids),
                Notification.emailed_at.is_(None),
                NotificationSettings.email.is_(True),
                kind_on,
                User.email != "",
                User.email_verified_at.is_not(None),
            )
        )
        return list((await self.session.execute(query)).scalars())

    async def email_stranded(self, *, since: datetime, until: datetime, limit: int) -> list[uuid.UUID]:
        """Notifications created in [since, until) still to email. Driven from the few users who turned email on,
        through the (user_id, created_at) index, not from every notification."""
        kind_on = or_(
            *(and_(Notification.type == kind, getattr(NotificationSettings, kind).is_(True)) for kind in KINDS)
        )
        query = (
            select(Notification.notification_id)
            .select_from(NotificationSettings)
            .join(Notification, Notification.user_id == NotificationSettings.user_id)
            .join(User, User.user_id == Notification.user_id)
            .where(
                NotificationSettings.email.is_(True),
                Notification.created_at >= since,
                Notification.created_at < until,
                Notification.emailed_at.is_(None),
                kind_on,
                User.email != "",
                User.email_verified_at.is_not(None),
            )
            .order_by(Notification.created_at)
            .limit(limit)
        )
        return list((await self.session.execute(query)).scalars())

    async def email_context(
        self, notification_id: uuid.UUID
    ) -> tuple[Notification, User, NotificationSettings | None] | None:
        """A notification with its recipient and the recipient's switches (None: the defaults), in one query."""
        query = (
            select(Notification, User, NotificationSettings)
            .join(User, User.user_id == Notification.user_id)
            .outerjoin(NotificationSettings, NotificationSettings.user_id == Notification.user_id)
            .where(Notification.notification_id == notification_id)
        )
        row = (await self.session.execute(query)).first()
        return None if row is None else (row[0], row[1], row[2])

    async def claim_email(self, notification_id: uuid.UUID, *, now: datetime, lease: timedelta) -> bool:
        """Take the email of a notification on, unless it was handled or another job holds an unexpired lease:
        one atomic UPDATE, so of two jobs at once exactly one gets True."""
        result = await self.session.execute(
            update(Notification)
            .where(
                Notification.notification_id == notification_id,
                Notification.emailed_at.is_(None),
                or_(Notification.email_claimed_at.is_(None), Notification.email_claimed_at < now - lease),
            )
            .values(email_claimed_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def release_email(self, notification_id: uuid.UUID, claimed_at: datetime) -> None:
        """Give the lease back (a send that failed and will be retried), if it is still ours."""
        await self.session.execute(
            update(Notification)
            .where(Notification.notification_id == notification_id, Notification.email_claimed_at == claimed_at)
            .values(email_claimed_at=None)
        )

    async def mark_emailed(self, notification_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Notification)
            .where(Notification.notification_id == notification_id, Notification.emailed_at.is_(None))
            .values(emailed_at=utcnow())
        )

    async def username_of(self, user_id: uuid.UUID) -> str | None:
        query = select(User.username).where(User.user_id == user_id)
        result: str | None = (await self.session.execute(query)).scalar_one_or_none()
        return result

    # --- settings --------------------------------------------------------------------------------------------

    async def settings(self, user_id: uuid.UUID) -> NotificationSettings:
        found = await self.session.get(NotificationSettings, user_id)
        return found if found is not None else NotificationSettings(user_id=user_id, **DEFAULTS)

    async def save_settings(self, settings: NotificationSettings) -> None:
        settings.updated_at = utcnow()
        await self.session.merge(settings)
        await self.session.flush()


def _kind_off(kind: str) -> Exists:
    """The follower (of the Follow row in the query) turned notifications of ``kind`` off."""
    return exists().where(
        NotificationSettings.user_id == Follow.follower_id,
        getattr(NotificationSettings, kind).is_(False),
    )


DEFAULTS: dict[str, Any] = {
    "email": False,
    "push": False,
    "stream_started": True,
    "schedule_reminder": True,
    "archive_ready": True,
    "new_follower": True,
    "tip_received": True,
}
