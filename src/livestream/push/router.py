"""HTTP for browser push: the server's public key, and subscribing or unsubscribing a browser."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response, status

from livestream.auth.dependencies import CurrentUser
from livestream.http.responses import errors
from livestream.push.dependencies import PushServiceDep, WebPushDep
from livestream.push.schemas import PushSubscriptionIn, PushSubscriptionOut, PushUnsubscribeIn, VapidPublicKey

router = APIRouter(tags=["push"])


@router.get(
    "/api/push/vapid-public-key",
    response_model=VapidPublicKey,
    responses=errors(),
    operation_id="getVapidPublicKey",
)
async def vapid_public_key(push: WebPushDep) -> VapidPublicKey:
    """The applicationServerKey a browser subscribes with (public: it only identifies this server)."""
    return VapidPublicKey(public_key=(await push.keys()).public_key)


@router.post(
    "/api/push-subscriptions",
    status_code=status.HTTP_201_CREATED,
    response_model=PushSubscriptionOut,
    responses=errors(401),
    operation_id="createPushSubscription",
)
async def subscribe(
    body: PushSubscriptionIn,
    user: CurrentUser,
    push: PushServiceDep,
    user_agent: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> PushSubscriptionOut:
    """This browser's subscription (``PushSubscription.toJSON()``). The same endpoint again updates it (and
    moves it to you); past 20 browsers, the one heard from least recently is dropped."""
    created = await push.subscribe(user.user_id, body, user_agent)
    return PushSubscriptionOut(
        subscription_id=created.subscription_id, endpoint=created.endpoint, created_at=created.created_at
    )


@router.delete(
    "/api/push-subscriptions",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 404),
    operation_id="deletePushSubscription",
)
async def unsubscribe(body: PushUnsubscribeIn, user: CurrentUser, push: PushServiceDep) -> Response:
    """Stop pushes to this browser; 404 when none of your subscriptions has this endpoint."""
    await push.unsubscribe(user.user_id, body.endpoint)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
