"""Streams and stream keys: the rules, no HTTP. The request or ingest scope commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from livestream.db import utcnow
from livestream.security import constant_time_equals
from livestream.streams import errors
from livestream.streams.keys import StreamKeyCipher, new_stream_key
from livestream.streams.lifecycle import StreamLifecycle
from livestream.streams.models import Stream, StreamKey
from livestream.streams.repository import StreamKeyRepository, StreamRepository
from livestream.streams.schemas import StreamCreator, StreamOut, StreamUpdate
from livestream.users.models import User


@dataclass(frozen=True)
class Urls:
    """Where viewers fetch media; from LS_PUBLIC_URL so a CDN can front /hls later."""

    public_url: str

    def hls(self, stream_id: uuid.UUID) -> str:
        return f"{self.public_url.rstrip('/')}/hls/{stream_id}/master.m3u8"

    def thumbnail(self, stream_id: uuid.UUID) -> str:
        return f"{self.public_url.rstrip('/')}/hls/{stream_id}/thumbnail.jpg"

    # An archive's media goes through the app's /vod routes (stable URLs: with S3 they redirect to the CDN or
    # a presigned URL, and playlists are rewritten to point there).
    def vod(self, archive_id: uuid.UUID) -> str:
        return f"{self.public_url.rstrip('/')}/vod/{archive_id}/master.m3u8"

    def poster(self, archive_id: uuid.UUID) -> str:
        return f"{self.public_url.rstrip('/')}/vod/{archive_id}/poster.jpg"

    def mp4(self, archive_id: uuid.UUID) -> str:
        return f"{self.public_url.rstrip('/')}/vod/{archive_id}/archive.mp4"


class StreamKeyService:
    def __init__(self, keys: StreamKeyRepository, cipher: StreamKeyCipher) -> None:
        self.keys = keys
        self.cipher = cipher

    async def reveal(self, user_id: uuid.UUID) -> tuple[str, datetime]:
        """The creator's key, created on first use."""
        stored = await self.keys.get(user_id)
        if stored is None:
            return await self.rotate(user_id)
        return self.cipher.decrypt(stored.key_encrypted), stored.created_at

    async def rotate(self, user_id: uuid.UUID) -> tuple[str, datetime]:
        key = new_stream_key()
        stored = await self.keys.get(user_id)
        if stored is None:
            stored = StreamKey(user_id=user_id, key_hash="", key_encrypted="")
        stored.key_hash = self.cipher.lookup_hash(key)
        stored.key_encrypted = self.cipher.encrypt(key)
        stored.created_at = utcnow()
        await self.keys.save(stored)
        return key, stored.created_at

    async def resolve(self, presented: str) -> uuid.UUID | None:
        """The creator a presented key belongs to, or None (rotated, unknown)."""
        if not presented or len(presented) > 200:
            return None
        stored = await self.keys.get_by_hash(self.cipher.lookup_hash(presented))
        if stored is None:
            return None
        # The hash lookup found a candidate; the final check on the key itself is constant-time.
        return stored.user_id if constant_time_equals(self.cipher.decrypt(stored.key_encrypted), presented) else None


class StreamService:
    def __init__(self, streams: StreamRepository, urls: Urls, lifecycle: StreamLifecycle) -> None:
        self.streams = streams
        self.urls = urls
        self.lifecycle = lifecycle

    async def start(self, user_id: uuid.UUID, title: str, description: str | None) -> Stream:
        return await self.lifecycle.open(self.streams, user_id, title, description)

    async def get(self, stream_id: uuid.UUID) -> tuple[Stream, User]:
        found = await self.streams.get_with_creator(stream_id)
        if found is None:
            raise errors.StreamNotFound()
        return found

    async def owned(self, actor_id: uuid.UUID, stream_id: uuid.UUID) -> tuple[Stream, User]:
        stream, creator = await self.get(stream_id)
        if stream.user_id != actor_id:
            raise errors.NotYourStream()
        return stream, creator

    async def end(self, actor_id: uuid.UUID, stream_id: uuid.UUID) -> tuple[Stream, User]:
        stream, creator = await self.owned(actor_id, stream_id)
        if not await self.lifecycle.end(self.streams, stream):
            raise errors.StreamEnded()
        await self.streams.flush()
        return stream, creator

    async def update(self, actor_id: uuid.UUID, stream_id: uuid.UUID, change: StreamUpdate) -> tuple[Stream, User]:
        stream, creator = await self.owned(actor_id, stream_id)
        if stream.status == "ended":
            raise errors.StreamEnded()
        if change.title is not None:
            stream.title = change.title
        if change.description is not None:
            stream.description = change.description or None
        self.lifecycle.updated(self.streams, stream)
        await self.streams.flush()
        return stream, creator

    def out(self, stream: Stream, creator: User) -> StreamOut:
        live = stream.status == "live"
        return StreamOut(
            stream_id=stream.stream_id,
            user_id=stream.user_id,
            user=StreamCreator.model_validate(creator),
            title=stream.title,
            description=stream.description,
            status="live" if live else "ended",
            media_state=stream.media_state,
            started_at=stream.started_at,
            ended_at=stream.ended_at,
            viewer_count=stream.viewer_count,
            hls_url=self.urls.hls(stream.stream_id) if live else None,
            # Only once media flows: before that there is no picture to point at.
            thumbnail_url=self.urls.thumbnail(stream.stream_id) if live and stream.media_state != "waiting" else None,
        )
