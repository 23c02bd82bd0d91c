"""HTTP for streams and stream keys."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status

from livestream.auth.dependencies import CurrentUser
from livestream.chat.dependencies import StreamEventsDep
from livestream.chat.stream_events import StreamEvents
from livestream.http.deps import SettingsDep
from livestream.http.pagination import PageDep
from livestream.http.responses import errors
from livestream.http.shortcuts import public_json
from livestream.media.dependencies import IngestDep
from livestream.pagination import Page
from livestream.streams.dependencies import StreamKeyServiceDep, StreamServiceDep, StreamViewsDep
from livestream.streams.schemas import (
    IngestInfo,
    PlaybackInfo,
    StreamCreate,
    StreamCreated,
    StreamHealth,
    StreamKeyOut,
    StreamOut,
    StreamUpdate,
)

router = APIRouter(tags=["streams"])


@router.get("/api/users/me/stream-key", response_model=StreamKeyOut, responses=errors(401), operation_id="getStreamKey")
async def get_stream_key(user: CurrentUser, keys: StreamKeyServiceDep, settings: SettingsDep) -> StreamKeyOut:
    """Your stream key (created on first use). Only you ever see it."""
    key, created_at = await keys.reveal(user.user_id)
    return StreamKeyOut(stream_key=key, rtmp_url=settings.rtmp_url, created_at=created_at)


@router.post(
    "/api/users/me/stream-key/rotate",
    response_model=StreamKeyOut,
    responses=errors(401),
    operation_id="rotateStreamKey",
)
async def rotate_stream_key(user: CurrentUser, keys: StreamKeyServiceDep, settings: SettingsDep) -> StreamKeyOut:
    """Replace your stream key; the old one is refused from now on (a publisher using it stays connected)."""
    key, created_at = await keys.rotate(user.user_id)
    return StreamKeyOut(stream_key=key, rtmp_url=settings.rtmp_url, created_at=created_at)


@router.post(
    "/api/streams",
    status_code=status.HTTP_201_CREATED,
    response_model=StreamCreated,
    responses=errors(401, 409),
    operation_id="createStream",
)
async def create_stream(
    body: StreamCreate,
    user: CurrentUser,
    streams: StreamServiceDep,
    keys: StreamKeyServiceDep,
    settings: SettingsDep,
) -> StreamCreated:
    # The lifecycle's "opened" event refreshes this process's lists before the creator gets this answer.
    stream = await streams.start(user.user_id, body.title, body.description)
    key, _ = await keys.reveal(user.user_id)
    out = streams.out(stream, user)
    return StreamCreated(
        **out.model_dump(),
        ingest=IngestInfo(rtmp_url=settings.rtmp_url, stream_key=key),
        playback=PlaybackInfo(hls_url=streams.urls.hls(stream.stream_id)),
    )


# The two reads every follower's page makes when a creator goes live answer from the public views (pre-encoded
# JSON, at most half a second old, dropped at once on a change in this process), and the same URL again from a
# shortcut (livestream.http.shortcuts: no routing or validation the second time); response_model documents them.
@router.get("/api/streams", response_model=Page[StreamOut], responses=errors(), operation_id="listStreams")
async def list_streams(
    request: Request,
    page: PageDep,
    views: StreamViewsDep,
    status_filter: Annotated[Literal["live", "ended"] | None, Query(alias="status")] = None,
    user_id: uuid.UUID | None = None,
) -> Response:
    limit, cursor = page.limit, page.cursor
    return await public_json(
        request, lambda: views.page(status=status_filter, user_id=user_id, limit=limit, cursor=cursor)
    )


async def _with_viewers(events: StreamEvents, out: StreamOut) -> StreamOut:
    """Live: the viewers connected now (presence). Ended: the stored peak."""
    if out.status == "live":
        out.viewer_count = await events.viewer_count(out.stream_id)
    return out


@router.get("/api/streams/{stream_id}", response_model=StreamOut, responses=errors(404), operation_id="getStream")
async def get_stream(stream_id: uuid.UUID, request: Request, views: StreamViewsDep) -> Response:
    return await public_json(request, lambda: views.stream(stream_id))


@router.patch(
    "/api/streams/{stream_id}",
    response_model=StreamOut,
    responses=errors(401, 403, 404, 409),
    operation_id="updateStream",
)
async def update_stream(
    stream_id: uuid.UUID,
    body: StreamUpdate,
    user: CurrentUser,
    streams: StreamServiceDep,
    events: StreamEventsDep,
) -> StreamOut:
    """Change the title or description while live; viewers see it at once (a ``stream.status`` event)."""
    out = streams.out(*await streams.update(user.user_id, stream_id, body))
    return await _with_viewers(events, out)


@router.put(
    "/api/streams/{stream_id}/end",
    response_model=StreamOut,
    responses=errors(401, 403, 404, 409),
    operation_id="endStream",
)
async def end_stream(stream_id: uuid.UUID, user: CurrentUser, streams: StreamServiceDep) -> StreamOut:
    """End your stream. Answers at once: the publisher is disconnected and the transcoder finishes in the
    background (the "ended" event after the commit), and the archive is built by a job."""
    stream, creator = await streams.end(user.user_id, stream_id)
    return streams.out(stream, creator)


@router.get(
    "/api/streams/{stream_id}/health",
    response_model=StreamHealth,
    responses=errors(401, 403, 404),
    operation_id="getStreamHealth",
)
async def get_stream_health(
    stream_id: uuid.UUID, user: CurrentUser, streams: StreamServiceDep, ingest: IngestDep
) -> StreamHealth:
    stream, _ = await streams.owned(user.user_id, stream_id)
    return ingest.health(stream_id, stream.media_state)
