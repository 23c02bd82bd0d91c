"""HTTP for the payment provider: its webhook, and the test provider's confirmation form. (Here, not in
``payments/``, because both hand what comes in to the tips domain.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request

from livestream.errors import AppError
from livestream.http.responses import errors
from livestream.logging import get_logger
from livestream.payments.base import InvalidEvent
from livestream.payments.test_provider import decline_message
from livestream.payments.webhooks import MAX_BODY_BYTES, parse_event
from livestream.tips.dependencies import TippingDep
from livestream.tips.errors import EventNotHandled, InvalidSignature, TestPaymentsOff
from livestream.tips.schemas import DeclineOut, TestConfirm, TestConfirmed, WebhookReceived

log = get_logger("livestream.payments")

router = APIRouter(tags=["payments"])


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
    error = None if done.failure_code is None else DeclineOut(code=done.failure_code, message=decline_message(done))
    return TestConfirmed(status=done.status, error=error)
