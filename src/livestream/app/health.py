"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis

from livestream.http.deps import DatabaseDep, SettingsDep
from livestream.http.errors import error_response
from livestream.logging import get_logger

router = APIRouter(tags=["health"])
log = get_logger("livestream.health")


@router.get("/healthz", operation_id="healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz", responses={503: {"description": "A dependency is unreachable"}})
async def readyz(request: Request, db: DatabaseDep, settings: SettingsDep) -> JSONResponse:
    """The database (and Redis, when configured) answer."""
    checks: dict[str, str] = {}
    try:
        await db.ping()
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means not ready
        log.warning("readyz_database_failed", error=type(exc).__name__)
        checks["database"] = "unreachable"
    if settings.redis_url:
        client = Redis.from_url(settings.redis_url, socket_connect_timeout=2)
        try:
            await client.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            log.warning("readyz_redis_failed", error=type(exc).__name__)
            checks["redis"] = "unreachable"
        finally:
            await client.aclose()
    if all(v == "ok" for v in checks.values()):
        return JSONResponse({"status": "ok", "checks": checks})
    return error_response(request, 503, "NOT_READY", "A dependency is unreachable", extra={"checks": checks})
