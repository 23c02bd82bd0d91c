"""WebSocket load generator for the realtime benchmarks (``/ws/streams/{stream_id}``, docs/realtime.md).

One coordinator process (``fanout`` or ``idle``) starts worker processes (``viewers``), each holding many viewer
connections on its own uvloop, and talks to them over their stdin/stdout, one line per command:

    coordinator → worker   END <json list of accepted sequence numbers>    (publishing is over: drain)
                           QUIT                                             (close every connection, exit)
    worker → coordinator   READY <json>    every viewer has its ``hello``
                           RESULT <json>   every viewer has every accepted message, or the drain timed out

``fanout``: the coordinator also holds the sender connections (``auth`` with one access token each, then
``chat.send`` round-robin at ``--rate`` messages per second in all, for ``--duration`` seconds). Each text is
``fanout <seq> <t>``, ``t`` being ``time.monotonic_ns()`` just before the frame is written. On Linux that clock is
CLOCK_MONOTONIC, one clock for the whole machine, so a worker process subtracts it from its own reading when the
frame arrives: publish-to-receive latency without any clock offset. It prints one JSON object: deliveries,
latency histogram and percentiles, lost messages (every viewer connected before the first send must receive
every accepted sequence number), the server's CPU seconds over the window (utime + stime of ``--server-pid`` from
/proc) and the generator's own CPU.

``idle``: connect the viewers, wait ``--settle`` seconds, read the server's VmRSS, print it, disconnect.

The viewers speak RFC 6455 themselves on ``asyncio.Protocol`` (an upgrade request with no extensions offered, so
permessage-deflate is never negotiated; unmasked server frames parsed in place; pings answered; masked client
frames), because a task and a websockets connection object per viewer would cost the generator more CPU than the
server spends. Only loopback targets are accepted; every process stops by itself (``--max-seconds``, SIGALRM) and
the coordinator ends its workers by PID.

    python -m bench.ws_loadgen fanout --url ws://127.0.0.1:8000/ws/streams/ID --viewers 1000 --workers 2 \\
        --tokens-file tokens.txt --rate 10 --duration 10 --server-pid 1234
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import ipaddress
import json
import os
import secrets
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

try:
    import orjson

    def loads(data: bytes) -> Any:
        return orjson.loads(data)

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)

except ImportError:  # pragma: no cover - orjson is a dependency of the project

    def loads(data: bytes) -> Any:
        return json.loads(data)

    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()


GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
BUCKET_US = 50  # latency histogram resolution
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MAX_SECONDS = 600


class LoopbackOnlyError(ValueError):
    """Raised for a target that is not on this machine's loopback interface."""


def ws_target(url: str) -> tuple[str, int, str]:
    """``(host, port, path)`` of a ``ws://`` URL on loopback; anything else is refused."""
    parts = urlsplit(url)
    if parts.scheme != "ws" or not parts.hostname:
        raise LoopbackOnlyError(f"not a ws:// URL: {url}")
    try:
        loopback = ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        loopback = parts.hostname == "localhost"
    if not loopback:
        raise LoopbackOnlyError(f"load is only ever sent to loopback addresses, not {parts.hostname}")
    return parts.hostname, parts.port or 80, parts.path or "/"


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads, none of its children) from /proc/<pid>/stat."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def proc_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ValueError(f"no VmRSS for {pid}")


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


