"""Stripe behind the ``PaymentProvider`` protocol: PaymentIntents with destination charges (Stripe Connect Express).

Every call goes through the official SDK's async methods over httpx, so nothing blocks the event loop. SDK errors
become ``ProviderError`` (worth retrying later) or ``ProviderRefused`` (final); their messages never carry an API key.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any, NoReturn

import stripe
from stripe.params import (
    AccountCreateParams,
    AccountLinkCreateParams,
    PaymentIntentCreateParams,
    RefundCreateParams,
)

from livestream.payments.base import Account, Intent, IntentRequest, ProviderError, ProviderRefused

# Stripe echoes keys back only masked, but a key may still reach a message some other way (a proxy's error page, a
# future SDK): anything shaped like a Stripe secret is blanked before it is put into one of our exceptions.
_SECRET_PATTERN = re.compile(r"\b(?:sk|rk|whsec)_[A-Za-z0-9_]+")


class _HTTPXClient(stripe.HTTPXClient):
    """The SDK's httpx client, handing the encoded form body to httpx as ``content``.

    The SDK passes its already-encoded body as ``data=<str>``, which httpx 0.28 deprecates with a
    DeprecationWarning on every POST (an error under our ``filterwarnings = error``).
    """

    def _get_request_args_kwargs(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any
    ) -> tuple[tuple[str, str], dict[str, Any]]:
        kwargs: dict[str, Any] = {"headers": headers}
        if post_data:
            kwargs["content"] = post_data
        if self._timeout:
            kwargs["timeout"] = self._timeout
        return (method, url), kwargs

    async def close_async(self) -> None:
        await self._client_async.aclose()


class StripeProvider:
    name = "stripe"
    needs_onboarding = True

    def __init__(
        self,
        secret_key: str,
        publishable_key: str,
        webhook_secret: str,
        api_base: str | None = None,
        timeout: float = 20.0,
        max_network_retries: int = 2,
    ) -> None:
        self.publishable_key: str | None = publishable_key
        self._secret_key = secret_key
        self._webhook_secret = webhook_secret
        self._http = _HTTPXClient(timeout=timeout)
        base = api_base.rstrip("/") if api_base else None
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": base, "connect": base} if base else None,
            http_client=self._http,
            max_network_retries=max_network_retries,
        )

    def __repr__(self) -> str:
        return f"StripeProvider(publishable_key={self.publishable_key!r})"

    def webhook_secret(self) -> str:
        return self._webhook_secret

    async def create_intent(self, request: IntentRequest) -> Intent:
        params: PaymentIntentCreateParams = {
            # Stripe counts in the same minor unit as we do (¥500 is 500, $5.00 is 500): passed on unchanged.
            "amount": request.amount,
            "currency": request.currency.lower(),
            # Methods that leave the page (bank redirects, vouchers) are off: the Tip dialog settles in place.
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            "description": request.description,
            "metadata": {**request.metadata, "transaction_id": str(request.transaction_id)},
        }
        if request.platform_fee:
            params["application_fee_amount"] = request.platform_fee
        if request.destination:
            params["transfer_data"] = {"destination": request.destination}
        try:
            intent = await self._client.v1.payment_intents.create_async(
                params, options={"idempotency_key": request.idempotency_key}
            )
        except stripe.StripeError as exc:
            self._raise(exc, "create payment intent")
        return _intent(intent)

    async def retrieve_intent(self, intent_id: str) -> Intent:
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(intent_id)
        except stripe.StripeError as exc:
            self._raise(exc, "retrieve payment intent")
        return _intent(intent)

    async def cancel_intent(self, intent_id: str) -> None:
        try:
            await self._client.v1.payment_intents.cancel_async(intent_id)
            return
        except stripe.InvalidRequestError as exc:
            if exc.code != "payment_intent_unexpected_state":
                self._raise(exc, "cancel payment intent")
            refused = exc
        except stripe.StripeError as exc:
            self._raise(exc, "cancel payment intent")
        # Stripe refuses to cancel an intent that is already canceled: that is the state we wanted, so only an
        # intent in some other final state (succeeded) is a refusal.
        current = await self.retrieve_intent(intent_id)
        if current.status != "canceled":
            self._raise(refused, f"cancel payment intent (status {current.status})")

    async def refund(self, intent_id: str, *, idempotency_key: str) -> None:
        params: RefundCreateParams = {
            "payment_intent": intent_id,
            # A destination charge moved the money to the creator and kept our fee: both come back with the refund.
            "reverse_transfer": True,
            "refund_application_fee": True,
        }
        try:
            await self._client.v1.refunds.create_async(params, options={"idempotency_key": idempotency_key})
        except stripe.InvalidRequestError as exc:
            # A refund made earlier under another key (from the dashboard, say) already gave the money back.
            if exc.code != "charge_already_refunded":
                self._raise(exc, "refund payment intent")
        except stripe.StripeError as exc:
            self._raise(exc, "refund payment intent")

    async def create_account(self, user_id: uuid.UUID, email: str | None, *, idempotency_key: str) -> Account:
        params: AccountCreateParams = {
            "type": "express",
            "capabilities": {"transfers": {"requested": True}, "card_payments": {"requested": True}},
            "metadata": {"user_id": str(user_id)},
        }
        if email:
            params["email"] = email
        try:
            account = await self._client.v1.accounts.create_async(params, options={"idempotency_key": idempotency_key})
        except stripe.StripeError as exc:
            self._raise(exc, "create connected account")
        return _account(account)

    async def retrieve_account(self, account_id: str) -> Account:
        try:
            account = await self._client.v1.accounts.retrieve_async(account_id)
        except stripe.StripeError as exc:
            self._raise(exc, "retrieve connected account")
        return _account(account)

    async def account_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str:
        params: AccountLinkCreateParams = {
            "account": account_id,
            "refresh_url": refresh_url,
            "return_url": return_url,
            "type": "account_onboarding",
        }
        try:
            link = await self._client.v1.account_links.create_async(params)
        except stripe.StripeError as exc:
            self._raise(exc, "create account link")
        return str(link.url)

    async def close(self) -> None:
        await self._http.close_async()

    def _raise(self, exc: stripe.StripeError, action: str) -> NoReturn:
        status = exc.http_status
        parts = [type(exc).__name__]
        if status is not None:
            parts.append(f"HTTP {status}")
        if exc.code:
            parts.append(f"code {exc.code}")
        if exc.request_id:
            parts.append(f"request {exc.request_id}")
        detail = exc.user_message or ""
        # The key itself first, in case one ever stops matching the pattern.
        detail = _SECRET_PATTERN.sub("[redacted]", detail.replace(self._secret_key, "[redacted]"))
        message = f"Stripe: {action} failed ({', '.join(parts)})" + (f": {detail}" if detail else "")
        # ``from None``: the SDK's exception (its body, headers, message) stays out of our tracebacks and logs.
        if _retryable(exc):
            raise ProviderError(message) from None
        raise ProviderRefused(message) from None


def _retryable(exc: stripe.StripeError) -> bool:
    if isinstance(exc, (stripe.APIConnectionError, stripe.RateLimitError)):
        return True
    status = exc.http_status
    # No status: the SDK failed before or without an HTTP answer. 409: Stripe's "another request with this key is
    # still running" (the SDK itself retries it).
    return status is None or status >= 500 or status in (409, 429)


def _intent(intent: stripe.PaymentIntent) -> Intent:
    data = intent.to_dict()
    error = data.get("last_payment_error") or {}
    metadata = data.get("metadata") or {}
    return Intent(
        id=str(data["id"]),
        status=str(data["status"]),
        amount=int(data["amount"]),
        currency=str(data["currency"]).upper(),
        client_secret=data.get("client_secret"),
        metadata={str(key): str(value) for key, value in metadata.items()},
        # The decline code first (insufficient_funds rather than card_declined), as the webhook handler reads it.
        failure_code=error.get("decline_code") or error.get("code") or None,
    )


def _account(account: stripe.Account) -> Account:
    data = account.to_dict()
    capabilities = data.get("capabilities") or {}
    currency = data.get("default_currency")
    return Account(
        id=str(data["id"]),
        details_submitted=bool(data.get("details_submitted")),
        charges_enabled=bool(data.get("charges_enabled")),
        payouts_enabled=bool(data.get("payouts_enabled")),
        transfers_active=capabilities.get("transfers") == "active",
        default_currency=str(currency).upper() if currency else None,
    )
