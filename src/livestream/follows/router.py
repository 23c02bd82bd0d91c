"""HTTP for following and unfollowing."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from livestream.auth.dependencies import CurrentUser
from livestream.follows.dependencies import FollowServiceDep
from livestream.follows.schemas import FollowCreate, FollowOut
from livestream.http.deps import SessionDep, after_commit
from livestream.http.responses import errors
from livestream.users.dependencies import ProfileViewsDep

router = APIRouter(prefix="/api/follows", tags=["follows"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=FollowOut,
    responses=errors(401, 404, 409),
    operation_id="follow",
)
async def follow(
    body: FollowCreate, user: CurrentUser, follows: FollowServiceDep, session: SessionDep, profiles: ProfileViewsDep
) -> FollowOut:
    created = await follows.follow(user.user_id, body.following_id)
    after_commit(session, profiles.follows_changed)  # follower counts in the shared profiles
    return FollowOut.model_validate(created)


@router.delete(
    "/{follow_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403, 404), operation_id="unfollow"
)
async def unfollow(
    follow_id: uuid.UUID, user: CurrentUser, follows: FollowServiceDep, session: SessionDep, profiles: ProfileViewsDep
) -> Response:
    await follows.unfollow(user.user_id, follow_id)
    after_commit(session, profiles.follows_changed)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
