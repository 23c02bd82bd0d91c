"""The fake Stripe itself: wire format, auth, idempotency, faults and webhook helpers (what other tests rely on)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import stripe

from tests.support.fake_stripe import API_KEY, API_VERSION, WEBHOOK_SECRET, FakeStripe, decode_form, event, sign

AUTH = {"Authorization": f"Bearer {API_KEY}"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def post(fake: FakeStripe, path: str, body: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{fake.url}{path}", content=body, headers={**AUTH, **FORM, **(headers or {})})


def test_decode_form_nests_bracketed_keys() -> None:
    decoded = decode_form(
        "amount=500&metadata[transaction_id]=t1&transfer_data[destination]=acct_1"
        "&capabilities[transfers][requested]=true&expand[0]=latest_charge&expand[1]=customer&description="
    )

    assert decoded == {
        "amount": "500",
        "metadata": {"transaction_id": "t1"},
        "transfer_data": {"destination": "acct_1"},
        "capabilities": {"transfers": {"requested": "true"}},
        "expand": ["latest_charge", "customer"],
        "description": "",
    }


@pytest.mark.parametrize("authorization", [None, "Bearer sk_test_someoneelse000000000000"])
def test_requests_without_the_key_are_unauthorized(fake_stripe: FakeStripe, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = httpx.get(f"{fake_stripe.url}/v1/payment_intents/pi_x", headers=headers)

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "someoneelse" not in error["message"]
    assert fake_stripe.count("GET", "/v1/payment_intents") == 1


@pytest.mark.parametrize("path", ["/v1/payment_intents/pi_missing", "/v1/accounts/acct_missing"])
def test_unknown_ids_are_resource_missing(fake_stripe: FakeStripe, path: str) -> None:
    response = httpx.get(f"{fake_stripe.url}{path}", headers=AUTH)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_missing"


def test_idempotency_key_replays_and_conflicts(fake_stripe: FakeStripe) -> None:
    first = post(fake_stripe, "/v1/payment_intents", "amount=500&currency=jpy", {"Idempotency-Key": "k1"})
    replay = post(fake_stripe, "/v1/payment_intents", "amount=500&currency=jpy", {"Idempotency-Key": "k1"})
    conflict = post(fake_stripe, "/v1/payment_intents", "amount=900&currency=jpy", {"Idempotency-Key": "k1"})

    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert conflict.status_code == 400
    assert conflict.json()["error"]["type"] == "idempotency_error"
    assert list(fake_stripe.intents) == [first.json()["id"]]
    assert [r.idempotency_key for r in fake_stripe.requests] == ["k1", "k1", "k1"]


def test_intent_shape(fake_stripe: FakeStripe) -> None:
    response = post(fake_stripe, "/v1/payment_intents", "amount=500&currency=JPY&metadata[transaction_id]=t1")

    intent = response.json()
    assert intent["id"].startswith("pi_")
    assert intent["client_secret"].startswith(f"{intent['id']}_secret_")
    assert {key: intent[key] for key in ("object", "amount", "currency", "status", "livemode", "metadata")} == {
        "object": "payment_intent",
        "amount": 500,
        "currency": "jpy",
        "status": "requires_payment_method",
        "livemode": False,
        "metadata": {"transaction_id": "t1"},
    }
    assert (intent["transfer_data"], intent["application_fee_amount"], intent["latest_charge"]) == (None, None, None)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ("currency=jpy", "amount"),
        ("amount=-5&currency=jpy", "amount"),
        ("amount=500&currency=gbp", "currency"),
        ("amount=500&currency=jpy&application_fee_amount=50", "application_fee_amount"),
        ("amount=500&currency=jpy&transfer_data[destination]=acct_nobody", "transfer_data[destination]"),
    ],
)
def test_invalid_intents_are_rejected(fake_stripe: FakeStripe, body: str, param: str) -> None:
    response = post(fake_stripe, "/v1/payment_intents", body)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert fake_stripe.intents == {}


def test_fail_next_answers_that_many_calls_with_the_status(fake_stripe: FakeStripe) -> None:
    fake_stripe.fail_next(503, count=2)

    statuses = [post(fake_stripe, "/v1/payment_intents", "amount=500&currency=jpy").status_code for _ in range(3)]

    assert statuses == [503, 503, 200]
    assert len(fake_stripe.intents) == 1


def test_set_intent_status_succeeded_makes_a_charge(fake_stripe: FakeStripe) -> None:
    fake_stripe.set_account("acct_creator")
    created = post(
        fake_stripe,
        "/v1/payment_intents",
        "amount=500&currency=jpy&application_fee_amount=50&transfer_data[destination]=acct_creator",
    ).json()

    intent = fake_stripe.set_intent_status(created["id"], "succeeded")

    assert intent["status"] == "succeeded"
    assert intent["latest_charge"].startswith("ch_")
    charge = fake_stripe.charge_object_for(created["id"])
    fields = ("id", "object", "payment_intent", "amount", "amount_refunded", "refunded")
    assert {key: charge[key] for key in fields} == {
        "id": intent["latest_charge"],
        "object": "charge",
        "payment_intent": created["id"],
        "amount": 500,
        "amount_refunded": 500,
        "refunded": True,
    }
    dispute = fake_stripe.dispute_object_for(created["id"])
    assert dispute["id"].startswith("dp_")
    assert {key: dispute[key] for key in ("object", "payment_intent", "charge", "amount", "status")} == {
        "object": "dispute",
        "payment_intent": created["id"],
        "charge": intent["latest_charge"],
        "amount": 500,
        "status": "needs_response",
    }


def test_decline_codes_are_reported_like_stripe(fake_stripe: FakeStripe) -> None:
    created = post(fake_stripe, "/v1/payment_intents", "amount=500&currency=jpy").json()

    intent = fake_stripe.set_intent_status(created["id"], "requires_payment_method", "insufficient_funds")

    assert intent["last_payment_error"]["code"] == "card_declined"
    assert intent["last_payment_error"]["decline_code"] == "insufficient_funds"


def test_set_account_creates_or_updates(fake_stripe: FakeStripe) -> None:
    fake_stripe.set_account("acct_new", payouts_enabled=False, transfers="pending")

    account = httpx.get(f"{fake_stripe.url}/v1/accounts/acct_new", headers=AUTH).json()

    fields = ("id", "object", "charges_enabled", "payouts_enabled", "details_submitted")
    assert {key: account[key] for key in fields} == {
        "id": "acct_new",
        "object": "account",
        "charges_enabled": True,
        "payouts_enabled": False,
        "details_submitted": True,
    }
    assert account["capabilities"]["transfers"] == "pending"


def test_signed_event_verifies_with_the_sdk(fake_stripe: FakeStripe) -> None:
    intent = fake_stripe.set_intent_status(
        post(fake_stripe, "/v1/payment_intents", "amount=500&currency=jpy").json()["id"], "succeeded"
    )
    payload = fake_stripe.event("payment_intent.succeeded", intent, event_id="evt_fixed_1", created=1_800_000_000)

    verified = stripe.Webhook.construct_event(payload, fake_stripe.sign(payload, WEBHOOK_SECRET), WEBHOOK_SECRET)

    body = json.loads(payload)
    assert (verified.id, verified.type, verified.created) == ("evt_fixed_1", "payment_intent.succeeded", 1_800_000_000)
    assert body["object"] == "event"
    assert body["livemode"] is False
    assert body["api_version"] == API_VERSION
    assert body["data"]["object"] == intent


def test_signature_with_another_secret_or_old_timestamp_fails() -> None:
    payload = event("charge.refunded", {"id": "ch_1", "object": "charge"})

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, sign(payload, "whsec_other"), WEBHOOK_SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            payload, sign(payload, WEBHOOK_SECRET, timestamp=int(time.time()) - 600), WEBHOOK_SECRET, tolerance=300
        )
