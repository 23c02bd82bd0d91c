"""Server → client frames of the chat WebSocket (docs/realtime.md), as JSON text encoded once; and the check
that an inbound frame's text can be stored and sent."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from livestream.streams.models import Stream
from livestream.validation import UNSTORABLE_MESSAGE, is_storable, unstorable_in

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode(frame: dict[str, Any]) -> str:
    return _encoder.encode(frame)


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


def error(code: str, message: str, *, nonce: str | None = None, **extra: Any) -> str:
    frame: dict[str, Any] = {"type": "error", "code": code, "error": message}
    if nonce is not None:
        frame["nonce"] = nonce
    frame.update(extra)
    return encode(frame)


PONG = encode({"type": "pong"})


def unstorable_refusal(raw: str, frame: dict[str, Any]) -> str | None:
    """The ``VALIDATION_ERROR`` frame answering a client frame that holds a string no store or encoder takes (NUL,
    a lone surrogate: as in every HTTP body, see ``livestream.validation``), or None for a frame without one.

    ``json`` refuses raw control characters, so in ASCII text only a ``\\u`` escape can put either into a decoded
    frame: most frames cost two scans of their text, and only the others are walked."""
    if raw.isascii() and "\\u" not in raw:
        return None
    if not unstorable_in(frame):
        return None
    fields = {key: UNSTORABLE_MESSAGE for key, value in frame.items() if is_storable(key) and unstorable_in(value)}
    nonce = frame.get("nonce")
    return error(
        "VALIDATION_ERROR",
        f"{', '.join(fields) or 'frame'}: {UNSTORABLE_MESSAGE}",
        nonce=nonce if isinstance(nonce, str) and is_storable(nonce) else None,
        fields=fields,
    )
