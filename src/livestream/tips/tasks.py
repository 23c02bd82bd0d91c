"""The pending reconciler: a tip whose webhook never came is asked about and settled.

Every ``LS_RECONCILE_INTERVAL_SECONDS`` (one process per period), tips pending for more than ``STUCK`` are looked
up at the provider. A succeeded intent settles the tip as its webhook would have (announced once: the same
compare-and-set); a canceled one, or one whose payment failed, fails it; one nobody paid for ``ABANDONED``
(a 3-D Secure check left open included) is canceled at the provider and the tip fails as ``expired``. Intents still
processing are left for a later pass, behind the others (each tip looked at goes to the back of the queue). Then
refunds still owed (a payment for a failed tip or for another amount) whose job was lost are sent again, and
creators whose ``tip_received`` notification job was lost are told.
"""

from __future__ import annotations

from datetime import timedelta

from livestream.db import Database, utcnow
from livestream.jobs.periodic import PeriodicRunner
from livestream.logging import get_logger
from livestream.payments.base import Intent, PaymentProvider, ProviderError, ProviderRefused
from livestream.tips.checkout import TipCheckout
from livestream.tips.errors import PaymentProviderError
from livestream.tips.models import Transaction
from livestream.tips.repository import TipRepository
from livestream.tips.settlement import Settlement

log = get_logger("livestream.tips")

RECONCILE = "tips.reconcile_pending"
STUCK = timedelta(minutes=10)
ABANDONED = timedelta(hours=1)
# Looked at per pass, the least recently looked at first.
BATCH = 200
# A refund owed is the refund job's first; the reconciler sends those still owed this long after.
REFUND_GRACE = timedelta(minutes=2)
# Creators not yet told of a tip that succeeded within NOTIFY_LOOK_BACK, and not in the last NOTIFY_GRACE (its
# job may still be running), are told again (the notification is unique per tip: never twice).
NOTIFY_LOOK_BACK = timedelta(hours=6)
NOTIFY_GRACE = timedelta(minutes=2)
# Intents nobody finished paying: canceled once the tip is ABANDONED (a 3-D Secure check left open included).
UNPAID = frozenset({"requires_payment_method", "requires_confirmation", "requires_action"})


class TipJobs:
    def __init__(self, db: Database, provider: PaymentProvider, settlement: Settlement, checkout: TipCheckout) -> None:
        self.db = db
        self.provider = provider
        self.settlement = settlement
        self.checkout = checkout

    def register(self, periodic: PeriodicRunner, *, every: float) -> None:
        periodic.every(RECONCILE, every, self.reconcile)

    async def reconcile(self) -> None:
        await self.reconcile_pending()

    async def reconcile_pending(self) -> int:
        """Settle what can be settled, and send the refunds still owed; returns how many tips this pass moved."""
        now = utcnow()
        async with self.db.sessionmaker() as session:
            tips = TipRepository(session)
            stuck = await tips.pending_before(now - STUCK, BATCH)
            owed = await tips.refunds_due(now - REFUND_GRACE, BATCH)
        moved = 0
        for tip in stuck:
            try:
                changed = await self._settle(tip, abandoned=tip.created_at < now - ABANDONED)
            except (ProviderError, ProviderRefused, PaymentProviderError) as exc:
                log.warning("tip_reconcile_failed", transaction_id=str(tip.transaction_id), error=str(exc))
                changed = False
            except Exception as exc:
                # Whatever it is, one tip must not stop the pass (it goes to the back of the queue below).
                log.error("tip_reconcile_crashed", transaction_id=str(tip.transaction_id), error=repr(exc))
                changed = False
            if changed:
                moved += 1
            else:
                async with self.db.unit_of_work() as session:
                    await TipRepository(session).touch(tip.transaction_id, utcnow())
        for tip in owed:
            try:
                await self.settlement.refund_payment(str(tip.transaction_id))
            except (ProviderError, PaymentProviderError) as exc:
                log.warning("tip_refund_failed", transaction_id=str(tip.transaction_id), error=str(exc))
            except Exception as exc:
                log.error("tip_refund_crashed", transaction_id=str(tip.transaction_id), error=repr(exc))
        async with self.db.sessionmaker() as session:
            untold = await TipRepository(session).unnotified(now - NOTIFY_LOOK_BACK, now - NOTIFY_GRACE, BATCH)
        for transaction_id in untold:
            await self.settlement.announcer.succeeded(transaction_id, chat=False)
        if moved or owed or untold:
            log.info(
                "tips_reconciled", moved=moved, looked_at=len(stuck), refunds_due=len(owed), renotified=len(untold)
            )
        return moved

    async def _settle(self, tip: Transaction, *, abandoned: bool) -> bool:
        intent: Intent
        if tip.provider_payment_id is None:
            # The request died between our row and the provider's answer: the same key finds (or makes) it.
            intent = await self.checkout.attach_intent(tip)
        else:
            intent = await self.provider.retrieve_intent(tip.provider_payment_id)
        if intent.status == "succeeded":
            async with self.db.unit_of_work() as session:
                locked = await TipRepository(session).locked(tip.transaction_id)
                if locked is None:
                    return False
                outcome = await self.settlement.succeeded(session, locked, intent.amount, intent.currency.lower())
            return outcome in ("applied", "mismatch")
        if intent.status == "canceled" or (intent.status == "requires_payment_method" and intent.failure_code):
            async with self.db.unit_of_work() as session:
                code = intent.failure_code or "canceled"
                return await self.settlement.move(session, tip, "failed", failure_code=code)
        if abandoned and intent.status in UNPAID:
            await self.provider.cancel_intent(intent.id)
            async with self.db.unit_of_work() as session:
                return await self.settlement.move(session, tip, "failed", failure_code="expired")
        return False
