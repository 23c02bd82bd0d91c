from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from livestream.validation import CleanLine, CleanText

# Limits hold for the cleaned text (trimmed, without bidi overrides and the like).
Title = Annotated[str, StringConstraints(min_length=1, max_length=140), CleanLine]
Description = Annotated[str, StringConstraints(max_length=2000), CleanText]
Minutes = Annotated[int, Field(ge=5, le=1440, strict=True, description="Expected length in minutes")]
StartsAt = Annotated[
    AwareDatetime, Field(description="ISO 8601 with an offset (stored and answered in UTC); future, ≤ 1 year ahead")
]
ScheduleStatus = Literal["scheduled", "live", "done", "cancelled"]


class ScheduleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description | None = None
    starts_at: StartsAt
    expected_duration_minutes: Minutes | None = None


class ScheduleUpdate(BaseModel):
    """What to change; anything left out stays. ``null`` clears the description or the duration."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None
    starts_at: StartsAt | None = None
    expected_duration_minutes: Minutes | None = None

    @model_validator(mode="after")
    def _something(self) -> ScheduleUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        if "title" in self.model_fields_set and self.title is None:
            raise ValueError("title cannot be empty")
        if "starts_at" in self.model_fields_set and self.starts_at is None:
            raise ValueError("starts_at cannot be empty")
        return self


class ScheduleCreator(BaseModel):
    user_id: uuid.UUID
    username: str
    display_name: str | None


class ScheduleOut(BaseModel):
    schedule_id: uuid.UUID
    user_id: uuid.UUID
    creator: ScheduleCreator
    title: str
    description: str | None
    starts_at: datetime = Field(description="UTC")
    expected_duration_minutes: int | None
    status: ScheduleStatus
    stream_id: uuid.UUID | None = Field(description="The stream it became, once live")
    created_at: datetime
    updated_at: datetime


class ScheduleList(BaseModel):
    items: list[ScheduleOut]
