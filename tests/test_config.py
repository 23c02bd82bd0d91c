from __future__ import annotations

from pathlib import Path

import pytest

from livestream.config import InsecureSettingsError, Settings, load_settings


@pytest.mark.parametrize("secret", ["", "changeme", "secret", "short-but-random-xyz"])
def test_production_refuses_placeholder_or_short_secret(secret: str) -> None:
    with pytest.raises(InsecureSettingsError):
        Settings(env="production", secret_key=secret)


def test_production_accepts_a_real_secret() -> None:
    settings = Settings(env="production", secret_key="k" * 20 + "Zq9-x_Lm3PvR2tYw8eNb")
    assert settings.env == "production"


def test_development_generates_and_keeps_a_local_secret(tmp_path: Path) -> None:
    first = load_settings(env="development", secret_key="", var_dir=tmp_path)
    second = load_settings(env="development", secret_key="", var_dir=tmp_path)
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_settings_come_from_ls_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LS_PORT", "8123")
    monkeypatch.setenv("LS_RTMP_PORT", "1940")
    monkeypatch.setenv("LS_PUBLIC_URL", "https://live.example.com")
    monkeypatch.setenv("LS_SECRET_KEY", "x" * 48)
    settings = Settings()
    assert (settings.port, settings.rtmp_port) == (8123, 1940)
    assert settings.secure_cookies is True


def test_lockout_can_never_exceed_fifteen_minutes() -> None:
    with pytest.raises(ValueError, match="less than or equal"):
        Settings(env="test", login_lockout_seconds=3600)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", []),
        ("10.0.0.1", ["10.0.0.1"]),
        ("10.0.0.1, 10.0.1.0/24", ["10.0.0.1", "10.0.1.0/24"]),
        ('["::1"]', ["::1"]),
    ],
)
def test_trusted_proxies_from_the_environment(monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[str]) -> None:
    monkeypatch.setenv("LS_TRUSTED_PROXIES", raw)
    assert Settings(env="test").trusted_proxies == expected
