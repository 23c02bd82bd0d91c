"""StripeProvider: the real SDK, over HTTP, against the local fake Stripe."""

from __future__ import annotations

import socket
import traceback
import uuid
from collections.abc import AsyncIterator

import pytest

from livestream.payments.base import IntentRequest, PaymentProvider, ProviderError, ProviderRefused
from livestream.payments.stripe_provider import StripeProvider
from tests.support.fake_stripe import API_KEY, PUBLISHABLE_KEY, WEBHOOK_SECRET, FakeStripe

TRANSACTION_ID = uuid.UUID("7d0c6a4e-3a51-4b8e-9a57-1c2e3f405162")
USER_ID = uuid.UUID("0b9a1c2d-3e4f-4a5b-8c6d-7e8f90a1b2c3")
DESTINATION = "acct_creator0000000001"


def make_provider(
    api_base: str, *, secret_key: str = API_KEY, timeout: float = 5.0, max_network_retries: int = 0
) -> StripeProvider:
    return StripeProvider(
        secret_key=secret_key,
        publishable_key=PUBLISHABLE_KEY,
        webhook_secret=WEBHOOK_SECRET,
        api_base=api_base,
        timeout=timeout,
        max_network_retries=max_network_retries,
    )


@pytest.fixture
async def provider(fake_stripe: FakeStripe) -> AsyncIterator[StripeProvider]:
    fake_stripe.set_account(DESTINATION)
    stripe_provider = make_provider(fake_stripe.url)
    yield stripe_provider
    await stripe_provider.close()


def tip(
    *,
    amount: int = 500,
    currency: str = "JPY",
    platform_fee: int = 50,
    destination: str | None = DESTINATION,
    idempotency_key: str = f"tip-{TRANSACTION_ID}",
) -> IntentRequest:
    return IntentRequest(
        transaction_id=TRANSACTION_ID,
        amount=amount,
        currency=currency,
        platform_fee=platform_fee,
        destination=destination,
        idempotency_key=idempotency_key,
        description="Tip for @creator",
        metadata={"sender_id": str(USER_ID)},
    )


def assert_no_secret(exc: BaseException) -> None:
    text = "".join(traceback.format_exception(exc))
    assert API_KEY not in text
    assert API_KEY not in repr(exc)


async def test_is_a_payment_provider() -> None:
    stripe_provider: PaymentProvider = make_provider("http://127.0.0.1:9")
    try:
        assert stripe_provider.name == "stripe"
        assert stripe_provider.needs_onboarding is True
        assert stripe_provider.publishable_key == PUBLISHABLE_KEY
        assert stripe_provider.webhook_secret() == WEBHOOK_SECRET
        assert API_KEY not in repr(stripe_provider)
    finally:
        await stripe_provider.close()


# PaymentIntents


async def test_create_intent_sends_jpy_unchanged_with_fee_and_destination(
    provider: StripeProvider, fake_stripe: FakeStripe
) -> None:
    intent = await provider.create_intent(tip(amount=500, currency="JPY", platform_fee=50))

    [call] = fake_stripe.requests
    assert (call.method, call.path, call.idempotency_key) == ("POST", "/v1/payment_intents", f"tip-{TRANSACTION_ID}")
    assert call.params == {
        "amount": "500",
        "currency": "jpy",
        "automatic_payment_methods": {"enabled": "true", "allow_redirects": "never"},
        "application_fee_amount": "50",
        "transfer_data": {"destination": DESTINATION},
        "description": "Tip for @creator",
        "metadata": {"sender_id": str(USER_ID), "transaction_id": str(TRANSACTION_ID)},
    }
    stored = fake_stripe.intents[intent.id]
    assert intent.id.startswith("pi_")
    assert (intent.amount, intent.currency, intent.status) == (500, "JPY", "requires_payment_method")
    assert intent.client_secret == stored["client_secret"]
    assert intent.client_secret is not None
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert intent.metadata == {"sender_id": str(USER_ID), "transaction_id": str(TRANSACTION_ID)}
    assert intent.failure_code is None
    assert (stored["application_fee_amount"], stored["transfer_data"]) == (50, {"destination": DESTINATION})


