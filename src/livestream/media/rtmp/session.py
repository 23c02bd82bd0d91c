"""What the RTMP server asks of the application (authorize a publish, take its tags) and what it gives back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from livestream.media.rtmp.stats import IngestStats

__all__ = ["PublishHandler", "PublishRejected", "PublishSession", "PublisherControl"]


class PublishRejected(Exception):
    """Raised by ``PublishHandler.authorize`` to refuse a publish; the client gets an onStatus error and is closed."""

    def __init__(
        self, code: str = "NetStream.Publish.BadName", description: str = "publishing refused for this stream key"
    ) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


class PublishSession(Protocol):
    async def on_metadata(self, metadata: dict[str, Any]) -> None:
        """The onMetaData object (width, height, framerate, videodatarate, audiocodecid, encoder, ...)."""

    async def on_tag(self, tag_type: int, timestamp_ms: int, payload: bytes) -> None:
        """One FLV tag: 8 audio, 9 video, 18 script (the AMF0 body without ``@setDataFrame``).

        The server reads no further from the publisher's socket until this returns: a slow consumer slows the
        publisher down instead of filling memory.
        """

    async def on_close(self, reason: str) -> None:
        """Called exactly once, when the publisher goes away, unpublishes or is disconnected."""


class PublishHandler(Protocol):
    async def authorize(self, app: str, stream_key: str, client: str, control: PublisherControl) -> PublishSession:
        """Accept the publish (return its session) or raise ``PublishRejected``."""


class PublisherControl:
    """Given to ``authorize``: the live stats of the connection, and a way to kick the publisher later."""

    def __init__(
        self, disconnect: Callable[[str], Awaitable[None]], stats: IngestStats, *, client: str, app: str
    ) -> None:
        self._disconnect = disconnect
        self.stats = stats
        self.client = client
        self.app = app

    async def disconnect(self, reason: str) -> None:
        """Close the publisher's connection now; ``on_close(reason)`` follows.

        From outside the session's callbacks, ``on_close`` has run when this returns (a callback that does not
        return within the grace period is cancelled). From inside a callback (``on_tag`` deciding to kick), the
        connection ends as soon as that callback returns. Calling it again is harmless.
        """
        await self._disconnect(reason)