# --- RFC 6455 client -----------------------------------------------------------------------------------------------


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame."""
    length = len(payload)
    if length < 126:
        header = bytes([0x80 | opcode, 0x80 | length])
    elif length < 65536:
        header = bytes([0x80 | opcode, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + length.to_bytes(8, "big")
    mask = secrets.token_bytes(4)
    if not length:
        return header + mask
    repeated = (mask * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(length, "big")
    return header + mask + masked


class Client(asyncio.Protocol):
    """One WebSocket connection: the upgrade, then server frames parsed straight out of ``data_received``."""

    def __init__(self, host: str, port: int, path: str) -> None:
        key = base64.b64encode(secrets.token_bytes(16))
        self.expected_accept = base64.b64encode(hashlib.sha1(key + GUID).digest())  # noqa: S324 - RFC 6455
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.upgraded = False
        self.hello = False
        self.lost = False
        self.close_code: int | None = None
        self.failure: str | None = None
        self.fragments: list[bytes] = []
        self.waiter: asyncio.Future[None] | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's TCPTransport is not a subclass
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.hello and self.failure is None:
            self.failure = f"closed before hello ({self.close_code or exc or 'eof'})"
        self._wake()

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        if self.buffer:
            data = self.buffer + data
            self.buffer = b""
        if not self.upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                if len(data) > 16384:
                    self.fail("oversized handshake response")
                self.buffer = data
                return
            head = data[:end].decode("latin-1")
            data = data[end + 4 :]
            status = head.split("\r\n", 1)[0]
            if " 101 " not in status + " ":
                self.fail(f"handshake refused: {status}")
                return
            if self.expected_accept.decode() not in head:
                self.fail("bad Sec-WebSocket-Accept")
                return
            if "sec-websocket-extensions" in head.lower():
                self.fail("the server negotiated an extension nobody offered")
                return
            self.upgraded = True
        size = len(data)
        pos = 0
        while size - pos >= 2:
            b0 = data[pos]
            length = data[pos + 1]
            if length & 0x80:
                self.fail("masked server frame")
                return
            if length < 126:
                start = pos + 2
            elif length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 4], "big")
                start = pos + 4
            else:
                if size - pos < 10:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                start = pos + 10
            end = start + length
            if end > size:
                break
            payload = data[start:end]
            pos = end
            opcode = b0 & 0x0F
            if opcode == 1 and b0 & 0x80:
                self.on_text(payload, now)
            elif opcode == 9:
                self.send(10, payload)
            elif opcode == 8:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.send(8, payload[:2])
                if self.transport is not None:
                    self.transport.close()
                return
            elif opcode in (0, 1, 2):  # fragmented message
                self.fragments.append(payload)
                if b0 & 0x80:
                    whole = b"".join(self.fragments)
                    self.fragments = []
                    self.on_text(whole, now)
        if pos < size:
            self.buffer = data[pos:]

    # helpers
    def fail(self, why: str) -> None:
        self.failure = why
        if self.transport is not None:
            self.transport.abort()
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def send(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(opcode, payload))

    def send_json(self, value: Any) -> None:
        self.send(1, dumps(value))

    def close(self) -> None:
        self.send(8, (1000).to_bytes(2, "big"))

    def on_text(self, payload: bytes, now_ns: int) -> None:
        frame = loads(payload)
        if frame.get("type") == "hello":
            self.hello = True
            self._wake()
        else:
            self.on_frame(frame, now_ns)

    def on_frame(self, frame: dict[str, Any], now_ns: int) -> None:
        pass


# --- viewers (worker process) ----------------------------------------------------------------------------------


@dataclass
class ViewerStats:
    capacity: int
    per_seq: list[int] = field(default_factory=list)
    latency: Counter[int] = field(default_factory=Counter)
    deliveries: int = 0
    duplicates: int = 0
    unexpected: int = 0
    other: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.per_seq = [0] * self.capacity


class Viewer(Client):
    def __init__(self, host: str, port: int, path: str, stats: ViewerStats) -> None:
        super().__init__(host, port, path)
        self.stats = stats
        self.seen = bytearray(stats.capacity)
        self.distinct = 0

    def on_frame(self, frame: dict[str, Any], now_ns: int) -> None:
        stats = self.stats
        if frame.get("type") != "chat.message":
            stats.other[str(frame.get("type"))] += 1
            return
        text = frame.get("text", "")
        parts = text.split()
        if len(parts) != 3 or parts[0] != "fanout":
            stats.unexpected += 1
            return
        seq = int(parts[1])
        stats.deliveries += 1
        stats.latency[(now_ns - int(parts[2])) // (BUCKET_US * 1000)] += 1
        if not 0 <= seq < stats.capacity:
            stats.unexpected += 1
            return
        if self.seen[seq]:
            stats.duplicates += 1
            return
        self.seen[seq] = 1
        self.distinct += 1
        stats.per_seq[seq] += 1


async def connect_all(
    make: Callable[[], Client], host: str, port: int, count: int, *, batch: int, timeout_s: float
) -> tuple[list[Client], list[str]]:
    """Open ``count`` connections ``batch`` at a time, each batch waiting for every ``hello`` (or failure)
    before the next starts, so the server's accept backlog is never flooded."""
    loop = asyncio.get_running_loop()
    clients: list[Client] = []
    failures: list[str] = []
    for start in range(0, count, batch):
        group = [make() for _ in range(min(batch, count - start))]
        waits: list[asyncio.Future[None]] = []
        for client in group:
            client.waiter = loop.create_future()
            waits.append(client.waiter)

        async def open_one(client: Client) -> None:
            try:
                await loop.create_connection(lambda: client, host, port)
            except OSError as exc:
                client.failure = f"connect: {exc}"
                client._wake()

        await asyncio.gather(*(open_one(c) for c in group))
        await asyncio.wait(waits, timeout=timeout_s)
        for client in group:
            client.waiter = None
            if client.failure:
                failures.append(client.failure)
            elif not client.hello:
                failures.append("no hello within the timeout")
            else:
                clients.append(client)
        if failures:
            break
    return clients, failures


