"""Starting a tip: checks, the pending row, the provider's PaymentIntent; no HTTP here.

The pending row is committed before the provider is called and the intent's id written after, each in a short
transaction of its own: no database lock is held across a network call. A crash in between leaves a pending row
whose intent the same Idempotency-Key (or the reconciler) finds again, because the provider's own idempotency key
is the transaction's id.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from livestream.chat.repository import ChatRepository
from livestream.config import Settings
from livestream.db import Database, utcnow
from livestream.errors import TooManyRequests, ValidationFailed
from livestream.logging import get_logger
from livestream.payments.base import Intent, IntentRequest, PaymentProvider, ProviderError, ProviderRefused
from livestream.payments.repository import PayoutAccountRepository
from livestream.ratelimit import Counters
from livestream.streams.errors import StreamNotFound
from livestream.streams.repository import StreamRepository
from livestream.tips import errors
from livestream.tips.models import MESSAGE_MAX, Transaction
from livestream.tips.repository import TipRepository
from livestream.tips.schemas import TipCreate
from livestream.tips.settlement import Settlement
from livestream.users.repository import UserRepository
from livestream.validation import clean_line

log = get_logger("livestream.tips")

# A stream takes tips while live and for this long after it ends (the viewers who stayed to the end).
AFTER_END = timedelta(hours=1)
# New tips one account may start in an hour: generous for a fan, a wall for a card-testing script.
TIPS_PER_HOUR = 30


@dataclass(frozen=True)
class Started:
    tip: Transaction
    intent: Intent | None
    replayed: bool


def platform_fee(amount: int, percent: Decimal) -> int:
    return int((Decimal(amount) * percent / 100).to_integral_value(rounding=ROUND_FLOOR))


def intent_key(transaction_id: uuid.UUID) -> str:
    return f"tip-{transaction_id}"


def clean_message(message: str | None) -> str | None:
    """As chat shows a line (validation.clean_line), at most MESSAGE_MAX characters; blank is none."""
    if message is None:
        return None
    try:
        cleaned = clean_line(message)
    except ValueError as exc:
        raise ValidationFailed(f"message {exc}", extra={"fields": {"message": str(exc)}}) from None
    if len(cleaned) > MESSAGE_MAX:
        raise ValidationFailed(
            f"message: at most {MESSAGE_MAX} characters",
            extra={"fields": {"message": f"at most {MESSAGE_MAX} characters"}},
        )
    return cleaned or None


def request_hash(body: TipCreate, message: str | None) -> str:
    canonical = {
        "recipient_id": str(body.recipient_id) if body.recipient_id else None,
        "stream_id": str(body.stream_id) if body.stream_id else None,
        "amount": body.amount,
        "currency": body.currency,
        "message": message,
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


class TipCheckout:
    def __init__(
        self, db: Database, provider: PaymentProvider, settings: Settings, counters: Counters, settlement: Settlement
    ) -> None:
        self.db = db
        self.settlement = settlement
        self.provider = provider
        self.settings = settings
        self.counters = counters

    async def start(self, sender_id: uuid.UUID, body: TipCreate, key: str) -> Started:
        message = clean_message(body.message)
        low, high = self.settings.tip_limits(body.currency)
        if not low <= body.amount <= high:
            raise errors.AmountOutOfRange(
                f"A tip in {body.currency} is from {low} to {high} (in minor units)",
                extra={"min_amount": low, "max_amount": high, "currency": body.currency},
            )
        digest = request_hash(body, message)
        async with self.db.unit_of_work() as session:
            tips = TipRepository(session)
            existing = await tips.by_key(sender_id, key)
            if existing is None:
                tip = await self._new(session, sender_id, body, message, key, digest)
                # Counted once the tip is a valid one: a mistyped amount does not use up the hour.
                burst = await self.counters.hit(f"tips:{sender_id}", 3600)
                if burst.count > TIPS_PER_HOUR:
                    raise TooManyRequests(burst.retry_after, "You have started many tips this hour; try again later")
                if not await tips.add(tip):  # the same key at the same moment: the other request's row
                    existing = await tips.by_key(sender_id, key)
                    if existing is None:
                        raise errors.IdempotencyConflict()
        if existing is not None:
            if existing.request_hash != digest:
                raise errors.IdempotencyConflict()
            return Started(tip=existing, intent=await self._resume(existing), replayed=True)
        return Started(tip=tip, intent=await self.attach_intent(tip), replayed=False)

    async def _new(
        self, session: AsyncSession, sender_id: uuid.UUID, body: TipCreate, message: str | None, key: str, digest: str
    ) -> Transaction:
        now = utcnow()
        recipient_id = body.recipient_id
        if body.stream_id is not None:
            stream = await StreamRepository(session).get(body.stream_id)
            if stream is None:
                raise StreamNotFound()
            if recipient_id is not None and recipient_id != stream.user_id:
                raise errors.RecipientMismatch()
            ended_long_ago = stream.status != "live" and (stream.ended_at is None or stream.ended_at < now - AFTER_END)
            if ended_long_ago:
                raise errors.StreamNotTippable()
            recipient_id = stream.user_id
        if recipient_id is None:
            raise errors.RecipientRequired()
        if recipient_id == sender_id:
            raise errors.CannotTipSelf()
        if await UserRepository(session).get(recipient_id) is None:
            raise errors.RecipientNotFound()
        if await ChatRepository(session).active_ban(recipient_id, sender_id, now) is not None:
            raise errors.BannedFromChannel()
        if self.provider.needs_onboarding:
            account = await PayoutAccountRepository(session).of_user(recipient_id)
            if account is None or not account.transfers_active:
                raise errors.RecipientNotOnboarded()
        return Transaction(
            transaction_id=uuid.uuid4(),
            sender_id=sender_id,
            recipient_id=recipient_id,
            stream_id=body.stream_id,
            amount=body.amount,
            currency=body.currency,
            status="pending",
            provider=self.provider.name,
            message=message,
            platform_fee=platform_fee(body.amount, self.settings.platform_fee_percent),
            idempotency_key=key,
            request_hash=digest,
            created_at=now,
            updated_at=now,
        )

    async def _resume(self, tip: Transaction) -> Intent | None:
        """A replayed request: the same intent again (its client secret is not stored, so it is fetched)."""
        if tip.status != "pending":
            return None
        if tip.provider_payment_id is None:
            return await self.attach_intent(tip)
        try:
            return await self.provider.retrieve_intent(tip.provider_payment_id)
        except ProviderError as exc:
            raise errors.PaymentProviderError() from exc
        except ProviderRefused as exc:
            log.error("tip_intent_lost", transaction_id=str(tip.transaction_id), error=str(exc))
            raise errors.PaymentProviderError("The payment provider no longer knows this payment") from exc

    async def attach_intent(self, tip: Transaction) -> Intent:
        """The tip's PaymentIntent, made (or found again, by its key) at the provider, and its id stored."""
        destination = None
        if self.provider.needs_onboarding:
            async with self.db.sessionmaker() as session:
                account = await PayoutAccountRepository(session).of_user(tip.recipient_id)
            destination = account.account_id if account is not None else None
        request = IntentRequest(
            transaction_id=tip.transaction_id,
            amount=tip.amount,
            currency=tip.currency,
            platform_fee=tip.platform_fee,
            destination=destination,
            idempotency_key=intent_key(tip.transaction_id),
            description="Tip on LiveStream Pro",
            metadata={
                "recipient_id": str(tip.recipient_id),
                "sender_id": str(tip.sender_id) if tip.sender_id else "",
                "stream_id": str(tip.stream_id) if tip.stream_id else "",
            },
        )
        try:
            intent = await self.provider.create_intent(request)
        except ProviderError as exc:
            # The row stays pending: the same key tries again, and the reconciler settles it if nobody does.
            log.warning("tip_intent_failed", transaction_id=str(tip.transaction_id), error=str(exc))
            raise errors.PaymentProviderError() from exc
        except ProviderRefused as exc:
            log.error("tip_intent_refused", transaction_id=str(tip.transaction_id), error=str(exc))
            async with self.db.unit_of_work() as session:
                await self.settlement.move(session, tip, "failed", failure_code="provider_refused")
            raise errors.PaymentProviderError("The payment provider refused this tip") from exc
        async with self.db.unit_of_work() as session:
            await TipRepository(session).attach_intent(tip.transaction_id, intent.id)
        tip.provider_payment_id = tip.provider_payment_id or intent.id
        return intent
