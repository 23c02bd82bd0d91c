"""The one writer of a stream's lifecycle: opened, media waiting/live/reconnecting, ended.

Whoever triggers a transition (the API, an RTMP connect or drop, the reconnect window, a reconciler) calls this
module with its own session; the transition is written there, and once that session commits, exactly one
``StreamTransition`` goes to every subscriber (viewers' live events, the public views, ingest, archives). A
subscriber that fails is logged and the others still run: the transition itself is done.

The peak viewer count is written with the end, in the same transaction, not by a subscriber.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from livestream.db import after_commit, utcnow
from livestream.logging import get_logger
from livestream.streams import errors
from livestream.streams.models import Stream
from livestream.streams.repository import StreamRepository

log = get_logger("livestream.streams.lifecycle")

TransitionKind = Literal["opened", "waiting", "live", "reconnecting", "ended", "updated"]
MediaState = Literal["waiting", "live", "reconnecting"]


@dataclass(frozen=True, slots=True)
class StreamTransition:
    """What happened to a stream, as committed. ``updated``: its title or description changed."""

    stream_id: uuid.UUID
    user_id: uuid.UUID
    kind: TransitionKind
    at: datetime
    # The media state before (a "live" after "waiting" is a go-live; after "reconnecting", a reconnect).
    previous: str | None = None


Subscriber = Callable[[StreamTransition], Awaitable[None]]
PeakViewers = Callable[[uuid.UUID], Awaitable[int]]


class StreamLifecycle:
    def __init__(self, peak_viewers: PeakViewers | None = None) -> None:
        # The most viewers a live stream has had at once (the realtime engine's presence), read at the end.
        self._peak_viewers = peak_viewers
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    async def open(self, streams: StreamRepository, user_id: uuid.UUID, title: str, description: str | None) -> Stream:
        """A new live stream, waiting for its video. ``AlreadyLive`` when the creator has one open."""
        if await streams.live_for_user(user_id) is not None:
            raise errors.AlreadyLive()
        stream = Stream(
            user_id=user_id,
            title=title,
            description=description,
            status="live",
            media_state="waiting",
            started_at=utcnow(),
        )
        if not await streams.add(stream):
            raise errors.AlreadyLive()
        self._emit_after_commit(streams, stream, "opened")
        return stream

    def set_media_state(
        self, streams: StreamRepository, stream: Stream, state: MediaState, *, ingest_at: datetime | None = None
    ) -> bool:
        """Move a live stream's media state; False (nothing written) when it is ended or already there.

        ``ingest_at``: media arrived then (the reconnect window is measured from the last such moment)."""
        if stream.status != "live":
            return False
        if ingest_at is not None:
            stream.last_ingest_at = ingest_at
        if stream.media_state == state:
            return False
        previous, stream.media_state = stream.media_state, state
        self._emit_after_commit(streams, stream, state, previous=previous)
        return True

    async def end(self, streams: StreamRepository, stream: Stream, *, at: datetime | None = None) -> bool:
        """End a live stream (at ``at``, default now) and store its peak viewer count; False if already ended
        (also when another ender, a request or a timer, got there first: the write is a compare-and-set)."""
        if stream.status != "live":
            return False
        viewers = stream.viewer_count
        if self._peak_viewers is not None:
            try:
                viewers = max(viewers, await self._peak_viewers(stream.stream_id))
            except Exception as exc:
                # The engine (Redis) is down: the stream still ends; the peak is what was stored before.
                log.warning("peak_viewers_unavailable", stream_id=str(stream.stream_id), error=repr(exc))
        ended_at = max(at or utcnow(), stream.started_at)
        won = await streams.end_if_live(stream.stream_id, ended_at=ended_at, viewer_count=viewers)
        await streams.session.refresh(stream)
        if won:
            self._emit_after_commit(streams, stream, "ended")
        return won

    def updated(self, streams: StreamRepository, stream: Stream) -> None:
        """The title or description changed (viewers see it at once)."""
        self._emit_after_commit(streams, stream, "updated")

    def _emit_after_commit(
        self, streams: StreamRepository, stream: Stream, kind: TransitionKind, *, previous: str | None = None
    ) -> None:
        transition = StreamTransition(stream.stream_id, stream.user_id, kind, utcnow(), previous)

        async def emit() -> None:
            await self.emit(transition)

        after_commit(streams.session, emit)

    async def emit(self, transition: StreamTransition) -> None:
        log.info("stream_transition", stream_id=str(transition.stream_id), kind=transition.kind)
        for subscriber in self._subscribers:
            try:
                await subscriber(transition)
            except Exception as exc:
                log.error(
                    "stream_subscriber_failed",
                    stream_id=str(transition.stream_id),
                    kind=transition.kind,
                    subscriber=getattr(subscriber, "__qualname__", repr(subscriber)),
                    error=f"{type(exc).__name__}: {exc}",
                )
