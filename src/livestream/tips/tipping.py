"""Everything tips need for the app's lifetime, built from settings: the provider, its webhook events, the
checkout, settlement, payouts and the pending reconciler. With ``LS_PAYMENTS`` unset only ``payouts`` is there
(it answers that tips are off)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from livestream.config import Settings
from livestream.db import Database
from livestream.jobs.periodic import PeriodicRunner
from livestream.jobs.runtime import JobRuntime
from livestream.notifications.delivery import Delivery
from livestream.payments.base import PaymentProvider
from livestream.payments.events import PaymentEvents
from livestream.payments.test_provider import TestProvider
from livestream.realtime.engine import Engine
from livestream.tips import errors
from livestream.tips.announce import TipAnnouncer
from livestream.tips.checkout import TipCheckout
from livestream.tips.export import EarningsExport
from livestream.tips.payouts import Payouts
from livestream.tips.settlement import Settlement
from livestream.tips.tasks import TipJobs


def test_webhook_secret(secret_key: str) -> str:
    """The test provider signs with LS_STRIPE_WEBHOOK_SECRET, or with this secret derived from LS_SECRET_KEY."""
    digest = hmac.new(secret_key.encode(), b"test-payments-webhook", hashlib.sha256).hexdigest()
    return f"whsec_test_{digest[:40]}"


def make_provider(
    settings: Settings, db: Database, jobs: JobRuntime, client: Callable[[], httpx.AsyncClient] | None = None
) -> PaymentProvider | None:
    secret = settings.stripe_webhook_secret.get_secret_value() if settings.stripe_webhook_secret else None
    if settings.payments == "stripe":
        from livestream.payments.stripe_provider import StripeProvider

        # Settings refuse LS_PAYMENTS=stripe without all three.
        assert settings.stripe_secret_key is not None
        assert settings.stripe_publishable_key is not None
        assert secret is not None
        return StripeProvider(
            secret_key=settings.stripe_secret_key.get_secret_value(),
            publishable_key=settings.stripe_publishable_key,
            webhook_secret=secret,
            api_base=settings.stripe_api_base,
        )
    if settings.payments == "test":
        key = settings.secret_key
        return TestProvider(
            db,
            jobs,
            secret_key=key,
            webhook_secret=secret or test_webhook_secret(key),
            webhook_url=settings.payments_webhook_url,
            client=client,
        )
    return None


@dataclass
class Tipping:
    payouts: Payouts
    export: EarningsExport
    provider: PaymentProvider | None = None
    events: PaymentEvents | None = None
    settlement: Settlement | None = None
    checkout: TipCheckout | None = None
    jobs: TipJobs | None = None
    # What webhook signatures are checked with: the endpoint's secret, and the Connect endpoint's if set.
    webhook_secrets: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        settings: Settings,
        db: Database,
        engine: Engine,
        runtime: JobRuntime,
        periodic: PeriodicRunner,
        delivery: Delivery,
    ) -> Tipping:
        provider = make_provider(settings, db, runtime)
        payouts = Payouts(db, provider, settings, engine.counters)
        export = EarningsExport(db)
        if provider is None:
            return cls(payouts=payouts, export=export)
        if isinstance(provider, TestProvider):
            provider.register()
        announcer = TipAnnouncer(db, engine, runtime, delivery, history_seconds=settings.chat_history_seconds)
        announcer.register()
        settlement = Settlement(db, runtime, provider, announcer)
        secret_key = settings.stripe_secret_key.get_secret_value() if settings.stripe_secret_key else ""
        # Events from the other mode (Stripe sends a Connect endpoint both) are stored and never applied.
        livemode = provider.name == "stripe" and secret_key.startswith(("sk_live_", "rk_live_"))
        events = PaymentEvents(db, provider.name, livemode=livemode)
        settlement.register(events)
        checkout = TipCheckout(db, provider, settings, engine.counters, settlement)
        jobs = TipJobs(db, provider, settlement, checkout)
        jobs.register(periodic, every=settings.reconcile_interval_seconds)
        connect = settings.stripe_connect_webhook_secret
        secrets = (provider.webhook_secret(), *((connect.get_secret_value(),) if connect else ()))
        return cls(
            payouts=payouts,
            export=export,
            provider=provider,
            events=events,
            settlement=settlement,
            checkout=checkout,
            jobs=jobs,
            webhook_secrets=secrets,
        )

    @property
    def test_provider(self) -> TestProvider | None:
        return self.provider if isinstance(self.provider, TestProvider) else None

    def require_checkout(self) -> TipCheckout:
        if self.checkout is None:
            raise errors.PaymentsDisabled()
        return self.checkout

    def require_events(self) -> PaymentEvents:
        if self.events is None:
            raise errors.PaymentsDisabled()
        return self.events

    async def close(self) -> None:
        if self.provider is not None:
            await self.provider.close()
