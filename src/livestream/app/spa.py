"""Serving the built web app: static assets, and index.html for client-side routes."""

from __future__ import annotations

import html
import re
import uuid
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from livestream.config import Settings
from livestream.db import Database
from livestream.http.deps import lookup
from livestream.streams.repository import StreamRepository
from livestream.streams.service import Urls

# Paths the SPA must never swallow: unknown API routes stay JSON 404s.
_TITLE = re.compile(r"<title>.*?</title>", flags=re.DOTALL)
_RESERVED_PREFIXES = (
    "/api/",
    "/hls/",
    "/vod/",
    "/ws/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/redoc",
    "/openapi.json",
)


def default_web_dist() -> Path:
    return Path(__file__).resolve().parents[3] / "web" / "dist"


def mount_spa(app: FastAPI, dist: Path) -> None:
    index = dist / "index.html"
    if not index.is_file():
        return
    # Top-level files (favicon, robots.txt) listed once at start-up: no filesystem walk per request,
    # and no path a client sends can reach outside this list.
    files = {p.name: p for p in dist.iterdir() if p.is_file()}
    assets = dist / "assets"
    if assets.is_dir():
        app.mount("/assets", _ImmutableStatic(directory=assets), name="assets")

    index_html = index.read_text()

    @app.get("/watch/{stream_id}", include_in_schema=False)
    async def watch(stream_id: str, request: Request) -> Response:
        """The SPA, with Open Graph tags so a shared link previews the stream."""
        tags = await _watch_tags(request, stream_id)
        return HTMLResponse(_inject(index_html, tags), headers={"Cache-Control": "no-cache"})

    @app.get("/{path:path}", include_in_schema=False)
    async def spa(path: str, request: Request) -> Response:
        full = "/" + path
        if full.startswith(_RESERVED_PREFIXES) or request.method != "GET":
            raise HTTPException(status_code=404)
        candidate = files.get(path)
        if candidate is not None:
            return FileResponse(candidate)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})


async def _watch_tags(request: Request, stream_id: str) -> dict[str, str]:
    try:
        sid = uuid.UUID(stream_id)
    except ValueError:
        return {}
    db = lookup(request, Database)
    settings = lookup(request, Settings)
    async with db.sessionmaker() as session:
        found = await StreamRepository(session).get_with_creator(sid)
    if found is None:
        return {}
    stream, creator = found
    urls = Urls(settings.public_url)
    name = creator.display_name or creator.username
    live = stream.status == "live"
    tags = {
        "og:site_name": "LiveStream Pro",
        "og:type": "video.other",
        "og:title": f"{stream.title} — {name}",
        "og:description": stream.description
        or (f"{name} is live now on LiveStream Pro" if live else f"A past stream by {name} on LiveStream Pro"),
        "og:url": f"{settings.public_url.rstrip('/')}/watch/{sid}",
        "twitter:card": "summary_large_image" if live else "summary",
    }
    if live:
        tags["og:image"] = urls.thumbnail(sid)
    return tags


def _inject(index_html: str, tags: dict[str, str]) -> str:
    if not tags:
        return index_html
    lines = [
        f'<meta {"name" if key.startswith("twitter:") else "property"}="{key}" content="{html.escape(value)}" />'
        for key, value in tags.items()
    ]
    head = "\n    ".join(lines)
    title = f"<title>{html.escape(tags['og:title'])}</title>"
    # A function, not a template: user text (a backslash in a title) must never be read as regex syntax.
    page = _TITLE.sub(lambda _match: title, index_html, count=1)
    return page.replace("</head>", f"    {head}\n  </head>", 1)


class _ImmutableStatic(StaticFiles):
    """Vite names assets by content hash, so they can be cached for ever."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response
