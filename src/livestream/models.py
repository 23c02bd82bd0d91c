"""Every table, imported in one place so Alembic and tests see the whole schema."""

from livestream.archives.models import Archive
from livestream.auth.models import AccountToken, RefreshToken, RevokedAccessToken
from livestream.chat.models import ChatBan, ChatModerator
from livestream.db import Base
from livestream.follows.models import Follow
from livestream.jobs.models import PeriodicRun
from livestream.notifications.models import Notification, NotificationSettings
from livestream.payments.models import PaymentEvent, PayoutAccount, TestIntent
from livestream.push.models import PushSubscription, VapidKey
from livestream.schedules.models import Schedule
from livestream.streams.models import Stream, StreamKey
from livestream.tips.models import Transaction
from livestream.users.models import User

__all__ = [
    "AccountToken",
    "Archive",
    "Base",
    "ChatBan",
    "ChatModerator",
    "Follow",
    "Notification",
    "NotificationSettings",
    "PaymentEvent",
    "PayoutAccount",
    "PeriodicRun",
    "PushSubscription",
    "RefreshToken",
    "RevokedAccessToken",
    "Schedule",
    "Stream",
    "StreamKey",
    "TestIntent",
    "Transaction",
    "User",
    "VapidKey",
]
