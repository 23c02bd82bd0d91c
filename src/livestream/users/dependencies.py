"""The user service on the request's session, for every router that needs it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from livestream.http.deps import SessionDep
from livestream.users.repository import UserRepository
from livestream.users.service import UserService


async def get_user_service(session: SessionDep) -> UserService:
    return UserService(UserRepository(session))


UserServiceDep = Annotated[UserService, Depends(get_user_service)]
