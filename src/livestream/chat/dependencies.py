"""The chat service on the request's session, and the app's stream-event publisher."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from livestream.chat.gateway import make_chat_service
from livestream.chat.service import ChatService
from livestream.chat.stream_events import StreamEvents
from livestream.http.deps import SessionDep, SettingsDep, provided
from livestream.realtime.engine import Engine

EngineDep = Annotated[Engine, Depends(provided(Engine))]
StreamEventsDep = Annotated[StreamEvents, Depends(provided(StreamEvents))]


async def get_chat_service(session: SessionDep, settings: SettingsDep, engine: EngineDep) -> ChatService:
    return make_chat_service(session, settings, engine)


ChatServiceDep = Annotated[ChatService, Depends(get_chat_service)]
