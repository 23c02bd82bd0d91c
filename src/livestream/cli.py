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
