"""Server → client frames of the chat WebSocket (docs/realtime.md), as JSON text encoded once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from livestream.streams.models import Stream

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


def viewers(count: int) -> str:
    return encode({"type": "viewers", "count": count})


def error(code: str, message: str, *, nonce: str | None = None, **extra: Any) -> str:
    frame: dict[str, Any] = {"type": "error", "code": code, "error": message}
    if nonce is not None:
        frame["nonce"] = nonce
    frame.update(extra)
    return encode(frame)


PONG = encode({"type": "pong"})
