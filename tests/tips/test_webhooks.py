"""The webhook: signatures on the raw body, each event once, any order, concurrent deliveries (issue 10)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, update

from livestream.db import utcnow
from livestream.notifications.models import Notification
from livestream.payments.models import PaymentEvent, TestIntent
from livestream.payments.webhooks import sign
from livestream.tips.models import Transaction
from livestream.tips.repository import TipRepository
from tests.api.helpers import access_token, assert_error, bearer, container, quick_user
from tests.notifications.test_notifications import go_live
from tests.tips.support import (
    WEBHOOK,
    charge_object,
    count_rows,
    deliver,
    event_body,
    intent_object,
    settled,
    start_tip,
    status_of,
    tip_frames,
    webhook_secret,
)


async def pending_tip(app: FastAPI, client: httpx.AsyncClient, amount: int = 500) -> tuple[dict[str, Any], str]:
    """A pending tip on a live stream, and the stream's id."""
    _, creator_token = await quick_user(app)
    _, token = await quick_user(app)
    stream_id = await go_live(app, client, creator_token)
    return await start_tip(client, token, stream_id=stream_id, amount=amount, message="hi"), stream_id


async def tip_row(app: FastAPI, transaction_id: str) -> Transaction:
    async with container(app).db.sessionmaker() as session:
        row = await session.get(Transaction, uuid.UUID(transaction_id))
        assert row is not None
        return row


async def intent_refunded(app: FastAPI, tip: dict[str, Any]) -> bool:
    async with container(app).db.sessionmaker() as session:
        intent = await session.get(TestIntent, tip["payment"]["payment_intent_id"])
        assert intent is not None
        return intent.refunded


async def tip_notifications(app: FastAPI) -> int:
    async with container(app).db.sessionmaker() as session:
        rows = (await session.execute(select(Notification).where(Notification.type == "tip_received"))).scalars()
        return len(list(rows))


def succeeded(tip: dict[str, Any], event_id: str | None = None) -> bytes:
    intent = tip["payment"]["payment_intent_id"]
    return event_body(
        "payment_intent.succeeded", intent_object(intent, tip["amount"], tip["currency"]), event_id=event_id
    )


