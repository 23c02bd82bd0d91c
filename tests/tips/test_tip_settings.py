"""Settings for tips refuse what would take no money in production, a Stripe set-up missing a key, limits the
wrong way round, and a platform fee out of bounds."""

from __future__ import annotations

from decimal import Decimal

import pytest

from livestream.config import InsecureSettingsError, Settings

STRONG_SECRET = "k" * 20 + "Zq9-x_Lm3PvR2tYw8eNb"
STRIPE_KEYS: dict[str, object] = {
    "stripe_secret_key": "sk_test_settings",
    "stripe_publishable_key": "pk_test_settings",
    "stripe_webhook_secret": "whsec_settings",
}


def test_test_payments_are_refused_in_production() -> None:
    with pytest.raises(InsecureSettingsError, match="LS_PAYMENTS=test"):
        Settings(env="production", secret_key=STRONG_SECRET, payments="test")


@pytest.mark.parametrize("env", ["development", "test"])
def test_test_payments_are_allowed_outside_production(env: str) -> None:
    assert Settings(env=env, secret_key=STRONG_SECRET, payments="test").payments == "test"


def test_stripe_payments_are_allowed_in_production_with_their_keys() -> None:
    settings = Settings(env="production", secret_key=STRONG_SECRET, payments="stripe", **STRIPE_KEYS)  # type: ignore[arg-type]
    assert settings.payments == "stripe"
    assert settings.stripe_secret_key is not None
    # The secret stays out of reprs and logs.
    assert "sk_test_settings" not in repr(settings)


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({}, ["LS_STRIPE_SECRET_KEY", "LS_STRIPE_PUBLISHABLE_KEY", "LS_STRIPE_WEBHOOK_SECRET"]),
        ({"stripe_secret_key": "sk_test_settings"}, ["LS_STRIPE_PUBLISHABLE_KEY", "LS_STRIPE_WEBHOOK_SECRET"]),
        (
            {"stripe_secret_key": "sk_test_settings", "stripe_publishable_key": "pk_test_settings"},
            ["LS_STRIPE_WEBHOOK_SECRET"],
        ),
        ({"stripe_publishable_key": "pk_test_settings", "stripe_webhook_secret": "whsec_x"}, ["LS_STRIPE_SECRET_KEY"]),
        ({**STRIPE_KEYS, "stripe_secret_key": ""}, ["LS_STRIPE_SECRET_KEY"]),
    ],
    ids=["none", "secret-only", "no-webhook-secret", "no-secret-key", "blank-secret-key"],
)
def test_stripe_payments_name_the_missing_keys(given: dict[str, object], missing: list[str]) -> None:
    with pytest.raises(ValueError, match="LS_PAYMENTS=stripe needs") as refused:
        Settings(env="test", payments="stripe", **given)  # type: ignore[arg-type]
    message = str(refused.value)
    for name in ("LS_STRIPE_SECRET_KEY", "LS_STRIPE_PUBLISHABLE_KEY", "LS_STRIPE_WEBHOOK_SECRET"):
        assert (name in message) == (name in missing), message


@pytest.mark.parametrize("currency", ["jpy", "usd", "eur"])
def test_a_minimum_above_the_maximum_is_refused(currency: str) -> None:
    limits = {f"tip_min_{currency}": 600, f"tip_max_{currency}": 500}
    with pytest.raises(ValueError, match=f"LS_TIP_MIN_{currency.upper()} is above LS_TIP_MAX_{currency.upper()}"):
        Settings(env="test", payments="test", **limits)  # type: ignore[arg-type]


def test_a_minimum_equal_to_the_maximum_is_one_amount() -> None:
    settings = Settings(env="test", payments="test", tip_min_usd=500, tip_max_usd=500)
    assert settings.tip_limits("USD") == (500, 500)
    assert settings.tip_limits("JPY") == (100, 50_000)


def test_limits_below_fifty_minor_units_are_refused() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 50"):
        Settings(env="test", tip_min_eur=49)


@pytest.mark.parametrize("percent", ["-1", "50.01", "100"])
def test_platform_fee_percent_out_of_bounds_is_refused(percent: str) -> None:
    with pytest.raises(ValueError, match="platform_fee_percent"):
        Settings(env="test", platform_fee_percent=Decimal(percent))


@pytest.mark.parametrize("percent", ["0", "12.5", "50"])
def test_platform_fee_percent_within_bounds(percent: str) -> None:
    assert Settings(env="test", platform_fee_percent=Decimal(percent)).platform_fee_percent == Decimal(percent)


def test_platform_fee_percent_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LS_PLATFORM_FEE_PERCENT", "7.5")
    monkeypatch.setenv("LS_PAYMENTS", "test")
    settings = Settings(env="test")
    assert (settings.platform_fee_percent, settings.payments) == (Decimal("7.5"), "test")


def test_tips_are_off_by_default() -> None:
    settings = Settings(env="test")
    assert settings.payments is None
    assert (settings.platform_fee_percent, settings.tip_default_currency) == (Decimal(10), "JPY")
