"""What the tips domain needs from a payment provider, and nothing of any provider's SDK.

Amounts are integers in the currency's minor unit as Stripe counts it: cents for USD and EUR, yen for JPY (a
zero-decimal currency: ¥500 is 500, never 50000). Providers pass them on unchanged.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

# ISO 4217 codes tips may use, with their minor-unit exponent (how many digits follow the decimal point).
CURRENCIES: dict[str, int] = {"JPY": 0, "USD": 2, "EUR": 2}


class ProviderError(Exception):
    """The provider could not be reached or failed (network, 5xx, 429): the same call may work later."""


class ProviderRefused(Exception):
    """The provider refused the request for good (a 4xx other than 429): retrying the same call will not help."""


class InvalidEvent(Exception):
    """A webhook whose signature is missing, wrong or stale, or whose body is not an event."""


@dataclass(frozen=True)
class IntentRequest:
    """One tip's PaymentIntent. ``idempotency_key`` is the transaction's own (``tip-<transaction_id>``), so a call
    repeated after a timeout or a crash finds the intent the first call made instead of making a second."""

    transaction_id: uuid.UUID
    amount: int
    currency: str  # upper case, one of CURRENCIES
    platform_fee: int
    destination: str | None  # the creator's connected account (Stripe Connect); None with the test provider
    idempotency_key: str
    description: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Intent:
    id: str
    # Stripe's words: requires_payment_method, requires_confirmation, requires_action, processing,
    # requires_capture, succeeded, canceled.
    status: str
    amount: int
    currency: str  # upper case
    client_secret: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    # Why the last attempt failed (a decline's code), when it did.
    failure_code: str | None = None


@dataclass(frozen=True)
class Account:
    """A creator's connected account as the provider sees it."""

    id: str
    details_submitted: bool
    charges_enabled: bool
    payouts_enabled: bool
    # Destination charges move the money with a transfer: the account can receive tips once this is active.
    transfers_active: bool
    default_currency: str | None  # upper case


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    object: dict[str, Any]  # the event's data.object, as plain JSON values
    created: int
    livemode: bool


class PaymentProvider(Protocol):
    name: str  # "stripe" or "test": stored on each transaction
    # Given to the browser to confirm a payment (Stripe.js); None for the test provider.
    publishable_key: str | None
    # True when a creator must onboard (a connected account) before receiving tips.
    needs_onboarding: bool

    def webhook_secret(self) -> str:
        """The secret webhook signatures are checked with."""
        ...

    async def create_intent(self, request: IntentRequest) -> Intent: ...

    async def retrieve_intent(self, intent_id: str) -> Intent: ...

    async def cancel_intent(self, intent_id: str) -> None:
        """Cancel an intent that has not succeeded (an intent already canceled is fine)."""
        ...

    async def refund(self, intent_id: str, *, idempotency_key: str) -> None:
        """Give a succeeded payment back in full (and the transfer and fee with it)."""
        ...

    async def create_account(self, user_id: uuid.UUID, email: str | None, *, idempotency_key: str) -> Account: ...

    async def retrieve_account(self, account_id: str) -> Account: ...

    async def account_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str:
        """A one-time onboarding URL for the creator (Stripe's hosted Express onboarding)."""
        ...

    async def close(self) -> None: ...
