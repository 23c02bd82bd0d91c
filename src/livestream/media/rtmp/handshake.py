"""The RTMP handshake, server side (spec §5.2): C0+C1 in, S0+S1+S2 out, C2 in.

This is the plain ("simple") handshake: S1 carries our uptime, a zero version and random bytes; S2 echoes C1.
ffmpeg and librtmp (and so OBS) accept it for publishing: a zero version in S1 tells librtmp not to expect the
Flash-player digest scheme, and ffmpeg only checks the server digest when it plays.
"""

from __future__ import annotations

import asyncio
import os
import struct
import time
from dataclasses import dataclass
from typing import Final

__all__ = [
    "HANDSHAKE_SIZE",
    "RTMP_VERSION",
    "HandshakeError",
    "HandshakeResult",
    "NothingSent",
    "make_s0_s1_s2",
    "server_handshake",
]

RTMP_VERSION: Final = 3
HANDSHAKE_SIZE: Final = 1536
_U32 = struct.Struct(">I")


class HandshakeError(Exception):
    """The peer did not speak the RTMP handshake."""


class NothingSent(HandshakeError):
    """The peer connected and closed without sending a byte (port scans, TCP health checks)."""


@dataclass(frozen=True, slots=True)
class HandshakeResult:
    client_epoch: int  # the client's uptime in C1, milliseconds
    client_version: bytes  # C1 bytes 4..7: zero for a plain handshake, a Flash version for the digest scheme
    bytes_read: int


def check_c0(version: int) -> None:
    if version != RTMP_VERSION:
        if version == 6:
            raise HandshakeError("encrypted RTMP (RTMPE) is not supported")
        raise HandshakeError(f"RTMP version {version} (expected {RTMP_VERSION})")


def make_s0_s1_s2(c1: bytes, *, epoch_ms: int) -> bytes:
    if len(c1) != HANDSHAKE_SIZE:
        raise HandshakeError(f"C1 of {len(c1)} bytes (expected {HANDSHAKE_SIZE})")
    s1 = _U32.pack(epoch_ms & 0xFFFFFFFF) + b"\x00\x00\x00\x00" + os.urandom(HANDSHAKE_SIZE - 8)
    return bytes([RTMP_VERSION]) + s1 + c1


async def server_handshake(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, epoch_ms: int | None = None
) -> HandshakeResult:
    """Run the handshake; raises ``HandshakeError`` (``NothingSent`` for an empty connection), or
    ``asyncio.IncompleteReadError`` when the peer hangs up halfway. The caller bounds the time it may take.
    """
    try:
        c0 = await reader.readexactly(1)
    except asyncio.IncompleteReadError as exc:
        raise NothingSent("connection closed before the handshake") from exc
    check_c0(c0[0])
    c1 = await reader.readexactly(HANDSHAKE_SIZE)
    uptime = epoch_ms if epoch_ms is not None else int(time.monotonic() * 1000)
    writer.write(make_s0_s1_s2(c1, epoch_ms=uptime))
    await writer.drain()
    # C2 should echo S1; clients differ in what they put there and nothing depends on it, so it is not checked.
    await reader.readexactly(HANDSHAKE_SIZE)
    return HandshakeResult(
        client_epoch=_U32.unpack_from(c1)[0],
        client_version=c1[4:8],
        bytes_read=1 + 2 * HANDSHAKE_SIZE,
    )
