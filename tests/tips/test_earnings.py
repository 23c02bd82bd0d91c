"""What the ledger shows (test provider): a creator's earnings by currency, status, stream and month, the CSV
export, one's own tips page by page, and the payout and tipping answers when no onboarding is needed."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from livestream.db import utcnow
from livestream.tips.models import Transaction
from livestream.users.models import User
from tests.api.helpers import assert_error, bearer, container, quick_user, use_fast_hashing
from tests.notifications.test_notifications import go_live
from tests.tips.support import charge_object, deliver, event_body, intent_object, settled, start_tip

CSV_HEADER = [
    "created_at",
    "transaction_id",
    "status",
    "currency",
    "amount",
    "platform_fee",
    "net",
    "stream_id",
    "sender",
    "message",
]


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    return {"payments": "test", **getattr(request, "param", {})}


@pytest.fixture(autouse=True)
def _fast_argon2(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_hashing(request, monkeypatch)


async def event(client: httpx.AsyncClient, app: FastAPI, kind: str, obj: dict[str, Any]) -> None:
    response = await deliver(client, app, event_body(kind, obj))
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "applied", response.text


async def tip(
    client: httpx.AsyncClient, app: FastAPI, token: str, outcome: str = "succeeded", **body: Any
) -> dict[str, Any]:
    """A tip started through the API and taken to ``outcome`` by the provider's signed events."""
    started = await start_tip(client, token, **body)
    intent_id = started["payment"]["payment_intent_id"]
    amount, currency = started["amount"], started["currency"]
    if outcome in ("succeeded", "refunded", "disputed"):
        await event(client, app, "payment_intent.succeeded", intent_object(intent_id, amount, currency))
    if outcome == "refunded":
        await event(client, app, "charge.refunded", charge_object(intent_id, amount))
    elif outcome == "disputed":
        dispute = {
            "id": f"dp_{intent_id}",
            "object": "dispute",
            "charge": f"ch_{intent_id}",
            "payment_intent": intent_id,
        }
        await event(client, app, "charge.dispute.created", dispute)
    if outcome == "failed":
        declined = intent_object(
            intent_id,
            amount,
            currency,
            status="requires_payment_method",
            last_payment_error={"code": "card_declined", "decline_code": "generic_decline"},
        )
        await event(client, app, "payment_intent.payment_failed", declined)
    assert outcome in ("succeeded", "refunded", "disputed", "failed", "pending")
    return started


async def set_created(app: FastAPI, transaction_id: str, ago: timedelta) -> None:
    async with container(app).db.unit_of_work() as session:
        await session.execute(
            update(Transaction)
            .where(Transaction.transaction_id == uuid.UUID(transaction_id))
            .values(created_at=utcnow() - ago)
        )


async def end_stream(client: httpx.AsyncClient, token: str, stream_id: str) -> None:
    ended = await client.put(f"/api/streams/{stream_id}/end", headers=bearer(token))
    assert ended.status_code == 200, ended.text


def count(n: int, amount: int) -> dict[str, int]:
    return {"count": n, "amount": amount}


