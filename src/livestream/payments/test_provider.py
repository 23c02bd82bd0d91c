"""A local payment provider that behaves like Stripe's test mode, so tips run end to end without Stripe.

It keeps PaymentIntents in its own table (every process of the server sees them), takes Stripe's test card numbers
on its confirmation form (``POST /api/payments/test/confirm``), and tells our own webhook endpoint what happened
with events signed exactly as Stripe signs them: the tips domain cannot tell the two providers apart. It moves no
money and checks no card, so settings refuse it in production.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from livestream.db import Database, after_commit, utcnow
from livestream.errors import BadRequest, Conflict, NotFound
from livestream.jobs.runtime import JobRuntime
from livestream.logging import get_logger
from livestream.payments.base import Account, Intent, IntentRequest, ProviderRefused
from livestream.payments.models import TestIntent
from livestream.payments.repository import TestIntentRepository
from livestream.payments.webhooks import sign

log = get_logger("livestream.payments")

DELIVER = "payments.test_deliver"
# Stripe's test cards this provider knows: the rest that pass the Luhn check are declined, as Stripe's test mode
# declines real card numbers.
SUCCEEDS = frozenset({"4242424242424242", "4000056655665556", "5555555555554444", "378282246310005"})
DECLINES = {"4000000000000002": "card_declined", "4000000000009995": "insufficient_funds"}
CONFIRMABLE = frozenset({"requires_payment_method", "requires_confirmation"})
CANCELABLE = CONFIRMABLE | {"requires_action", "processing"}
DELIVERY_ATTEMPTS = 8


class InvalidCard(BadRequest):
    code = "INVALID_CARD"
    message = "Check the card number, expiry date and CVC"


class IntentNotFound(NotFound):
    code = "PAYMENT_NOT_FOUND"
    message = "No such payment"


class IntentNotConfirmable(Conflict):
    code = "PAYMENT_NOT_CONFIRMABLE"
    message = "This payment is already paid or cancelled; start a new one"


DECLINE_MESSAGES = {
    "card_declined": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
}


@dataclass(frozen=True)
class Confirmation:
    status: str
    failure_code: str | None


def decline_message(confirmation: Confirmation) -> str:
    return DECLINE_MESSAGES.get(confirmation.failure_code or "", "Your card was declined.")


def luhn_ok(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def check_card(number: str, exp_month: int, exp_year: int, cvc: str, today: date) -> str:
    """The card number without spaces, or InvalidCard with the field at fault."""
    digits = number.replace(" ", "").replace("-", "")
    if not digits.isascii() or not digits.isdigit() or not 12 <= len(digits) <= 19 or not luhn_ok(digits):
        raise InvalidCard("The card number is not valid", extra={"fields": {"card_number": "not a valid number"}})
    year = exp_year + 2000 if exp_year < 100 else exp_year
    if not 1 <= exp_month <= 12 or (year, exp_month) < (today.year, today.month) or year > today.year + 50:
        raise InvalidCard("The card has expired or the date is not valid", extra={"fields": {"exp": "expired"}})
    if not cvc.isascii() or not cvc.isdigit() or not 3 <= len(cvc) <= 4:
        raise InvalidCard("The CVC is not valid", extra={"fields": {"cvc": "3 or 4 digits"}})
    return digits


class TestProvider:
    __test__ = False  # not a pytest class, whatever its name

    name = "test"
    publishable_key: str | None = None
    needs_onboarding = False

    def __init__(
        self,
        db: Database,
        jobs: JobRuntime,
        *,
        secret_key: str,
        webhook_secret: str,
        webhook_url: str,
        client: Callable[[], httpx.AsyncClient] | None = None,
    ) -> None:
        self.db = db
        self.jobs = jobs
        self._secret = secret_key.encode()
        self._webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        # Tests that run the app without a server hand in a client on the app's own ASGI transport.
        self.client = client or (lambda: httpx.AsyncClient(timeout=10.0))

    def register(self) -> None:
        self.jobs.register(DELIVER, self.deliver, attempts=DELIVERY_ATTEMPTS)

    def webhook_secret(self) -> str:
        return self._webhook_secret

    # --- the provider protocol ---------------------------------------------------------------------------

    async def create_intent(self, request: IntentRequest) -> Intent:
        async with self.db.unit_of_work() as session:
            intents = TestIntentRepository(session)
            found = await intents.by_key(request.idempotency_key)
            if found is None:
                now = utcnow()
                row = TestIntent(
                    intent_id=f"pi_test_{secrets.token_hex(12)}",
                    idempotency_key=request.idempotency_key,
                    amount=request.amount,
                    currency=request.currency,
                    status="requires_payment_method",
                    transaction_id=str(request.transaction_id),
                    refunded=False,
                    created_at=now,
                    updated_at=now,
                )
                if not await intents.add(row):  # the same key at once from another process
                    found = await intents.by_key(request.idempotency_key)
                else:
                    found = row
            if found is None:
                raise ProviderRefused("idempotency key in use")
            if (found.amount, found.currency) != (request.amount, request.currency):
                raise ProviderRefused("idempotency key reused with other parameters")
            return self._intent(found)

    async def retrieve_intent(self, intent_id: str) -> Intent:
        async with self.db.sessionmaker() as session:
            found = await TestIntentRepository(session).get(intent_id)
        if found is None:
            raise ProviderRefused("no such payment intent")
        return self._intent(found)

    async def cancel_intent(self, intent_id: str) -> None:
        async with self.db.unit_of_work() as session:
            intents = TestIntentRepository(session)
            # A compare-and-set, as confirm's: a confirmation landing at the same moment is never overwritten.
            if await intents.move(intent_id, CANCELABLE, status="canceled", failure_code=None, now=utcnow()):
                return
            found = await intents.get(intent_id, fresh=True)
            if found is None:
                raise ProviderRefused("no such payment intent")
            if found.status == "succeeded":
                raise ProviderRefused("a succeeded payment intent cannot be canceled")

    async def refund(self, intent_id: str, *, idempotency_key: str) -> None:
        async with self.db.unit_of_work() as session:
            found = await TestIntentRepository(session).get(intent_id, for_update=True)
            if found is None or found.status != "succeeded":
                raise ProviderRefused("only a succeeded payment can be refunded")
            if found.refunded:
                return
            found.refunded = True
            found.updated_at = utcnow()
            event = _event("charge.refunded", _charge(found))
            after_commit(session, lambda: self._send(event))

    async def create_account(self, user_id: uuid.UUID, email: str | None, *, idempotency_key: str) -> Account:
        raise ProviderRefused("the test provider needs no payout account")

    async def retrieve_account(self, account_id: str) -> Account:
        raise ProviderRefused("the test provider needs no payout account")

    async def account_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str:
        raise ProviderRefused("the test provider needs no payout account")

    async def close(self) -> None:
        return None

    # --- the confirmation form ---------------------------------------------------------------------------

    def client_secret(self, intent_id: str) -> str:
        """Derived, not stored: whoever holds it may confirm this one intent, as with Stripe."""
        mac = hmac.new(self._secret, f"test-intent:{intent_id}".encode(), hashlib.sha256).hexdigest()[:32]
        return f"{intent_id}_secret_{mac}"

    async def confirm(
        self, intent_id: str, client_secret: str, card_number: str, exp_month: int, exp_year: int, cvc: str
    ) -> Confirmation:
        if not hmac.compare_digest(self.client_secret(intent_id).encode(), client_secret.encode()):
            raise IntentNotFound()
        digits = check_card(card_number, exp_month, exp_year, cvc, utcnow().date())
        failure = None if digits in SUCCEEDS else DECLINES.get(digits, "card_declined")
        status = "succeeded" if failure is None else "requires_payment_method"
        async with self.db.unit_of_work() as session:
            intents = TestIntentRepository(session)
            # A compare-and-set: two confirmations at once (SQLite has no row locks) pay it once.
            found = await intents.move(intent_id, CONFIRMABLE, status=status, failure_code=failure, now=utcnow())
            if found is None:
                if await intents.get(intent_id) is None:
                    raise IntentNotFound()
                raise IntentNotConfirmable()
            kind = "payment_intent.succeeded" if failure is None else "payment_intent.payment_failed"
            event = _event(kind, _intent_object(found))
            after_commit(session, lambda: self._send(event))
        log.info("test_payment_confirmed", intent_id=intent_id, outcome=failure or "succeeded")
        return Confirmation(status=status, failure_code=failure)

    # --- deliveries to our own webhook -------------------------------------------------------------------

    async def _send(self, event: dict[str, Any]) -> None:
        await self.jobs.enqueue(DELIVER, body=json.dumps(event, separators=(",", ":")))

    async def deliver(self, body: str) -> None:
        """Post one event, signed now (a retry is signed again: a signature is only good for five minutes)."""
        payload = body.encode()
        headers = {"Content-Type": "application/json", "Stripe-Signature": sign(payload, self._webhook_secret)}
        async with self.client() as client:
            response = await client.post(self.webhook_url, content=payload, headers=headers)
        if response.status_code >= 300:
            raise RuntimeError(f"webhook answered {response.status_code}")

    def _intent(self, row: TestIntent) -> Intent:
        return Intent(
            id=row.intent_id,
            status=row.status,
            amount=row.amount,
            currency=row.currency,
            client_secret=self.client_secret(row.intent_id),
            metadata={"transaction_id": row.transaction_id or ""},
            failure_code=row.failure_code,
        )


def _intent_object(row: TestIntent) -> dict[str, Any]:
    error = {"code": "card_declined", "decline_code": row.failure_code} if row.failure_code else None
    return {
        "id": row.intent_id,
        "object": "payment_intent",
        "amount": row.amount,
        "amount_received": row.amount if row.status == "succeeded" else 0,
        "currency": row.currency.lower(),
        "status": row.status,
        "metadata": {"transaction_id": row.transaction_id or ""},
        "last_payment_error": error,
        "latest_charge": f"ch_test_{row.intent_id.removeprefix('pi_test_')}",
        "livemode": False,
    }


def _charge(row: TestIntent) -> dict[str, Any]:
    return {
        "id": f"ch_test_{row.intent_id.removeprefix('pi_test_')}",
        "object": "charge",
        "payment_intent": row.intent_id,
        "amount": row.amount,
        "amount_refunded": row.amount if row.refunded else 0,
        "refunded": row.refunded,
        "currency": row.currency.lower(),
        "livemode": False,
    }


def _event(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"evt_test_{secrets.token_hex(12)}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }
