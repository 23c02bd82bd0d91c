"""The notification service on the request's session, and the app's notification jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from livestream.http.deps import SessionDep, provided
from livestream.notifications.repository import NotificationRepository
from livestream.notifications.service import NotificationService
from livestream.notifications.tasks import NotificationJobs


async def get_notification_service(session: SessionDep) -> NotificationService:
    # Email and push delivery arrive with their own work; until then the settings say they are unavailable.
    return NotificationService(NotificationRepository(session), email_available=False, push_available=False)


NotificationServiceDep = Annotated[NotificationService, Depends(get_notification_service)]
NotificationJobsDep = Annotated[NotificationJobs, Depends(provided(NotificationJobs))]
