from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from livestream.validation import CleanLine

MAX_TIMEOUT_SECONDS = 14 * 24 * 3600
MAX_MESSAGE_CHARS = 500
Reason = Annotated[str, StringConstraints(max_length=200), CleanLine]
Role = Literal["viewer", "moderator", "creator"]


class ChatUser(BaseModel):
    user_id: uuid.UUID
    username: str


class ChatMessage(BaseModel):
    id: str
    user: ChatUser
    text: str = Field(description="Plain text; render it as text, never as HTML")
    sent_at: datetime


class ChatHistory(BaseModel):
    items: list[ChatMessage] = Field(description="The last minutes of chat, oldest first")


class BanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID
    duration_seconds: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TIMEOUT_SECONDS,
        description="A timeout of 1 s to 14 days; omit for a permanent ban",
    )
    reason: Reason | None = None


class BanOut(BaseModel):
    user_id: uuid.UUID
    username: str
    display_name: str | None
    reason: str | None
    created_at: datetime
    expires_at: datetime | None = Field(description="When a timeout ends; null for a permanent ban")


class BanList(BaseModel):
    items: list[BanOut]


class ChatSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slow_mode_seconds: int = Field(description="0 turns slow mode off; otherwise 3 to 120 seconds between messages")

    @field_validator("slow_mode_seconds")
    @classmethod
    def _range(cls, value: int) -> int:
        if value != 0 and not 3 <= value <= 120:
            raise ValueError("slow mode is 0 (off) or 3 to 120 seconds")
        return value


class ModeratorOut(BaseModel):
    user_id: uuid.UUID
    username: str
    display_name: str | None
    created_at: datetime


class ModeratorList(BaseModel):
    items: list[ModeratorOut]
