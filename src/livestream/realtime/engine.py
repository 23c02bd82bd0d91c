"""The one interface every realtime feature talks to (the Centrifuge model).

Two implementations: :class:`~livestream.realtime.memory.MemoryEngine` for a single process and
:class:`~livestream.realtime.redis.RedisEngine` for many processes sharing Redis. ``make_engine`` picks one
from the settings. The same contract suite (``tests/realtime/test_engine_contract.py``) runs against both.

Payloads are JSON text encoded once by the publisher: fan-out never re-serialises per subscriber.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from livestream.ratelimit import Counters

#: Called with ``(channel, payload)`` for every publication on a channel this process subscribed to.
#: It runs on the event loop and must not block or await.
Listener = Callable[[str, str], None]


@dataclass(frozen=True)
class PresenceEntry:
    """One connection on a channel. ``member`` is what makes a viewer unique (``u:{user_id}`` or ``a:{session}``)."""

    connection_id: str
    member: str


@dataclass(frozen=True)
class PresenceCount:
    count: int  # unique members among live entries
    peak: int  # the highest count ever returned for this channel (until ``presence_clear``)


class Engine(Protocol):
    counters: Counters

    async def start(self) -> None:
        """Connect and start background readers. Idempotent."""
        ...

    async def close(self) -> None: ...

    # --- pub/sub -----------------------------------------------------------------------------------
    def set_listener(self, listener: Listener) -> None:
        """The one process-wide receiver of publications (the local hub). Set once, before subscribing."""
        ...

    async def subscribe(self, channel: str) -> None:
        """Start receiving ``channel`` in this process. One upstream subscription per channel per process:
        repeated calls are no-ops (reference counting is the hub's job, not the engine's)."""
        ...

    async def unsubscribe(self, channel: str) -> None: ...

    async def publish(self, channel: str, payload: str) -> None:
        """Deliver ``payload`` to every process subscribed to ``channel`` (including this one), without history."""
        ...

    # --- history -----------------------------------------------------------------------------------
    async def publish_with_history(self, channel: str, message_id: str, payload: str, keep_seconds: float) -> None:
        """Append ``payload`` to the channel's history under ``message_id`` and publish it, atomically.
        Entries older than ``keep_seconds`` are dropped (on write and on read)."""
        ...

    async def history(self, channel: str, keep_seconds: float) -> list[str]:
        """Payloads of the last ``keep_seconds``, oldest first."""
        ...

    async def delete_with_notice(self, channel: str, message_id: str, notice: str) -> bool:
        """Remove ``message_id`` from the history and publish ``notice``, atomically.
        Returns False (and publishes nothing) when the id is not in the history."""
        ...

    # --- presence ----------------------------------------------------------------------------------
    async def presence_refresh(self, channel: str, entries: Sequence[PresenceEntry], ttl: float) -> None:
        """Add or refresh entries (batched per channel); each expires ``ttl`` seconds from now unless refreshed."""
        ...

    async def presence_remove(self, channel: str, connection_ids: Sequence[str]) -> None: ...

    async def presence_count(self, channel: str) -> PresenceCount:
        """Unique members among unexpired entries (expired ones are pruned on read); records the peak."""
        ...

    async def presence_clear(self, channel: str) -> int:
        """Forget the channel's presence and peak (stream ended). Returns the peak it had."""
        ...
