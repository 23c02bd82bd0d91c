"""Webhook events taken in: each stored once by its id and handled in the same database transaction.

A delivery repeated (Stripe retries until it gets a 2xx) or two at once find the stored row and change nothing; a
handler that fails rolls the whole transaction back, the event is not stored, and the provider delivers it again.
Domains register a handler per event type; types nobody handles are stored as ``ignored``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from livestream.db import Database
from livestream.logging import get_logger
from livestream.payments.base import Account, WebhookEvent
from livestream.payments.repository import PaymentEventRepository

log = get_logger("livestream.payments")

# What a handler did: "applied", "unchanged", "unknown" (not one of ours)...; stored with the event.
Handler = Callable[[AsyncSession, WebhookEvent], Awaitable[str]]


class PaymentEvents:
    def __init__(self, db: Database, provider: str, *, livemode: bool = False) -> None:
        self.db = db
        self.provider = provider
        self.livemode = livemode
        self._handlers: dict[str, Handler] = {}

    def on(self, kind: str, handler: Handler) -> None:
        if kind in self._handlers:
            raise ValueError(f"{kind} has a handler already")
        self._handlers[kind] = handler

    async def receive(self, event: WebhookEvent) -> str:
        async with self.db.unit_of_work() as session:
            events = PaymentEventRepository(session)
            if not await events.record(event, self.provider):
                outcome = "duplicate"
            else:
                handler = self._handlers.get(event.type)
                if event.livemode != self.livemode:
                    outcome = "other_mode"  # a test event at a live endpoint (or the reverse): never money
                elif handler is None:
                    outcome = "ignored"
                else:
                    outcome = await handler(session, event)
                await events.set_outcome(event.id, outcome)
        log.info("payment_event", event_id=event.id, type=event.type, outcome=outcome)
        return outcome


def account_of(obj: dict[str, object]) -> Account | None:
    """An ``account.updated`` event's account; None when it is not an account."""
    account_id = obj.get("id")
    if not isinstance(account_id, str) or obj.get("object") != "account":
        return None
    capabilities = obj.get("capabilities")
    transfers = capabilities.get("transfers") if isinstance(capabilities, dict) else None
    currency = obj.get("default_currency")
    return Account(
        id=account_id,
        details_submitted=obj.get("details_submitted") is True,
        charges_enabled=obj.get("charges_enabled") is True,
        payouts_enabled=obj.get("payouts_enabled") is True,
        transfers_active=transfers == "active",
        default_currency=currency.upper() if isinstance(currency, str) and len(currency) == 3 else None,
    )
