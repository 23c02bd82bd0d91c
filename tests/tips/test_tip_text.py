"""How tips read: money, fees, the creator's email and push, CSV cells (pure functions, no app)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from livestream.notifications.delivery import Written
from livestream.notifications.emails import Links, content_for
from livestream.payments.money import format_amount
from livestream.payments.test_provider import luhn_ok
from livestream.push.message import render
from livestream.tips.checkout import clean_message, platform_fee
from livestream.tips.export import major_units, safe_cell

PAYLOAD = {
    "transaction_id": str(uuid.UUID(int=1)),
    "amount": 1500,
    "currency": "USD",
    "message": "great\nstream",
    "stream_id": None,
    "sender": {"user_id": str(uuid.UUID(int=2)), "username": "alice", "display_name": "Alice"},
}


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [(500, "JPY", "¥500"), (123456, "JPY", "¥123,456"), (500, "USD", "$5.00"), (5, "EUR", "€0.05")],
)
def test_amounts_read_in_major_units(amount: int, currency: str, shown: str) -> None:
    assert format_amount(amount, currency) == shown


@pytest.mark.parametrize(
    ("amount", "percent", "fee"),
    [
        (500, Decimal(10), 50),
        (999, Decimal(10), 99),
        (101, Decimal("7.5"), 7),
        (100, Decimal(0), 0),
        (1, Decimal(50), 0),
    ],
)
def test_the_fee_is_rounded_down_to_the_minor_unit(amount: int, percent: Decimal, fee: int) -> None:
    assert platform_fee(amount, percent) == fee


def test_the_creator_is_emailed_who_tipped_how_much_and_what_they_said() -> None:
    content = content_for("tip_received", PAYLOAD, Links("https://live.example"))
    assert content.subject == "Alice tipped you $15.00"
    assert content.link == "https://live.example/earnings"
    assert content.detail is not None
    assert "great stream" in content.detail  # one line


def test_an_odd_payload_still_makes_an_email() -> None:
    content = content_for("tip_received", {"amount": "x", "sender": "?"}, Links("https://live.example"))
    assert content.subject == "A viewer sent you a tip"
    assert content.detail is None


def test_the_push_says_it_and_opens_the_earnings_page() -> None:
    row = Written(
        notification_id=uuid.UUID(int=3),
        user_id=uuid.UUID(int=4),
        kind="tip_received",
        payload=PAYLOAD,
        created_at=datetime(2026, 12, 7, tzinfo=UTC),
        new=True,
    )
    message = render(row, "https://live.example")
    assert message.title == "Alice tipped you $15.00"
    assert message.url == "https://live.example/earnings"
    assert message.urgency == "normal"


@pytest.mark.parametrize(
    ("value", "safe"),
    [("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("hi", "hi"), ("", "")],
)
def test_csv_cells_never_start_a_formula(value: str, safe: str) -> None:
    assert safe_cell(value) == safe


def test_csv_amounts_are_major_units() -> None:
    assert major_units(500, "JPY") == "500"
    assert major_units(505, "USD") == "5.05"
    assert major_units(0, "EUR") == "0.00"


def test_messages_are_cleaned_and_bounded() -> None:
    assert clean_message(None) is None
    assert clean_message(" \u200b ") is None
    assert clean_message("a\u202eb") == "ab"
    assert clean_message("x" * 200) == "x" * 200
    with pytest.raises(Exception, match="at most 200"):
        clean_message("x" * 201)


@pytest.mark.parametrize(
    ("number", "ok"), [("4242424242424242", True), ("4000000000000002", True), ("4242424242424241", False)]
)
def test_luhn(number: str, ok: bool) -> None:
    assert luhn_ok(number) is ok
