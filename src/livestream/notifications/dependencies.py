"""The notification service on the request's session, and the app's notification jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from livestream.http.deps import SessionDep, SettingsDep, provided
from livestream.notifications.repository import NotificationRepository
from livestream.notifications.service import NotificationService
from livestream.notifications.tasks import NotificationJobs


async def get_notification_service(session: SessionDep, settings: SettingsDep) -> NotificationService:
    # Email is available when the operator configured SMTP (LS_SMTP_HOST); push arrives with its own work.
    return NotificationService(
        NotificationRepository(session), email_available=settings.smtp_host is not None, push_available=False
    )


NotificationServiceDep = Annotated[NotificationService, Depends(get_notification_service)]
NotificationJobsDep = Annotated[NotificationJobs, Depends(provided(NotificationJobs))]
