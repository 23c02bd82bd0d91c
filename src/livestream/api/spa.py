"""Serving the built web app: static assets, and index.html for client-side routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# Paths the SPA must never swallow: unknown API routes stay JSON 404s.
_RESERVED_PREFIXES = ("/api/", "/hls/", "/ws/", "/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json")


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

    @app.get("/{path:path}", include_in_schema=False)
    async def spa(path: str, request: Request) -> Response:
        full = "/" + path
        if full.startswith(_RESERVED_PREFIXES) or request.method != "GET":
            raise HTTPException(status_code=404)
        candidate = files.get(path)
        if candidate is not None:
            return FileResponse(candidate)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})


class _ImmutableStatic(StaticFiles):
    """Vite names assets by content hash, so they can be cached for ever."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response
