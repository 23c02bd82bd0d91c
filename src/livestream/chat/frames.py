"""Server → client frames of the chat WebSocket (docs/realtime.md), as JSON text encoded once; and the check
that an inbound frame's text can be stored and sent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

# Shared with the notification socket: one error shape, one refusal of unstorable text (realtime/sockets.py).
from livestream.realtime.sockets import PONG as PONG
from livestream.realtime.sockets import encode as encode
from livestream.realtime.sockets import error as error
from livestream.realtime.sockets import unstorable_refusal as unstorable_refusal
from livestream.streams.models import Stream


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def chat_message(message_id: str, user_id: uuid.UUID, username: str, text: str, sent_at: datetime) -> dict[str, Any]:
    return {
        "type": "chat.message",
        "id": message_id,
        "user": {"user_id": str(user_id), "username": username},
        "text": text,
        "sent_at": iso(sent_at),
    }


def tip(
    transaction_id: uuid.UUID,
    sender: tuple[uuid.UUID, str] | None,
    amount: int,
    currency: str,
    message: str | None,
    sent_at: datetime,
) -> tuple[str, str]:
    """A tip that succeeded, shown highlighted in chat: its history id and its frame."""
    frame_id = f"tip:{transaction_id}"
    user = None if sender is None else {"user_id": str(sender[0]), "username": sender[1]}
    frame = {
        "type": "tip",
        "id": frame_id,
        "transaction_id": str(transaction_id),
        "user": user,
        "amount": amount,
        "currency": currency,
        "message": message,
        "sent_at": iso(sent_at),
    }
    return frame_id, encode(frame)


def chat_deleted(message_id: str) -> str:
    return encode({"type": "chat.deleted", "id": message_id})


def chat_settings(slow_mode_seconds: int) -> str:
    return encode({"type": "chat.settings", "slow_mode_seconds": slow_mode_seconds})


def stream_state(stream: Stream) -> dict[str, Any]:
    return {
        "status": "live" if stream.status == "live" else "ended",
        "media_state": stream.media_state,
        "title": stream.title,
        "description": stream.description,
    }


def stream_status(stream: Stream) -> str:
    return encode({"type": "stream.status", **stream_state(stream)})


def archive_status(
    archive_id: uuid.UUID, stream_id: uuid.UUID, status: str, progress: int, failure_reason: str | None
) -> str:
    """The stream's archive moved on (processing progress, ready, failed); its creator's dashboard shows it."""
    return encode(
        {
            "type": "archive.status",
            "archive_id": str(archive_id),
            "stream_id": str(stream_id),
            "status": status,
            "progress": progress,
            "failure_reason": failure_reason,
        }
    )


def viewers(count: int) -> str:
    return encode({"type": "viewers", "count": count})
