"""With LS_PAYMENTS unset tips are off: starting one, onboarding and the webhook answer 503, the tipping and payout
answers say so, and the test provider's form does not exist."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from livestream.payments.webhooks import sign
from livestream.tips.models import Transaction
from tests.api.helpers import assert_error, bearer, container, quick_user, use_fast_hashing
from tests.tips.support import WEBHOOK, count_rows, event_body, intent_object


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {}


@pytest.fixture(autouse=True)
def _fast_argon2(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_hashing(request, monkeypatch)


async def test_tips_off_everywhere(app: FastAPI, client: httpx.AsyncClient) -> None:
    assert container(app).settings.payments is None
    assert container(app).tipping.provider is None
    creator, creator_token = await quick_user(app)
    _, viewer_token = await quick_user(app)

    started = await client.post(
        "/api/transactions",
        json={"recipient_id": creator["user_id"], "amount": 500, "currency": "JPY"},
        headers={**bearer(viewer_token), "Idempotency-Key": "tips-are-off"},
    )
    assert_error(started, 503, "PAYMENTS_DISABLED")
    assert await count_rows(app, Transaction) == 0

    tipping = await client.get(f"/api/users/{creator['user_id']}/tipping")
    assert tipping.status_code == 200
    body = tipping.json()
    assert (body["can_receive_tips"], body["provider"], body["publishable_key"]) == (False, None, None)

    payouts = await client.get("/api/users/me/payouts", headers=bearer(creator_token))
    assert payouts.status_code == 200
    assert payouts.json() == {
        "provider": None,
        "status": "disabled",
        "can_receive_tips": False,
        "currency": "JPY",
        "details_submitted": False,
        "payouts_enabled": False,
    }
    assert_error(
        await client.post("/api/users/me/payouts/onboard", headers=bearer(creator_token)), 503, "PAYMENTS_DISABLED"
    )

    # The ledger still answers (empty): tips made while payments were on stay readable.
    mine = await client.get("/api/transactions", headers=bearer(viewer_token))
    assert mine.json() == {"items": [], "next_cursor": None}
    earnings = await client.get("/api/users/me/earnings", headers=bearer(creator_token))
    assert earnings.json() == {"currencies": [], "by_stream": [], "by_month": []}


async def test_webhook_is_refused_while_tips_are_off(app: FastAPI, client: httpx.AsyncClient) -> None:
    body = event_body("payment_intent.succeeded", intent_object("pi_off", 500, "JPY"), event_id="evt_tips_off")
    signed = await client.post(WEBHOOK, content=body, headers={"Stripe-Signature": sign(body, "whsec_anything")})
    assert_error(signed, 503, "PAYMENTS_DISABLED")
    unsigned = await client.post(WEBHOOK, content=body)
    assert_error(unsigned, 503, "PAYMENTS_DISABLED")


async def test_test_provider_form_does_not_exist(app: FastAPI, client: httpx.AsyncClient) -> None:
    confirm = await client.post(
        "/api/payments/test/confirm",
        json={
            "payment_intent_id": "pi_test_x",
            "client_secret": "pi_test_x_secret_y",
            "card_number": "4242424242424242",
            "exp_month": 12,
            "exp_year": 2099,
            "cvc": "123",
        },
    )
    assert_error(confirm, 404, "NOT_FOUND")
