"""A small HTTP/1.1 load generator for when ``wrk`` is not installed.

Keeps N keep-alive connections busy with one request in flight each, for a fixed time, and prints one JSON
object: requests, requests per second, latency percentiles, and errors (any status but 200, broken or timed
out connections). It only talks to loopback addresses and always stops by itself: after ``--duration``
seconds or ``--max-requests`` requests, whichever comes first. Run it in its own process so it does not
share the server's (or the harness's) GIL:

    python -m bench.loadgen --url http://127.0.0.1:8123/api/users/ID --connections 32 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

MAX_DURATION_S = 300.0
MAX_CONNECTIONS = 1024
DEFAULT_MAX_REQUESTS = 10_000_000
# How long in-flight requests may take to finish once the time is up before they count as timed out.
GRACE_S = 5.0


class LoopbackOnlyError(ValueError):
    """Raised for a target that is not on this machine's loopback interface."""


def loopback_target(url: str) -> tuple[str, int, str]:
    """``(host, port, path)`` of an ``http://`` URL on loopback; anything else is refused."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise LoopbackOnlyError(f"not an http:// URL: {url}")
    host = parts.hostname
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise LoopbackOnlyError(f"load is only ever sent to loopback addresses, not {host}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return host, parts.port or 80, path


def percentile(sorted_values: list[int], pct: float) -> int:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class Stats:
    latencies_ns: list[int] = field(default_factory=list)
    status_counts: dict[int, int] = field(default_factory=dict)
    late_responses: int = 0
    socket_errors: int = 0
    protocol_errors: int = 0
    timeouts: int = 0
    bytes_received: int = 0


class _Connection(asyncio.Protocol):
    def __init__(self, run: _Run) -> None:
        self.run = run
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.sent_at = 0
        self.in_flight = False
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but they have its methods.
        self.transport = cast(asyncio.Transport, transport)

    def send(self) -> None:
        assert self.transport is not None
        if not self.run.may_send():
            self.transport.close()
            return
        self.in_flight = True
        self.sent_at = time.perf_counter_ns()
        self.transport.write(self.run.request)

    def data_received(self, data: bytes) -> None:
        self.run.stats.bytes_received += len(data)
        self.buffer += data
        while self.in_flight:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            parsed = _parse_head(self.buffer[:head_end])
            if parsed is None:
                self._protocol_error()
                return
            status, length, keep_alive = parsed
            total = head_end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            self.in_flight = False
            self.run.record(status, time.perf_counter_ns() - self.sent_at)
            if not keep_alive:
                # The server wants a new connection; that is not what a keep-alive benchmark measures.
                self.run.stats.protocol_errors += 1
                assert self.transport is not None
                self.transport.close()
                return
            self.send()

    def _protocol_error(self) -> None:
        self.run.stats.protocol_errors += 1
        self.in_flight = False
        assert self.transport is not None
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.in_flight:
            self.in_flight = False
            if self.run.stopping:
                self.run.stats.timeouts += 1
            else:
                self.run.stats.socket_errors += 1
        if not self.closed.done():
            self.closed.set_result(None)


def _parse_head(head: bytes) -> tuple[int, int, bool] | None:
    """Status, Content-Length and keep-alive of a response head, or None if we cannot frame it."""
    lines = head.split(b"\r\n")
    status_line = lines[0].split(b" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
        return None
    try:
        status = int(status_line[1])
    except ValueError:
        return None
    length: int | None = None
    keep_alive = status_line[0] == b"HTTP/1.1"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                return None
        elif name == b"connection":
            token = value.strip().lower()
            keep_alive = token != b"close" and (keep_alive or token == b"keep-alive")
        elif name == b"transfer-encoding":
            return None  # chunked bodies are not expected from the endpoints we benchmark
    if length is None:
        length = 0 if status in (204, 304) or status < 200 else -1
    if length < 0:
        return None
    return status, length, keep_alive


class _Run:
    def __init__(self, host: str, port: int, path: str, duration_s: float, max_requests: int) -> None:
        self.host = host
        self.port = port
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: livestream-bench\r\n"
            "Accept: application/json\r\n\r\n"
        ).encode()
        self.duration_s = duration_s
        self.max_requests = max_requests
        self.sent = 0
        self.completed = 0
        self.deadline_ns = 0
        self.stopping = False
        self.stats = Stats()

    def may_send(self) -> bool:
        if self.stopping or self.sent >= self.max_requests or time.perf_counter_ns() >= self.deadline_ns:
            self.stopping = True
            return False
        self.sent += 1
        return True

    def record(self, status: int, latency_ns: int) -> None:
        counts = self.stats.status_counts
        counts[status] = counts.get(status, 0) + 1
        if time.perf_counter_ns() <= self.deadline_ns:
            self.completed += 1
            self.stats.latencies_ns.append(latency_ns)
        else:
            self.stats.late_responses += 1

    async def execute(self, connections: int) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        protocols: list[_Connection] = []
        for _ in range(connections):
            try:
                _, protocol = await asyncio.wait_for(
                    loop.create_connection(lambda: _Connection(self), self.host, self.port), timeout=5
                )
            except (OSError, TimeoutError):
                self.stats.socket_errors += 1
                continue
            protocols.append(protocol)
        if not protocols:
            raise ConnectionError(f"could not connect to {self.host}:{self.port}")
        start = time.perf_counter_ns()
        self.deadline_ns = start + int(self.duration_s * 1e9)
        for protocol in protocols:
            protocol.send()
        # Connections close themselves once the time (or the request budget) is spent.
        waiting = [p.closed for p in protocols]
        await asyncio.wait(waiting, timeout=self.duration_s + GRACE_S)
        self.stopping = True
        for protocol in protocols:
            if protocol.transport is not None and not protocol.transport.is_closing():
                protocol.transport.close()
        await asyncio.wait(waiting, timeout=1)
        elapsed_s = min(time.perf_counter_ns(), self.deadline_ns) - start
        return self.report(elapsed_s / 1e9, len(protocols))

    def report(self, elapsed_s: float, connections: int) -> dict[str, Any]:
        stats = self.stats
        latencies = sorted(stats.latencies_ns)
        non200 = sum(n for status, n in stats.status_counts.items() if status != 200)
        errors = non200 + stats.socket_errors + stats.protocol_errors + stats.timeouts
        return {
            "tool": "python-asyncio",
            "connections": connections,
            "duration_s": round(elapsed_s, 3),
            "requests": self.completed,
            "rps": round(self.completed / elapsed_s, 1) if elapsed_s > 0 else 0.0,
            "p50_ms": round(percentile(latencies, 50) / 1e6, 3),
            "p99_ms": round(percentile(latencies, 99) / 1e6, 3),
            "mean_ms": round(sum(latencies) / len(latencies) / 1e6, 3) if latencies else 0.0,
            "max_ms": round(latencies[-1] / 1e6, 3) if latencies else 0.0,
            "errors": errors,
            "non200": non200,
            "socket_errors": stats.socket_errors,
            "protocol_errors": stats.protocol_errors,
            "timeouts": stats.timeouts,
            "status_counts": {str(k): v for k, v in sorted(stats.status_counts.items())},
            "bytes_received": stats.bytes_received,
        }


def run(url: str, *, connections: int, duration_s: float, max_requests: int = DEFAULT_MAX_REQUESTS) -> dict[str, Any]:
    """Load ``url`` and return the report (also usable in-process, though the CLI is preferred)."""
    host, port, path = loopback_target(url)
    if not 0 < duration_s <= MAX_DURATION_S:
        raise ValueError(f"duration must be in (0, {MAX_DURATION_S}] seconds")
    if not 0 < connections <= MAX_CONNECTIONS:
        raise ValueError(f"connections must be in [1, {MAX_CONNECTIONS}]")
    if max_requests < 1:
        raise ValueError("max_requests must be positive")
    load = _Run(host, port, path, duration_s, max_requests)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(load.execute(connections))
    return uvloop.run(load.execute(connections))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="http://127.0.0.1:PORT/path (loopback only)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0, help=f"seconds (at most {MAX_DURATION_S:g})")
    parser.add_argument("--max-requests", type=int, default=DEFAULT_MAX_REQUESTS)
    args = parser.parse_args(argv)
    try:
        report = run(args.url, connections=args.connections, duration_s=args.duration, max_requests=args.max_requests)
    except (ValueError, ConnectionError) as exc:
        print(f"loadgen: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
