"""Keyset pagination: opaque cursors over (created_at, id), stable under concurrent inserts."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from pydantic import BaseModel

from livestream.errors import BadRequest

T = TypeVar("T")


class InvalidCursor(BadRequest):
    code = "INVALID_CURSOR"
    message = "The cursor is not valid"


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            stamp, ident = raw.split("|", 1)
            created_at = datetime.fromisoformat(stamp)
            if created_at.tzinfo is None:
                raise ValueError("naive cursor timestamp")
            # Normalised here so a forged far-off offset fails as a bad cursor, not in the driver.
            return cls(created_at=created_at.astimezone(UTC), id=uuid.UUID(ident))
        except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidCursor() from exc


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
