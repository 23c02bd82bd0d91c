"""Whether a creator can receive tips, and onboarding them (a Stripe Express account); no HTTP here."""

from __future__ import annotations

import uuid
from datetime import timedelta

from livestream.config import Settings
from livestream.db import Database, utcnow
from livestream.errors import TooManyRequests
from livestream.logging import get_logger
from livestream.payments.base import CURRENCIES, PaymentProvider, ProviderError, ProviderRefused
from livestream.payments.models import PayoutAccount
from livestream.payments.repository import PayoutAccountRepository
from livestream.ratelimit import Counters
from livestream.tips import errors
from livestream.tips.schemas import OnboardingLink, PayoutStatus, TippingInfo
from livestream.users.repository import UserRepository

log = get_logger("livestream.tips")

# Suggested amounts per currency, in minor units; those outside the server's limits are left out.
PRESETS = {
    "JPY": (100, 500, 1000, 5000, 10000),
    "USD": (200, 500, 1000, 2000, 5000),
    "EUR": (200, 500, 1000, 2000, 5000),
}
# A status page asks the provider again at most this often (the account.updated webhook is the usual news).
REFRESH_AFTER = timedelta(seconds=30)
ONBOARDING_LINKS_PER_HOUR = 10


class Payouts:
    def __init__(self, db: Database, provider: PaymentProvider | None, settings: Settings, counters: Counters) -> None:
        self.db = db
        self.provider = provider
        self.settings = settings
        # Every onboarding link and status refresh is a call to the provider, whose rate limit tips share.
        self.counters = counters

    async def status(self, user_id: uuid.UUID) -> PayoutStatus:
        account = await self._account(user_id)
        if self.provider is not None and account is not None and not account.transfers_active:
            account = await self._refreshed(account)
        return self._status(account)

    async def tipping(self, user_id: uuid.UUID) -> TippingInfo:
        async with self.db.sessionmaker() as session:
            if await UserRepository(session).get(user_id) is None:
                raise errors.RecipientNotFound()
        status = self._status(await self._account(user_id))
        low, high = self.settings.tip_limits(status.currency)
        return TippingInfo(
            can_receive_tips=status.can_receive_tips,
            provider=status.provider,
            currency=status.currency,
            min_amount=low,
            max_amount=high,
            presets=[amount for amount in PRESETS[status.currency] if low <= amount <= high],
            publishable_key=self.provider.publishable_key if self.provider is not None else None,
        )

    async def onboard(self, user_id: uuid.UUID) -> OnboardingLink:
        provider = self.provider
        if provider is None:
            raise errors.PaymentsDisabled()
        if not provider.needs_onboarding:
            raise errors.OnboardingNotNeeded()
        burst = await self.counters.hit(f"payouts-onboard:{user_id}", 3600)
        if burst.count > ONBOARDING_LINKS_PER_HOUR:
            raise TooManyRequests(burst.retry_after, "You asked for many onboarding links this hour; try again later")
        account = await self._account(user_id)
        try:
            if account is None:
                async with self.db.sessionmaker() as session:
                    user = await UserRepository(session).get(user_id)
                made = await provider.create_account(
                    user_id, user.email if user is not None else None, idempotency_key=f"payout-account-{user_id}"
                )
                async with self.db.unit_of_work() as session:
                    await PayoutAccountRepository(session).add(user_id, provider.name, made)
                account_id = made.id
            else:
                account_id = account.account_id
            base = self.settings.public_url.rstrip("/")
            url = await provider.account_link(
                account_id,
                refresh_url=f"{base}/dashboard/payouts/refresh",
                return_url=f"{base}/dashboard/payouts/return",
            )
        except (ProviderError, ProviderRefused) as exc:
            log.error("payout_onboarding_failed", user_id=str(user_id), error=str(exc))
            raise errors.PaymentProviderError() from exc
        return OnboardingLink(url=url)

    async def _account(self, user_id: uuid.UUID) -> PayoutAccount | None:
        if self.provider is None or not self.provider.needs_onboarding:
            return None
        async with self.db.sessionmaker() as session:
            return await PayoutAccountRepository(session).of_user(user_id)

    async def _refreshed(self, account: PayoutAccount) -> PayoutAccount:
        """An account still onboarding, as the provider has it now (a creator back from onboarding sees it)."""
        if self.provider is None or utcnow() - account.updated_at < REFRESH_AFTER:
            return account
        # At most one look a creator per REFRESH_AFTER, also when the provider keeps failing.
        seconds = int(REFRESH_AFTER.total_seconds())
        if (await self.counters.hit(f"payouts-refresh:{account.user_id}", seconds)).count > 1:
            return account
        try:
            current = await self.provider.retrieve_account(account.account_id)
        except (ProviderError, ProviderRefused) as exc:
            log.warning("payout_account_refresh_failed", account_id=account.account_id, error=str(exc))
            return account
        async with self.db.unit_of_work() as session:
            accounts = PayoutAccountRepository(session)
            await accounts.update_from(current)
            fresh = await accounts.of_user(account.user_id)
        return fresh or account

    def _status(self, account: PayoutAccount | None) -> PayoutStatus:
        provider = self.provider
        name = None if provider is None else ("stripe" if provider.name == "stripe" else "test")
        if provider is None or not provider.needs_onboarding or account is None:
            # No account to speak of: tips are off, test payments need none, or onboarding has not started.
            state = "disabled" if provider is None else "not_needed" if not provider.needs_onboarding else "not_started"
            return PayoutStatus(
                provider=name,
                status=state,
                can_receive_tips=state == "not_needed",
                currency=self.settings.tip_default_currency,
                details_submitted=False,
                payouts_enabled=False,
            )
        if account.transfers_active:
            state = "enabled"
        elif account.details_submitted:
            state = "restricted"
        else:
            state = "pending"
        currency = account.currency if account.currency in CURRENCIES else self.settings.tip_default_currency
        return PayoutStatus(
            provider=name,
            status=state,
            can_receive_tips=account.transfers_active,
            currency=currency,
            details_submitted=account.details_submitted,
            payouts_enabled=account.payouts_enabled,
        )
