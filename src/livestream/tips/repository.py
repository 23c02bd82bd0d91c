"""Every query of the tips ledger."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from livestream.chat.models import ChatBan
from livestream.db import add_unless_conflict
from livestream.notifications.models import Notification, NotificationSettings
from livestream.pagination import Cursor
from livestream.streams.models import Stream
from livestream.tips.models import Transaction
from livestream.users.models import User

Role = Literal["sent", "received"]
Row = tuple[Transaction, User | None, User]


@dataclass(frozen=True)
class Moved:
    transaction_id: uuid.UUID
    provider_payment_id: str | None


@dataclass(frozen=True)
class Announcement:
    """What a succeeded tip shows: the tip, its sender, and whether the sender is banned from that chat now."""

    tip: Transaction
    sender: User | None
    banned: bool


@dataclass(frozen=True)
class Total:
    currency: str
    status: str
    count: int
    amount: int
    fees: int


@dataclass(frozen=True)
class StreamTotal:
    stream_id: uuid.UUID
    title: str | None
    started_at: datetime | None
    currency: str
    count: int
    amount: int
    fees: int


@dataclass(frozen=True)
class MonthTotal:
    month: str
    currency: str
    count: int
    amount: int
    fees: int


class TipRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    # --- writes ------------------------------------------------------------------------------------------

    async def add(self, transaction: Transaction) -> bool:
        """False when the sender used this idempotency key already (a request repeated at the same moment)."""
        return await add_unless_conflict(self.session, transaction)

    async def attach_intent(self, transaction_id: uuid.UUID, intent_id: str) -> None:
        await self.session.execute(
            update(Transaction)
            .where(Transaction.transaction_id == transaction_id, Transaction.provider_payment_id.is_(None))
            .values(provider_payment_id=intent_id)
        )

    async def move(
        self,
        where: ColumnElement[bool],
        *,
        to: str,
        allowed_from: Sequence[str],
        now: datetime,
        failure_code: str | None = None,
    ) -> Moved | None:
        """Compare-and-set of the status: the tip if it was in ``allowed_from`` and is ``to`` now, else None.
        Two deliveries of one event at once both try; one moves it."""
        values: dict[str, Any] = {
            "status": to,
            "updated_at": now,
            "settled_at": func.coalesce(Transaction.settled_at, now),
        }
        if failure_code is not None:
            values["failure_code"] = failure_code
        statement = (
            update(Transaction)
            .where(where, Transaction.status.in_(list(allowed_from)))
            .values(**values)
            .returning(Transaction.transaction_id, Transaction.provider_payment_id)
            .execution_options(synchronize_session=False)
        )
        moved = (await self.session.execute(statement)).first()
        return None if moved is None else Moved(transaction_id=moved[0], provider_payment_id=moved[1])

    # --- reads -------------------------------------------------------------------------------------------

    async def get(self, transaction_id: uuid.UUID, *, fresh: bool = False) -> Transaction | None:
        return await self.session.get(Transaction, transaction_id, populate_existing=fresh)

    async def by_key(self, sender_id: uuid.UUID, idempotency_key: str) -> Transaction | None:
        query = select(Transaction).where(
            Transaction.sender_id == sender_id, Transaction.idempotency_key == idempotency_key
        )
        return (await self.session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()

    async def by_payment(self, intent_id: str, *, for_update: bool = False) -> Transaction | None:
        """``for_update``: locked (PostgreSQL) until the transaction ends, so that what the caller decides from
        the status it reads still holds when it writes (two events about one tip at once wait for each other)."""
        query = select(Transaction).where(Transaction.provider_payment_id == intent_id)
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()

    async def locked(self, transaction_id: uuid.UUID) -> Transaction | None:
        query = select(Transaction).where(Transaction.transaction_id == transaction_id).with_for_update()
        return (await self.session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()

    async def owe_refund(self, transaction_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(Transaction)
            .where(Transaction.transaction_id == transaction_id)
            .values(refund_due=True, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    async def refunded(self, transaction_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(Transaction)
            .where(Transaction.transaction_id == transaction_id)
            .values(refund_due=False, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    async def touch(self, transaction_id: uuid.UUID, now: datetime) -> None:
        """Looked at and left as it is: to the back of the reconciler's queue."""
        await self.session.execute(
            update(Transaction)
            .where(Transaction.transaction_id == transaction_id)
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )

    async def unnotified(self, since: datetime, until: datetime, limit: int) -> list[uuid.UUID]:
        """Tips that succeeded between ``since`` and ``until`` whose recipient wants to hear of tips and has no
        ``tip_received`` notification of them (its job was lost)."""
        wants = or_(NotificationSettings.tip_received.is_(None), NotificationSettings.tip_received.is_(True))
        query = (
            select(Transaction.transaction_id, Transaction.recipient_id)
            .outerjoin(NotificationSettings, NotificationSettings.user_id == Transaction.recipient_id)
            .where(
                Transaction.status == "succeeded",
                Transaction.settled_at >= since,
                Transaction.settled_at < until,
                wants,
            )
            .order_by(Transaction.settled_at)
            .limit(limit)
        )
        candidates = (await self.session.execute(query)).all()
        if not candidates:
            return []
        keys = {f"tip_received:{tip_id}": tip_id for tip_id, _ in candidates}
        told = select(Notification.event_key).where(
            Notification.user_id.in_({recipient for _, recipient in candidates}),
            Notification.event_key.in_(list(keys)),
        )
        done = set((await self.session.execute(told)).scalars())
        return [tip_id for key, tip_id in keys.items() if key not in done]

    async def refunds_due(self, before: datetime, limit: int) -> list[Transaction]:
        query = (
            select(Transaction)
            .where(Transaction.refund_due.is_(True), Transaction.updated_at < before)
            .order_by(Transaction.updated_at)
            .limit(limit)
        )
        return list((await self.session.execute(query)).scalars())

    async def with_parties(self, transaction_id: uuid.UUID) -> Row | None:
        query = _with_parties().where(Transaction.transaction_id == transaction_id)
        row = (await self.session.execute(query)).one_or_none()
        return None if row is None else (row[0], row[1], row[2])

    async def announcement(self, transaction_id: uuid.UUID, now: datetime) -> Announcement | None:
        """One round trip for the chat frame."""
        banned = (
            select(ChatBan.user_id)
            .where(
                ChatBan.channel_id == Transaction.recipient_id,
                ChatBan.user_id == Transaction.sender_id,
                or_(ChatBan.expires_at.is_(None), ChatBan.expires_at > now),
            )
            .exists()
        )
        query = (
            select(Transaction, User, banned)
            .outerjoin(User, User.user_id == Transaction.sender_id)
            .where(Transaction.transaction_id == transaction_id)
        )
        row = (await self.session.execute(query)).one_or_none()
        return None if row is None else Announcement(tip=row[0], sender=row[1], banned=bool(row[2]))

    async def page(self, user_id: uuid.UUID, role: Role, *, limit: int, cursor: Cursor | None) -> list[Row]:
        mine = Transaction.sender_id == user_id if role == "sent" else Transaction.recipient_id == user_id
        query = (
            _with_parties()
            .where(mine)
            .order_by(Transaction.created_at.desc(), Transaction.transaction_id.desc())
            .limit(limit)
        )
        if cursor is not None:
            query = query.where(_before(cursor))
        return [(t, s, r) for t, s, r in (await self.session.execute(query)).all()]

    async def received_batch(self, user_id: uuid.UUID, *, after: Cursor | None, limit: int) -> list[Row]:
        """Oldest first, for the CSV export."""
        query = (
            _with_parties()
            .where(Transaction.recipient_id == user_id, Transaction.status != "pending")
            .order_by(Transaction.created_at, Transaction.transaction_id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(
                or_(
                    Transaction.created_at > after.created_at,
                    and_(Transaction.created_at == after.created_at, Transaction.transaction_id > after.id),
                )
            )
        return [(t, s, r) for t, s, r in (await self.session.execute(query)).all()]

    async def totals(self, recipient_id: uuid.UUID, stream_id: uuid.UUID | None = None) -> list[Total]:
        query = (
            select(
                Transaction.currency,
                Transaction.status,
                func.count(),
                func.coalesce(func.sum(Transaction.amount), 0),
                func.coalesce(func.sum(Transaction.platform_fee), 0),
            )
            .where(Transaction.recipient_id == recipient_id)
            .group_by(Transaction.currency, Transaction.status)
            .order_by(Transaction.currency, Transaction.status)
        )
        if stream_id is not None:
            query = query.where(Transaction.stream_id == stream_id)
        rows = (await self.session.execute(query)).all()
        return [Total(c, s, int(n), int(a), int(f)) for c, s, n, a, f in rows]

    async def by_stream(self, recipient_id: uuid.UUID, limit: int) -> list[StreamTotal]:
        """Succeeded tips per stream, the most recent streams first."""
        query = (
            select(
                Transaction.stream_id,
                Stream.title,
                Stream.started_at,
                Transaction.currency,
                func.count(),
                func.sum(Transaction.amount),
                func.sum(Transaction.platform_fee),
            )
            .join(Stream, Stream.stream_id == Transaction.stream_id)
            .where(Transaction.recipient_id == recipient_id, Transaction.status == "succeeded")
            .group_by(Transaction.stream_id, Stream.title, Stream.started_at, Transaction.currency)
            .order_by(Stream.started_at.desc(), Transaction.currency)
            .limit(limit)
        )
        rows = (await self.session.execute(query)).all()
        return [StreamTotal(s, t, at, c, int(n), int(a), int(f)) for s, t, at, c, n, a, f in rows if s is not None]

    async def by_month(self, recipient_id: uuid.UUID, since: datetime) -> list[MonthTotal]:
        """Succeeded tips per calendar month (UTC), the latest first."""
        month: Any = (
            func.to_char(func.timezone("UTC", Transaction.created_at), "YYYY-MM")
            if self._postgres
            else func.strftime("%Y-%m", Transaction.created_at)
        )
        query = (
            select(
                month,
                Transaction.currency,
                func.count(),
                func.sum(Transaction.amount),
                func.sum(Transaction.platform_fee),
            )
            .where(
                Transaction.recipient_id == recipient_id,
                Transaction.status == "succeeded",
                Transaction.created_at >= since,
            )
            .group_by(month, Transaction.currency)
            .order_by(month.desc(), Transaction.currency)
        )
        rows = (await self.session.execute(query)).all()
        return [MonthTotal(str(m), c, int(n), int(a), int(f)) for m, c, n, a, f in rows]

    async def pending_before(self, moment: datetime, limit: int) -> list[Transaction]:
        """Pending since before ``moment``, the least recently looked at first (``touch``): tips that stay
        pending (a payment still processing) go to the back and never starve the others."""
        query = (
            select(Transaction)
            .where(Transaction.status == "pending", Transaction.created_at < moment)
            .order_by(Transaction.updated_at)
            .limit(limit)
        )
        return list((await self.session.execute(query)).scalars())


def _with_parties() -> Select[Transaction, User, User]:
    """A tip with its sender (null once the account is gone) and its recipient."""
    sender, recipient = aliased(User), aliased(User)
    return (
        select(Transaction, sender, recipient)
        .outerjoin(sender, sender.user_id == Transaction.sender_id)
        .join(recipient, recipient.user_id == Transaction.recipient_id)
    )


def _before(cursor: Cursor) -> ColumnElement[bool]:
    return or_(
        Transaction.created_at < cursor.created_at,
        and_(Transaction.created_at == cursor.created_at, Transaction.transaction_id < cursor.id),
    )
