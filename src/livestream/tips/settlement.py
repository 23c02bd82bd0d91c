"""The one writer of a tip's status, from webhook events and from the pending reconciler.

``pending`` → ``succeeded`` | ``failed``; ``succeeded`` → ``refunded`` | ``disputed``. Each move is a
compare-and-set on the row, so an event delivered twice, two at once, or a reconciler racing a webhook moves it
once, and only the move announces the tip. Events may come out of order: a refund or dispute seen while the tip is
still pending moves it straight there (the success it implies is never announced), and the success that follows
changes nothing. A failed tip's intent is canceled at the provider so it cannot be paid later; if a success still
arrives for it (paid in the moment before the cancel), the payment is refunded rather than left uncredited.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from livestream.db import Database, after_commit, utcnow
from livestream.jobs.runtime import JobRuntime
from livestream.logging import get_logger
from livestream.payments.base import PaymentProvider, ProviderRefused, WebhookEvent
from livestream.payments.events import PaymentEvents, account_of
from livestream.payments.repository import PayoutAccountRepository
from livestream.tips.announce import TipAnnouncer
from livestream.tips.models import Transaction
from livestream.tips.repository import TipRepository

log = get_logger("livestream.tips")

CANCEL = "tips.cancel_intent"
REFUND = "tips.refund_payment"
# Where each status may be reached from.
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "succeeded": ("pending",),
    "failed": ("pending",),
    "refunded": ("pending", "succeeded"),
    "disputed": ("pending", "succeeded"),
}


class Settlement:
    def __init__(self, db: Database, jobs: JobRuntime, provider: PaymentProvider, announcer: TipAnnouncer) -> None:
        self.db = db
        self.jobs = jobs
        self.provider = provider
        self.announcer = announcer

    def register(self, events: PaymentEvents) -> None:
        events.on("payment_intent.succeeded", self._intent_succeeded)
        events.on("payment_intent.payment_failed", self._intent_failed)
        events.on("charge.refunded", self._charge_refunded)
        events.on("charge.dispute.created", self._dispute_created)
        events.on("account.updated", self._account_updated)
        self.jobs.register(CANCEL, self.cancel_intent)
        self.jobs.register(REFUND, self.refund_payment)

    # --- the moves ---------------------------------------------------------------------------------------

    async def move(self, session: AsyncSession, tip: Transaction, to: str, *, failure_code: str | None = None) -> bool:
        moved = await TipRepository(session).move(
            Transaction.transaction_id == tip.transaction_id,
            to=to,
            allowed_from=ALLOWED_FROM[to],
            now=utcnow(),
            failure_code=failure_code,
        )
        if moved is None:
            return False
        log.info("tip_moved", transaction_id=str(tip.transaction_id), status=to, previous=tip.status)
        transaction_id, intent_id = moved.transaction_id, moved.provider_payment_id
        if to == "succeeded":

            async def announce() -> None:
                await self.announcer.succeeded(transaction_id)

            after_commit(session, announce)
        elif to == "failed" and intent_id is not None:

            async def cancel() -> None:
                await self.jobs.enqueue(CANCEL, intent_id=intent_id)

            after_commit(session, cancel)
        return True

    async def succeeded(self, session: AsyncSession, tip: Transaction, amount: Any, currency: Any) -> str:
        """The provider says the tip's payment succeeded. ``tip`` was read locked (``by_payment(for_update)``), so
        its status is the one this transaction writes over."""
        if amount != tip.amount or not isinstance(currency, str) or currency.upper() != tip.currency:
            # Signed by the provider, yet not what we asked for: never credited, and given back.
            log.error("tip_amount_mismatch", transaction_id=str(tip.transaction_id))
            if tip.status == "pending":
                await self.move(session, tip, "failed", failure_code="amount_mismatch")
            if tip.status in ("pending", "failed"):
                self.owe_refund(session, tip)
            return "mismatch"
        if tip.status != "failed" and await self.move(session, tip, "succeeded"):
            return "applied"
        # Not moved. Read again: on SQLite the read above held no lock, and a failure may have landed since (the
        # UPDATE that just matched nothing holds the write lock now, so this read is the final word).
        current = await TipRepository(session).get(tip.transaction_id, fresh=True)
        if current is not None and current.status == "failed":
            # Paid in the moment before its intent was canceled: the money goes back, the tip stays failed.
            log.error("tip_paid_after_failure", transaction_id=str(tip.transaction_id))
            self.owe_refund(session, current)
            return "refunding"
        return "unchanged"

    def owe_refund(self, session: AsyncSession, tip: Transaction) -> None:
        """Recorded on the row in this transaction (the reconciler finds it if the job is lost), sent after it."""
        transaction_id = tip.transaction_id
        tip.refund_due = True

        async def refund() -> None:
            await self.jobs.enqueue(REFUND, transaction_id=str(transaction_id))

        after_commit(session, refund)

    # --- webhook handlers --------------------------------------------------------------------------------

    async def _intent_succeeded(self, session: AsyncSession, event: WebhookEvent) -> str:
        tip = await self._tip_of_intent(session, event.object)
        if tip is None:
            return "unknown"
        return await self.succeeded(session, tip, event.object.get("amount"), event.object.get("currency"))

    async def _intent_failed(self, session: AsyncSession, event: WebhookEvent) -> str:
        tip = await self._tip_of_intent(session, event.object)
        if tip is None:
            return "unknown"
        return (
            "applied" if await self.move(session, tip, "failed", failure_code=_failure(event.object)) else "unchanged"
        )

    async def _charge_refunded(self, session: AsyncSession, event: WebhookEvent) -> str:
        tip = await self._tip_of_charge(session, event.object)
        if tip is None:
            return "unknown"
        if event.object.get("refunded") is not True:
            # A partial refund: the tip stays succeeded (refunds are given whole from the dashboard).
            log.warning("tip_partly_refunded", transaction_id=str(tip.transaction_id))
            return "partial"
        return "applied" if await self.move(session, tip, "refunded") else "unchanged"

    async def _dispute_created(self, session: AsyncSession, event: WebhookEvent) -> str:
        tip = await self._tip_of_charge(session, event.object)
        if tip is None:
            return "unknown"
        return "applied" if await self.move(session, tip, "disputed") else "unchanged"

    async def _account_updated(self, session: AsyncSession, event: WebhookEvent) -> str:
        account = account_of(event.object)
        if account is None:
            return "unknown"
        return "applied" if await PayoutAccountRepository(session).update_from(account) else "unknown"

    async def _tip_of_intent(self, session: AsyncSession, intent: dict[str, Any]) -> Transaction | None:
        """The tip an intent pays: by its id, or (the process died before storing the id) by its metadata."""
        intent_id = intent.get("id")
        if not isinstance(intent_id, str):
            return None
        tips = TipRepository(session)
        tip = await tips.by_payment(intent_id, for_update=True)
        if tip is not None:
            return tip
        metadata = intent.get("metadata")
        claimed = metadata.get("transaction_id") if isinstance(metadata, dict) else None
        try:
            transaction_id = uuid.UUID(str(claimed))
        except ValueError:
            return None
        tip = await tips.locked(transaction_id)
        if tip is None:
            return None
        if tip.provider_payment_id is not None:
            # A second intent for one tip (made after the provider forgot the first one's key): an operator's.
            log.error("tip_second_intent", transaction_id=str(transaction_id), intent_id=intent_id)
            return None
        await tips.attach_intent(tip.transaction_id, intent_id)
        return await tips.locked(transaction_id)

    async def _tip_of_charge(self, session: AsyncSession, charge: dict[str, Any]) -> Transaction | None:
        intent_id = charge.get("payment_intent")
        if isinstance(intent_id, dict):  # expanded
            intent_id = intent_id.get("id")
        if not isinstance(intent_id, str):
            return None
        return await TipRepository(session).by_payment(intent_id, for_update=True)

    # --- jobs --------------------------------------------------------------------------------------------

    async def cancel_intent(self, intent_id: str) -> None:
        try:
            await self.provider.cancel_intent(intent_id)
        except ProviderRefused:
            # Paid in the meantime. Its success event would say so, but it may never come (the reconciler only
            # looks at pending tips): ask now, and owe the refund if it was paid.
            log.warning("tip_cancel_refused", intent_id=intent_id)
            intent = await self.provider.retrieve_intent(intent_id)
            if intent.status != "succeeded":
                return
            async with self.db.unit_of_work() as session:
                tip = await TipRepository(session).by_payment(intent_id, for_update=True)
                if tip is not None:
                    await self.succeeded(session, tip, intent.amount, intent.currency.lower())

    async def refund_payment(self, transaction_id: str) -> None:
        """Give back a payment the row says is owed. Refunds are idempotent at the provider (one key per
        intent), so a second run, or the reconciler beside it, refunds once."""
        ident = uuid.UUID(transaction_id)
        async with self.db.sessionmaker() as session:
            tip = await TipRepository(session).get(ident)
        if tip is None or not tip.refund_due or tip.provider_payment_id is None:
            return
        intent_id = tip.provider_payment_id
        try:
            await self.provider.refund(intent_id, idempotency_key=f"refund-{intent_id}")
        except ProviderRefused as exc:
            # The row stays owed: the reconciler tries again every pass and logs it each time, for an operator.
            log.error("tip_refund_refused", transaction_id=transaction_id, error=str(exc))
            async with self.db.unit_of_work() as session:
                await TipRepository(session).touch(ident, utcnow())
            return
        async with self.db.unit_of_work() as session:
            await TipRepository(session).refunded(ident, utcnow())
        log.info("tip_payment_refunded", transaction_id=transaction_id)


def _failure(intent: dict[str, Any]) -> str:
    error = intent.get("last_payment_error")
    if isinstance(error, dict):
        for key in ("decline_code", "code"):
            value = error.get(key)
            if isinstance(value, str) and value:
                return value[:60]
    return "payment_failed"
