"""A user's browsers' push subscriptions; no HTTP here."""

from __future__ import annotations

import uuid

from livestream.push import errors
from livestream.push.endpoints import EndpointRefused, check_endpoint
from livestream.push.models import USER_AGENT_MAX, PushSubscription
from livestream.push.repository import PushRepository
from livestream.push.schemas import PushSubscriptionIn
from livestream.validation import clean_line, is_storable

# Browsers per user. One more replaces the stalest: a user cannot list the endpoints of browsers they no longer
# have, so refusing would lock them out of push for good.
MAX_SUBSCRIPTIONS_PER_USER = 20


class PushService:
    def __init__(self, push: PushRepository, *, allow_private: bool) -> None:
        self.push = push
        self.allow_private = allow_private

    async def subscribe(self, user_id: uuid.UUID, body: PushSubscriptionIn, user_agent: str | None) -> PushSubscription:
        try:
            await check_endpoint(body.endpoint, allow_private=self.allow_private)
        except EndpointRefused as refused:
            raise errors.EndpointNotAllowed(f"Push endpoint refused: {refused}") from None
        subscription = await self.push.upsert(
            user_id=user_id,
            endpoint=body.endpoint,
            p256dh=body.keys.p256dh,
            auth=body.keys.auth,
            user_agent=_bounded_agent(user_agent),
        )
        await self.push.session.flush()
        ids = await self.push.ids_of_user(user_id)
        stale = [i for i in ids if i != subscription.subscription_id][MAX_SUBSCRIPTIONS_PER_USER - 1 :]
        await self.push.delete_ids(stale)
        return subscription

    async def unsubscribe(self, user_id: uuid.UUID, endpoint: str) -> None:
        """Only the user's own: another user's endpoint gets the same 404 as one that does not exist."""
        if not await self.push.delete_own(user_id, endpoint):
            raise errors.SubscriptionNotFound()


def _bounded_agent(user_agent: str | None) -> str | None:
    """The browser's User-Agent, to tell a user's browsers apart; cut to fit, never a reason to refuse."""
    if not user_agent or not is_storable(user_agent):
        return None
    agent = clean_line(user_agent)[:USER_AGENT_MAX]
    return agent or None
