from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from livestream.tips.models import MESSAGE_MAX
from livestream.validation import Storable

Currency = Literal["JPY", "USD", "EUR"]
Status = Literal["pending", "succeeded", "failed", "refunded", "disputed"]
ProviderName = Literal["stripe", "test"]
# Large enough for any currency's limit; the per-currency limits are checked by the service.
# Strict: "500" or 5.0 is a client bug to report, never a tip to guess at.
Amount = Annotated[
    int, Field(strict=True, gt=0, le=1_000_000_000, description="Minor units: cents for USD and EUR, yen for JPY")
]


class TipCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipient_id: uuid.UUID | None = Field(default=None, description="The creator (or give stream_id)")
    stream_id: uuid.UUID | None = Field(default=None, description="A live stream, or one ended within the hour")
    amount: Amount
    currency: Currency = "JPY"
    message: Annotated[str, StringConstraints(max_length=MESSAGE_MAX * 2), Storable] | None = Field(
        default=None, description=f"Shown in chat with the tip; at most {MESSAGE_MAX} characters once cleaned"
    )


class Party(BaseModel):
    user_id: uuid.UUID
    username: str
    display_name: str | None


class TransactionOut(BaseModel):
    transaction_id: uuid.UUID
    status: Status
    amount: int
    currency: Currency
    message: str | None
    platform_fee: int = Field(description="Our share, in the same minor units")
    stream_id: uuid.UUID | None
    provider: ProviderName
    sender: Party | None = Field(description="null once the sender deleted their account")
    recipient: Party
    failure_code: str | None = Field(description="Why the payment failed (the decline code), when it did")
    created_at: datetime
    updated_at: datetime


class PaymentStep(BaseModel):
    """What the browser needs to confirm the payment."""

    provider: ProviderName
    payment_intent_id: str
    client_secret: str = Field(description="Confirms this one payment only; never log or share it")
    publishable_key: str | None = Field(description="Stripe.js's key (null with the test provider)")


class TipCreated(TransactionOut):
    payment: PaymentStep | None = Field(description="null once the tip is no longer pending")


class Count(BaseModel):
    count: int
    amount: int


class CurrencyEarnings(BaseModel):
    currency: Currency
    succeeded: Count
    pending: Count
    failed: Count
    refunded: Count
    disputed: Count
    fees: int = Field(description="Our share of the succeeded tips")
    net: int = Field(description="Succeeded tips less our share: what goes to you")


class StreamEarnings(BaseModel):
    stream_id: uuid.UUID
    title: str | None
    started_at: datetime | None
    currency: Currency
    count: int
    amount: int
    fees: int
    net: int


class MonthEarnings(BaseModel):
    month: str = Field(description="YYYY-MM, UTC")
    currency: Currency
    count: int
    amount: int
    fees: int
    net: int


class Earnings(BaseModel):
    currencies: list[CurrencyEarnings]
    by_stream: list[StreamEarnings]
    by_month: list[MonthEarnings]


PayoutState = Literal["not_started", "pending", "enabled", "restricted", "not_needed", "disabled"]


class PayoutStatus(BaseModel):
    provider: ProviderName | None
    status: PayoutState = Field(
        description="not_started: no account yet; pending: onboarding not finished; enabled: can receive tips; "
        "restricted: the provider needs more details; not_needed: test payments; disabled: tips are off"
    )
    can_receive_tips: bool
    currency: Currency
    details_submitted: bool
    payouts_enabled: bool


class OnboardingLink(BaseModel):
    url: str = Field(description="Stripe's hosted onboarding; single use, expires within minutes")


class TippingInfo(BaseModel):
    can_receive_tips: bool
    provider: ProviderName | None
    currency: Currency
    min_amount: int
    max_amount: int
    presets: list[int] = Field(description="Suggested amounts in minor units")
    publishable_key: str | None


class WebhookReceived(BaseModel):
    received: bool = True
    outcome: str = Field(description="What was done: applied, unchanged, duplicate, ignored, unknown…")


class TestConfirm(BaseModel):
    """The test provider's card form."""

    __test__ = False  # not a pytest class, whatever its name
    model_config = ConfigDict(extra="forbid")

    payment_intent_id: str = Field(min_length=1, max_length=64)
    client_secret: str = Field(min_length=1, max_length=128)
    card_number: str = Field(min_length=1, max_length=30)
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=0, le=9999)
    cvc: str = Field(min_length=3, max_length=4)


class DeclineOut(BaseModel):
    code: str
    message: str


class TestConfirmed(BaseModel):
    __test__ = False

    status: str = Field(description="succeeded, or requires_payment_method after a decline")
    error: DeclineOut | None
