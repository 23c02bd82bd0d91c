"""Where notifications go once their rows are committed: the live per-user channel, email and push.

The fan-out and the single-notification jobs write rows, commit, and hand what they wrote to ``Delivery``.
Each channel is told in turn; one that fails is logged and the others still run, because the rows are
already committed: the in-app notification stands whatever a channel does. Channels must be quick (publish
a frame, enqueue a job): sending an email or a push happens in jobs of their own, retried with backoff.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from livestream.logging import get_logger

log = get_logger("livestream.notifications")


@dataclass(frozen=True)
class Written:
    """One committed notification. ``new`` is False when an unread one was updated (a batched kind counting up)."""

    notification_id: uuid.UUID
    user_id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    created_at: datetime
    new: bool = True


Channel = Callable[[Sequence[Written]], Awaitable[None]]


@dataclass
class Delivery:
    channels: list[tuple[str, Channel]] = field(default_factory=list)

    def add(self, name: str, channel: Channel) -> None:
        self.channels.append((name, channel))

    async def delivered(self, rows: Sequence[Written]) -> None:
        if not rows:
            return
        for name, channel in self.channels:
            try:
                await channel(rows)
            except Exception as exc:
                log.error(
                    "notification_channel_failed", channel=name, rows=len(rows), error=f"{type(exc).__name__}: {exc}"
                )
