"""The stream and stream-key services on the request's session, and the app's public stream views."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from livestream.http.deps import SessionDep, SettingsDep, provided
from livestream.streams.keys import StreamKeyCipher
from livestream.streams.lifecycle import StreamLifecycle
from livestream.streams.repository import StreamKeyRepository, StreamRepository
from livestream.streams.service import StreamKeyService, StreamService, Urls
from livestream.streams.views import StreamViews

LifecycleDep = Annotated[StreamLifecycle, Depends(provided(StreamLifecycle))]


async def get_stream_service(session: SessionDep, settings: SettingsDep, lifecycle: LifecycleDep) -> StreamService:
    return StreamService(StreamRepository(session), Urls(settings.public_url), lifecycle)


async def get_stream_key_service(session: SessionDep, settings: SettingsDep) -> StreamKeyService:
    return StreamKeyService(StreamKeyRepository(session), StreamKeyCipher(settings.secret_key))


StreamServiceDep = Annotated[StreamService, Depends(get_stream_service)]
StreamKeyServiceDep = Annotated[StreamKeyService, Depends(get_stream_key_service)]
# The app's cache of public stream views: the reads need nothing else (no session unless a view is missing).
StreamViewsDep = Annotated[StreamViews, Depends(provided(StreamViews))]
