"""Reading the ledger: one's own tips, a creator's earnings; no HTTP here."""

from __future__ import annotations

import uuid
from datetime import timedelta

from livestream.db import utcnow
from livestream.pagination import Cursor, Page
from livestream.tips import errors
from livestream.tips.repository import Role, Row, TipRepository
from livestream.tips.schemas import (
    Count,
    CurrencyEarnings,
    Earnings,
    MonthEarnings,
    Party,
    StreamEarnings,
    TransactionOut,
)
from livestream.users.models import User

# The earnings page's tables: the last two years by month, the last 100 streams with tips.
MONTHS_BACK = timedelta(days=731)
STREAMS_SHOWN = 100


class TipLedger:
    def __init__(self, tips: TipRepository) -> None:
        self.tips = tips

    async def get(self, user_id: uuid.UUID, transaction_id: uuid.UUID) -> TransactionOut:
        """Only its sender and its recipient see a tip; for anyone else it does not exist."""
        found = await self.tips.with_parties(transaction_id)
        if found is None or user_id not in (found[0].sender_id, found[0].recipient_id):
            raise errors.TransactionNotFound()
        return out(found)

    async def page(self, user_id: uuid.UUID, role: Role, *, limit: int, cursor: Cursor | None) -> Page[TransactionOut]:
        rows = await self.tips.page(user_id, role, limit=limit + 1, cursor=cursor)
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1][0] if more and rows else None
        next_cursor = Cursor(created_at=last.created_at, id=last.transaction_id).encode() if last else None
        return Page(items=[out(row) for row in rows], next_cursor=next_cursor)

    async def earnings(self, user_id: uuid.UUID, stream_id: uuid.UUID | None) -> Earnings:
        totals = await self.tips.totals(user_id, stream_id)
        currencies: dict[str, dict[str, Count]] = {}
        fees: dict[str, int] = {}
        for total in totals:
            currencies.setdefault(total.currency, {})[total.status] = Count(count=total.count, amount=total.amount)
            if total.status == "succeeded":
                fees[total.currency] = total.fees
        by_currency = []
        for currency, counts in sorted(currencies.items()):
            succeeded = counts.get("succeeded", Count(count=0, amount=0))
            fee = fees.get(currency, 0)
            by_currency.append(
                CurrencyEarnings(
                    currency=currency,
                    succeeded=succeeded,
                    pending=counts.get("pending", Count(count=0, amount=0)),
                    failed=counts.get("failed", Count(count=0, amount=0)),
                    refunded=counts.get("refunded", Count(count=0, amount=0)),
                    disputed=counts.get("disputed", Count(count=0, amount=0)),
                    fees=fee,
                    net=succeeded.amount - fee,
                )
            )
        if stream_id is not None:
            return Earnings(currencies=by_currency, by_stream=[], by_month=[])
        streams = [
            StreamEarnings(
                stream_id=s.stream_id,
                title=s.title,
                started_at=s.started_at,
                currency=s.currency,
                count=s.count,
                amount=s.amount,
                fees=s.fees,
                net=s.amount - s.fees,
            )
            for s in await self.tips.by_stream(user_id, STREAMS_SHOWN)
        ]
        months = [
            MonthEarnings(
                month=m.month,
                currency=m.currency,
                count=m.count,
                amount=m.amount,
                fees=m.fees,
                net=m.amount - m.fees,
            )
            for m in await self.tips.by_month(user_id, utcnow() - MONTHS_BACK)
        ]
        return Earnings(currencies=by_currency, by_stream=streams, by_month=months)


def party(user: User) -> Party:
    return Party(user_id=user.user_id, username=user.username, display_name=user.display_name)


def out(row: Row) -> TransactionOut:
    tip, sender, recipient = row
    return TransactionOut(
        transaction_id=tip.transaction_id,
        status=tip.status,
        amount=tip.amount,
        currency=tip.currency,
        message=tip.message,
        platform_fee=tip.platform_fee,
        stream_id=tip.stream_id,
        provider=tip.provider,
        sender=party(sender) if sender is not None else None,
        recipient=party(recipient),
        failure_code=tip.failure_code,
        created_at=tip.created_at,
        updated_at=tip.updated_at,
    )