async def test_success_delivered_twice_is_credited_once(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    tip, stream_id = await pending_tip(app, tips_client)
    body = succeeded(tip)
    first = await deliver(tips_client, app, body)
    assert first.status_code == 200, first.text
    assert first.json() == {"received": True, "outcome": "applied"}
    again = await deliver(tips_client, app, body)
    assert again.json()["outcome"] == "duplicate"
    # The same news in another event (a retry of the provider's, or a second endpoint): no second credit.
    other = await deliver(tips_client, app, succeeded(tip))
    assert other.json()["outcome"] == "unchanged"
    await settled(app)
    assert await status_of(app, tip["transaction_id"]) == "succeeded"
    assert len(await tip_frames(app, stream_id)) == 1
    assert await tip_notifications(app) == 1
    assert await count_rows(app, PaymentEvent) == 2


async def test_success_delivered_concurrently_is_credited_once(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    tip, stream_id = await pending_tip(app, tips_client)
    body = succeeded(tip)
    distinct = [succeeded(tip) for _ in range(4)]
    answers = await asyncio.gather(*(deliver(tips_client, app, b) for b in [body] * 4 + distinct))
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
    outcomes = [a.json()["outcome"] for a in answers]
    assert outcomes.count("applied") == 1, outcomes
    assert set(outcomes) <= {"applied", "duplicate", "unchanged"}
    await settled(app)
    assert await status_of(app, tip["transaction_id"]) == "succeeded"
    assert len(await tip_frames(app, stream_id)) == 1
    assert await tip_notifications(app) == 1
    assert await count_rows(app, PaymentEvent) == 5  # the one body stored once, and four others


async def test_a_refund_seen_before_the_success_ends_refunded(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    tip, stream_id = await pending_tip(app, tips_client)
    intent = tip["payment"]["payment_intent_id"]
    refund = await deliver(tips_client, app, event_body("charge.refunded", charge_object(intent, tip["amount"])))
    assert refund.json()["outcome"] == "applied"
    late = await deliver(tips_client, app, succeeded(tip))
    assert late.json()["outcome"] == "unchanged"
    await settled(app)
    assert await status_of(app, tip["transaction_id"]) == "refunded"
    # Given back before anyone was told: never announced.
    assert await tip_frames(app, stream_id) == []
    assert await tip_notifications(app) == 0


async def test_a_refund_after_the_success_and_a_partial_refund(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    tip, _ = await pending_tip(app, tips_client)
    intent = tip["payment"]["payment_intent_id"]
    await deliver(tips_client, app, succeeded(tip))
    partial = await deliver(
        tips_client, app, event_body("charge.refunded", charge_object(intent, tip["amount"], refunded=False))
    )
    assert partial.json()["outcome"] == "partial"
    assert await status_of(app, tip["transaction_id"]) == "succeeded"
    full = await deliver(tips_client, app, event_body("charge.refunded", charge_object(intent, tip["amount"])))
    assert full.json()["outcome"] == "applied"
    assert await status_of(app, tip["transaction_id"]) == "refunded"
    # No way back: a refunded tip is not disputed, and a failure changes nothing.
    dispute = {"id": "dp_1", "object": "dispute", "payment_intent": intent, "charge": f"ch_{intent}"}
    assert (await deliver(tips_client, app, event_body("charge.dispute.created", dispute))).json()[
        "outcome"
    ] == "unchanged"
    failed = event_body("payment_intent.payment_failed", intent_object(intent, 500, "JPY", "requires_payment_method"))
    assert (await deliver(tips_client, app, failed)).json()["outcome"] == "unchanged"
    assert await status_of(app, tip["transaction_id"]) == "refunded"


async def test_a_dispute_moves_a_succeeded_tip_to_disputed(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    tip, _ = await pending_tip(app, tips_client)
    intent = tip["payment"]["payment_intent_id"]
    await deliver(tips_client, app, succeeded(tip))
    dispute = {"id": "dp_2", "object": "dispute", "payment_intent": intent, "charge": f"ch_{intent}", "amount": 500}
    answer = await deliver(tips_client, app, event_body("charge.dispute.created", dispute))
    assert answer.json()["outcome"] == "applied"
    assert await status_of(app, tip["transaction_id"]) == "disputed"


async def fail_then_pay(app: FastAPI, client: httpx.AsyncClient, tip: dict[str, Any]) -> None:
    """The tip fails (its intent is canceled), then the intent turns out paid: paid in the moment before."""
    intent = tip["payment"]["payment_intent_id"]
    error = {"code": "card_declined", "decline_code": "card_declined"}
    failed = intent_object(intent, 500, "JPY", "requires_payment_method", last_payment_error=error)
    answer = await deliver(client, app, event_body("payment_intent.payment_failed", failed))
    assert answer.json()["outcome"] == "applied"
    await settled(app)
    async with container(app).db.unit_of_work() as session:
        await session.execute(update(TestIntent).where(TestIntent.intent_id == intent).values(status="succeeded"))


async def test_a_failure_then_a_late_success_is_refunded_not_credited(
    app: FastAPI, tips_client: httpx.AsyncClient
) -> None:
    tip, stream_id = await pending_tip(app, tips_client)
    await fail_then_pay(app, tips_client, tip)
    late = await deliver(tips_client, app, succeeded(tip))
    assert late.json()["outcome"] == "refunding"
    await settled(app)
    row = await tip_row(app, tip["transaction_id"])
    assert (row.status, row.refund_due) == ("failed", False)
    assert await intent_refunded(app, tip) is True
    assert await tip_frames(app, stream_id) == []
    assert await tip_notifications(app) == 0


async def test_a_refund_whose_job_was_lost_is_sent_by_the_reconciler(
    app: FastAPI, tips_client: httpx.AsyncClient
) -> None:
    tip, _ = await pending_tip(app, tips_client)
    await fail_then_pay(app, tips_client, tip)
    # As if the success was handled and its refund job died with its worker.
    async with container(app).db.unit_of_work() as session:
        await session.execute(
            update(Transaction)
            .where(Transaction.transaction_id == uuid.UUID(tip["transaction_id"]))
            .values(refund_due=True, updated_at=utcnow() - timedelta(minutes=3))
        )
    jobs = container(app).tipping.jobs
    assert jobs is not None
    await jobs.reconcile_pending()
    await settled(app)
    assert await intent_refunded(app, tip) is True
    assert (await tip_row(app, tip["transaction_id"])).refund_due is False
    await jobs.reconcile_pending()  # nothing owed any more: nothing sent again
    assert (await tip_row(app, tip["transaction_id"])).status == "failed"


async def test_a_failure_and_a_success_at_once_never_keep_money_uncredited(
    app: FastAPI, tips_client: httpx.AsyncClient
) -> None:
    for _ in range(3):
        tip, _ = await pending_tip(app, tips_client)
        intent = tip["payment"]["payment_intent_id"]
        async with container(app).db.unit_of_work() as session:
            await session.execute(update(TestIntent).where(TestIntent.intent_id == intent).values(status="succeeded"))
        failed = event_body(
            "payment_intent.payment_failed", intent_object(intent, 500, "JPY", "requires_payment_method")
        )
        await asyncio.gather(deliver(tips_client, app, failed), deliver(tips_client, app, succeeded(tip)))
        await settled(app)
        row = await tip_row(app, tip["transaction_id"])
        # Either the success came first (credited; the failure after it changes nothing), or the failure did
        # (and the payment went back).
        assert row.status in ("succeeded", "failed")
        if row.status == "failed":
            assert await intent_refunded(app, tip) is True
            assert row.refund_due is False


async def test_an_amount_other_than_the_tip_is_never_credited(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    tip, _ = await pending_tip(app, tips_client)
    intent = tip["payment"]["payment_intent_id"]
    wrong = event_body("payment_intent.succeeded", intent_object(intent, 5, "JPY"))
    assert (await deliver(tips_client, app, wrong)).json()["outcome"] == "mismatch"
    currency = event_body("payment_intent.succeeded", intent_object(intent, 500, "USD"))
    assert (await deliver(tips_client, app, currency)).json()["outcome"] == "mismatch"
    # Failed, and whatever was taken is owed back (this intent was never paid: the refund is refused, and stays
    # owed for the reconciler and an operator).
    await settled(app)
    row = await tip_row(app, tip["transaction_id"])
    assert (row.status, row.failure_code, row.refund_due) == ("failed", "amount_mismatch", True)
    right = await deliver(tips_client, app, succeeded(tip))
    assert right.json()["outcome"] == "refunding"
    assert await status_of(app, tip["transaction_id"]) == "failed"


async def test_an_intent_found_by_its_metadata(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    """The request died after the provider made the intent and before its id was stored."""
    tip, _ = await pending_tip(app, tips_client)
    async with container(app).db.unit_of_work() as session:
        row = await session.get(Transaction, uuid.UUID(tip["transaction_id"]))
        assert row is not None
        row.provider_payment_id = None
    orphan = intent_object("pi_orphan", 500, "JPY", metadata={"transaction_id": tip["transaction_id"]})
    answer = await deliver(tips_client, app, event_body("payment_intent.succeeded", orphan))
    assert answer.json()["outcome"] == "applied"
    async with container(app).db.sessionmaker() as session:
        row = await session.get(Transaction, uuid.UUID(tip["transaction_id"]))
        assert row is not None
        assert (row.status, row.provider_payment_id) == ("succeeded", "pi_orphan")


async def test_events_not_ours_or_not_handled_are_stored_and_acknowledged(
    app: FastAPI, tips_client: httpx.AsyncClient
) -> None:
    unknown = await deliver(tips_client, app, event_body("payment_intent.succeeded", intent_object("pi_x", 5, "JPY")))
    assert unknown.json()["outcome"] == "unknown"
    other = await deliver(tips_client, app, event_body("customer.created", {"id": "cus_1", "object": "customer"}))
    assert other.json()["outcome"] == "ignored"
    account = await deliver(tips_client, app, event_body("account.updated", {"id": "acct_x", "object": "account"}))
    assert account.json()["outcome"] == "unknown"
    async with container(app).db.sessionmaker() as session:
        outcomes = sorted((await session.execute(select(PaymentEvent.outcome))).scalars())
    assert outcomes == ["ignored", "unknown", "unknown"]


@pytest.mark.parametrize(
    "how", ["wrong-secret", "stale", "future-tampered", "missing", "garbage-header", "body-changed"]
)
async def test_bad_signatures_are_400_and_write_nothing(app: FastAPI, tips_client: httpx.AsyncClient, how: str) -> None:
    tip, stream_id = await pending_tip(app, tips_client)
    body = succeeded(tip)
    if how == "wrong-secret":
        response = await deliver(tips_client, app, body, secret="whsec_not_ours")
    elif how == "stale":
        response = await deliver(tips_client, app, body, timestamp=int(time.time()) - 301)
    elif how == "future-tampered":
        response = await deliver(tips_client, app, body + b" ")
        assert response.status_code == 200  # whitespace signed is still the event
        response = await tips_client.post(
            WEBHOOK, content=body, headers={"Stripe-Signature": f"t={int(time.time())},v1={'0' * 64}"}
        )
    elif how == "missing":
        response = await tips_client.post(WEBHOOK, content=body)
    elif how == "garbage-header":
        response = await tips_client.post(
            WEBHOOK, content=body, headers={b"Stripe-Signature": "t=x,v1=\\\u00e9".encode()}
        )
    else:
        header = sign(body, webhook_secret(app))
        response = await tips_client.post(
            WEBHOOK, content=body.replace(b"500", b"501"), headers={"Stripe-Signature": header}
        )
    if how == "future-tampered":
        # Only the signed delivery above was taken.
        assert_error(response, 400, "INVALID_SIGNATURE")
        assert await count_rows(app, PaymentEvent) == 1
        return
    assert_error(response, 400, "INVALID_SIGNATURE")
    assert await count_rows(app, PaymentEvent) == 0
    assert await status_of(app, tip["transaction_id"]) == "pending"
    assert await tip_frames(app, stream_id) == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"object": "event"}',
        b'{"object": "event", "id": "evt_1", "type": "x", "created": 1}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"object": "event", "id": "evt_2", "type": "x", "created": true, "data": {"object": {}}}',
        b'{"object": "event", "id": "' + b"e" * 300 + b'", "type": "x", "created": 1, "data": {"object": {}}}',
    ],
    ids=["not-json", "list", "no-id", "no-object", "deeply-nested", "bool-time", "long-id"],
)
async def test_signed_bodies_that_are_not_events_are_400(
    app: FastAPI, tips_client: httpx.AsyncClient, body: bytes
) -> None:
    assert_error(await deliver(tips_client, app, body), 400, "INVALID_SIGNATURE")
    assert await count_rows(app, PaymentEvent) == 0


async def test_an_oversized_body_is_refused_unread(app: FastAPI, tips_client: httpx.AsyncClient) -> None:
    huge = b'{"object":"event","pad":"' + b"x" * (300 * 1024) + b'"}'
    response = await tips_client.post(WEBHOOK, content=huge, headers={"Stripe-Signature": "t=1,v1=00"})
    assert response.status_code in (400, 413)
    assert await count_rows(app, PaymentEvent) == 0


async def test_a_tip_sent_by_someone_banned_since_shows_without_words(
    app: FastAPI, tips_client: httpx.AsyncClient
) -> None:
    creator, creator_token = await quick_user(app)
    fan, token = await quick_user(app)
    stream_id = await go_live(app, tips_client, creator_token)
    tip = await start_tip(tips_client, token, stream_id=stream_id, message="rude words")
    banned = await tips_client.post(
        f"/api/streams/{stream_id}/bans", json={"user_id": fan["user_id"]}, headers=bearer(creator_token)
    )
    assert banned.status_code in (200, 201), banned.text
    await deliver(tips_client, app, succeeded(tip))
    await settled(app)
    frames = await tip_frames(app, stream_id)
    assert len(frames) == 1
    assert frames[0]["message"] is None
    assert frames[0]["amount"] == 500
    assert creator["user_id"] != fan["user_id"]


class TestSecondSecretAndModes:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"payments": "test", "stripe_connect_webhook_secret": "whsec_connect_endpoint"}

    async def test_events_signed_by_the_connect_endpoint_are_taken(
        self, app: FastAPI, tips_client: httpx.AsyncClient
    ) -> None:
        body = event_body("account.updated", {"id": "acct_1", "object": "account"})
        answer = await deliver(tips_client, app, body, secret="whsec_connect_endpoint")
        assert answer.status_code == 200, answer.text
        assert_error(await deliver(tips_client, app, body, secret="whsec_other"), 400, "INVALID_SIGNATURE")

    async def test_a_live_event_at_a_test_server_is_never_applied(
        self, app: FastAPI, tips_client: httpx.AsyncClient
    ) -> None:
        tip, stream_id = await pending_tip(app, tips_client)
        live = json.loads(succeeded(tip))
        live["livemode"] = True
        answer = await deliver(tips_client, app, json.dumps(live).encode())
        assert answer.json()["outcome"] == "other_mode"
        assert await status_of(app, tip["transaction_id"]) == "pending"
        assert await tip_frames(app, stream_id) == []


async def test_a_failed_tip_paid_before_its_cancel_is_refunded_without_its_success_event(
    app: FastAPI, tips_client: httpx.AsyncClient
) -> None:
    """The cancel is refused because the intent was paid; the success webhook never comes."""
    tip, _ = await pending_tip(app, tips_client)
    intent = tip["payment"]["payment_intent_id"]
    async with container(app).db.unit_of_work() as session:
        await session.execute(update(TestIntent).where(TestIntent.intent_id == intent).values(status="succeeded"))
    failed = event_body("payment_intent.payment_failed", intent_object(intent, 500, "JPY", "requires_payment_method"))
    assert (await deliver(tips_client, app, failed)).json()["outcome"] == "applied"
    await settled(app)
    row = await tip_row(app, tip["transaction_id"])
    assert (row.status, row.refund_due) == ("failed", False)
    assert await intent_refunded(app, tip) is True


async def test_a_success_decided_on_a_stale_read_still_sees_the_failure(
    app: FastAPI, tips_client: httpx.AsyncClient
) -> None:
    """SQLite has no row locks: the reconciler may read a tip pending that a webhook fails a moment later."""
    tip, _ = await pending_tip(app, tips_client)
    stale = await tip_row(app, tip["transaction_id"])
    assert stale.status == "pending"
    intent = tip["payment"]["payment_intent_id"]
    failed = event_body("payment_intent.payment_failed", intent_object(intent, 500, "JPY", "requires_payment_method"))
    await deliver(tips_client, app, failed)
    settlement = container(app).tipping.settlement
    assert settlement is not None
    async with container(app).db.unit_of_work() as session:
        outcome = await settlement.succeeded(session, stale, 500, "jpy")
    assert outcome == "refunding"
    await settled(app)
    row = await tip_row(app, tip["transaction_id"])
    # Owed, and still owed: this intent was never really paid, so the provider refuses the refund (logged).
    assert (row.status, row.refund_due) == ("failed", True)


async def test_a_lost_notification_job_is_made_up_by_the_reconciler(
    app: FastAPI, tips_client: httpx.AsyncClient
) -> None:
    tip, stream_id = await pending_tip(app, tips_client)
    await deliver(tips_client, app, succeeded(tip))
    await settled(app)
    assert await tip_notifications(app) == 1
    # As if the notification job had died with its worker, two minutes and more ago.
    async with container(app).db.unit_of_work() as session:
        await session.execute(delete(Notification).where(Notification.type == "tip_received"))
        await session.execute(
            update(Transaction)
            .where(Transaction.transaction_id == uuid.UUID(tip["transaction_id"]))
            .values(settled_at=utcnow() - timedelta(minutes=3))
        )
    jobs = container(app).tipping.jobs
    assert jobs is not None
    await jobs.reconcile_pending()
    await settled(app)
    assert await tip_notifications(app) == 1
    await jobs.reconcile_pending()
    await settled(app)
    assert await tip_notifications(app) == 1  # told once
    assert len(await tip_frames(app, stream_id)) == 1  # and the chat is not told again


async def test_a_creator_who_turned_tips_off_is_not_told_by_the_reconciler(
    app: FastAPI, tips_client: httpx.AsyncClient
) -> None:
    tip, _ = await pending_tip(app, tips_client)
    off = await tips_client.put(
        "/api/users/me/notification-settings",
        json={"kinds": {"tip_received": False}},
        headers=bearer(await access_token(app, tip["recipient"])),
    )
    assert off.status_code == 200, off.text
    await deliver(tips_client, app, succeeded(tip))
    await settled(app)
    async with container(app).db.unit_of_work() as session:
        await session.execute(
            update(Transaction)
            .where(Transaction.transaction_id == uuid.UUID(tip["transaction_id"]))
            .values(settled_at=utcnow() - timedelta(minutes=3))
        )
        assert await TipRepository(session).unnotified(utcnow() - timedelta(hours=1), utcnow(), 10) == []
    jobs = container(app).tipping.jobs
    assert jobs is not None
    await jobs.reconcile_pending()
    await settled(app)
    assert await tip_notifications(app) == 0
