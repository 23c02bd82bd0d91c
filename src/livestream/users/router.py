"""HTTP for profiles and account changes, and the follower/following lists of a user."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from livestream.auth.dependencies import (
    AccountEmailsDep,
    AccountServiceDep,
    AuthenticatedDep,
    AuthServiceDep,
    BearerDep,
    CurrentUser,
)
from livestream.follows.dependencies import FollowServiceDep
from livestream.follows.schemas import FollowListItem
from livestream.http.deps import SessionDep, after_commit
from livestream.http.pagination import PageDep
from livestream.http.responses import errors
from livestream.http.shortcuts import public_json
from livestream.pagination import Page
from livestream.users.dependencies import ProfileViewsDep, UserServiceDep
from livestream.users.schemas import UserPrivate, UserPublic, UserUpdate
from livestream.users.views import ProfileViews

router = APIRouter(prefix="/api/users", tags=["users"])


async def _profile(
    request: Request,
    credentials: BearerDep,
    profiles: ProfileViews,
    *,
    user_id: uuid.UUID | None = None,
    username: str | None = None,
) -> Response:
    """Signed out: the shared view (and a shortcut). Signed in: the profile as this viewer sees it (its own
    follow), never shared.

    No session or service is built for the signed-out read (fewer dependencies: it is the hot one); the bearer
    dependency stays so the docs still show the optional sign-in.
    """
    if credentials is None:
        return await public_json(request, lambda: profiles.anonymous(user_id=user_id, username=username))
    viewer_id, body = await profiles.signed_in(credentials.credentials, user_id=user_id, username=username)
    request.scope.setdefault("state", {})["user_id"] = str(viewer_id)  # for the access log, as optional_auth
    return Response(content=body, media_type="application/json")


@router.get("/me", response_model=UserPrivate, responses=errors(401), operation_id="getMe")
async def get_me(user: CurrentUser, users: UserServiceDep) -> UserPrivate:
    return await users.private_profile(user)


@router.get(
    "/by-username/{username}", response_model=UserPublic, responses=errors(401, 404), operation_id="getUserByUsername"
)
async def get_user_by_username(
    username: Annotated[str, Path(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_]+$")],
    request: Request,
    credentials: BearerDep,
    profiles: ProfileViewsDep,
) -> Response:
    return await _profile(request, credentials, profiles, username=username)


@router.get("/{user_id}", response_model=UserPublic, responses=errors(401, 404), operation_id="getUser")
async def get_user(user_id: uuid.UUID, request: Request, credentials: BearerDep, profiles: ProfileViewsDep) -> Response:
    return await _profile(request, credentials, profiles, user_id=user_id)


@router.put(
    "/{user_id}", response_model=UserPrivate, responses=errors(401, 403, 404, 409, 429), operation_id="updateUser"
)
async def update_user(
    user_id: uuid.UUID,
    body: UserUpdate,
    request: Request,
    authenticated: AuthenticatedDep,
    users: UserServiceDep,
    auth: AuthServiceDep,
    session: SessionDep,
    profiles: ProfileViewsDep,
    accounts: AccountServiceDep,
    emails: AccountEmailsDep,
) -> UserPrivate:
    actor, claims = authenticated
    old_email = actor.email
    client = request.client.host if request.client else "unknown"

    async def mail_check(addresses: list[str]) -> None:
        await accounts.email_change_requested(addresses, client=client)

    updated = await users.update(actor.user_id, user_id, body, mail_check=mail_check if emails.enabled else None)
    user, password_changed = updated.user, updated.password_changed
    after_commit(session, profiles.account_changed)
    if updated.taken_email is not None:
        # Email on: a taken address answers as a free one would (D20); its owner is told, nothing is changed.
        taken = updated.taken_email
        after_commit(session, lambda: emails.address_taken(taken))
    if user.email != old_email:
        # A link to confirm the new address, and (a safety net against a hijack) a notice to the old one.
        await accounts.email_changed(user)
        new_email, changed_id = user.email, user.user_id
        after_commit(session, lambda: emails.address_changed(changed_id, old_email, new_email))
    if password_changed:
        # A new password ends every other sign-in (their access tokens stop at once); this one stays.
        await auth.end_other_sessions(user.user_id, keep_family=claims.session_id)
    profile = await users.private_profile(user)
    if updated.taken_email is not None:
        return profile.model_copy(update={"email": updated.taken_email, "email_verified": False})
    return profile


@router.get(
    "/{user_id}/followers", response_model=Page[FollowListItem], responses=errors(404), operation_id="listFollowers"
)
async def list_followers(user_id: uuid.UUID, page: PageDep, follows: FollowServiceDep) -> Page[FollowListItem]:
    return await follows.list(user_id, "followers", limit=page.limit, cursor=page.cursor)


@router.get(
    "/{user_id}/following", response_model=Page[FollowListItem], responses=errors(404), operation_id="listFollowing"
)
async def list_following(user_id: uuid.UUID, page: PageDep, follows: FollowServiceDep) -> Page[FollowListItem]:
    return await follows.list(user_id, "following", limit=page.limit, cursor=page.cursor)
