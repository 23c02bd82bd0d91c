"""Steps the tests against the fake Stripe share: its settings, onboarding a creator, a signed event delivered."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from livestream.db import utcnow
from livestream.payments.models import PayoutAccount
from livestream.tips.models import Transaction
from tests.api.helpers import bearer, container
from tests.support.fake_stripe import API_KEY, PUBLISHABLE_KEY, WEBHOOK_SECRET, FakeStripe
from tests.tips.support import WEBHOOK


def stripe_settings(fake: FakeStripe) -> dict[str, object]:
    return {
        "payments": "stripe",
        "stripe_api_base": fake.url,
        "stripe_secret_key": API_KEY,
        "stripe_publishable_key": PUBLISHABLE_KEY,
        "stripe_webhook_secret": WEBHOOK_SECRET,
    }


def end_outage(fake: FakeStripe) -> None:
    """Drop the failures ``fail_next`` queued that the SDK's retries did not use up (the outage is over)."""
    with fake._lock:
        fake._failures.clear()


async def send_event(client: httpx.AsyncClient, fake: FakeStripe, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """An event as Stripe would deliver it: built and signed by the fake (the SDK's own signature code)."""
    body = fake.event(kind, obj)
    response = await client.post(WEBHOOK, content=body, headers={"Stripe-Signature": fake.sign(body)})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def payout_account(app: FastAPI, user_id: str) -> PayoutAccount | None:
    async with container(app).db.sessionmaker() as session:
        return await session.get(PayoutAccount, uuid.UUID(user_id))


async def onboard(client: httpx.AsyncClient, app: FastAPI, fake: FakeStripe, user_id: str, token: str) -> str:
    """The creator onboards through the API, finishes Stripe's forms, and ``account.updated`` says so."""
    started = await client.post("/api/users/me/payouts/onboard", headers=bearer(token))
    assert started.status_code == 200, started.text
    account = await payout_account(app, user_id)
    assert account is not None
    answer = await send_event(client, fake, "account.updated", fake.set_account(account.account_id))
    assert answer["outcome"] == "applied"
    return account.account_id


async def transaction(app: FastAPI, transaction_id: str) -> Transaction:
    async with container(app).db.sessionmaker() as session:
        row = (
            await session.execute(select(Transaction).where(Transaction.transaction_id == uuid.UUID(transaction_id)))
        ).scalar_one()
        return row


async def backdate(app: FastAPI, transaction_id: str, by: timedelta) -> None:
    """As if the tip had been started ``by`` ago (the reconciler looks at age only)."""
    async with container(app).db.unit_of_work() as session:
        await session.execute(
            update(Transaction)
            .where(Transaction.transaction_id == uuid.UUID(transaction_id))
            .values(created_at=utcnow() - by)
        )
