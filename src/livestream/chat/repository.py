"""All queries on chat bans and moderators."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from livestream.chat.models import ChatBan, ChatModerator
from livestream.streams.models import Stream
from livestream.users.models import User


@dataclass(frozen=True)
class SendContext:
    """What deciding on one chat message needs, read in one round trip."""

    live: bool
    slow_mode_seconds: int
    channel_id: uuid.UUID
    banned: bool
    banned_until: datetime | None
    moderator: bool


class ChatRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def active_ban(self, channel_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> ChatBan | None:
        ban = await self.session.get(ChatBan, (channel_id, user_id))
        if ban is None or (ban.expires_at is not None and ban.expires_at <= now):
            return None
        return ban

    async def send_context(self, stream_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> SendContext | None:
        active_ban = (
            select(ChatBan.expires_at)
            .where(ChatBan.channel_id == Stream.user_id, ChatBan.user_id == user_id)
            .where(ChatBan.expires_at.is_(None) | (ChatBan.expires_at > now))
        )
        moderator = exists().where(ChatModerator.channel_id == Stream.user_id, ChatModerator.user_id == user_id)
        row = (
            await self.session.execute(
                select(
                    Stream.status,
                    Stream.slow_mode_seconds,
                    Stream.user_id,
                    exists(active_ban),
                    active_ban.scalar_subquery(),
                    moderator,
                ).where(Stream.stream_id == stream_id)
            )
        ).first()
        if row is None:
            return None
        status, slow_mode, channel_id, banned, until, is_moderator = row
        return SendContext(
            live=status == "live",
            slow_mode_seconds=slow_mode,
            channel_id=channel_id,
            banned=bool(banned),
            banned_until=until,
            moderator=bool(is_moderator),
        )

    async def get_ban(self, channel_id: uuid.UUID, user_id: uuid.UUID) -> ChatBan | None:
        return await self.session.get(ChatBan, (channel_id, user_id))

    async def add_ban(self, ban: ChatBan) -> None:
        self.session.add(ban)
        await self.session.flush()

    async def remove_ban(self, channel_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> bool:
        """Lift a ban; False when there is none in force (a timeout that ran out is only tidied away)."""
        active = await self.active_ban(channel_id, user_id, now)
        await self.session.execute(delete(ChatBan).where(ChatBan.channel_id == channel_id, ChatBan.user_id == user_id))
        return active is not None

    async def bans(self, channel_id: uuid.UUID, now: datetime) -> list[tuple[ChatBan, User]]:
        rows = await self.session.execute(
            select(ChatBan, User)
            .join(User, User.user_id == ChatBan.user_id)
            .where(ChatBan.channel_id == channel_id)
            .where((ChatBan.expires_at.is_(None)) | (ChatBan.expires_at > now))
            .order_by(ChatBan.created_at.desc())
            .limit(500)
        )
        return [(row[0], row[1]) for row in rows.all()]

    async def is_moderator(self, channel_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        return await self.session.get(ChatModerator, (channel_id, user_id)) is not None

    async def add_moderator(self, channel_id: uuid.UUID, user_id: uuid.UUID) -> ChatModerator:
        existing = await self.session.get(ChatModerator, (channel_id, user_id))
        if existing is not None:
            return existing
        moderator = ChatModerator(channel_id=channel_id, user_id=user_id)
        self.session.add(moderator)
        await self.session.flush()
        return moderator

    async def remove_moderator(self, channel_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            delete(ChatModerator).where(ChatModerator.channel_id == channel_id, ChatModerator.user_id == user_id)
        )
        return bool(getattr(result, "rowcount", 0))

    async def moderators(self, channel_id: uuid.UUID) -> list[tuple[ChatModerator, User]]:
        rows = await self.session.execute(
            select(ChatModerator, User)
            .join(User, User.user_id == ChatModerator.user_id)
            .where(ChatModerator.channel_id == channel_id)
            .order_by(ChatModerator.created_at)
            .limit(500)
        )
        return [(row[0], row[1]) for row in rows.all()]

    async def flush(self) -> None:
        await self.session.flush()
