"""Our RTMP ingest server: encoders publish to ``rtmp://HOST:PORT/{app}/{stream_key}``.

The server speaks enough RTMP for OBS, ffmpeg and librtmp-based encoders to publish; the application decides who
may publish (``PublishHandler.authorize``) and consumes the FLV tags (``PublishSession``). Each connection is
bounded in time (handshake, publish and idle timeouts) and memory (``RTMPLimits``, much tighter until a publish is
accepted); the server as a whole by a number of connections, and by a number per client address so that one
host cannot take them all. A misbehaving client is logged with its address and closed while everyone else keeps
streaming. Stream keys never reach the log: a short keyed hash (``key_id``) stands in for them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
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


def client_address(writer: asyncio.StreamWriter) -> str:
    """The peer's IP address, an IPv4 client on a dual-stack socket counted as its IPv4 address."""
    peer = writer.get_extra_info("peername")
    host = str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


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
        max_connections_per_ip: int = 10,
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
        # Encoders publish one stream per connection; a host with more than this many open is holding sockets (and
        # their buffers) for something else. Behind a NAT or a restreaming service, raise it.
        self.max_connections_per_ip = max_connections_per_ip
        self.apps = frozenset(apps)
        self.limits = limits or RTMPLimits()
        self._server: asyncio.Server | None = None
        self._connections: set[RTMPConnection] = set()
        self._per_address: dict[str, int] = {}  # open connections by client address; none left at zero
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

    def connections_from(self, address: str) -> int:
        """Open connections from one client address (as ``client_address`` spells it)."""
        return self._per_address.get(address, 0)

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
        address = client_address(writer)
        reason: str | None = None
        if self._stopping:
            reason = "server stopping"
        elif len(self._connections) >= self.max_connections:
            reason = "too many connections"
        elif self._per_address.get(address, 0) >= self.max_connections_per_ip:
            reason = "too many connections from this address"
        if reason is not None:
            log.warning("rtmp_connection_refused", client=connection.client, reason=reason)
            writer.transport.abort()
            return
        self._connections.add(connection)
        self._per_address[address] = self._per_address.get(address, 0) + 1
        try:
            await connection.run()
        finally:
            self._connections.discard(connection)
            left = self._per_address[address] - 1
            if left:
                self._per_address[address] = left
            else:
                del self._per_address[address]
