"""The push service on the request's session, and the app's one WebPush."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from livestream.http.deps import SessionDep, SettingsDep, provided
from livestream.push.repository import PushRepository
from livestream.push.sender import WebPush
from livestream.push.service import PushService


async def get_push_service(session: SessionDep, settings: SettingsDep) -> PushService:
    return PushService(PushRepository(session), allow_private=settings.push_allow_private_endpoints)


PushServiceDep = Annotated[PushService, Depends(get_push_service)]
WebPushDep = Annotated[WebPush, Depends(provided(WebPush))]
