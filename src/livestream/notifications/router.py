"""HTTP for a user's notifications and notification settings."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.requests import Request
from starlette.routing import WebSocketRoute

from livestream.auth.dependencies import CurrentUser
from livestream.http.deps import SessionDep, SettingsDep, after_commit, lookup
from livestream.http.pagination import PageDep
from livestream.http.responses import errors
from livestream.notifications.dependencies import LiveNotificationsDep, NotificationServiceDep
from livestream.notifications.errors import UnsubscribeTokenMissing
from livestream.notifications.live import LiveNotifications
from livestream.notifications.schemas import (
    MarkedRead,
    NotificationOut,
    NotificationSettingsIn,
    NotificationSettingsOut,
    UnreadCount,
    UnsubscribeIn,
    UnsubscribeOut,
)
from livestream.pagination import Page

router = APIRouter(tags=["notifications"])


async def me_socket(websocket: WebSocket) -> None:
    """A signed-in user's new notifications and unread count, live (protocol: docs/realtime.md, "/ws/me")."""
    await lookup(websocket, LiveNotifications).serve(websocket)


# A plain Starlette route, as the chat socket's: no dependency machinery kept alive for the socket's lifetime.
router.routes.append(WebSocketRoute("/ws/me", me_socket, name="me_socket"))


@router.get(
    "/api/notifications", response_model=Page[NotificationOut], responses=errors(401), operation_id="listNotifications"
)
async def list_notifications(
    user: CurrentUser,
    notifications: NotificationServiceDep,
    page: PageDep,
    unread: Annotated[bool, Query(description="Only those not read yet")] = False,
) -> Page[NotificationOut]:
    """Your notifications, newest first."""
    return await notifications.page(user.user_id, unread=unread, limit=page.limit, cursor=page.cursor)


@router.get(
    "/api/notifications/unread-count",
    response_model=UnreadCount,
    responses=errors(401),
    operation_id="countUnreadNotifications",
)
async def unread_count(user: CurrentUser, notifications: NotificationServiceDep) -> UnreadCount:
    return UnreadCount(unread=await notifications.unread_count(user.user_id))


@router.post(
    "/api/notifications/read-all", response_model=MarkedRead, responses=errors(401), operation_id="readAllNotifications"
)
async def read_all(
    user: CurrentUser, notifications: NotificationServiceDep, live: LiveNotificationsDep, session: SessionDep
) -> MarkedRead:
    marked = await notifications.mark_all_read(user.user_id)
    if marked:
        # The user's other pages show the count drop (the /ws/me socket), once it is committed.
        after_commit(session, lambda: live.read_changed(user.user_id))
    return MarkedRead(marked=marked)


@router.post(
    "/api/notifications/{notification_id}/read",
    response_model=NotificationOut,
    responses=errors(401, 404),
    operation_id="readNotification",
)
async def read_one(
    notification_id: uuid.UUID,
    user: CurrentUser,
    notifications: NotificationServiceDep,
    live: LiveNotificationsDep,
    session: SessionDep,
) -> NotificationOut:
    """Mark one of your notifications read (404 for anyone else's)."""
    read = await notifications.mark_read(user.user_id, notification_id)
    after_commit(session, lambda: live.read_changed(user.user_id))
    return read


@router.get(
    "/api/users/me/notification-settings",
    response_model=NotificationSettingsOut,
    responses=errors(401),
    operation_id="getNotificationSettings",
)
async def get_settings(user: CurrentUser, notifications: NotificationServiceDep) -> NotificationSettingsOut:
    return await notifications.settings(user)


@router.put(
    "/api/users/me/notification-settings",
    response_model=NotificationSettingsOut,
    responses=errors(401),
    operation_id="updateNotificationSettings",
)
async def update_settings(
    body: NotificationSettingsIn, user: CurrentUser, notifications: NotificationServiceDep
) -> NotificationSettingsOut:
    """Email and push on or off, and which kinds of notification you get at all."""
    return await notifications.update_settings(user, body)


_UNSUBSCRIBE_BODY: dict[str, object] = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {"schema": UnsubscribeIn.model_json_schema()},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {"List-Unsubscribe": {"type": "string", "enum": ["One-Click"]}},
                }
            },
        },
    }
}


@router.post(
    "/api/notifications/unsubscribe",
    response_model=UnsubscribeOut,
    responses=errors(),
    operation_id="unsubscribeNotificationEmails",
    openapi_extra=_UNSUBSCRIBE_BODY,
)
async def unsubscribe(
    request: Request,
    notifications: NotificationServiceDep,
    settings: SettingsDep,
    token: Annotated[str | None, Query(max_length=200, description="The token, as in the List-Unsubscribe URL")] = None,
) -> UnsubscribeOut:
    """Turn notification emails off with the link from one of them; no sign-in. The token comes in the query
    (the List-Unsubscribe one-click POST of RFC 8058, whose form body says List-Unsubscribe=One-Click) or in a
    JSON body (the /unsubscribe page)."""
    # A JSON body is checked even beside a query token: what is sent must be valid, wherever it goes.
    in_body = await _token_in_body(request)
    token = token if token is not None else in_body
    if token is None:
        raise UnsubscribeTokenMissing()
    return await notifications.unsubscribe(token, secret_key=settings.secret_key)


async def _token_in_body(request: Request) -> str | None:
    """The token of a JSON body; None without one (the one-click form post carries it in the query)."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        return None
    try:
        # The stdlib's parser, as FastAPI's: a lone surrogate escape is then refused by the schema (VALIDATION_ERROR)
        # like in every other body, not as malformed JSON. The body is bounded by LS_MAX_BODY_BYTES.
        data = json.loads(await request.body())
    except (ValueError, RecursionError) as exc:
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error"}]) from exc
    try:
        return UnsubscribeIn.model_validate(data).token
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        ) from exc
