"""The notification service on the request's session, and the app's notification jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from livestream.http.deps import SessionDep, SettingsDep, provided
from livestream.notifications.live import LiveNotifications
from livestream.notifications.repository import NotificationRepository
from livestream.notifications.service import NotificationService
from livestream.notifications.tasks import NotificationJobs
from livestream.push.dependencies import WebPushDep


async def get_notification_service(
    session: SessionDep, settings: SettingsDep, web_push: WebPushDep
) -> NotificationService:
    # Email is available when the operator configured SMTP (LS_SMTP_HOST). Push is
    # available once the VAPID keys are loaded (at start-up).
    return NotificationService(
        NotificationRepository(session),
        email_available=settings.smtp_host is not None,
        push_available=web_push.public_key is not None,
    )


NotificationServiceDep = Annotated[NotificationService, Depends(get_notification_service)]
NotificationJobsDep = Annotated[NotificationJobs, Depends(provided(NotificationJobs))]
LiveNotificationsDep = Annotated[LiveNotifications, Depends(provided(LiveNotifications))]