async def test_earnings_by_currency_status_stream_and_month(app: FastAPI, client: httpx.AsyncClient) -> None:
    creator, creator_token = await quick_user(app)
    other, _ = await quick_user(app)
    _, ann = await quick_user(app)
    _, bob = await quick_user(app)
    me = creator["user_id"]

    first = await go_live(app, client, creator_token)
    await tip(client, app, ann, stream_id=first, amount=500, currency="JPY")
    await tip(client, app, bob, stream_id=first, amount=1999, currency="JPY")  # fee 199.9 → 199
    await tip(client, app, ann, stream_id=first, amount=500, currency="USD")
    await tip(client, app, bob, "pending", stream_id=first, amount=300, currency="JPY")
    await end_stream(client, creator_token, first)
    second = await go_live(app, client, creator_token)
    await tip(client, app, ann, stream_id=second, amount=2000, currency="JPY")
    await tip(client, app, ann, "refunded", stream_id=second, amount=1000, currency="JPY")
    await tip(client, app, bob, "failed", stream_id=second, amount=700, currency="JPY")
    # From the channel page (no stream), one of them two months back.
    await tip(client, app, bob, "disputed", recipient_id=me, amount=250, currency="USD")
    await tip(client, app, ann, recipient_id=me, amount=100, currency="JPY")
    old = await tip(client, app, ann, recipient_id=me, amount=1005, currency="JPY")
    old_moment = utcnow() - timedelta(days=62)
    await set_created(app, old["transaction_id"], timedelta(days=62))
    # Tips that are not this creator's: to someone else, and one the creator sent.
    await tip(client, app, ann, recipient_id=other["user_id"], amount=5000, currency="JPY")
    await tip(client, app, creator_token, recipient_id=other["user_id"], amount=800, currency="EUR")
    await settled(app)

    response = await client.get("/api/users/me/earnings", headers=bearer(creator_token))

    assert response.status_code == 200, response.text
    earnings = response.json()
    assert earnings["currencies"] == [
        {
            "currency": "JPY",
            "succeeded": count(5, 500 + 1999 + 2000 + 100 + 1005),
            "pending": count(1, 300),
            "failed": count(1, 700),
            "refunded": count(1, 1000),
            "disputed": count(0, 0),
            "fees": 50 + 199 + 200 + 10 + 100,
            "net": 5604 - 559,
        },
        {
            "currency": "USD",
            "succeeded": count(1, 500),
            "pending": count(0, 0),
            "failed": count(0, 0),
            "refunded": count(0, 0),
            "disputed": count(1, 250),
            "fees": 50,
            "net": 450,
        },
    ]
    # Succeeded tips only; the latest stream first, then by currency.
    assert [
        (s["stream_id"], s["currency"], s["count"], s["amount"], s["fees"], s["net"]) for s in earnings["by_stream"]
    ] == [
        (second, "JPY", 1, 2000, 200, 1800),
        (first, "JPY", 2, 2499, 249, 2250),
        (first, "USD", 1, 500, 50, 450),
    ]
    assert all(s["title"] == "Live now" and s["started_at"] for s in earnings["by_stream"])
    this_month, old_month = utcnow().strftime("%Y-%m"), old_moment.strftime("%Y-%m")
    assert earnings["by_month"] == [
        {"month": this_month, "currency": "JPY", "count": 4, "amount": 4599, "fees": 459, "net": 4140},
        {"month": this_month, "currency": "USD", "count": 1, "amount": 500, "fees": 50, "net": 450},
        {"month": old_month, "currency": "JPY", "count": 1, "amount": 1005, "fees": 100, "net": 905},
    ]

    # One stream's running total (the dashboard's): its tips only, no tables.
    only_first = await client.get("/api/users/me/earnings", params={"stream_id": first}, headers=bearer(creator_token))
    assert only_first.status_code == 200
    body = only_first.json()
    assert (body["by_stream"], body["by_month"]) == ([], [])
    assert [(c["currency"], c["succeeded"], c["pending"], c["fees"], c["net"]) for c in body["currencies"]] == [
        ("JPY", count(2, 2499), count(1, 300), 249, 2250),
        ("USD", count(1, 500), count(0, 0), 50, 450),
    ]
    unknown = await client.get(
        "/api/users/me/earnings",
        params={"stream_id": "00000000-0000-4000-8000-00000000e001"},
        headers=bearer(creator_token),
    )
    assert unknown.json() == {"currencies": [], "by_stream": [], "by_month": []}
    bad = await client.get("/api/users/me/earnings", params={"stream_id": "nope"}, headers=bearer(creator_token))
    assert_error(bad, 400, "VALIDATION_ERROR")

    # The viewer who only sent tips has earned nothing.
    viewer = await client.get("/api/users/me/earnings", headers=bearer(ann))
    assert viewer.json() == {"currencies": [], "by_stream": [], "by_month": []}
    assert_error(await client.get("/api/users/me/earnings"), 401, "INVALID_TOKEN")


