"""CPU per request of the API's hot reads, in-process (no HTTP server, no load generator), with an optional
cProfile of the loop. It finds where the time goes; ``bench_api_reads`` measures what a client gets.

    .venv/bin/python -m bench.profile_api_reads                         # µs per request of each read, SQLite
    .venv/bin/python -m bench.profile_api_reads --db postgres           # the same on PostgreSQL (127.0.0.1)
    .venv/bin/python -m bench.profile_api_reads --profile stream --top 40   # cProfile of one read

The app is built by ``create_app`` with a throwaway database, seeded through the API (a creator live, with
followers), and each request is one ASGI call with a prebuilt scope, so the figures are the app's own cost
(middleware, routing, dependencies, queries, serialisation, logging), without uvicorn's HTTP parsing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import pstats
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

import httpx

POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
Headers = tuple[tuple[bytes, bytes], ...]
Target = tuple[str, bytes, Headers]
TARGETS = ["healthz", "stream", "live", "user", "user-signed-in"]


def _scope(path: str, query: bytes = b"", headers: Headers = ()) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"profile"), (b"accept", b"*/*"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _call(app: Any, path: str, query: bytes = b"", headers: Headers = ()) -> tuple[int, bytes]:
    status = 0
    body = bytearray()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(_scope(path, query, headers), receive, send)
    return status, bytes(body)


async def _seed(app: Any) -> dict[str, Target]:
    """A creator live with a few followers; returns the targets (path, query) by name."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    password = secrets.token_urlsafe(16)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:

        async def account(name: str) -> tuple[str, str]:
            r = await client.post(
                "/api/auth/register", json={"username": name, "email": f"{name}@example.com", "password": password}
            )
            r.raise_for_status()
            t = await client.post("/api/auth/login", json={"login": name, "password": password})
            t.raise_for_status()
            return str(r.json()["user_id"]), str(t.json()["access_token"])

        owner_id, owner_token = await account("owner")
        fan_token = ""
        for i in range(4):
            _, fan_token = await account(f"fan{i}")
            f = await client.post(
                "/api/follows", json={"following_id": owner_id}, headers={"Authorization": f"Bearer {fan_token}"}
            )
            f.raise_for_status()
        s = await client.post(
            "/api/streams", json={"title": "Profiling live"}, headers={"Authorization": f"Bearer {owner_token}"}
        )
        s.raise_for_status()
        stream_id = s.json()["stream_id"]
    signed_in = ((b"authorization", f"Bearer {fan_token}".encode()),)
    return {
        "healthz": ("/healthz", b"", ()),
        "stream": (f"/api/streams/{stream_id}", b"", ()),
        "live": ("/api/streams", b"status=live", ()),
        "user": (f"/api/users/{owner_id}", b"", ()),
        # A follower's own view of the profile (its viewer_follow_id): never shared, always read.
        "user-signed-in": (f"/api/users/{owner_id}", b"", signed_in),
    }


async def _measure(app: Any, target: Target, count: int) -> tuple[float, float]:
    """Process CPU (every thread: aiosqlite runs queries in its own) and wall time per request, in µs."""
    path, query, headers = target
    status, body = await _call(app, path, query, headers)
    if status != 200:
        raise SystemExit(f"{path}?{query.decode()}: {status} {body[:300]!r}")
    for _ in range(min(count, 200)):  # warm caches (statement cache, pydantic, the view cache if any)
        await _call(app, path, query, headers)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        await _call(app, path, query, headers)
    return (time.process_time() - cpu) / count * 1e6, (time.perf_counter() - wall) / count * 1e6


def _devnull() -> TextIO:
    return open(os.devnull, "w")  # closed by the caller's with


async def _pg_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _database_url(kind: str, workdir: Path) -> tuple[str, str | None]:
    """The database's URL, and the PostgreSQL database to drop afterwards."""
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{workdir / 'profile.db'}", None
    name = f"ls_profile_{secrets.token_hex(4)}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", name


async def _main(args: argparse.Namespace) -> None:
    from livestream.app.factory import create_app
    from livestream.config import Settings
    from livestream.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="profile-api-reads-") as tmp:
        workdir = Path(tmp)
        url, pg_name = await _database_url(args.db, workdir)
        try:
            await asyncio.to_thread(upgrade, url)
            settings = Settings(
                env="test",
                database_url=url,
                secret_key=secrets.token_urlsafe(36),
                var_dir=workdir,
                media_dir=workdir / "media",
                web_dist=workdir / "no-web",
                public_url="http://127.0.0.1:8000",
                log_level=args.log_level,
                rtmp_enabled=False,
                redis_url=args.redis_url,
            )
            _tune(args)
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                targets = await _seed(app)
                names = [args.profile] if args.profile else (args.only or list(targets))
                if args.profile:
                    await _measure(app, targets[args.profile], 200)
                    profiler = cProfile.Profile()
                    profiler.enable()
                    cpu, wall = await _measure(app, targets[args.profile], args.count)
                    profiler.disable()
                    print(
                        f"{args.profile}: {cpu:,.0f} µs CPU, {wall:,.0f} µs wall per request "
                        f"({args.count} requests, under cProfile)"
                    )
                    stats = pstats.Stats(profiler)
                    stats.sort_stats(args.sort).print_stats(args.top)
                    return
                # The access log goes nowhere, as the benchmark's server log goes to a file.
                with _devnull() as devnull, contextlib.redirect_stdout(devnull):
                    results = {name: await _measure(app, targets[name], args.count) for name in names}
                print(f"{args.db}, log level {args.log_level}, {args.count} sequential requests each, per request:")
                for name, (cpu, wall) in results.items():
                    path, query, _ = targets[name]
                    shown = path + (f"?{query.decode()}" if query else "")
                    print(f"  {name:<14} {cpu:>7,.0f} µs CPU {wall:>7,.0f} µs wall   GET {shown}")
        finally:
            if pg_name is not None:
                await _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def _tune(args: argparse.Namespace) -> None:
    """What --view-max-age and --no-shortcuts change, where the app has views and shortcuts at all."""
    import importlib

    def find(module: str, name: str) -> Any:
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            return None

    if args.view_max_age is not None:
        for views in (find("livestream.streams.views", "StreamViews"), find("livestream.users.views", "ProfileViews")):
            if views is not None:
                views.__init__.__kwdefaults__["max_age"] = args.view_max_age
    shortcuts = find("livestream.http.shortcuts", "ReadShortcuts")
    if args.no_shortcuts and shortcuts is not None:
        shortcuts.remember = lambda self, scope, answer: None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--count", type=int, default=3000, help="requests per target")
    parser.add_argument("--profile", choices=TARGETS, help="cProfile one target")
    parser.add_argument(
        "--view-max-age",
        type=float,
        metavar="S",
        help="max age of the public views (0: every read goes to the database, as a miss does)",
    )
    parser.add_argument("--no-shortcuts", action="store_true", help="never answer a read from a shortcut")
    parser.add_argument("--only", action="append", choices=TARGETS, help="measure only these targets (repeatable)")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key (cumulative, tottime)")
    parser.add_argument("--top", type=int, default=50, help="lines of the profile to print")
    parser.add_argument("--log-level", default="WARNING", help="LS_LOG_LEVEL of the app (the benchmark's: WARNING)")
    parser.add_argument("--redis-url", default=None, help="the Redis engine (e.g. redis://127.0.0.1:6379/14)")
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
