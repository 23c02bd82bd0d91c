"""HTTP for the payment provider: its webhook, and the test provider's confirmation form. (Here, not in
``payments/``, because both hand what comes in to the tips domain.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, Field

from livestream.errors import AppError, NotFound
from livestream.http.responses import errors
from livestream.logging import get_logger
from livestream.payments.base import InvalidEvent
from livestream.payments.webhooks import MAX_BODY_BYTES, parse_event
from livestream.tips.dependencies import TippingDep
from livestream.tips.errors import EventNotHandled, InvalidSignature

log = get_logger("livestream.payments")

router = APIRouter(tags=["payments"])


class WebhookReceived(BaseModel):
    received: bool = True
    outcome: str = Field(description="What was done: applied, unchanged, duplicate, ignored, unknown…")


@router.post(
    "/api/webhooks/stripe",
    response_model=WebhookReceived,
    responses=errors(400, 503),
    operation_id="receiveStripeWebhook",
)
async def stripe_webhook(
    request: Request,
    tipping: TippingDep,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> WebhookReceived:
    """Stripe's events (and the test provider's, signed the same way). The signature is checked on the raw body
    with the webhook secret; a bad or stale one (over 300 s) → 400 and nothing is written."""
    events = tipping.require_events()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise InvalidSignature("The body is larger than any event")
    try:
        event = parse_event(bytes(body), stripe_signature, tipping.webhook_secrets)
    except InvalidEvent as exc:
        log.warning("webhook_refused", reason=str(exc))
        raise InvalidSignature() from None
    try:
        outcome = await events.receive(event)
    except AppError:
        raise
    except Exception as exc:
        # Nothing was stored: the provider delivers the event again.
        log.error("webhook_failed", event_id=event.id, type=event.type, error=f"{type(exc).__name__}: {exc}")
        raise EventNotHandled() from None
    return WebhookReceived(outcome=outcome)


class TestConfirm(BaseModel):
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
    status: str = Field(description="succeeded, or requires_payment_method after a decline")
    error: DeclineOut | None


DECLINE_MESSAGES = {
    "card_declined": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
}


class TestPaymentsOff(NotFound):
    code = "NOT_FOUND"
    message = "Test payments are not enabled on this server"


@router.post(
    "/api/payments/test/confirm",
    response_model=TestConfirmed,
    responses=errors(400, 404, 409),
    operation_id="confirmTestPayment",
)
async def confirm_test_payment(body: TestConfirm, tipping: TippingDep) -> TestConfirmed:
    """The test provider's card form (LS_PAYMENTS=test only): 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002
    is declined, 4000 0000 0000 9995 has insufficient funds. The outcome reaches the tip by a signed webhook."""
    provider = tipping.test_provider
    if provider is None:
        raise TestPaymentsOff()
    done = await provider.confirm(
        body.payment_intent_id, body.client_secret, body.card_number, body.exp_month, body.exp_year, body.cvc
    )
    error = None
    if done.failure_code is not None:
        error = DeclineOut(
            code=done.failure_code, message=DECLINE_MESSAGES.get(done.failure_code, "Your card was declined.")
        )
    return TestConfirmed(status=done.status, error=error)