async def test_csv_export_is_major_units_and_formula_safe(app: FastAPI, client: httpx.AsyncClient) -> None:
    creator, creator_token = await quick_user(app)
    ann_user, ann = await quick_user(app)
    bob_user, bob = await quick_user(app)
    _, carol = await quick_user(app)
    me = creator["user_id"]
    stream_id = await go_live(app, client, creator_token)

    yen = await tip(client, app, ann, stream_id=stream_id, amount=500, currency="JPY", message="=HYPERLINK(1)")
    dollars = await tip(client, app, ann, recipient_id=me, amount=500, currency="USD", message="+1 great")
    refunded = await tip(client, app, bob, "refunded", recipient_id=me, amount=1000, currency="JPY", message="-2")
    failed = await tip(client, app, bob, "failed", recipient_id=me, amount=705, currency="EUR", message="@everyone")
    await tip(client, app, carol, "pending", recipient_id=me, amount=300, currency="JPY", message="waiting")
    await settled(app)
    # Registration allows no such name, but one from elsewhere (an import, an old rule) must not become a formula.
    async with container(app).db.unit_of_work() as session:
        await session.execute(
            update(User).where(User.user_id == uuid.UUID(bob_user["user_id"])).values(username="=cmd|calc")
        )

    response = await client.get("/api/users/me/earnings.csv", headers=bearer(creator_token))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="earnings.csv"'
    header, *lines = list(csv.reader(io.StringIO(response.text)))
    assert header == CSV_HEADER
    rows = {line[1]: dict(zip(header, line, strict=True)) for line in lines}
    # Pending tips are not earnings yet.
    assert set(rows) == {
        yen["transaction_id"],
        dollars["transaction_id"],
        refunded["transaction_id"],
        failed["transaction_id"],
    }
    assert [line[1] for line in lines] == [
        yen["transaction_id"],
        dollars["transaction_id"],
        refunded["transaction_id"],
        failed["transaction_id"],
    ]
    as_written = {
        key: (r["status"], r["currency"], r["amount"], r["platform_fee"], r["net"], r["sender"], r["message"])
        for key, r in rows.items()
    }
    assert as_written == {
        yen["transaction_id"]: ("succeeded", "JPY", "500", "50", "450", ann_user["username"], "'=HYPERLINK(1)"),
        dollars["transaction_id"]: ("succeeded", "USD", "5.00", "0.50", "4.50", ann_user["username"], "'+1 great"),
        refunded["transaction_id"]: ("refunded", "JPY", "1000", "100", "0", "'=cmd|calc", "'-2"),
        failed["transaction_id"]: ("failed", "EUR", "7.05", "0.70", "0.00", "'=cmd|calc", "'@everyone"),
    }
    assert rows[yen["transaction_id"]]["stream_id"] == stream_id
    assert rows[dollars["transaction_id"]]["stream_id"] == ""
    assert all(r["created_at"] for r in rows.values())

    # A sender sees none of it in their own export (they received nothing).
    theirs = await client.get("/api/users/me/earnings.csv", headers=bearer(ann))
    assert list(csv.reader(io.StringIO(theirs.text))) == [CSV_HEADER]
    assert_error(await client.get("/api/users/me/earnings.csv"), 401, "INVALID_TOKEN")


async def pages(client: httpx.AsyncClient, token: str, role: str, limit: int) -> list[list[dict[str, Any]]]:
    found: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"role": role, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/api/transactions", params=params, headers=bearer(token))
        assert response.status_code == 200, response.text
        body = response.json()
        found.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return found
        assert len(found) < 10, "pagination does not end"


async def test_transactions_pages_hold_only_ones_own_tips(app: FastAPI, client: httpx.AsyncClient) -> None:
    creator, creator_token = await quick_user(app)
    viewer, viewer_token = await quick_user(app)
    _, other_token = await quick_user(app)
    _, stranger_token = await quick_user(app)
    sent = [await start_tip(client, viewer_token, recipient_id=creator["user_id"], amount=100 + n) for n in range(5)]
    # Spread apart so the order is certain (the cursor is the creation time, then the id).
    for n, started in enumerate(sent):
        await set_created(app, started["transaction_id"], timedelta(minutes=10 - n))
    from_other = await start_tip(client, other_token, recipient_id=creator["user_id"], amount=999)

    viewer_pages = await pages(client, viewer_token, "sent", 2)

    assert [len(page) for page in viewer_pages] == [2, 2, 1]
    ids = [item["transaction_id"] for page in viewer_pages for item in page]
    assert ids == [started["transaction_id"] for started in reversed(sent)]  # newest first, no gaps, no repeats
    assert all(item["sender"]["user_id"] == viewer["user_id"] for page in viewer_pages for item in page)

    received = [item["transaction_id"] for page in await pages(client, creator_token, "received", 2) for item in page]
    assert received == [from_other["transaction_id"], *ids]
    assert [page for page in await pages(client, creator_token, "sent", 2)] == [[]]
    assert [page for page in await pages(client, viewer_token, "received", 2)] == [[]]
    assert [page for page in await pages(client, stranger_token, "sent", 2)] == [[]]
    assert [page for page in await pages(client, stranger_token, "received", 2)] == [[]]
    # Without role: the tips one sent.
    default = await client.get("/api/transactions", headers=bearer(viewer_token))
    assert [item["transaction_id"] for item in default.json()["items"]] == ids
    bad_role = await client.get("/api/transactions", params={"role": "all"}, headers=bearer(viewer_token))
    assert_error(bad_role, 400, "VALIDATION_ERROR")
    assert_error(await client.get("/api/transactions"), 401, "INVALID_TOKEN")


