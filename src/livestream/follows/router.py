"""HTTP for following and unfollowing."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from livestream.api.deps import CurrentUser, SessionDep
from livestream.api.responses import errors
from livestream.follows.repository import FollowRepository
from livestream.follows.schemas import FollowCreate, FollowOut
from livestream.follows.service import FollowService
from livestream.users.repository import UserRepository

router = APIRouter(prefix="/api/follows", tags=["follows"])


def _service(session: SessionDep) -> FollowService:
    return FollowService(FollowRepository(session), UserRepository(session))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=FollowOut,
    responses=errors(401, 404, 409),
    operation_id="follow",
)
async def follow(body: FollowCreate, user: CurrentUser, session: SessionDep) -> FollowOut:
    created = await _service(session).follow(user.user_id, body.following_id)
    return FollowOut.model_validate(created)


@router.delete(
    "/{follow_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403, 404), operation_id="unfollow"
)
async def unfollow(follow_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    await _service(session).unfollow(user.user_id, follow_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
