"""A user's notifications and switches, as the API shows them; no HTTP here."""

from __future__ import annotations

import uuid

from livestream.notifications import errors
from livestream.notifications.models import KINDS, Notification, NotificationSettings
from livestream.notifications.repository import NotificationRepository
from livestream.notifications.schemas import (
    NotificationKinds,
    NotificationOut,
    NotificationSettingsIn,
    NotificationSettingsOut,
    UnsubscribeOut,
)
from livestream.notifications.unsubscribe import user_of_token
from livestream.pagination import Cursor, Page
from livestream.users.models import User


class NotificationService:
    def __init__(self, notifications: NotificationRepository, *, email_available: bool, push_available: bool) -> None:
        self.notifications = notifications
        self.email_available = email_available
        self.push_available = push_available

    async def page(
        self, user_id: uuid.UUID, *, unread: bool, limit: int, cursor: Cursor | None
    ) -> Page[NotificationOut]:
        rows = await self.notifications.page(user_id, unread=unread, limit=limit + 1, cursor=cursor)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = Cursor(rows[-1].created_at, rows[-1].notification_id).encode() if more and rows else None
        return Page(items=[self.out(row) for row in rows], next_cursor=next_cursor)

    async def unread_count(self, user_id: uuid.UUID) -> int:
        return await self.notifications.unread_count(user_id)

    async def mark_read(self, user_id: uuid.UUID, notification_id: uuid.UUID) -> NotificationOut:
        """Only the recipient: anyone else gets the same 404 as for a notification that does not exist."""
        found = await self.notifications.get(notification_id)
        if found is None or found.user_id != user_id:
            raise errors.NotificationNotFound()
        await self.notifications.mark_read(user_id, notification_id)
        await self.notifications.session.refresh(found)
        return self.out(found)

    async def mark_all_read(self, user_id: uuid.UUID) -> int:
        return await self.notifications.mark_read(user_id)

    async def settings(self, user: User) -> NotificationSettingsOut:
        return self._settings_out(await self.notifications.settings(user.user_id), user)

    async def update_settings(self, user: User, change: NotificationSettingsIn) -> NotificationSettingsOut:
        current = await self.notifications.settings(user.user_id)
        if change.email is not None:
            current.email = change.email
        if change.push is not None:
            current.push = change.push
        if change.kinds is not None:
            for kind in KINDS:
                value = getattr(change.kinds, kind)
                if value is not None:
                    setattr(current, kind, value)
        await self.notifications.save_settings(current)
        return self._settings_out(current, user)

    async def unsubscribe(self, token: str, *, secret_key: str) -> UnsubscribeOut:
        """The link in a notification email, signed in or not: that account's email goes off. Again: no change."""
        user_id = user_of_token(secret_key, token)
        if user_id is None:
            raise errors.UnsubscribeTokenInvalid()
        username = await self.notifications.username_of(user_id)
        if username is None:
            return UnsubscribeOut(email=False, username=None)  # nothing left to send to
        current = await self.notifications.settings(user_id)
        if current.email:
            current.email = False
            await self.notifications.save_settings(current)
        return UnsubscribeOut(email=False, username=username)

    def _settings_out(self, row: NotificationSettings, user: User) -> NotificationSettingsOut:
        return NotificationSettingsOut(
            email=row.email,
            push=row.push,
            kinds=NotificationKinds(**{kind: bool(getattr(row, kind)) for kind in KINDS}),
            email_available=self.email_available,
            email_verified=user.email_verified_at is not None,
            push_available=self.push_available,
        )

    @staticmethod
    def out(row: Notification) -> NotificationOut:
        return NotificationOut(
            notification_id=row.notification_id,
            kind=row.type,
            payload=row.payload,
            created_at=row.created_at,
            read_at=row.read_at,
        )