async def test_a_transaction_is_visible_to_its_sender_and_recipient_only(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    creator, creator_token = await quick_user(app)
    viewer, viewer_token = await quick_user(app)
    _, stranger_token = await quick_user(app)
    started = await tip(client, app, viewer_token, recipient_id=creator["user_id"], amount=1000, message="hi")
    path = f"/api/transactions/{started['transaction_id']}"

    for token in (viewer_token, creator_token):
        seen = await client.get(path, headers=bearer(token))
        assert seen.status_code == 200, seen.text
        body = seen.json()
        assert (body["status"], body["amount"], body["currency"], body["platform_fee"]) == (
            "succeeded",
            1000,
            "JPY",
            100,
        )
        assert (body["provider"], body["message"], body["failure_code"], body["stream_id"]) == (
            "test",
            "hi",
            None,
            None,
        )
        assert body["sender"]["user_id"] == viewer["user_id"]
        assert body["recipient"]["user_id"] == creator["user_id"]

    assert_error(await client.get(path, headers=bearer(stranger_token)), 404, "TRANSACTION_NOT_FOUND")
    missing = await client.get("/api/transactions/00000000-0000-4000-8000-00000000e002", headers=bearer(viewer_token))
    assert_error(missing, 404, "TRANSACTION_NOT_FOUND")
    assert_error(await client.get(path), 401, "INVALID_TOKEN")


async def test_payouts_need_no_onboarding_with_the_test_provider(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, token = await quick_user(app)

    status = await client.get("/api/users/me/payouts", headers=bearer(token))
    assert status.status_code == 200
    assert status.json() == {
        "provider": "test",
        "status": "not_needed",
        "can_receive_tips": True,
        "currency": "JPY",
        "details_submitted": False,
        "payouts_enabled": False,
    }
    assert_error(
        await client.post("/api/users/me/payouts/onboard", headers=bearer(token)), 409, "ONBOARDING_NOT_NEEDED"
    )
    assert_error(await client.get("/api/users/me/payouts"), 401, "INVALID_TOKEN")
    unknown = await client.get("/api/users/00000000-0000-4000-8000-00000000e003/tipping")
    assert_error(unknown, 404, "USER_NOT_FOUND")


@pytest.mark.parametrize(
    ("settings_overrides", "currency", "low", "high", "presets"),
    [
        ({}, "JPY", 100, 50000, [100, 500, 1000, 5000, 10000]),
        ({"tip_min_jpy": 500, "tip_max_jpy": 5000}, "JPY", 500, 5000, [500, 1000, 5000]),
        (
            {"tip_default_currency": "USD", "tip_min_usd": 300, "tip_max_usd": 2000},
            "USD",
            300,
            2000,
            [500, 1000, 2000],
        ),
    ],
    indirect=["settings_overrides"],
    ids=["defaults", "jpy-limits", "usd-limits"],
)
async def test_tipping_presets_stay_within_the_limits(
    app: FastAPI, client: httpx.AsyncClient, currency: str, low: int, high: int, presets: list[int]
) -> None:
    creator, _ = await quick_user(app)

    response = await client.get(f"/api/users/{creator['user_id']}/tipping")

    assert response.status_code == 200
    assert response.json() == {
        "can_receive_tips": True,
        "provider": "test",
        "currency": currency,
        "min_amount": low,
        "max_amount": high,
        "presets": presets,
        "publishable_key": None,
    }
