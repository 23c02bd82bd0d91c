from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from livestream.validation import CleanLine, CleanText

# The limits hold for the cleaned text (trimmed, without bidi overrides and the like): a blank title is refused.
Title = Annotated[str, StringConstraints(min_length=1, max_length=255), CleanLine]
Description = Annotated[str, StringConstraints(max_length=5000), CleanText]
MediaState = Literal["waiting", "live", "reconnecting", "ended"]


class StreamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description | None = None


class StreamUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None

    @model_validator(mode="after")
    def _something(self) -> StreamUpdate:
        if self.title is None and self.description is None:
            raise ValueError("give a title or a description")
        return self


class StreamCreator(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: uuid.UUID
    username: str
    display_name: str | None


class ArchiveLink(BaseModel):
    """The archive of an ended stream, as the stream's view links it (``GET /api/archives/{id}`` has it all)."""

    archive_id: uuid.UUID
    status: Literal["processing", "ready", "failed"]
    progress: int = Field(ge=0, le=100)
    duration: int = Field(description="Seconds")
    hls_url: str | None = Field(description="The VOD master playlist, once ready")
    thumbnail_url: str | None = Field(description="The poster image, once ready")


class StreamOut(BaseModel):
    """A stream as anyone sees it: never the stream key."""

    stream_id: uuid.UUID
    user_id: uuid.UUID
    user: StreamCreator
    title: str
    description: str | None
    status: Literal["live", "ended"]
    media_state: MediaState
    started_at: datetime
    ended_at: datetime | None
    viewer_count: int
    hls_url: str | None = Field(description="HLS master playlist while live; null once ended")
    thumbnail_url: str | None
    archive: ArchiveLink | None = Field(default=None, description="The replay of an ended stream, once there is one")


class IngestInfo(BaseModel):
    rtmp_url: str = Field(description="OBS: Settings → Stream → Server")
    stream_key: str = Field(description="OBS: Stream Key. Secret: anyone with it can broadcast as you")


class PlaybackInfo(BaseModel):
    hls_url: str


class StreamCreated(StreamOut):
    ingest: IngestInfo
    playback: PlaybackInfo


class StreamKeyOut(BaseModel):
    stream_key: str
    rtmp_url: str
    created_at: datetime


class IngestHealth(BaseModel):
    connected: bool
    bitrate_kbps: float
    fps: float
    keyframe_interval_s: float | None
    video_codec: str | None
    audio_codec: str | None


class TranscoderHealth(BaseModel):
    fps: float
    speed: float
    bitrate_kbps: float | None


class StreamHealth(BaseModel):
    stream_id: uuid.UUID
    media_state: MediaState
    ingest: IngestHealth | None
    transcoder: TranscoderHealth | None
    renditions: list[str]
