"""Our RTMP ingest server: encoders publish to ``rtmp://HOST:PORT/{app}/{stream_key}``.

The server speaks enough RTMP for OBS, ffmpeg and librtmp-based encoders to publish; the application decides who
may publish (``PublishHandler.authorize``) and consumes the FLV tags (``PublishSession``). Each connection is
bounded in time (handshake, publish and idle timeouts) and memory (``RTMPLimits``); a misbehaving client is
logged with its address and closed while everyone else keeps streaming. Stream keys never reach the log: a short
keyed hash (``key_id``) stands in for them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
from collections.abc import Collection

from livestream.logging import get_logger
from livestream.media.rtmp.connection import RTMPConnection, RTMPLimits
from livestream.media.rtmp.session import PublisherControl, PublishHandler, PublishRejected, PublishSession
from livestream.media.rtmp.stats import IngestStats

__all__ = [
    "IngestStats",
    "PublishHandler",
    "PublishRejected",
    "PublishSession",
    "PublisherControl",
    "RTMPLimits",
    "RTMPServer",
]

log = get_logger("livestream.rtmp")


class RTMPServer:
    def __init__(
        self,
        handler: PublishHandler,
        *,
        host: str,
        port: int,
        handshake_timeout: float = 10.0,
        idle_timeout: float = 30.0,
        max_connections: int = 1000,
        apps: Collection[str] = ("live",),
        limits: RTMPLimits | None = None,
    ) -> None:
        self._handler = handler
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.apps = frozenset(apps)
        self.limits = limits or RTMPLimits()
        self._server: asyncio.Server | None = None
        self._connections: set[RTMPConnection] = set()
        self._live: dict[tuple[str, str], RTMPConnection] = {}
        self._stopping = False
        # Per-process secret for key_id: log lines can be correlated, keys cannot be guessed back from them.
        self._log_secret = os.urandom(16)

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("RTMPServer.port is known once start() has returned")
        return self._port

    @property
    def connections(self) -> int:
        return len(self._connections)

    @property
    def publishers(self) -> int:
        return len(self._live)

    def key_id(self, stream_key: str) -> str:
        """What the logs show instead of a stream key."""
        return hmac.new(self._log_secret, stream_key.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:10]

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("RTMPServer already started")
        self._stopping = False
        self._server = await asyncio.start_server(self._accept, self._host, self._requested_port)
        self._port = int(self._server.sockets[0].getsockname()[1])
        log.info("rtmp_listening", host=self._host, port=self._port)

    async def stop(self) -> None:
        """Stop listening, disconnect everyone (active publishers get on_close), wait until all is closed."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping = True
        server.close()
        connections = list(self._connections)
        await asyncio.gather(*(c.disconnect("server stopping") for c in connections), return_exceptions=True)
        await server.wait_closed()
        log.info("rtmp_stopped", port=self._port, connections=len(connections))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = RTMPConnection(
            reader,
            writer,
            handler=self._handler,
            apps=self.apps,
            live=self._live,
            key_id=self.key_id,
            handshake_timeout=self.handshake_timeout,
            idle_timeout=self.idle_timeout,
            limits=self.limits,
        )
        if self._stopping or len(self._connections) >= self.max_connections:
            reason = "server stopping" if self._stopping else "too many connections"
            log.warning("rtmp_connection_refused", client=connection.client, reason=reason)
            writer.transport.abort()
            return
        self._connections.add(connection)
        try:
            await connection.run()
        finally:
            self._connections.discard(connection)
