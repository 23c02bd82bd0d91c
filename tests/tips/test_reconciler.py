"""The pending reconciler on the stripe provider (the real SDK, a local fake Stripe): tips whose webhook never
came are asked about and settled once; declined and abandoned ones fail; a row without an intent gets one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from livestream.db import utcnow
from livestream.notifications.models import Notification
from livestream.tips.checkout import intent_key
from livestream.tips.models import Transaction
from livestream.tips.tasks import TipJobs
from tests.api.helpers import assert_error, bearer, container, quick_user, use_fast_hashing
from tests.notifications.test_notifications import go_live
from tests.support.fake_stripe import FakeStripe, running_fake_stripe
from tests.tips.stripe_support import backdate, end_outage, onboard, send_event, stripe_settings, transaction
from tests.tips.support import settled, start_tip, status_of, tip_frames

INTENTS = "/v1/payment_intents"
STUCK = timedelta(minutes=11)


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


def jobs(app: FastAPI) -> TipJobs:
    tip_jobs = container(app).tipping.jobs
    assert tip_jobs is not None
    return tip_jobs


async def reconcile(app: FastAPI) -> int:
    moved = await jobs(app).reconcile_pending()
    await settled(app)
    return moved


async def tips_received(app: FastAPI, user_id: str) -> list[Notification]:
    async with container(app).db.sessionmaker() as session:
        query = select(Notification).where(
            Notification.user_id == uuid.UUID(user_id), Notification.type == "tip_received"
        )
        return list((await session.execute(query)).scalars())


async def creator_and_viewer(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> tuple[dict[str, Any], str, dict[str, Any], str]:
    creator, creator_token = await quick_user(app)
    await onboard(client, app, fake, creator["user_id"], creator_token)
    viewer, viewer_token = await quick_user(app)
    return creator, creator_token, viewer, viewer_token


def gets_of(fake: FakeStripe, intent_id: str) -> int:
    return fake.count("GET", f"{INTENTS}/{intent_id}")


async def test_lost_webhook_is_settled_and_announced_once(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, creator_token, viewer, viewer_token = await creator_and_viewer(app, client, fake)
    stream_id = await go_live(app, client, creator_token)
    tip = await start_tip(client, viewer_token, stream_id=stream_id, amount=1000, currency="JPY", message="おめでとう")
    intent_id = tip["payment"]["payment_intent_id"]
    # Paid at Stripe; the webhook never arrives.
    fake.set_intent_status(intent_id, "succeeded")
    await backdate(app, tip["transaction_id"], STUCK)

    assert await reconcile(app) == 1

    assert await status_of(app, tip["transaction_id"]) == "succeeded"
    (frame,) = await tip_frames(app, stream_id)
    assert frame["id"] == f"tip:{tip['transaction_id']}"
    assert (frame["amount"], frame["currency"], frame["message"]) == (1000, "JPY", "おめでとう")
    assert frame["user"] == {"user_id": viewer["user_id"], "username": viewer["username"]}
    (note,) = await tips_received(app, creator["user_id"])
    assert note.payload["transaction_id"] == tip["transaction_id"]
    assert (note.payload["amount"], note.payload["currency"]) == (1000, "JPY")
    assert note.payload["stream_id"] == stream_id

    # A second pass, and the webhook arriving late after all, change nothing.
    assert await reconcile(app) == 0
    late = await send_event(client, fake, "payment_intent.succeeded", fake.intent_object(intent_id))
    await settled(app)
    assert late["outcome"] == "unchanged"
    assert await status_of(app, tip["transaction_id"]) == "succeeded"
    assert len(await tip_frames(app, stream_id)) == 1
    assert len(await tips_received(app, creator["user_id"])) == 1
    # Settled tips are not asked about again.
    assert gets_of(fake, intent_id) == 1


async def test_declined_intent_fails_with_its_decline_code(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, _, _, viewer_token = await creator_and_viewer(app, client, fake)
    tip = await start_tip(client, viewer_token, recipient_id=creator["user_id"], amount=500, currency="JPY")
    intent_id = tip["payment"]["payment_intent_id"]
    # As Stripe reports it: code card_declined, decline_code insufficient_funds (the webhook stores the latter).
    fake.set_intent_status(intent_id, "requires_payment_method", "insufficient_funds")
    await backdate(app, tip["transaction_id"], STUCK)

    assert await reconcile(app) == 1

    row = await transaction(app, tip["transaction_id"])
    assert (row.status, row.failure_code) == ("failed", "insufficient_funds")
    # A failed tip's intent is canceled, so it cannot be paid later.
    assert fake.intents[intent_id]["status"] == "canceled"
    assert await tips_received(app, creator["user_id"]) == []


async def test_expired_card_decline_fails_with_that_code(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, _, _, viewer_token = await creator_and_viewer(app, client, fake)
    tip = await start_tip(client, viewer_token, recipient_id=creator["user_id"], amount=500, currency="JPY")
    intent_id = tip["payment"]["payment_intent_id"]
    fake.set_intent_status(intent_id, "requires_payment_method", "expired_card")
    await backdate(app, tip["transaction_id"], STUCK)

    assert await reconcile(app) == 1

    row = await transaction(app, tip["transaction_id"])
    assert (row.status, row.failure_code) == ("failed", "expired_card")


async def test_abandoned_intent_is_canceled_and_fails_expired(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, _, _, viewer_token = await creator_and_viewer(app, client, fake)
    tip = await start_tip(client, viewer_token, recipient_id=creator["user_id"], amount=500, currency="JPY")
    intent_id = tip["payment"]["payment_intent_id"]
    # Nobody ever confirmed it: the intent still waits for a payment method, two hours on.
    await backdate(app, tip["transaction_id"], timedelta(hours=2))

    assert await reconcile(app) == 1

    row = await transaction(app, tip["transaction_id"])
    assert (row.status, row.failure_code) == ("failed", "expired")
    assert fake.intents[intent_id]["status"] == "canceled"
    assert fake.count("POST", f"{INTENTS}/{intent_id}/cancel") >= 1
    assert await reconcile(app) == 0
    assert await status_of(app, tip["transaction_id"]) == "failed"


async def test_unpaid_intent_younger_than_an_hour_is_left_for_later(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, _, _, viewer_token = await creator_and_viewer(app, client, fake)
    tip = await start_tip(client, viewer_token, recipient_id=creator["user_id"], amount=500, currency="JPY")
    intent_id = tip["payment"]["payment_intent_id"]
    await backdate(app, tip["transaction_id"], timedelta(minutes=30))

    assert await reconcile(app) == 0

    assert await status_of(app, tip["transaction_id"]) == "pending"
    assert fake.intents[intent_id]["status"] == "requires_payment_method"
    assert gets_of(fake, intent_id) == 1


async def test_tip_younger_than_ten_minutes_is_left_alone(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, _, _, viewer_token = await creator_and_viewer(app, client, fake)
    tip = await start_tip(client, viewer_token, recipient_id=creator["user_id"], amount=500, currency="JPY")
    intent_id = tip["payment"]["payment_intent_id"]
    fake.set_intent_status(intent_id, "succeeded")
    await backdate(app, tip["transaction_id"], timedelta(minutes=9))

    assert await reconcile(app) == 0

    assert await status_of(app, tip["transaction_id"]) == "pending"
    # Not even asked about: its webhook is probably on the way.
    assert gets_of(fake, intent_id) == 0


async def test_row_without_an_intent_gets_one_by_its_own_key(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, _, viewer, _ = await creator_and_viewer(app, client, fake)
    account = fake.accounts
    # The request died after committing the row and before Stripe was asked: a pending row with no intent.
    transaction_id = uuid.UUID("6f1d3c2a-5b4e-4d7f-9a8b-0c1d2e3f4a5b")
    created = utcnow() - STUCK
    async with container(app).db.unit_of_work() as session:
        session.add(
            Transaction(
                transaction_id=transaction_id,
                sender_id=uuid.UUID(viewer["user_id"]),
                recipient_id=uuid.UUID(creator["user_id"]),
                amount=700,
                currency="JPY",
                status="pending",
                provider="stripe",
                platform_fee=70,
                idempotency_key="died-before-stripe",
                request_hash="0" * 64,
                created_at=created,
                updated_at=created,
            )
        )

    assert await reconcile(app) == 0  # made now, not paid yet: it stays pending

    (call,) = [r for r in fake.requests if r.method == "POST" and r.path == INTENTS]
    assert call.idempotency_key == intent_key(transaction_id) == f"tip-{transaction_id}"
    assert call.params["amount"] == "700"
    assert call.params["application_fee_amount"] == "70"
    assert call.params["transfer_data"] == {"destination": next(iter(account))}
    row = await transaction(app, str(transaction_id))
    assert row.status == "pending"
    assert row.provider_payment_id is not None
    assert row.provider_payment_id in fake.intents
    assert fake.intents[row.provider_payment_id]["metadata"]["transaction_id"] == str(transaction_id)

    # Paid later and its webhook lost too: the next pass settles it through the intent it attached.
    fake.set_intent_status(row.provider_payment_id, "succeeded")
    assert await reconcile(app) == 1
    assert await status_of(app, str(transaction_id)) == "succeeded"
    assert len(fake.intents) == 1


async def test_intent_made_but_its_answer_lost_is_found_again_not_made_twice(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, _, _, viewer_token = await creator_and_viewer(app, client, fake)
    # Stripe made the intent, but every answer (the SDK's retries too) was lost on the way back.
    fake.lose_next_responses(3)
    lost = await client.post(
        "/api/transactions",
        json={"recipient_id": creator["user_id"], "amount": 500, "currency": "JPY"},
        headers={**bearer(viewer_token), "Idempotency-Key": "answer-lost"},
    )
    assert_error(lost, 502, "PAYMENT_PROVIDER_ERROR")
    assert len(fake.intents) == 1
    (intent_id,) = fake.intents
    async with container(app).db.sessionmaker() as session:
        row = (await session.execute(select(Transaction))).scalar_one()
    assert row.provider_payment_id is None
    fake.set_intent_status(intent_id, "succeeded")
    await backdate(app, str(row.transaction_id), STUCK)

    # The same key finds the intent; Stripe replays its first answer (not yet paid), so this pass only attaches it.
    await reconcile(app)
    assert (await transaction(app, str(row.transaction_id))).provider_payment_id == intent_id
    # The next pass asks about the intent itself and settles it.
    await reconcile(app)

    settled_row = await transaction(app, str(row.transaction_id))
    assert (settled_row.status, settled_row.provider_payment_id) == ("succeeded", intent_id)
    assert len(fake.intents) == 1
    keys = {r.idempotency_key for r in fake.requests if r.method == "POST" and r.path == INTENTS}
    assert keys == {f"tip-{row.transaction_id}"}


async def test_provider_outage_leaves_the_tip_pending_for_the_next_pass(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, _, _, viewer_token = await creator_and_viewer(app, client, fake)
    tip = await start_tip(client, viewer_token, recipient_id=creator["user_id"], amount=500, currency="JPY")
    intent_id = tip["payment"]["payment_intent_id"]
    fake.set_intent_status(intent_id, "succeeded")
    await backdate(app, tip["transaction_id"], STUCK)

    fake.fail_next(503, count=10)
    assert await reconcile(app) == 0
    assert await status_of(app, tip["transaction_id"]) == "pending"

    end_outage(fake)
    assert await reconcile(app) == 1
    assert await status_of(app, tip["transaction_id"]) == "succeeded"


async def test_reconciler_looks_at_every_stuck_tip_in_one_pass(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, creator_token, _, viewer_token = await creator_and_viewer(app, client, fake)
    tips = [
        await start_tip(client, viewer_token, recipient_id=creator["user_id"], amount=100 * (n + 1), currency="JPY")
        for n in range(3)
    ]
    paid, declined, _ = (tip["payment"]["payment_intent_id"] for tip in tips)
    fake.set_intent_status(paid, "succeeded")
    fake.set_intent_status(declined, "requires_payment_method", "generic_decline")
    for tip in tips:
        await backdate(app, tip["transaction_id"], STUCK)

    assert await reconcile(app) == 2

    assert [await status_of(app, tip["transaction_id"]) for tip in tips] == ["succeeded", "failed", "pending"]
    earnings = (await client.get("/api/users/me/earnings", headers=bearer(creator_token))).json()
    (jpy,) = earnings["currencies"]
    assert jpy["succeeded"] == {"count": 1, "amount": 100}
    assert jpy["failed"] == {"count": 1, "amount": 200}
    assert jpy["pending"] == {"count": 1, "amount": 300}
    async with container(app).db.sessionmaker() as session:
        count = (await session.execute(select(func.count()).select_from(Transaction))).scalar_one()
    assert count == 3


async def test_intent_canceled_at_stripe_fails_the_tip(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, _, _, viewer_token = await creator_and_viewer(app, client, fake)
    tip = await start_tip(client, viewer_token, recipient_id=creator["user_id"], amount=500, currency="JPY")
    intent_id = tip["payment"]["payment_intent_id"]
    # Canceled from Stripe's dashboard, say; its event was lost.
    fake.set_intent_status(intent_id, "canceled")
    await backdate(app, tip["transaction_id"], STUCK)

    assert await reconcile(app) == 1

    row = await transaction(app, tip["transaction_id"])
    assert (row.status, row.failure_code) == ("failed", "canceled")
    assert fake.intents[intent_id]["status"] == "canceled"


async def test_payment_still_processing_is_left_however_old(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, _, _, viewer_token = await creator_and_viewer(app, client, fake)
    tip = await start_tip(client, viewer_token, recipient_id=creator["user_id"], amount=500, currency="JPY")
    intent_id = tip["payment"]["payment_intent_id"]
    # A bank debit can take days: the customer paid, the money is on its way.
    fake.set_intent_status(intent_id, "processing")
    await backdate(app, tip["transaction_id"], timedelta(hours=3))

    assert await reconcile(app) == 0

    assert await status_of(app, tip["transaction_id"]) == "pending"
    assert fake.intents[intent_id]["status"] == "processing"
    assert fake.count("POST", f"{INTENTS}/{intent_id}/cancel") == 0


async def test_an_abandoned_3d_secure_check_is_canceled_too(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    creator, _, _, viewer_token = await creator_and_viewer(app, client, fake)
    tip = await start_tip(client, viewer_token, recipient_id=creator["user_id"], amount=500, currency="JPY")
    intent_id = tip["payment"]["payment_intent_id"]
    fake.set_intent_status(intent_id, "requires_action")
    await backdate(app, tip["transaction_id"], timedelta(hours=2))

    assert await reconcile(app) == 1

    assert (await transaction(app, tip["transaction_id"])).failure_code == "expired"
    assert fake.intents[intent_id]["status"] == "canceled"


async def test_tips_that_stay_pending_go_to_the_back_of_the_queue(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass looks at a bounded number of tips: those still processing must not hide a lost webhook forever."""
    monkeypatch.setattr("livestream.tips.tasks.BATCH", 2)
    creator, _, _, viewer_token = await creator_and_viewer(app, client, fake)
    processing = []
    for _ in range(2):
        tip = await start_tip(client, viewer_token, recipient_id=creator["user_id"], amount=500, currency="JPY")
        fake.set_intent_status(tip["payment"]["payment_intent_id"], "processing")
        await backdate(app, tip["transaction_id"], timedelta(hours=3))
        processing.append(tip)
    lost = await start_tip(client, viewer_token, recipient_id=creator["user_id"], amount=700, currency="JPY")
    fake.set_intent_status(lost["payment"]["payment_intent_id"], "succeeded")
    await backdate(app, lost["transaction_id"], STUCK)

    await reconcile(app)  # may look at the two processing ones only
    await reconcile(app)  # they went to the back: the lost webhook's tip is reached

    assert await status_of(app, lost["transaction_id"]) == "succeeded"
    for tip in processing:
        assert await status_of(app, tip["transaction_id"]) == "pending"
