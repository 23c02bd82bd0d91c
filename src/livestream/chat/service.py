"""Chat: sending, history and moderation. Free of HTTP and of WebSocket details."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from livestream.chat import errors, frames
from livestream.chat.models import ChatBan, ChatModerator
from livestream.chat.repository import ChatRepository
from livestream.chat.schemas import MAX_MESSAGE_CHARS, BanCreate, BanOut, ChatMessage, ModeratorOut, Role
from livestream.db import utcnow
from livestream.errors import ValidationFailed
from livestream.realtime.engine import Engine
from livestream.streams.errors import StreamEnded, StreamNotFound
from livestream.streams.models import Stream
from livestream.streams.repository import StreamRepository
from livestream.users.errors import UserNotFound
from livestream.users.models import User
from livestream.users.repository import UserRepository
from livestream.validation import clean_line


def channel_of(stream_id: uuid.UUID) -> str:
    return f"stream:{stream_id}"


def clean_text(text: str) -> str:
    """A chat line as shown (``validation.clean_line``): text that cannot be stored or sent (NUL, a lone surrogate)
    is refused; bidi overrides, zero-width spaces and the like are dropped; control characters become spaces (a
    chat line is one line); the ends are trimmed."""
    try:
        cleaned = clean_line(text)
    except ValueError as exc:
        raise ValidationFailed(f"text {exc}", extra={"fields": {"text": str(exc)}}) from None
    if not cleaned:
        raise errors.EmptyMessage()
    if len(cleaned) > MAX_MESSAGE_CHARS:
        raise errors.MessageTooLong()
    return cleaned


class ChatService:
    def __init__(
        self,
        chat: ChatRepository,
        streams: StreamRepository,
        users: UserRepository,
        engine: Engine,
        *,
        history_seconds: int,
        rate_limit: tuple[int, int] = (3, 2),
    ) -> None:
        self.chat = chat
        self.streams = streams
        self.users = users
        self.engine = engine
        self.history_seconds = history_seconds
        self.rate_limit_messages, self.rate_limit_window = rate_limit

    async def stream(self, stream_id: uuid.UUID) -> Stream:
        stream = await self.streams.get(stream_id)
        if stream is None:
            raise StreamNotFound()
        return stream

    async def role(self, channel_id: uuid.UUID, user_id: uuid.UUID) -> Role:
        """The user's part in the chat of ``channel_id`` (the creator's user id)."""
        if channel_id == user_id:
            return "creator"
        if await self.chat.is_moderator(channel_id, user_id):
            return "moderator"
        return "viewer"

    # --- messages ----------------------------------------------------------------------------------

    async def send(self, stream_id: uuid.UUID, user: User, text: str) -> str:
        """Publish a message to the stream's chat; returns its id."""
        cleaned = clean_text(text)
        now = utcnow()
        context = await self.chat.send_context(stream_id, user.user_id, now)
        if context is None:
            raise StreamNotFound()
        if not context.live:
            raise StreamEnded("This stream has ended; its chat is read-only")
        if context.banned:
            raise errors.Banned(context.banned_until)
        counters = self.engine.counters
        burst = await counters.hit(f"chat:{user.user_id}", self.rate_limit_window)
        if burst.count > self.rate_limit_messages:
            raise errors.ChatRateLimited(burst.retry_after)
        exempt = context.moderator or context.channel_id == user.user_id
        if context.slow_mode_seconds and not exempt:
            slow = await counters.hit(f"chat-slow:{stream_id}:{user.user_id}", context.slow_mode_seconds)
            if slow.count > 1:
                raise errors.SlowMode(slow.retry_after)
        message_id = str(uuid.uuid4())
        payload = frames.encode(frames.chat_message(message_id, user.user_id, user.username, cleaned, now))
        await self.engine.publish_with_history(channel_of(stream_id), message_id, payload, self.history_seconds)
        return message_id

    async def history_payloads(self, stream_id: uuid.UUID) -> list[str]:
        return await self.engine.history(channel_of(stream_id), self.history_seconds)

    async def history(self, stream_id: uuid.UUID) -> list[ChatMessage]:
        await self.stream(stream_id)
        frames_kept = [json.loads(p) for p in await self.history_payloads(stream_id)]
        # Tips share the history (the socket replays them); this list is the chat lines only.
        return [ChatMessage.model_validate(f) for f in frames_kept if f.get("type", "chat.message") == "chat.message"]

    # --- moderation --------------------------------------------------------------------------------

    async def moderated(self, actor_id: uuid.UUID, stream_id: uuid.UUID) -> tuple[Stream, Role]:
        stream = await self.stream(stream_id)
        role = await self.role(stream.user_id, actor_id)
        if role == "viewer":
            raise errors.NotAModerator()
        return stream, role

    async def delete_message(self, actor_id: uuid.UUID, stream_id: uuid.UUID, message_id: str) -> None:
        await self.moderated(actor_id, stream_id)
        deleted = await self.engine.delete_with_notice(
            channel_of(stream_id), message_id, frames.chat_deleted(message_id)
        )
        if not deleted:
            raise errors.MessageNotFound()

    async def ban(self, actor_id: uuid.UUID, stream_id: uuid.UUID, body: BanCreate) -> BanOut:
        stream, role = await self.moderated(actor_id, stream_id)
        target = await self.users.get(body.user_id)
        if target is None:
            raise UserNotFound()
        if target.user_id in (stream.user_id, actor_id):
            raise errors.CannotBan("The creator cannot be banned, and nobody can ban themself")
        if role == "moderator" and await self.chat.is_moderator(stream.user_id, target.user_id):
            raise errors.CannotBan("Only the creator can ban a moderator")
        now = utcnow()
        expires = now + timedelta(seconds=body.duration_seconds) if body.duration_seconds else None
        ban = await self.chat.get_ban(stream.user_id, target.user_id)
        if ban is None:
            ban = ChatBan(channel_id=stream.user_id, user_id=target.user_id)
            await self.chat.add_ban(ban)
        ban.created_by = actor_id
        ban.created_at = now
        ban.expires_at = expires
        ban.reason = body.reason or None
        await self.chat.flush()
        return _ban_out(ban, target)

    async def purge_messages_of(self, stream_id: uuid.UUID, user_id: uuid.UUID) -> int:
        """Remove a banned user's recent messages from everyone's chat."""
        channel = channel_of(stream_id)
        removed = 0
        for payload in await self.history_payloads(stream_id):
            message = json.loads(payload)
            # Tips are in the history too (their sender is null once the account is gone).
            if (message.get("user") or {}).get("user_id") == str(user_id):
                removed += await self.engine.delete_with_notice(
                    channel, message["id"], frames.chat_deleted(message["id"])
                )
        return removed

    async def unban(self, actor_id: uuid.UUID, stream_id: uuid.UUID, user_id: uuid.UUID) -> None:
        stream, _ = await self.moderated(actor_id, stream_id)
        if not await self.chat.remove_ban(stream.user_id, user_id, utcnow()):
            raise errors.BanNotFound()

    async def bans(self, actor_id: uuid.UUID, stream_id: uuid.UUID) -> list[BanOut]:
        stream, _ = await self.moderated(actor_id, stream_id)
        return [_ban_out(ban, user) for ban, user in await self.chat.bans(stream.user_id, utcnow())]

    async def set_slow_mode(self, actor_id: uuid.UUID, stream_id: uuid.UUID, seconds: int) -> Stream:
        stream, _ = await self.moderated(actor_id, stream_id)
        if stream.status != "live":
            raise StreamEnded()
        stream.slow_mode_seconds = seconds
        await self.streams.flush()
        return stream

    async def announce_settings(self, stream_id: uuid.UUID, slow_mode_seconds: int) -> None:
        await self.engine.publish(channel_of(stream_id), frames.chat_settings(slow_mode_seconds))

    # --- moderators (the creator's own business) ---------------------------------------------------

    async def _owned(self, actor_id: uuid.UUID, stream_id: uuid.UUID) -> Stream:
        stream = await self.stream(stream_id)
        if stream.user_id != actor_id:
            raise errors.NotTheCreator()
        return stream

    async def moderators(self, actor_id: uuid.UUID, stream_id: uuid.UUID) -> list[ModeratorOut]:
        stream = await self._owned(actor_id, stream_id)
        return [_moderator_out(m, user) for m, user in await self.chat.moderators(stream.user_id)]

    async def add_moderator(self, actor_id: uuid.UUID, stream_id: uuid.UUID, user_id: uuid.UUID) -> ModeratorOut:
        stream = await self._owned(actor_id, stream_id)
        if user_id == stream.user_id:
            raise errors.InvalidModerator()
        user = await self.users.get(user_id)
        if user is None:
            raise UserNotFound()
        moderator = await self.chat.add_moderator(stream.user_id, user_id)
        return _moderator_out(moderator, user)

    async def remove_moderator(self, actor_id: uuid.UUID, stream_id: uuid.UUID, user_id: uuid.UUID) -> None:
        stream = await self._owned(actor_id, stream_id)
        if not await self.chat.remove_moderator(stream.user_id, user_id):
            raise errors.ModeratorNotFound()


def _ban_out(ban: ChatBan, user: User) -> BanOut:
    return BanOut(
        user_id=user.user_id,
        username=user.username,
        display_name=user.display_name,
        reason=ban.reason,
        created_at=ban.created_at,
        expires_at=ban.expires_at,
    )


def _moderator_out(moderator: ChatModerator, user: User) -> ModeratorOut:
    return ModeratorOut(
        user_id=user.user_id, username=user.username, display_name=user.display_name, created_at=moderator.created_at
    )
