from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from livestream.validation import Storable

NotificationKind = Literal["stream_started", "schedule_reminder", "archive_ready", "new_follower", "tip_received"]


class NotificationOut(BaseModel):
    notification_id: uuid.UUID
    kind: NotificationKind
    payload: dict[str, Any] = Field(description="What happened: the stream, archive or followers it is about")
    created_at: datetime
    read_at: datetime | None


class UnreadCount(BaseModel):
    unread: int


class MarkedRead(BaseModel):
    marked: int = Field(description="How many notifications were unread and are read now")


class NotificationKinds(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    stream_started: bool = True
    schedule_reminder: bool = True
    archive_ready: bool = True
    new_follower: bool = True
    tip_received: bool = True


class NotificationSettingsOut(BaseModel):
    email: bool = Field(description="Email for what is on in `kinds` (only sent once email delivery is configured)")
    push: bool = Field(description="Browser push (only sent once push delivery is available)")
    kinds: NotificationKinds
    email_available: bool = Field(description="The operator configured email delivery")
    email_verified: bool = Field(
        description="The account's address is confirmed; until it is, no notification email is sent to it"
    )
    push_available: bool = Field(description="The server can send browser push")


class NotificationKindsIn(BaseModel):
    """The kinds to switch; a kind left out keeps its setting."""

    model_config = ConfigDict(extra="forbid", strict=True)

    stream_started: bool | None = None
    schedule_reminder: bool | None = None
    archive_ready: bool | None = None
    new_follower: bool | None = None
    tip_received: bool | None = None


class NotificationSettingsIn(BaseModel):
    # Strict: a switch is true or false, not "yes" or 1. Anything left out keeps its setting.
    model_config = ConfigDict(extra="forbid", strict=True)

    email: bool | None = None
    push: bool | None = None
    kinds: NotificationKindsIn | None = None


class UnsubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    token: Annotated[str, Field(min_length=1, max_length=200), Storable] = Field(
        description="The token of the unsubscribe link in a notification email"
    )


class UnsubscribeOut(BaseModel):
    email: bool = Field(description="Whether notification emails stay on for this account: false once unsubscribed")
    username: str | None = Field(description="The account the link was for (None when it no longer exists)")
