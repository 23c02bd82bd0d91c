from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from livestream.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "LS_ENV": "development",
        "LS_VAR_DIR": str(tmp_path),
        "LS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
    }


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "migrate", "user", "openapi"):
        assert command in result.output


def test_migrate_then_create_user(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["migrate"], env=env).exit_code == 0
    result = runner.invoke(
        app, ["user", "create", "carol", "carol@example.com", "--password", "a fine passphrase"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "created user carol" in result.output
    again = runner.invoke(
        app, ["user", "create", "Carol", "c2@example.com", "--password", "a fine passphrase"], env=env
    )
    assert again.exit_code == 1
    assert "USERNAME_TAKEN" in again.output


def test_create_user_rejects_bad_input(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["migrate"], env=env).exit_code == 0
    result = runner.invoke(app, ["user", "create", "x", "not-an-email", "--password", "short"], env=env)
    assert result.exit_code == 2
    assert "username" in result.output


def test_production_without_secret_refuses_to_start(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["migrate"],
        env={
            "LS_ENV": "production",
            "LS_SECRET_KEY": "changeme",
            "LS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/p.db",
        },
    )
    assert result.exit_code == 2
    assert "LS_SECRET_KEY" in result.output
    assert "changeme" not in result.output


def test_openapi_export(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    result = runner.invoke(app, ["openapi", "--output", str(target)])
    assert result.exit_code == 0
    schema = json.loads(target.read_text())
    assert "/api/auth/register" in schema["paths"]
    assert schema["paths"]["/api/auth/login"]["post"]["operationId"] == "login"
