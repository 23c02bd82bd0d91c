from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from livestream.streams.schemas import ArchiveLink, StreamCreator

__all__ = ["ArchiveLink", "ArchiveOut", "ArchiveStatus"]

ArchiveStatus = Literal["processing", "ready", "failed"]


class ArchiveOut(BaseModel):
    """A stream's replay: its HLS VOD, poster and (when the operator enabled it) MP4 download."""

    archive_id: uuid.UUID
    stream_id: uuid.UUID
    user_id: uuid.UUID
    user: StreamCreator
    title: str = Field(description="The stream's title")
    status: ArchiveStatus
    progress: int = Field(ge=0, le=100, description="Processing progress in percent (100 once ready)")
    failure_reason: str | None = Field(description="Why processing failed, when it did")
    duration: int = Field(description="Seconds")
    file_size: int = Field(description="Bytes, as stored")
    hls_url: str | None = Field(description="The VOD master playlist, once ready")
    mp4_url: str | None = Field(description="The MP4 download, once ready and when the operator enabled it")
    thumbnail_url: str | None = Field(description="The poster image, once ready")
    storage_class: str = Field(description="STANDARD, or a cold class (GLACIER, DEEP_ARCHIVE) that needs a restore")
    started_at: datetime
    ended_at: datetime | None
    created_at: datetime
    ready_at: datetime | None
