"""A creator's received tips as CSV, written a page at a time (never the whole ledger in memory)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator

from livestream.db import Database
from livestream.pagination import Cursor
from livestream.payments.base import CURRENCIES
from livestream.tips.repository import Row, TipRepository

HEADER = [
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
BATCH = 500
# A spreadsheet runs a cell that starts with one of these as a formula ("CSV injection"): such cells get a quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "|", "%")


def safe_cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def major_units(amount: int, currency: str) -> str:
    digits = CURRENCIES.get(currency, 2)
    if digits == 0:
        return str(amount)
    whole, part = divmod(amount, 10**digits)
    return f"{whole}.{part:0{digits}d}"


def _line(row: Row) -> list[str]:
    tip, sender, _ = row
    net = tip.amount - tip.platform_fee if tip.status == "succeeded" else 0
    return [
        tip.created_at.isoformat(),
        str(tip.transaction_id),
        tip.status,
        tip.currency,
        major_units(tip.amount, tip.currency),
        major_units(tip.platform_fee, tip.currency),
        major_units(net, tip.currency),
        str(tip.stream_id) if tip.stream_id else "",
        safe_cell(sender.username) if sender is not None else "",
        safe_cell(tip.message or ""),
    ]


class EarningsExport:
    """The CSV export reads in batches, each in its own short session, while the response streams."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def received_csv(self, user_id: uuid.UUID) -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(HEADER)
        after: Cursor | None = None
        while True:
            async with self.db.sessionmaker() as session:
                rows = await TipRepository(session).received_batch(user_id, after=after, limit=BATCH)
            for row in rows:
                writer.writerow(_line(row))
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            if len(rows) < BATCH:
                return
            last = rows[-1][0]
            after = Cursor(created_at=last.created_at, id=last.transaction_id)