async def test_create_intent_sends_usd_in_cents(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    intent = await provider.create_intent(tip(amount=500, currency="USD", platform_fee=50))

    [call] = fake_stripe.requests
    assert (call.params["amount"], call.params["currency"]) == ("500", "usd")
    assert (intent.amount, intent.currency) == (500, "USD")


async def test_zero_fee_and_no_destination_are_omitted(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    await provider.create_intent(tip(platform_fee=0, destination=None))

    [call] = fake_stripe.requests
    assert "application_fee_amount" not in call.params
    assert "transfer_data" not in call.params


async def test_same_idempotency_key_makes_one_intent(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    first = await provider.create_intent(tip())
    second = await provider.create_intent(tip())

    assert second == first
    assert fake_stripe.count("POST", "/v1/payment_intents") == 2
    assert list(fake_stripe.intents) == [first.id]


async def test_same_idempotency_key_with_other_params_is_refused(
    provider: StripeProvider, fake_stripe: FakeStripe
) -> None:
    await provider.create_intent(tip(amount=500))

    with pytest.raises(ProviderRefused, match="IdempotencyError"):
        await provider.create_intent(tip(amount=600))
    assert len(fake_stripe.intents) == 1


async def test_lost_response_is_retried_with_the_same_key(fake_stripe: FakeStripe) -> None:
    fake_stripe.set_account(DESTINATION)
    fake_stripe.lose_next_responses(1)
    retrying = make_provider(fake_stripe.url, max_network_retries=1)
    try:
        intent = await retrying.create_intent(tip())
    finally:
        await retrying.close()

    assert list(fake_stripe.intents) == [intent.id]
    assert [call.idempotency_key for call in fake_stripe.requests] == [f"tip-{TRANSACTION_ID}"] * 2


async def test_retrieve_intent_reports_status_and_failure_code(
    provider: StripeProvider, fake_stripe: FakeStripe
) -> None:
    created = await provider.create_intent(tip())

    fake_stripe.set_intent_status(created.id, "requires_payment_method", "expired_card")
    failed = await provider.retrieve_intent(created.id)
    assert (failed.status, failed.failure_code) == ("requires_payment_method", "expired_card")

    fake_stripe.set_intent_status(created.id, "succeeded")
    succeeded = await provider.retrieve_intent(created.id)
    assert (succeeded.id, succeeded.status, succeeded.amount, succeeded.currency) == (
        created.id,
        "succeeded",
        500,
        "JPY",
    )
    assert succeeded.failure_code is None
    assert fake_stripe.requests[-1].method == "GET"
    assert fake_stripe.requests[-1].path == f"/v1/payment_intents/{created.id}"


async def test_decline_reports_stripes_code(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    created = await provider.create_intent(tip())
    fake_stripe.set_intent_status(created.id, "requires_payment_method", decline_code="insufficient_funds")

    declined = await provider.retrieve_intent(created.id)

    assert declined.failure_code == "insufficient_funds"


async def test_retrieve_unknown_intent_is_refused(provider: StripeProvider) -> None:
    with pytest.raises(ProviderRefused, match="resource_missing"):
        await provider.retrieve_intent("pi_missing")


async def test_cancel_intent(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    created = await provider.create_intent(tip())

    await provider.cancel_intent(created.id)

    assert fake_stripe.intents[created.id]["status"] == "canceled"
    assert fake_stripe.count("POST", f"/v1/payment_intents/{created.id}/cancel") == 1


async def test_cancel_of_a_canceled_intent_is_fine(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    created = await provider.create_intent(tip())
    await provider.cancel_intent(created.id)

    await provider.cancel_intent(created.id)

    assert fake_stripe.intents[created.id]["status"] == "canceled"
    assert fake_stripe.count("POST", f"/v1/payment_intents/{created.id}/cancel") == 2


async def test_cancel_of_a_succeeded_intent_is_refused(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    created = await provider.create_intent(tip())
    fake_stripe.set_intent_status(created.id, "succeeded")

    with pytest.raises(ProviderRefused, match="payment_intent_unexpected_state"):
        await provider.cancel_intent(created.id)
    assert fake_stripe.intents[created.id]["status"] == "succeeded"


async def test_cancel_of_an_unknown_intent_is_refused(provider: StripeProvider) -> None:
    with pytest.raises(ProviderRefused, match="resource_missing"):
        await provider.cancel_intent("pi_missing")


# Refunds


async def test_refund_reverses_transfer_and_fee(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    created = await provider.create_intent(tip())
    fake_stripe.set_intent_status(created.id, "succeeded")

    await provider.refund(created.id, idempotency_key="refund-1")
    await provider.refund(created.id, idempotency_key="refund-1")

    calls = [call for call in fake_stripe.requests if call.path == "/v1/refunds"]
    assert [(call.method, call.idempotency_key) for call in calls] == [("POST", "refund-1")] * 2
    assert calls[0].params == {
        "payment_intent": created.id,
        "reverse_transfer": "true",
        "refund_application_fee": "true",
    }
    [refund] = fake_stripe.refunds.values()
    assert (refund["payment_intent"], refund["amount"], refund["currency"]) == (created.id, 500, "jpy")
    charge = fake_stripe.charge_object_for(created.id, refunded=False)
    assert fake_stripe.charges[charge["id"]]["refunded"] is True


async def test_refund_of_a_refunded_payment_is_fine(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    created = await provider.create_intent(tip())
    fake_stripe.set_intent_status(created.id, "succeeded")
    await provider.refund(created.id, idempotency_key="refund-1")

    await provider.refund(created.id, idempotency_key="refund-2")

    assert len(fake_stripe.refunds) == 1


async def test_refund_of_an_unpaid_intent_is_refused(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    created = await provider.create_intent(tip())

    with pytest.raises(ProviderRefused, match="payment_intent_unexpected_state"):
        await provider.refund(created.id, idempotency_key="refund-1")
    assert fake_stripe.refunds == {}


# Connected accounts


async def test_create_account(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    account = await provider.create_account(USER_ID, "creator@example.com", idempotency_key=f"account-{USER_ID}")
    again = await provider.create_account(USER_ID, "creator@example.com", idempotency_key=f"account-{USER_ID}")

    calls = [call for call in fake_stripe.requests if call.path == "/v1/accounts"]
    assert [call.idempotency_key for call in calls] == [f"account-{USER_ID}"] * 2
    assert calls[0].params == {
        "type": "express",
        "capabilities": {"transfers": {"requested": "true"}, "card_payments": {"requested": "true"}},
        "email": "creator@example.com",
        "metadata": {"user_id": str(USER_ID)},
    }
    assert again == account
    assert account.id.startswith("acct_")
    assert set(fake_stripe.accounts) == {DESTINATION, account.id}
    assert (account.details_submitted, account.charges_enabled, account.payouts_enabled) == (False, False, False)
    assert account.transfers_active is False
    assert account.default_currency == "JPY"


async def test_create_account_without_email(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    await provider.create_account(USER_ID, None, idempotency_key="account-no-email")

    [call] = [call for call in fake_stripe.requests if call.path == "/v1/accounts"]
    assert "email" not in call.params


async def test_retrieve_account_after_onboarding(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    created = await provider.create_account(USER_ID, None, idempotency_key="account-1")
    fake_stripe.set_account(created.id, charges_enabled=True, payouts_enabled=False, details_submitted=True)

    account = await provider.retrieve_account(created.id)

    assert account.id == created.id
    assert (account.details_submitted, account.charges_enabled, account.payouts_enabled) == (True, True, False)
    assert account.transfers_active is True


async def test_retrieve_unknown_account_is_refused(provider: StripeProvider) -> None:
    with pytest.raises(ProviderRefused, match="resource_missing"):
        await provider.retrieve_account("acct_missing")


async def test_account_link(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    account = await provider.create_account(USER_ID, None, idempotency_key="account-1")

    url = await provider.account_link(
        account.id,
        refresh_url="http://localhost:8000/dashboard/payouts/refresh",
        return_url="http://localhost:8000/dashboard/payouts/return",
    )

    assert url.startswith(f"{fake_stripe.url}/setup/e/{account.id}/")
    [call] = [call for call in fake_stripe.requests if call.path == "/v1/account_links"]
    assert call.params == {
        "account": account.id,
        "refresh_url": "http://localhost:8000/dashboard/payouts/refresh",
        "return_url": "http://localhost:8000/dashboard/payouts/return",
        "type": "account_onboarding",
    }


# Errors


@pytest.mark.parametrize("status", [500, 502, 503, 429, 409])
async def test_retryable_statuses_are_provider_errors(
    provider: StripeProvider, fake_stripe: FakeStripe, status: int
) -> None:
    fake_stripe.fail_next(status)

    with pytest.raises(ProviderError, match=f"HTTP {status}") as caught:
        await provider.create_intent(tip())

    assert_no_secret(caught.value)
    assert fake_stripe.intents == {}


@pytest.mark.parametrize("status", [400, 402, 403, 404])
async def test_other_client_errors_are_refusals(provider: StripeProvider, fake_stripe: FakeStripe, status: int) -> None:
    fake_stripe.fail_next(status)

    with pytest.raises(ProviderRefused, match=f"HTTP {status}") as caught:
        await provider.create_intent(tip())

    assert_no_secret(caught.value)


async def test_server_error_then_success_with_retries(fake_stripe: FakeStripe) -> None:
    fake_stripe.set_account(DESTINATION)
    fake_stripe.fail_next(503)
    retrying = make_provider(fake_stripe.url, max_network_retries=1)
    try:
        intent = await retrying.create_intent(tip())
    finally:
        await retrying.close()

    assert list(fake_stripe.intents) == [intent.id]
    assert fake_stripe.count("POST", "/v1/payment_intents") == 2


async def test_wrong_key_is_refused_without_showing_it(fake_stripe: FakeStripe) -> None:
    wrong_key = "sk_test_wrongwrongwrongwrong0123456789"
    wrong = make_provider(fake_stripe.url, secret_key=wrong_key)
    try:
        with pytest.raises(ProviderRefused, match="AuthenticationError") as caught:
            await wrong.retrieve_intent("pi_any")
    finally:
        await wrong.close()

    text = "".join(traceback.format_exception(caught.value))
    assert wrong_key not in text


async def test_a_key_echoed_in_an_error_message_is_redacted(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    fake_stripe.fail_next(400, code="parameter_invalid", message=f"Something about {API_KEY} went wrong")

    with pytest.raises(ProviderRefused) as caught:
        await provider.create_intent(tip())

    assert_no_secret(caught.value)
    assert "Something about [redacted] went wrong" in str(caught.value)


async def test_connection_refused_is_a_provider_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port any more: every connection is refused.
    unreachable = make_provider(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(ProviderError, match="APIConnectionError") as caught:
            await unreachable.create_intent(tip())
    finally:
        await unreachable.close()

    assert_no_secret(caught.value)


async def test_timeout_is_a_provider_error(fake_stripe: FakeStripe) -> None:
    fake_stripe.set_account(DESTINATION)
    fake_stripe.delay_next(1.0)
    impatient = make_provider(fake_stripe.url, timeout=0.2)
    try:
        with pytest.raises(ProviderError, match="APIConnectionError") as caught:
            await impatient.create_intent(tip())
    finally:
        await impatient.close()

    assert_no_secret(caught.value)