async def close_all(clients: list[Client], grace_s: float = 3.0) -> None:
    for client in clients:
        client.close()
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and not all(c.lost for c in clients):  # noqa: ASYNC110 - a poll, bounded
        await asyncio.sleep(0.05)
    for client in clients:
        if client.transport is not None and not client.lost:
            client.transport.abort()


async def stdin_lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def emit(kind: str, value: Any) -> None:
    sys.stdout.write(f"{kind} {json.dumps(value)}\n")
    sys.stdout.flush()


async def worker_main(args: argparse.Namespace) -> None:
    host, port, path = ws_target(args.url)
    stats = ViewerStats(args.capacity)
    commands = await stdin_lines()
    t0 = time.monotonic()
    clients, failures = await connect_all(
        lambda: Viewer(host, port, path, stats),
        host,
        port,
        args.count,
        batch=args.batch,
        timeout_s=args.connect_timeout,
    )
    viewers = cast(list[Viewer], clients)
    ready_at = time.monotonic()
    emit(
        "READY",
        {
            "connected": len(viewers),
            "failures": failures[:5],
            "seconds": round(ready_at - t0, 3),
            # CLOCK_MONOTONIC, the same in every process: the coordinator spans all workers with these.
            "started_at": t0,
            "ready_at": ready_at,
        },
    )
    result: dict[str, Any] = {}
    while True:
        line = (await commands.readline()).decode().strip()
        if not line or line == "QUIT":
            break
        if line.startswith("END "):
            accepted: list[int] = json.loads(line[4:])
            want = len([s for s in accepted if 0 <= s < args.capacity])
            drain_start = time.monotonic()
            deadline = drain_start + args.drain
            while time.monotonic() < deadline:
                if all(v.distinct >= want or v.lost for v in viewers):
                    break
                await asyncio.sleep(0.01)
            cpu = own_cpu_seconds()
            lost_viewers = [v for v in viewers if v.lost]
            result = {
                "viewers": len(viewers),
                "drain_s": round(time.monotonic() - drain_start, 3),
                "cpu_s": cpu,
                "deliveries": stats.deliveries,
                "per_seq": {str(s): stats.per_seq[s] for s in accepted if 0 <= s < args.capacity},
                "latency_buckets": {str(k): v for k, v in stats.latency.items()},
                "duplicates": stats.duplicates,
                "unexpected": stats.unexpected,
                "other_frames": dict(stats.other),
                "closed_during_run": len(lost_viewers),
                "close_codes": dict(Counter(str(v.close_code) for v in lost_viewers)),
            }
            emit("RESULT", result)
    await close_all(clients)


# --- coordinator -----------------------------------------------------------------------------------------------


