"""The application factory: settings in, a FastAPI app out, nothing global."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.types import ASGIApp

from livestream import __version__
from livestream.app import health
from livestream.app.container import Container
from livestream.app.spa import default_web_dist, mount_spa
from livestream.archives.router import router as archives_router
from livestream.auth.router import router as auth_router
from livestream.chat.router import router as chat_router
from livestream.config import Settings, get_settings
from livestream.follows.router import router as follows_router
from livestream.http.errors import install_error_handlers
from livestream.http.middleware import BodyLimitMiddleware, RequestContextMiddleware
from livestream.logging import configure_logging
from livestream.media.origin import router as origin_router
from livestream.notifications.router import router as notifications_router
from livestream.push.router import router as push_router
from livestream.schedules.router import router as schedules_router
from livestream.streams.router import router as streams_router
from livestream.tips.provider_router import router as payments_router
from livestream.tips.router import router as tips_router
from livestream.users.router import router as users_router


class LiveStreamApp(FastAPI):
    max_body_bytes = 1024 * 1024
    media_origins: tuple[str, ...] = ()
    stripe_js = False

    def build_middleware_stack(self) -> ASGIApp:
        # Outermost, so even the 500 that Starlette's ServerErrorMiddleware renders carries the request id
        # and the security headers, and is logged with its status; the body limit inside it, so its 413 does too.
        inner = BodyLimitMiddleware(super().build_middleware_stack(), self.max_body_bytes)
        return RequestContextMiddleware(inner, self.media_origins, stripe=self.stripe_js)


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(settings: Settings | None = None, *, freeze_gc: bool = False) -> FastAPI:
    """The app on ``settings``. ``freeze_gc`` (the server, not tests that build many apps): once started, what
    start-up built is moved out of the collector's sight, so collections during a raid of viewers stay short."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = Container.build(settings)
        # Routers reach these by type through the HTTP kit; tests and tools use the container itself.
        app.state.container = container
        app.state.provided = container.provided_objects()
        await container.start()
        if freeze_gc:
            gc.freeze()
        try:
            yield
        finally:
            await container.close()

    app = LiveStreamApp(
        title="LiveStream Pro API",
        version=__version__,
        description='Live video for small and mid-size creators. Errors are `{"error", "code"}` bodies.',
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.max_body_bytes = settings.max_body_bytes
    app.media_origins = settings.media_origins
    app.stripe_js = settings.payments == "stripe"
    install_error_handlers(app)
    # Routes are matched in this order, each router's twice: the busiest first (chat sockets and their joins,
    # HLS segments, stream reads), so they do not pay for trying every other route first.
    app.include_router(chat_router)
    app.include_router(origin_router)
    app.include_router(streams_router)
    app.include_router(archives_router)
    app.include_router(tips_router)  # before users: /api/users/me/earnings is not a user id
    app.include_router(users_router)
    app.include_router(follows_router)
    app.include_router(notifications_router)
    app.include_router(push_router)
    app.include_router(schedules_router)
    app.include_router(payments_router)
    app.include_router(auth_router)
    app.include_router(health.router)
    mount_spa(app, settings.web_dist or default_web_dist())
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with its 422 responses replaced by our 400 error body."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            responses.pop("422", None)
    components = schema.get("components", {}).get("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    app.openapi_schema = schema
    return schema
