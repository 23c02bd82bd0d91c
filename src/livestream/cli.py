"""The ``livestream`` command: serve, migrate, manage users, export the OpenAPI schema."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Annotated

import typer

from livestream.config import InsecureSettingsError, Settings, load_settings

app = typer.Typer(
    help="LiveStream Pro: live video for small and mid-size creators.", no_args_is_help=True, add_completion=False
)
user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")
storage_app = typer.Typer(help="Media storage: S3 lifecycle rules, restoring cold archives.", no_args_is_help=True)
app.add_typer(storage_app, name="storage")


def _settings() -> Settings:
    try:
        return load_settings()
    except InsecureSettingsError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default LS_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default LS_PORT)")] = None,
    migrate: Annotated[bool, typer.Option(help="Apply database migrations first")] = False,
) -> None:
    """Start the single-node server: API, chat, web app, RTMP ingest and HLS origin in one process."""
    import uvicorn

    from livestream.app.factory import create_app
    from livestream.chat.gateway import MAX_FRAME_BYTES
    from livestream.migrate import upgrade
    from livestream.realtime.raw_socket import FastWebSocketProtocol

    settings = _settings()
    if migrate:
        upgrade(settings.database_url)
    uvicorn.run(
        create_app(settings, freeze_gc=True),
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        access_log=False,
        # X-Forwarded-* only from the proxies the operator named; uvicorn would otherwise trust 127.0.0.1.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
        loop="uvloop",
        http="httptools",
        # Chat: the hub writes pre-framed messages to each socket (docs/decisions.md, D9). No compression:
        # fan-out frames are shared by every viewer, and a deflate context per socket costs ~30 KB of memory.
        ws=FastWebSocketProtocol,
        ws_max_size=MAX_FRAME_BYTES,
        ws_per_message_deflate=False,
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_interval_seconds,
    )


@app.command()
def worker() -> None:
    """Run background jobs (archives, reconcilers, purges) in this process; needs LS_REDIS_URL."""
    import uvloop

    from livestream.app.worker import WorkerNeedsRedis, run_worker

    settings = _settings()
    try:
        uvloop.run(run_worker(settings))
    except WorkerNeedsRedis as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc


@app.command()
def migrate(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply database migrations (SQLite or PostgreSQL, from LS_DATABASE_URL)."""
    from livestream.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}")


@app.command()
def openapi(output: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout")] = None) -> None:
    """Print the OpenAPI schema (the web app generates its API types from it)."""
    from livestream.app.factory import create_app

    # The schema does not depend on secrets; a throwaway one avoids touching var/.
    settings = load_settings(env="development", secret_key=secrets.token_urlsafe(48))
    schema = create_app(settings).openapi()
    text = json.dumps(schema, indent=2, sort_keys=False)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n")
    else:
        typer.echo(text)


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="3–50 letters, digits or _")],
    email: Annotated[str, typer.Argument(help="Email address")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="Password (prompted if omitted)")
    ],
) -> None:
    """Create an account (for the first creator or an operator)."""
    from pydantic import ValidationError

    from livestream.auth.schemas import RegisterRequest
    from livestream.errors import AppError

    settings = _settings()
    try:
        body = RegisterRequest(username=username, email=email, password=password)
    except ValidationError as exc:
        for err in exc.errors():
            typer.secho(f"error: {'.'.join(map(str, err['loc']))}: {err['msg']}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc
    try:
        user_id = asyncio.run(_create_user(settings, body))
    except AppError as exc:
        typer.secho(f"error: {exc.detail} ({exc.code})", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc
    typer.echo(f"created user {body.username} ({user_id})")


async def _create_user(settings: Settings, body: object) -> str:
    from livestream.auth.schemas import RegisterRequest
    from livestream.db import Database
    from livestream.users.repository import UserRepository
    from livestream.users.service import UserService

    assert isinstance(body, RegisterRequest)
    db = Database(settings.database_url)
    try:
        async with db.sessionmaker() as session:
            user = await UserService(UserRepository(session)).register(
                username=body.username, email=body.email, password=body.password
            )
            await session.commit()
            return str(user.user_id)
    finally:
        await db.dispose()


def _s3_settings(command: str) -> Settings:
    """The settings, refusing (exit 2) anything but LS_STORAGE=s3 with a bucket."""
    from pydantic import ValidationError

    try:
        settings = _settings()
    except ValidationError as exc:
        for err in exc.errors():
            typer.secho(f"error: {err['msg']}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc
    if settings.storage != "s3":
        typer.secho(
            f"error: storage {command} needs LS_STORAGE=s3 (it is {settings.storage!r}: files on local disk have "
            "no storage classes to move between)",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(2)
    return settings


@storage_app.command("apply-lifecycle")
def storage_apply_lifecycle() -> None:
    """Put the bucket rule that moves archives/ to GLACIER LS_ARCHIVE_COLD_AFTER_DAYS days after upload."""
    from livestream.storage import StorageError, make_storage

    settings = _s3_settings("apply-lifecycle")
    days = settings.archive_cold_after_days

    async def apply() -> None:
        storage = make_storage(settings)
        try:
            await storage.apply_lifecycle("archives/", days)
        finally:
            await storage.close()

    try:
        asyncio.run(apply())
    except StorageError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc
    typer.echo(
        f"bucket {settings.s3_bucket}: objects under archives/ move to GLACIER {days} days after upload "
        "(lifecycle rule livestream-archives-cold; other rules kept)"
    )


@storage_app.command("restore")
def storage_restore(
    prefix: Annotated[str, typer.Argument(help="Key prefix, e.g. archives/<archive_id>/")],
    days: Annotated[int, typer.Option(min=1, max=365, help="Days the restored copy stays readable")] = 7,
) -> None:
    """Start an S3 restore of every cold object under PREFIX. Reads work once S3 finishes (hours)."""
    from livestream.storage import InvalidKey, StorageError

    settings = _s3_settings("restore")
    if not prefix:
        typer.secho("error: give a prefix, e.g. archives/<archive_id>/", err=True, fg=typer.colors.RED)
        raise typer.Exit(2)
    try:
        listed, cold, started = asyncio.run(_restore(settings, prefix, days))
    except InvalidKey as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc
    except StorageError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc
    typer.echo(f"{listed} objects under {prefix}: {cold} cold, restore requested or in progress for {started}")
    if started:
        typer.echo(
            "S3 now copies them back (GLACIER: hours; DEEP_ARCHIVE: up to 12 h with the standard tier); "
            "until it has, the app answers 409 ARCHIVE_COLD for them"
        )


async def _restore(settings: Settings, prefix: str, days: int) -> tuple[int, int, int]:
    from livestream.storage import COLD_STORAGE_CLASSES, make_storage

    storage = make_storage(settings)
    try:
        objects = await storage.list(prefix)
        cold = [obj for obj in objects if obj.storage_class in COLD_STORAGE_CLASSES]
        # An archive is many segment files: a few requests at a time, within the client's connection pool.
        limit = asyncio.Semaphore(8)

        async def restore_one(key: str, storage_class: str) -> bool:
            async with limit:
                started = await storage.restore(key, days)
            typer.echo(f"{'restore requested' if started else 'not cold any more'}: {key} ({storage_class})")
            return started

        results = await asyncio.gather(*(restore_one(o.key, o.storage_class) for o in cold), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result  # the first failure, after every other request has finished
        return len(objects), len(cold), sum(1 for result in results if result is True)
    finally:
        await storage.close()
