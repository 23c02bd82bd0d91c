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


def test_storage_commands_need_s3(env: dict[str, str]) -> None:
    for args in (["storage", "apply-lifecycle"], ["storage", "restore", "archives/a/"]):
        result = runner.invoke(app, args, env={**env, "LS_STORAGE": "local"})
        assert result.exit_code == 2
        assert "LS_STORAGE=s3" in result.output
    result = runner.invoke(app, ["storage", "apply-lifecycle"], env={**env, "LS_STORAGE": "s3"})
    assert result.exit_code == 2
    assert "LS_S3_BUCKET" in result.output


def test_storage_apply_lifecycle_and_restore(
    env: dict[str, str], s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.s3_server import direct_client, make_bucket, use_test_credentials

    use_test_credentials(monkeypatch, tmp_path)
    bucket = make_bucket(s3_endpoint)
    s3_env = {
        **env,
        "LS_STORAGE": "s3",
        "LS_S3_BUCKET": bucket,
        "LS_S3_ENDPOINT_URL": s3_endpoint,
        "LS_ARCHIVE_COLD_AFTER_DAYS": "45",
    }
    result = runner.invoke(app, ["storage", "apply-lifecycle"], env=s3_env)
    assert result.exit_code == 0, result.output
    assert "GLACIER 45 days after upload" in result.output
    client = direct_client(s3_endpoint)
    try:
        (rule,) = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        assert rule["Filter"] == {"Prefix": "archives/"}
        assert rule["Transitions"][0]["Days"] == 45
        client.put_object(Bucket=bucket, Key="archives/a/v0.ts", Body=b"x", StorageClass="GLACIER")
        client.put_object(Bucket=bucket, Key="archives/a/index.m3u8", Body=b"x")
    finally:
        client.close()

    result = runner.invoke(app, ["storage", "restore", "archives/a/", "--days", "3"], env=s3_env)
    assert result.exit_code == 0, result.output
    assert "restore requested: archives/a/v0.ts (GLACIER)" in result.output
    assert "2 objects under archives/a/: 1 cold" in result.output
    assert runner.invoke(app, ["storage", "restore", "../x"], env=s3_env).exit_code == 2
