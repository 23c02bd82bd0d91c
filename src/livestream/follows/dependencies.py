"""The follow service on the request's session, for every router that needs it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from livestream.follows.repository import FollowRepository
from livestream.follows.service import FollowService
from livestream.http.deps import SessionDep
from livestream.users.repository import UserRepository


async def get_follow_service(session: SessionDep) -> FollowService:
    return FollowService(FollowRepository(session), UserRepository(session))


FollowServiceDep = Annotated[FollowService, Depends(get_follow_service)]