class Sender(Client):
    def __init__(self, host: str, port: int, path: str, token: str) -> None:
        super().__init__(host, port, path)
        self.token = token
        self.authed: asyncio.Future[None] | None = None
        self.acked: set[int] = set()
        self.refused: Counter[str] = Counter()
        self.deliveries = 0
        self.other: Counter[str] = Counter()

    def on_frame(self, frame: dict[str, Any], now_ns: int) -> None:
        kind = frame.get("type")
        if kind == "chat.message":
            self.deliveries += 1
        elif kind == "chat.ack":
            self.acked.add(int(frame["nonce"]))
        elif kind == "auth.ok":
            if self.authed is not None and not self.authed.done():
                self.authed.set_result(None)
        elif kind == "error":
            self.refused[str(frame.get("code"))] += 1
            if self.authed is not None and not self.authed.done():
                self.authed.set_exception(RuntimeError(f"auth refused: {frame}"))
        else:
            self.other[str(kind)] += 1


@dataclass
class Worker:
    process: asyncio.subprocess.Process
    count: int

    @property
    def pid(self) -> int:
        return self.process.pid

    async def read(self, kind: str, timeout_s: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.process.stdout.readline(), timeout_s)
            if not raw:
                raise RuntimeError(f"worker {self.pid} exited (code {self.process.returncode}) before {kind}")
            line = raw.decode().strip()
            if line.startswith(kind + " "):
                value: dict[str, Any] = json.loads(line[len(kind) + 1 :])
                return value

    def tell(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")


async def start_workers(args: argparse.Namespace, capacity: int) -> list[Worker]:
    shares = [args.viewers // args.workers + (1 if i < args.viewers % args.workers else 0) for i in range(args.workers)]
    workers: list[Worker] = []
    for share in shares:
        if share == 0:
            continue
        argv = [
            sys.executable,
            "-m",
            "bench.ws_loadgen",
            "viewers",
            "--url",
            args.url,
            "--count",
            str(share),
            "--batch",
            str(max(1, args.batch // len(shares))),
            "--capacity",
            str(capacity),
            "--drain",
            str(args.drain),
            "--connect-timeout",
            str(args.connect_timeout),
            "--max-seconds",
            str(args.max_seconds),
        ]
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 26
        )
        workers.append(Worker(process, share))
    return workers


async def stop_workers(workers: list[Worker]) -> None:
    for worker in workers:
        if worker.process.returncode is None:
            with contextlib.suppress(Exception):
                worker.tell("QUIT")
    for worker in workers:
        try:
            await asyncio.wait_for(worker.process.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGKILL)
            await worker.process.wait()


def percentile_of(buckets: Counter[int], pct: float) -> float | None:
    total = sum(buckets.values())
    if not total:
        return None
    rank = max(1, int(total * pct / 100 + 0.999999))
    seen = 0
    for bucket in sorted(buckets):
        seen += buckets[bucket]
        if seen >= rank:
            return (bucket + 1) * BUCKET_US / 1000  # the bucket's upper edge, in ms
    return None


async def ready_all(workers: list[Worker], timeout_s: float) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(w.read("READY", timeout_s) for w in workers)))


async def fanout_main(args: argparse.Namespace) -> dict[str, Any]:
    host, port, path = ws_target(args.url)
    tokens = [t for t in Path(args.tokens_file).read_text().split() if t]  # noqa: ASYNC240 - before any load
    if not tokens:
        raise SystemExit("no sender tokens")
    total = int(args.rate * args.duration)
    capacity = total + 1
    loop = asyncio.get_running_loop()
    t_start = time.monotonic()
    workers = await start_workers(args, capacity)
    senders: list[Sender] = []
    try:
        senders = [Sender(host, port, path, token) for token in tokens]
        for sender in senders:
            sender.waiter = loop.create_future()
            await loop.create_connection(lambda s=sender: s, host, port)  # type: ignore[misc]
            await asyncio.wait_for(sender.waiter, args.connect_timeout)
            if sender.failure:
                raise RuntimeError(f"sender: {sender.failure}")
            sender.authed = loop.create_future()
            sender.send_json({"type": "auth", "token": sender.token})
            await asyncio.wait_for(sender.authed, args.connect_timeout)
        ready = await ready_all(workers, args.max_seconds)
        connect_s = time.monotonic() - t_start
        failed = [f for r in ready for f in r["failures"]]
        connected = sum(r["connected"] for r in ready)
        if failed or connected != args.viewers:
            raise RuntimeError(f"{connected} of {args.viewers} viewers connected: {failed[:3]}")
        await asyncio.sleep(args.settle)

        server_cpu0 = proc_cpu_seconds(args.server_pid)
        workers_cpu0 = {w.pid: proc_cpu_seconds(w.pid) for w in workers}
        own_cpu0 = own_cpu_seconds()
        base_deliveries = sum(s.deliveries for s in senders)
        w0 = time.monotonic()
        for seq in range(total):
            due = w0 + seq / args.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sender = senders[seq % len(senders)]
            sender.send_json({"type": "chat.send", "text": f"fanout {seq} {time.monotonic_ns()}", "nonce": str(seq)})
        publish_s = time.monotonic() - w0
        ack_deadline = time.monotonic() + args.drain
        while time.monotonic() < ack_deadline:
            answered = sum(len(s.acked) + sum(s.refused.values()) for s in senders)
            if answered >= total:
                break
            await asyncio.sleep(0.01)
        accepted = sorted(set().union(*(s.acked for s in senders)))
        for worker in workers:
            worker.tell("END " + json.dumps(accepted))
        results = list(await asyncio.gather(*(w.read("RESULT", args.drain + 30) for w in workers)))
        w1 = time.monotonic()
        server_cpu1 = proc_cpu_seconds(args.server_pid)
        own_cpu1 = own_cpu_seconds()
    finally:
        for sender in senders:
            sender.close()
        await stop_workers(workers)
        for sender in senders:
            if sender.transport is not None:
                sender.transport.abort()

    latency: Counter[int] = Counter()
    per_seq: Counter[int] = Counter()
    other: Counter[str] = Counter()
    for result in results:
        latency.update({int(k): v for k, v in result["latency_buckets"].items()})
        per_seq.update({int(k): v for k, v in result["per_seq"].items()})
        other.update(result["other_frames"])
    viewers = sum(r["viewers"] for r in results)
    lost = sum(viewers - per_seq.get(seq, 0) for seq in accepted)
    viewer_deliveries = sum(r["deliveries"] for r in results)
    sender_deliveries = sum(s.deliveries for s in senders) - base_deliveries
    deliveries = viewer_deliveries + sender_deliveries
    window_s = w1 - w0
    server_cpu = server_cpu1 - server_cpu0
    workers_cpu = {
        str(w.pid): round(r["cpu_s"] - workers_cpu0[w.pid], 3) for w, r in zip(workers, results, strict=True)
    }
    refused: Counter[str] = Counter()
    for sender in senders:
        refused.update(sender.refused)
    return {
        "viewers": viewers,
        "senders": len(senders),
        "workers": len(workers),
        "connect_s": round(connect_s, 3),
        "published": total,
        "accepted": len(accepted),
        "refused": dict(refused),
        "publish_s": round(publish_s, 3),
        "window_s": round(window_s, 3),
        "drain_s": max(r["drain_s"] for r in results),
        "deliveries": deliveries,
        "viewer_deliveries": viewer_deliveries,
        "sender_deliveries": sender_deliveries,
        "deliveries_per_s": round(deliveries / window_s, 1),
        "lost": lost,
        "duplicates": sum(r["duplicates"] for r in results),
        "unexpected": sum(r["unexpected"] for r in results),
        "closed_during_run": sum(r["closed_during_run"] for r in results),
        "close_codes": dict(sum((Counter(r["close_codes"]) for r in results), Counter())),
        "other_frames": dict(other),
        "p50_ms": percentile_of(latency, 50),
        "p90_ms": percentile_of(latency, 90),
        "p99_ms": percentile_of(latency, 99),
        "max_ms": (max(latency) + 1) * BUCKET_US / 1000 if latency else None,
        "server_cpu_s": round(server_cpu, 3),
        "server_cpu_ms_per_1000": round(1e6 * server_cpu / deliveries, 3) if deliveries else None,
        "generator_cpu_s": {"coordinator": round(own_cpu1 - own_cpu0, 3), "workers": workers_cpu},
        "generator_cpu_percent_max_process": round(
            100 * max([own_cpu1 - own_cpu0, *workers_cpu.values()]) / window_s, 1
        ),
    }


async def idle_main(args: argparse.Namespace) -> dict[str, Any]:
    ws_target(args.url)
    rss0 = proc_rss_kb(args.server_pid)
    cpu0 = proc_cpu_seconds(args.server_pid)
    t0 = time.monotonic()
    workers = await start_workers(args, 1)
    try:
        ready = await ready_all(workers, args.max_seconds)
        connect_s = time.monotonic() - t0
        # The server's CPU for the joins alone: every viewer's handshake, join and hello, nothing after.
        join_cpu = proc_cpu_seconds(args.server_pid) - cpu0
        # The raid itself: from the first worker's first connection to the last worker's last hello (connect_s
        # also counts the workers' own start-up).
        raid_s = max(r["ready_at"] for r in ready) - min(r["started_at"] for r in ready)
        failed = [f for r in ready for f in r["failures"]]
        connected = sum(r["connected"] for r in ready)
        if failed or connected != args.viewers:
            raise RuntimeError(f"{connected} of {args.viewers} viewers connected: {failed[:3]}")
        await asyncio.sleep(args.settle)
        rss_n = proc_rss_kb(args.server_pid)
        cpu = proc_cpu_seconds(args.server_pid)
    finally:
        await stop_workers(workers)
    return {
        "viewers": connected,
        "workers": len(workers),
        "connect_s": round(connect_s, 3),
        "raid_s": round(raid_s, 3),
        "rss0_kb": rss0,
        "rss_kb": rss_n,
        "kb_per_connection": round((rss_n - rss0) / connected, 3) if connected else None,
        "join_cpu_s": round(join_cpu, 3),
        "join_cpu_ms_per_viewer": round(1000 * join_cpu / connected, 4) if connected else None,
        "server_cpu_s_total": cpu,
    }


def _runner(coro: Any) -> Any:
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ws_loadgen", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", required=True, help="ws://127.0.0.1:PORT/ws/streams/ID (loopback only)")
    common.add_argument(
        "--batch", type=int, default=100, help="connections opened at once (a coordinator's: all workers together)"
    )
    common.add_argument("--connect-timeout", type=float, default=30.0)
    common.add_argument("--drain", type=float, default=10.0, help="seconds to wait for the last deliveries")
    common.add_argument("--max-seconds", type=int, default=300, help="hard bound on this process's life")

    worker = sub.add_parser("viewers", parents=[common], help="(internal) a worker holding viewer connections")
    worker.add_argument("--count", type=int, required=True)
    worker.add_argument("--capacity", type=int, required=True)

    coord = argparse.ArgumentParser(add_help=False)
    coord.add_argument("--viewers", type=int, required=True)
    coord.add_argument("--workers", type=int, default=2)
    coord.add_argument("--server-pid", type=int, required=True, help="the server process, for CPU and RSS")
    coord.add_argument("--settle", type=float, default=1.0, help="seconds between the last hello and measuring")

    fanout = sub.add_parser("fanout", parents=[common, coord], help="publish and measure deliveries")
    fanout.add_argument("--tokens-file", required=True, help="access tokens of the sender accounts, one a line")
    fanout.add_argument("--rate", type=float, default=10.0, help="messages per second, all senders together")
    fanout.add_argument("--duration", type=float, default=10.0, help="seconds of publishing")

    sub.add_parser("idle", parents=[common, coord], help="connect idle viewers and read the server's RSS")
    args = parser.parse_args(argv)

    ws_target(args.url)
    if args.max_seconds <= 0 or args.max_seconds > MAX_SECONDS:
        parser.error(f"--max-seconds must be in (0, {MAX_SECONDS}]")
    signal.alarm(args.max_seconds)  # the default action ends the process, whatever it is doing
    if args.command == "viewers":
        _runner(worker_main(args))
        return 0
    if not 1 <= args.workers <= 16 or args.viewers < 1:
        parser.error("--workers must be in [1, 16] and --viewers at least 1")
    try:
        out = _runner(fanout_main(args) if args.command == "fanout" else idle_main(args))
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
