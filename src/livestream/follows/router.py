"""HTTP for following and unfollowing."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from livestream.auth.dependencies import CurrentUser
from livestream.follows.dependencies import FollowServiceDep
from livestream.follows.schemas import FollowCreate, FollowOut, FollowUpdate
from livestream.http.deps import SessionDep, after_commit
from livestream.http.responses import errors
from livestream.notifications.dependencies import NotificationJobsDep
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
    body: FollowCreate,
    user: CurrentUser,
    follows: FollowServiceDep,
    session: SessionDep,
    profiles: ProfileViewsDep,
    notifications: NotificationJobsDep,
) -> FollowOut:
    created = await follows.follow(user.user_id, body.following_id)
    after_commit(session, profiles.follows_changed)  # follower counts in the shared profiles

    async def tell_the_creator() -> None:
        await notifications.followed(created.following_id, created.follower_id)

    after_commit(session, tell_the_creator)
    return FollowOut.model_validate(created)


@router.put("/{follow_id}", response_model=FollowOut, responses=errors(401, 403, 404), operation_id="updateFollow")
async def update_follow(
    follow_id: uuid.UUID, body: FollowUpdate, user: CurrentUser, follows: FollowServiceDep
) -> FollowOut:
    """``notify: false`` mutes the creator: no go-live or schedule notifications from them (you still follow)."""
    return FollowOut.model_validate(await follows.set_notify(user.user_id, follow_id, body.notify))


@router.delete(
    "/{follow_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403, 404), operation_id="unfollow"
)
async def unfollow(
    follow_id: uuid.UUID, user: CurrentUser, follows: FollowServiceDep, session: SessionDep, profiles: ProfileViewsDep
) -> Response:
    await follows.unfollow(user.user_id, follow_id)
    after_commit(session, profiles.follows_changed)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
