"""Tips on the stripe provider, driven through the API with the real SDK pointed at a local fake Stripe:
onboarding, the PaymentIntent each tip makes (amounts, fee, destination), idempotency, outages, the webhook."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from livestream.db import utcnow
from livestream.payments.models import PayoutAccount
from livestream.tips.models import Transaction
from tests.api.helpers import assert_error, bearer, container, quick_user, use_fast_hashing
from tests.notifications.test_notifications import go_live
from tests.support.fake_stripe import PUBLISHABLE_KEY, FakeStripe, running_fake_stripe
from tests.tips.stripe_support import (
    end_outage,
    onboard,
    payout_account,
    send_event,
    stripe_settings,
    transaction,
)
from tests.tips.support import WEBHOOK, count_rows, settled, start_tip, status_of, tip_frames

INTENTS = "/v1/payment_intents"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with running_fake_stripe() as server:
        yield server


@pytest.fixture
def settings_overrides(fake: FakeStripe) -> dict[str, object]:
    return stripe_settings(fake)


@pytest.fixture(autouse=True)
def _fast_argon2(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_hashing(request, monkeypatch)


def intent_calls(fake: FakeStripe) -> list[dict[str, object]]:
    return [r.params for r in fake.requests if r.method == "POST" and r.path == INTENTS]


async def test_onboarding_link_then_account_updated_enables_tips(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, token = await quick_user(app)

    before = await client.get("/api/users/me/payouts", headers=bearer(token))
    assert before.status_code == 200
    assert before.json()["status"] == "not_started"

    started = await client.post("/api/users/me/payouts/onboard", headers=bearer(token))
    assert started.status_code == 200, started.text
    account = await payout_account(app, creator["user_id"])
    assert account is not None
    assert (account.provider, account.transfers_active, account.details_submitted) == ("stripe", False, False)
    assert account.account_id in fake.accounts
    assert started.json()["url"].startswith(f"{fake.url}/setup/e/{account.account_id}/")
    # An Express account asking for transfers, tied to the user; the link comes back to our own pages.
    made = fake.accounts[account.account_id]
    assert made["type"] == "express"
    assert made["metadata"] == {"user_id": creator["user_id"]}
    assert made["email"] == creator["email"]
    assert made["requested_capabilities"]["transfers"] == "true"
    (link,) = [r.params for r in fake.requests if r.path == "/v1/account_links"]
    assert link == {
        "account": account.account_id,
        "refresh_url": "http://testserver/dashboard/payouts/refresh",
        "return_url": "http://testserver/dashboard/payouts/return",
        "type": "account_onboarding",
    }

    pending = await client.get("/api/users/me/payouts", headers=bearer(token))
    assert pending.json() == {
        "provider": "stripe",
        "status": "pending",
        "can_receive_tips": False,
        "currency": "JPY",
        "details_submitted": False,
        "payouts_enabled": False,
    }
    tipping = await client.get(f"/api/users/{creator['user_id']}/tipping")
    assert tipping.json()["can_receive_tips"] is False

    # Asked again (the creator left Stripe's forms half way): the same account, a new link.
    again = await client.post("/api/users/me/payouts/onboard", headers=bearer(token))
    assert again.status_code == 200
    assert again.json()["url"].startswith(f"{fake.url}/setup/e/{account.account_id}/")
    assert fake.count("POST", "/v1/accounts") == 1

    answer = await send_event(client, fake, "account.updated", fake.set_account(account.account_id))
    assert answer == {"received": True, "outcome": "applied"}

    enabled = await client.get("/api/users/me/payouts", headers=bearer(token))
    assert enabled.json() == {
        "provider": "stripe",
        "status": "enabled",
        "can_receive_tips": True,
        "currency": "JPY",
        "details_submitted": True,
        "payouts_enabled": True,
    }
    public = await client.get(f"/api/users/{creator['user_id']}/tipping")
    assert public.status_code == 200
    assert public.json() == {
        "can_receive_tips": True,
        "provider": "stripe",
        "currency": "JPY",
        "min_amount": 100,
        "max_amount": 50000,
        "presets": [100, 500, 1000, 5000, 10000],
        "publishable_key": PUBLISHABLE_KEY,
    }


async def test_account_submitted_without_transfers_is_restricted(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, token = await quick_user(app)
    await client.post("/api/users/me/payouts/onboard", headers=bearer(token))
    account = await payout_account(app, creator["user_id"])
    assert account is not None

    restricted = fake.set_account(account.account_id, transfers="inactive", payouts_enabled=False)
    await send_event(client, fake, "account.updated", restricted)

    status = (await client.get("/api/users/me/payouts", headers=bearer(token))).json()
    assert (status["status"], status["can_receive_tips"], status["details_submitted"]) == ("restricted", False, True)


async def test_onboarding_answers_502_when_stripe_fails(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, token = await quick_user(app)

    fake.fail_next(503, count=10)
    failed = await client.post("/api/users/me/payouts/onboard", headers=bearer(token))
    assert_error(failed, 502, "PAYMENT_PROVIDER_ERROR")
    assert await payout_account(app, creator["user_id"]) is None

    end_outage(fake)
    # A refusal rather than an outage: still the provider's failure, reported as 502.
    fake.fail_next(400, code="parameter_invalid")
    refused = await client.post("/api/users/me/payouts/onboard", headers=bearer(token))
    assert_error(refused, 502, "PAYMENT_PROVIDER_ERROR")
    assert await payout_account(app, creator["user_id"]) is None

    recovered = await client.post("/api/users/me/payouts/onboard", headers=bearer(token))
    assert recovered.status_code == 200, recovered.text
    assert await payout_account(app, creator["user_id"]) is not None


async def test_tip_to_a_creator_who_has_not_onboarded_is_refused(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, creator_token = await quick_user(app)
    _, viewer_token = await quick_user(app)

    never = await client.post(
        "/api/transactions",
        json={"recipient_id": creator["user_id"], "amount": 500, "currency": "JPY"},
        headers={**bearer(viewer_token), "Idempotency-Key": "never-onboarded"},
    )
    assert_error(never, 409, "RECIPIENT_NOT_ONBOARDED")

    # Half way through onboarding is not enough either.
    await client.post("/api/users/me/payouts/onboard", headers=bearer(creator_token))
    halfway = await client.post(
        "/api/transactions",
        json={"recipient_id": creator["user_id"], "amount": 500, "currency": "JPY"},
        headers={**bearer(viewer_token), "Idempotency-Key": "halfway-onboarded"},
    )
    assert_error(halfway, 409, "RECIPIENT_NOT_ONBOARDED")

    assert await count_rows(app, Transaction) == 0
    assert fake.count("POST", INTENTS) == 0


async def test_same_idempotency_key_twice_makes_one_transaction_and_one_intent(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, creator_token = await quick_user(app)
    await onboard(client, app, fake, creator["user_id"], creator_token)
    _, viewer_token = await quick_user(app)
    body = {"recipient_id": creator["user_id"], "amount": 500, "currency": "JPY", "message": "great"}
    headers = {**bearer(viewer_token), "Idempotency-Key": "tip-key-0001"}

    first = await client.post("/api/transactions", json=body, headers=headers)
    second = await client.post("/api/transactions", json=body, headers=headers)

    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    one, two = first.json(), second.json()
    assert one["transaction_id"] == two["transaction_id"]
    assert one["status"] == two["status"] == "pending"
    assert one["payment"]["provider"] == "stripe"
    assert one["payment"]["publishable_key"] == PUBLISHABLE_KEY
    assert one["payment"]["payment_intent_id"] == two["payment"]["payment_intent_id"]
    assert one["payment"]["client_secret"] == two["payment"]["client_secret"]
    assert one["payment"]["client_secret"].startswith(one["payment"]["payment_intent_id"] + "_secret_")
    assert await count_rows(app, Transaction) == 1
    assert fake.count("POST", INTENTS) == 1
    assert len(fake.intents) == 1

    # The same key with another body is not a replay.
    other = await client.post(
        "/api/transactions",
        json={**body, "amount": 600},
        headers=headers,
    )
    assert_error(other, 409, "IDEMPOTENCY_CONFLICT")
    assert fake.count("POST", INTENTS) == 1


@pytest.mark.parametrize(
    ("currency", "amount", "sent_currency", "fee"),
    [("JPY", 500, "jpy", 50), ("USD", 500, "usd", 50), ("EUR", 1999, "eur", 199)],
    ids=["jpy-500-yen", "usd-500-cents", "eur-fee-rounded-down"],
)
async def test_intent_carries_minor_units_fee_and_destination(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake: FakeStripe,
    currency: str,
    amount: int,
    sent_currency: str,
    fee: int,
) -> None:
    creator, creator_token = await quick_user(app)
    account_id = await onboard(client, app, fake, creator["user_id"], creator_token)
    _, viewer_token = await quick_user(app)

    tip = await start_tip(client, viewer_token, recipient_id=creator["user_id"], amount=amount, currency=currency)

    assert (tip["amount"], tip["currency"], tip["platform_fee"]) == (amount, currency, fee)
    (params,) = intent_calls(fake)
    # Zero-decimal JPY goes unchanged (¥500 is 500, not 50000); USD and EUR are already in cents.
    assert params["amount"] == str(amount)
    assert params["currency"] == sent_currency
    assert params["application_fee_amount"] == str(fee)
    assert params["transfer_data"] == {"destination": account_id}
    assert isinstance(params["metadata"], dict)
    assert params["metadata"]["transaction_id"] == tip["transaction_id"]
    (call,) = [r for r in fake.requests if r.method == "POST" and r.path == INTENTS]
    assert call.idempotency_key == f"tip-{tip['transaction_id']}"
    row = await transaction(app, tip["transaction_id"])
    assert row.provider_payment_id == tip["payment"]["payment_intent_id"]
    assert row.provider == "stripe"


async def test_provider_outage_answers_502_and_the_same_key_recovers(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, creator_token = await quick_user(app)
    await onboard(client, app, fake, creator["user_id"], creator_token)
    _, viewer_token = await quick_user(app)
    body = {"recipient_id": creator["user_id"], "amount": 1000, "currency": "JPY"}
    headers = {**bearer(viewer_token), "Idempotency-Key": "outage-key"}

    fake.fail_next(503, count=10)
    down = await client.post("/api/transactions", json=body, headers=headers)
    assert_error(down, 502, "PAYMENT_PROVIDER_ERROR")
    (row,) = await rows(app)
    # The row waits for the same key (or the reconciler): pending, no intent known yet.
    assert (row.status, row.provider_payment_id) == ("pending", None)
    assert fake.count("POST", INTENTS) >= 1
    assert fake.intents == {}

    end_outage(fake)
    up = await client.post("/api/transactions", json=body, headers=headers)
    assert up.status_code == 201, up.text
    assert up.headers["Idempotent-Replayed"] == "true"
    tip = up.json()
    assert tip["transaction_id"] == str(row.transaction_id)
    assert tip["status"] == "pending"
    assert tip["payment"]["payment_intent_id"] in fake.intents
    assert tip["payment"]["client_secret"]
    assert len(fake.intents) == 1
    assert await count_rows(app, Transaction) == 1
    # Every attempt, the failed ones too, carried the transaction's own key: Stripe could never make two.
    keys = {r.idempotency_key for r in fake.requests if r.method == "POST" and r.path == INTENTS}
    assert keys == {f"tip-{row.transaction_id}"}
    assert (await transaction(app, tip["transaction_id"])).provider_payment_id == tip["payment"]["payment_intent_id"]


async def test_succeeded_webhook_settles_the_tip_once(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, creator_token = await quick_user(app)
    await onboard(client, app, fake, creator["user_id"], creator_token)
    stream_id = await go_live(app, client, creator_token)
    viewer, viewer_token = await quick_user(app)
    tip = await start_tip(client, viewer_token, stream_id=stream_id, amount=500, currency="JPY", message="gg")
    intent_id = tip["payment"]["payment_intent_id"]

    fake.set_intent_status(intent_id, "succeeded")
    body = fake.event("payment_intent.succeeded", fake.intent_object(intent_id))
    signature = fake.sign(body)
    first = await client.post(WEBHOOK, content=body, headers={"Stripe-Signature": signature})
    again = await client.post(WEBHOOK, content=body, headers={"Stripe-Signature": signature})
    await settled(app)

    assert first.json() == {"received": True, "outcome": "applied"}
    assert again.json() == {"received": True, "outcome": "duplicate"}
    assert await status_of(app, tip["transaction_id"]) == "succeeded"
    seen = await client.get(f"/api/transactions/{tip['transaction_id']}", headers=bearer(viewer_token))
    assert seen.json()["status"] == "succeeded"
    (frame,) = await tip_frames(app, stream_id)
    assert frame["transaction_id"] == tip["transaction_id"]
    assert (frame["amount"], frame["currency"], frame["message"]) == (500, "JPY", "gg")
    assert frame["user"] == {"user_id": viewer["user_id"], "username": viewer["username"]}
    earnings = (await client.get("/api/users/me/earnings", headers=bearer(creator_token))).json()
    (jpy,) = earnings["currencies"]
    assert (jpy["succeeded"], jpy["fees"], jpy["net"]) == ({"count": 1, "amount": 500}, 50, 450)


async def rows(app: FastAPI) -> list[Transaction]:
    async with container(app).db.sessionmaker() as session:
        return list((await session.execute(select(Transaction))).scalars())


async def test_same_key_at_the_same_moment_makes_one_transaction_and_one_intent(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, creator_token = await quick_user(app)
    await onboard(client, app, fake, creator["user_id"], creator_token)
    _, viewer_token = await quick_user(app)
    body = {"recipient_id": creator["user_id"], "amount": 500, "currency": "JPY"}
    headers = {**bearer(viewer_token), "Idempotency-Key": "double-click"}

    answers = await asyncio.gather(*(client.post("/api/transactions", json=body, headers=headers) for _ in range(3)))

    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    assert len({a.json()["transaction_id"] for a in answers}) == 1
    assert len({a.json()["payment"]["payment_intent_id"] for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 2
    assert await count_rows(app, Transaction) == 1
    assert len(fake.intents) == 1


async def test_payout_status_asks_stripe_again_when_the_webhook_is_late(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, token = await quick_user(app)
    await client.post("/api/users/me/payouts/onboard", headers=bearer(token))
    account = await payout_account(app, creator["user_id"])
    assert account is not None
    # The creator finished Stripe's forms; account.updated has not come yet.
    fake.set_account(account.account_id)

    fresh = await client.get("/api/users/me/payouts", headers=bearer(token))
    # Just stored: not asked again so soon.
    assert fresh.json()["status"] == "pending"
    assert fake.count("GET", f"/v1/accounts/{account.account_id}") == 0

    async with container(app).db.unit_of_work() as session:
        await session.execute(
            update(PayoutAccount)
            .where(PayoutAccount.user_id == account.user_id)
            .values(updated_at=utcnow() - timedelta(minutes=1))
        )
    back = await client.get("/api/users/me/payouts", headers=bearer(token))

    assert back.json()["status"] == "enabled"
    assert back.json()["can_receive_tips"] is True
    assert fake.count("GET", f"/v1/accounts/{account.account_id}") == 1
    stored = await payout_account(app, creator["user_id"])
    assert stored is not None
    assert stored.transfers_active is True
    public = await client.get(f"/api/users/{creator['user_id']}/tipping")
    assert public.json()["can_receive_tips"] is True


async def test_a_creator_paid_out_in_dollars_is_offered_dollar_amounts(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, token = await quick_user(app)
    await client.post("/api/users/me/payouts/onboard", headers=bearer(token))
    account = await payout_account(app, creator["user_id"])
    assert account is not None

    await send_event(client, fake, "account.updated", fake.set_account(account.account_id, default_currency="usd"))

    assert (await client.get("/api/users/me/payouts", headers=bearer(token))).json()["currency"] == "USD"
    tipping = (await client.get(f"/api/users/{creator['user_id']}/tipping")).json()
    assert (tipping["currency"], tipping["min_amount"], tipping["max_amount"]) == ("USD", 100, 50000)
    assert tipping["presets"] == [200, 500, 1000, 2000, 5000]


async def test_account_updated_for_an_account_not_ours_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    answer = await send_event(client, fake, "account.updated", fake.set_account("acct_somebody_else"))
    assert answer == {"received": True, "outcome": "unknown"}
    async with container(app).db.sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(PayoutAccount))).scalar_one() == 0
