"""Starting a tip, its checks and idempotency, and the test provider's card form end to end (issue 10)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from livestream.chat.models import ChatBan
from livestream.db import utcnow
from livestream.payments.models import TestIntent
from livestream.streams.models import Stream
from livestream.tips.models import Transaction
from tests.api.helpers import assert_error, bearer, container, quick_user
from tests.notifications.test_notifications import go_live, notifications_of
from tests.tips.support import confirm_card, count_rows, settled, start_tip, status_of, tip_frames


async def test_a_tip_starts_pending_with_what_the_browser_needs(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    creator, _ = await quick_user(app)
    fan, token = await quick_user(app)
    tip = await start_tip(tips_client, token, recipient_id=creator["user_id"], amount=1234, message="great show")
    assert tip["status"] == "pending"
    assert (tip["amount"], tip["currency"], tip["message"]) == (1234, "JPY", "great show")
    assert tip["platform_fee"] == 123  # 10 %, rounded down to the yen
    assert tip["provider"] == "test"
    assert tip["sender"]["user_id"] == fan["user_id"]
    assert tip["recipient"]["user_id"] == creator["user_id"]
    payment = tip["payment"]
    assert payment["provider"] == "test"
    assert payment["publishable_key"] is None
    assert payment["client_secret"].startswith(payment["payment_intent_id"] + "_secret_")
    async with container(app).db.sessionmaker() as session:
        row = await session.get(Transaction, uuid.UUID(tip["transaction_id"]))
        assert row is not None
        assert row.provider_payment_id == payment["payment_intent_id"]


async def test_the_same_key_twice_is_one_tip_and_one_intent(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    creator, _ = await quick_user(app)
    _, token = await quick_user(app)
    key = "tip-key-one"
    first = await start_tip(tips_client, token, key=key, recipient_id=creator["user_id"], amount=700)
    again = await tips_client.post(
        "/api/transactions",
        json={"recipient_id": creator["user_id"], "amount": 700, "currency": "JPY"},
        headers={**bearer(token), "Idempotency-Key": key},
    )
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["transaction_id"] == first["transaction_id"]
    assert again.json()["payment"]["client_secret"] == first["payment"]["client_secret"]
    assert await count_rows(app, Transaction) == 1
    assert await count_rows(app, TestIntent) == 1


async def test_the_same_key_with_another_body_is_a_conflict(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    creator, _ = await quick_user(app)
    _, token = await quick_user(app)
    await start_tip(tips_client, token, key="k-2", recipient_id=creator["user_id"], amount=700)
    other = await tips_client.post(
        "/api/transactions",
        json={"recipient_id": creator["user_id"], "amount": 800, "currency": "JPY"},
        headers={**bearer(token), "Idempotency-Key": "k-2"},
    )
    assert_error(other, 409, "IDEMPOTENCY_CONFLICT")
    assert await count_rows(app, Transaction) == 1


async def test_keys_are_per_sender(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    creator, _ = await quick_user(app)
    _, one = await quick_user(app)
    _, two = await quick_user(app)
    a = await start_tip(tips_client, one, key="shared", recipient_id=creator["user_id"])
    b = await start_tip(tips_client, two, key="shared", recipient_id=creator["user_id"])
    assert a["transaction_id"] != b["transaction_id"]


async def test_the_same_key_at_once_is_one_tip(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    creator, _ = await quick_user(app)
    _, token = await quick_user(app)

    async def post() -> httpx.Response:
        return await tips_client.post(
            "/api/transactions",
            json={"recipient_id": creator["user_id"], "amount": 900, "currency": "JPY"},
            headers={**bearer(token), "Idempotency-Key": "at-once"},
        )

    answers = await asyncio.gather(*(post() for _ in range(5)))
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    assert len({a.json()["transaction_id"] for a in answers}) == 1
    assert len({a.json()["payment"]["payment_intent_id"] for a in answers}) == 1
    assert await count_rows(app, Transaction) == 1
    assert await count_rows(app, TestIntent) == 1


@pytest.mark.parametrize(
    ("key", "reason"),
    [(None, "missing"), ("", "empty"), ("has space", "space"), ("x" * 256, "too long"), ("ключ", "not ascii")],
    ids=["missing", "empty", "space", "too-long", "not-ascii"],
)
async def test_a_tip_needs_a_valid_idempotency_key(
    app: FastAPI, tips_client: httpx.AsyncClient, key: str | None, reason: str
) -> None:
    creator, _ = await quick_user(app)
    _, token = await quick_user(app)
    headers = {k.encode(): v.encode() for k, v in bearer(token).items()}
    if key is not None:
        headers[b"Idempotency-Key"] = key.encode()  # as bytes: httpx would refuse to send a non-ASCII str
    response = await tips_client.post(
        "/api/transactions", json={"recipient_id": creator["user_id"], "amount": 500}, headers=headers
    )
    assert_error(response, 400, "IDEMPOTENCY_KEY_REQUIRED")
    assert await count_rows(app, Transaction) == 0, reason


@pytest.mark.parametrize(
    ("amount", "currency", "low", "high"),
    [(99, "JPY", 100, 50_000), (50_001, "JPY", 100, 50_000), (99, "USD", 100, 50_000), (50_001, "EUR", 100, 50_000)],
    ids=["jpy-low", "jpy-high", "usd-low", "eur-high"],
)
async def test_amounts_outside_the_limits_are_refused(
    app: FastAPI, tips_client: httpx.AsyncClient, amount: int, currency: str, low: int, high: int
) -> None:
    creator, _ = await quick_user(app)
    _, token = await quick_user(app)
    body = await start_tip(
        tips_client, token, expect=400, recipient_id=creator["user_id"], amount=amount, currency=currency
    )
    assert body["code"] == "AMOUNT_OUT_OF_RANGE"
    assert (body["min_amount"], body["max_amount"]) == (low, high)
    assert await count_rows(app, Transaction) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 0},
        {"amount": -5},
        {"amount": 5.5},
        {"amount": "500"},
        {"amount": 500, "currency": "GBP"},
        {"amount": 500, "currency": "jpy"},
        {"amount": 500, "message": "x" * 201},
        {"amount": 500, "message": "nul\u0000"},
        {"amount": 500, "message": "lone \ud800"},
        {"amount": 500, "extra": 1},
        {"amount": 10**12},
    ],
    ids=[
        "zero",
        "negative",
        "fraction",
        "string",
        "unknown-currency",
        "lower-case",
        "message-long",
        "nul",
        "surrogate",
        "extra-field",
        "huge",
    ],
)
async def test_bad_bodies_are_400(app: FastAPI, tips_client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    creator, _ = await quick_user(app)
    _, token = await quick_user(app)
    response = await tips_client.post(
        "/api/transactions",
        # json.dumps escapes the lone surrogate as "\ud800", as a hostile client would send it.
        content=json.dumps({"recipient_id": creator["user_id"], **body}),
        headers={**bearer(token), "Idempotency-Key": "bad", "Content-Type": "application/json"},
    )
    assert_error(response, 400, "VALIDATION_ERROR")
    assert await count_rows(app, Transaction) == 0


async def test_messages_are_cleaned_as_chat_is(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    creator, _ = await quick_user(app)
    _, token = await quick_user(app)
    tip = await start_tip(
        tips_client, token, recipient_id=creator["user_id"], message="  hi\u202e there\nfriend\\ <b>  "
    )
    assert tip["message"] == "hi there friend\\ <b>"
    blank = await start_tip(tips_client, token, recipient_id=creator["user_id"], message="\u200b  ")
    assert blank["message"] is None


async def test_who_may_be_tipped(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    creator, creator_token = await quick_user(app)
    _, token = await quick_user(app)
    self_tip = await start_tip(tips_client, creator_token, expect=400, recipient_id=creator["user_id"])
    assert self_tip["code"] == "CANNOT_TIP_SELF"
    nobody = await start_tip(tips_client, token, expect=404, recipient_id=str(uuid.UUID(int=7)))
    assert nobody["code"] == "USER_NOT_FOUND"
    neither = await start_tip(tips_client, token, expect=400)
    assert neither["code"] == "VALIDATION_ERROR"
    unsigned = await tips_client.post(
        "/api/transactions", json={"recipient_id": creator["user_id"], "amount": 500}, headers={"Idempotency-Key": "a"}
    )
    assert unsigned.status_code == 401
    assert await count_rows(app, Transaction) == 0


async def test_a_banned_viewer_cannot_tip_that_creator(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    creator, _ = await quick_user(app)
    fan, token = await quick_user(app)
    async with container(app).db.unit_of_work() as session:
        session.add(ChatBan(channel_id=uuid.UUID(creator["user_id"]), user_id=uuid.UUID(fan["user_id"])))
    refused = await start_tip(tips_client, token, expect=403, recipient_id=creator["user_id"])
    assert refused["code"] == "BANNED"
    assert await count_rows(app, Transaction) == 0


async def test_stream_tips_go_to_its_creator_while_live_and_for_an_hour_after(
    app: FastAPI, tips_client: httpx.AsyncClient
) -> None:
    creator, creator_token = await quick_user(app)
    _, token = await quick_user(app)
    other, _ = await quick_user(app)
    stream_id = await go_live(app, tips_client, creator_token)
    live = await start_tip(tips_client, token, stream_id=stream_id)
    assert live["recipient"]["user_id"] == creator["user_id"]
    assert live["stream_id"] == stream_id
    mismatch = await start_tip(tips_client, token, expect=400, stream_id=stream_id, recipient_id=other["user_id"])
    assert mismatch["code"] == "VALIDATION_ERROR"
    missing = await start_tip(tips_client, token, expect=404, stream_id=str(uuid.UUID(int=9)))
    assert missing["code"] == "STREAM_NOT_FOUND"

    async def ended(ago: timedelta) -> None:
        async with container(app).db.unit_of_work() as session:
            await session.execute(
                update(Stream)
                .where(Stream.stream_id == uuid.UUID(stream_id))
                .values(status="ended", started_at=utcnow() - 2 * ago, ended_at=utcnow() - ago)
            )

    await ended(timedelta(minutes=50))
    assert (await start_tip(tips_client, token, stream_id=stream_id))["status"] == "pending"
    await ended(timedelta(minutes=70))
    late = await start_tip(tips_client, token, expect=409, stream_id=stream_id)
    assert late["code"] == "STREAM_NOT_TIPPABLE"


async def test_the_test_card_pays_and_everyone_in_chat_sees_it(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    _, creator_token = await quick_user(app)
    fan, token = await quick_user(app)
    stream_id = await go_live(app, tips_client, creator_token)
    tip = await start_tip(tips_client, token, stream_id=stream_id, amount=500, message="for the stream")
    confirmed = await confirm_card(tips_client, tip)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json() == {"status": "succeeded", "error": None}
    await settled(app)
    assert await status_of(app, tip["transaction_id"]) == "succeeded"
    frames = await tip_frames(app, stream_id)
    assert len(frames) == 1
    frame = frames[0]
    assert frame["id"] == f"tip:{tip['transaction_id']}"
    assert frame["user"] == {"user_id": fan["user_id"], "username": fan["username"]}
    assert (frame["amount"], frame["currency"], frame["message"]) == (500, "JPY", "for the stream")
    # The REST chat history is chat lines only; the tip is in the socket's history.
    await tips_client.post(f"/api/streams/{stream_id}/chat", json={"text": "hello"}, headers=bearer(token))
    history = await tips_client.get(f"/api/streams/{stream_id}/chat")
    assert history.status_code == 200, history.text
    assert all("text" in item for item in history.json()["items"])
    received = [n for n in await notifications_of(tips_client, creator_token) if n["kind"] == "tip_received"]
    assert len(received) == 1
    assert received[0]["payload"]["amount"] == 500
    assert received[0]["payload"]["sender"]["username"] == fan["username"]
    # Paid once: the form refuses a second confirmation.
    again = await confirm_card(tips_client, tip)
    assert_error(again, 409, "PAYMENT_NOT_CONFIRMABLE")


async def test_a_declined_card_fails_the_tip_and_cancels_its_intent(
    app: FastAPI, tips_client: httpx.AsyncClient
) -> None:
    creator, _ = await quick_user(app)
    _, token = await quick_user(app)
    tip = await start_tip(tips_client, token, recipient_id=creator["user_id"])
    declined = await confirm_card(tips_client, tip, "4000 0000 0000 0002")
    assert declined.status_code == 200
    assert declined.json()["status"] == "requires_payment_method"
    assert declined.json()["error"]["code"] == "card_declined"
    await settled(app)
    got = await tips_client.get(f"/api/transactions/{tip['transaction_id']}", headers=bearer(token))
    assert got.json()["status"] == "failed"
    assert got.json()["failure_code"] == "card_declined"
    async with container(app).db.sessionmaker() as session:
        intent = (await session.execute(select(TestIntent))).scalar_one()
        assert intent.status == "canceled"
    # The intent is canceled: the same page cannot pay it later.
    assert_error(await confirm_card(tips_client, tip), 409, "PAYMENT_NOT_CONFIRMABLE")


async def test_insufficient_funds_is_its_own_reason(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    creator, _ = await quick_user(app)
    _, token = await quick_user(app)
    tip = await start_tip(tips_client, token, recipient_id=creator["user_id"])
    declined = await confirm_card(tips_client, tip, "4000000000009995")
    assert declined.json()["error"]["code"] == "insufficient_funds"
    await settled(app)
    assert await status_of(app, tip["transaction_id"]) == "failed"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"card_number": "4242424242424241"}, 400, "INVALID_CARD"),
        ({"card_number": "abcd"}, 400, "INVALID_CARD"),
        ({"exp_year": 2001}, 400, "INVALID_CARD"),
        ({"cvc": "12a"}, 400, "INVALID_CARD"),
        ({"client_secret": "pi_nope_secret_x"}, 404, "PAYMENT_NOT_FOUND"),
        ({"exp_month": 13}, 400, "VALIDATION_ERROR"),
    ],
    ids=["luhn", "letters", "expired", "cvc", "wrong-secret", "month"],
)
async def test_the_card_form_refuses_bad_input(
    app: FastAPI, tips_client: httpx.AsyncClient, change: dict[str, Any], status: int, code: str
) -> None:
    creator, _ = await quick_user(app)
    _, token = await quick_user(app)
    tip = await start_tip(tips_client, token, recipient_id=creator["user_id"])
    body = {
        "payment_intent_id": tip["payment"]["payment_intent_id"],
        "client_secret": tip["payment"]["client_secret"],
        "card_number": "4242424242424242",
        "exp_month": 12,
        "exp_year": date.today().year + 3,
        "cvc": "123",
        **change,
    }
    assert_error(await tips_client.post("/api/payments/test/confirm", json=body), status, code)
    await settled(app)
    assert await status_of(app, tip["transaction_id"]) == "pending"


async def test_a_replayed_tip_after_success_has_no_payment_step(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    creator, _ = await quick_user(app)
    _, token = await quick_user(app)
    tip = await start_tip(tips_client, token, key="paid", recipient_id=creator["user_id"])
    await confirm_card(tips_client, tip)
    await settled(app)
    replay = await start_tip(tips_client, token, key="paid", recipient_id=creator["user_id"])
    assert replay["status"] == "succeeded"
    assert replay["payment"] is None


async def test_only_the_two_parties_see_a_tip(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    creator, creator_token = await quick_user(app)
    _, token = await quick_user(app)
    _, stranger = await quick_user(app)
    tip = await start_tip(tips_client, token, recipient_id=creator["user_id"])
    path = f"/api/transactions/{tip['transaction_id']}"
    assert (await tips_client.get(path, headers=bearer(token))).status_code == 200
    assert (await tips_client.get(path, headers=bearer(creator_token))).status_code == 200
    assert_error(await tips_client.get(path, headers=bearer(stranger)), 404, "TRANSACTION_NOT_FOUND")
    assert (await tips_client.get(path)).status_code == 401
    sent = await tips_client.get("/api/transactions", params={"role": "received"}, headers=bearer(stranger))
    assert sent.json()["items"] == []
