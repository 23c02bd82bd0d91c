"""Amounts as people read them: integer minor units in, "¥500" or "$5.00" out."""

from __future__ import annotations

from livestream.payments.base import CURRENCIES

SYMBOLS = {"JPY": "¥", "USD": "$", "EUR": "€"}


def format_amount(amount: int, currency: str) -> str:
    code = currency.upper()
    digits = CURRENCIES.get(code, 2)
    symbol = SYMBOLS.get(code, f"{code} ")
    if digits == 0:
        return f"{symbol}{amount:,}"
    whole, part = divmod(abs(amount), 10**digits)
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{whole:,}.{part:0{digits}d}"


def payload_amount(payload: dict[str, object]) -> str | None:
    """A stored tip's ``amount`` and ``currency`` as read, or None if the payload does not hold them."""
    amount, currency = payload.get("amount"), payload.get("currency")
    if isinstance(amount, int) and not isinstance(amount, bool) and isinstance(currency, str):
        return format_amount(amount, currency)
    return None
