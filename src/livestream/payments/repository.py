"""Queries of the payments tables: webhook events received, payout accounts, the test provider's intents."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from livestream.db import add_unless_conflict, utcnow
from livestream.payments.base import Account, WebhookEvent
from livestream.payments.models import PaymentEvent, PayoutAccount, TestIntent


class PaymentEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, event: WebhookEvent, provider: str) -> bool:
        """Store the event; False when it was stored before (a repeated delivery). Concurrent deliveries of one
        event: the second insert waits on the first's row and then does nothing, so one handles it."""
        object_id = event.object.get("id")
        dialect = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(PaymentEvent)
            .values(
                event_id=event.id,
                provider=provider,
                type=event.type,
                object_id=object_id[:255] if isinstance(object_id, str) else None,
                livemode=event.livemode,
                created=datetime.fromtimestamp(event.created, UTC),
                received_at=utcnow(),
                outcome="received",
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(PaymentEvent.event_id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def set_outcome(self, event_id: str, outcome: str) -> None:
        await self.session.execute(
            update(PaymentEvent).where(PaymentEvent.event_id == event_id).values(outcome=outcome)
        )

    async def get(self, event_id: str) -> PaymentEvent | None:
        return await self.session.get(PaymentEvent, event_id)


class PayoutAccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_user(self, user_id: uuid.UUID) -> PayoutAccount | None:
        return await self.session.get(PayoutAccount, user_id)

    async def add(self, user_id: uuid.UUID, provider: str, account: Account) -> bool:
        now = utcnow()
        row = PayoutAccount(user_id=user_id, provider=provider, account_id=account.id, created_at=now, updated_at=now)
        _apply(row, account)
        return await add_unless_conflict(self.session, row)

    async def update_from(self, account: Account) -> bool:
        """Bring the stored flags up to the provider's (``account.updated``); False for an account not ours."""
        row = (
            await self.session.execute(
                select(PayoutAccount).where(PayoutAccount.account_id == account.id).with_for_update()
            )
        ).scalar_one_or_none()
        if row is None:
            return False
        _apply(row, account)
        row.updated_at = utcnow()
        await self.session.flush()
        return True


def _apply(row: PayoutAccount, account: Account) -> None:
    row.details_submitted = account.details_submitted
    row.charges_enabled = account.charges_enabled
    row.payouts_enabled = account.payouts_enabled
    row.transfers_active = account.transfers_active
    if account.default_currency:
        row.currency = account.default_currency


class TestIntentRepository:
    __test__ = False  # not a pytest class, whatever its name

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_key(self, idempotency_key: str) -> TestIntent | None:
        return (
            await self.session.execute(select(TestIntent).where(TestIntent.idempotency_key == idempotency_key))
        ).scalar_one_or_none()

    async def get(self, intent_id: str, *, for_update: bool = False, fresh: bool = False) -> TestIntent | None:
        query = select(TestIntent).where(TestIntent.intent_id == intent_id)
        if fresh:
            query = query.execution_options(populate_existing=True)
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def add(self, intent: TestIntent) -> bool:
        return await add_unless_conflict(self.session, intent)

    async def move(
        self, intent_id: str, allowed_from: Iterable[str], *, status: str, failure_code: str | None, now: datetime
    ) -> TestIntent | None:
        """Compare-and-set: the intent moved to ``status`` if it was in ``allowed_from``, else None."""
        moved = (
            await self.session.execute(
                update(TestIntent)
                .where(TestIntent.intent_id == intent_id, TestIntent.status.in_(list(allowed_from)))
                .values(status=status, failure_code=failure_code, updated_at=now)
                .returning(TestIntent.intent_id)
                .execution_options(synchronize_session=False)
            )
        ).first()
        if moved is None:
            return None
        return await self.get(intent_id, fresh=True)
