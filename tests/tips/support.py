"""Steps the tips tests share: a tip started through the API, a signed webhook, what the ledger and chat hold."""

from __future__ import annotations

import json
import time
import uuid
from datetime import date
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from livestream.chat.service import channel_of
from livestream.payments.models import PaymentEvent, TestIntent
from livestream.payments.webhooks import sign
from livestream.tips.models import Transaction
from tests.api.helpers import bearer, container

WEBHOOK = "/api/webhooks/stripe"


def wire_test_provider(app: FastAPI) -> None:
    """The test provider posts its events to our webhook over the app's own ASGI transport (no server here)."""
    provider = container(app).tipping.test_provider
    assert provider is not None
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50100))
    provider.client = lambda: httpx.AsyncClient(transport=transport, base_url="http://testserver")
    provider.webhook_url = f"http://testserver{WEBHOOK}"


async def start_tip(
    client: httpx.AsyncClient,
    token: str,
    *,
    key: str | None = None,
    expect: int = 201,
    **body: Any,
) -> dict[str, Any]:
    body.setdefault("amount", 500)
    body.setdefault("currency", "JPY")
    response = await client.post(
        "/api/transactions",
        json=body,
        headers={**bearer(token), "Idempotency-Key": key or str(uuid.uuid4())},
    )
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


async def confirm_card(
    client: httpx.AsyncClient, tip: dict[str, Any], card: str = "4242424242424242"
) -> httpx.Response:
    payment = tip["payment"]
    return await client.post(
        "/api/payments/test/confirm",
        json={
            "payment_intent_id": payment["payment_intent_id"],
            "client_secret": payment["client_secret"],
            "card_number": card,
            "exp_month": 12,
            "exp_year": date.today().year + 3,
            "cvc": "123",
        },
    )


def webhook_secret(app: FastAPI) -> str:
    provider = container(app).tipping.provider
    assert provider is not None
    return provider.webhook_secret()


def event_body(kind: str, obj: dict[str, Any], *, event_id: str | None = None) -> bytes:
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }
    return json.dumps(event).encode()


def intent_object(
    intent_id: str, amount: int, currency: str, status: str = "succeeded", **extra: Any
) -> dict[str, Any]:
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "currency": currency.lower(),
        "status": status,
        "metadata": {},
        **extra,
    }


def charge_object(intent_id: str, amount: int, *, refunded: bool = True) -> dict[str, Any]:
    return {
        "id": f"ch_{intent_id}",
        "object": "charge",
        "payment_intent": intent_id,
        "amount": amount,
        "amount_refunded": amount if refunded else amount // 2,
        "refunded": refunded,
    }


async def deliver(
    client: httpx.AsyncClient, app: FastAPI, body: bytes, *, secret: str | None = None, timestamp: int | None = None
) -> httpx.Response:
    header = sign(body, secret or webhook_secret(app), timestamp)
    return await client.post(WEBHOOK, content=body, headers={"Stripe-Signature": header})


async def status_of(app: FastAPI, transaction_id: str) -> str:
    async with container(app).db.sessionmaker() as session:
        tip = await session.get(Transaction, uuid.UUID(transaction_id))
        assert tip is not None
        return tip.status


async def count_rows(app: FastAPI, model: type[Transaction] | type[PaymentEvent] | type[TestIntent]) -> int:
    async with container(app).db.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def tip_frames(app: FastAPI, stream_id: str) -> list[dict[str, Any]]:
    c = container(app)
    payloads = await c.engine.history(channel_of(uuid.UUID(stream_id)), c.settings.chat_history_seconds)
    return [frame for frame in map(json.loads, payloads) if frame.get("type") == "tip"]


async def settled(app: FastAPI) -> None:
    """Every job the tips started has run (deliveries, announcements, notifications)."""
    await container(app).jobs.idle()
