"""HTTP for a user's notifications and notification settings."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from livestream.auth.dependencies import CurrentUser
from livestream.http.pagination import PageDep
from livestream.http.responses import errors
from livestream.notifications.dependencies import NotificationServiceDep
from livestream.notifications.schemas import (
    MarkedRead,
    NotificationOut,
    NotificationSettingsIn,
    NotificationSettingsOut,
    UnreadCount,
)
from livestream.pagination import Page

router = APIRouter(tags=["notifications"])


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
async def read_all(user: CurrentUser, notifications: NotificationServiceDep) -> MarkedRead:
    return MarkedRead(marked=await notifications.mark_all_read(user.user_id))


@router.post(
    "/api/notifications/{notification_id}/read",
    response_model=NotificationOut,
    responses=errors(401, 404),
    operation_id="readNotification",
)
async def read_one(
    notification_id: uuid.UUID, user: CurrentUser, notifications: NotificationServiceDep
) -> NotificationOut:
    """Mark one of your notifications read (404 for anyone else's)."""
    return await notifications.mark_read(user.user_id, notification_id)


@router.get(
    "/api/users/me/notification-settings",
    response_model=NotificationSettingsOut,
    responses=errors(401),
    operation_id="getNotificationSettings",
)
async def get_settings(user: CurrentUser, notifications: NotificationServiceDep) -> NotificationSettingsOut:
    return await notifications.settings(user.user_id)


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
    return await notifications.update_settings(user.user_id, body)
