"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.asyncio import Redis

from livestream.api.deps import ContainerDep
from livestream.logging import get_logger

router = APIRouter(tags=["health"])
log = get_logger("livestream.health")


@router.get("/healthz", operation_id="healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz", responses={503: {"description": "A dependency is unreachable"}})
async def readyz(container: ContainerDep) -> JSONResponse:
    """The database (and Redis, when configured) answer."""
    checks: dict[str, str] = {}
    try:
        await container.db.ping()
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means not ready
        log.warning("readyz_database_failed", error=type(exc).__name__)
        checks["database"] = "unreachable"
    if container.settings.redis_url:
        client = Redis.from_url(container.settings.redis_url, socket_connect_timeout=2)
        try:
            await client.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            log.warning("readyz_redis_failed", error=type(exc).__name__)
            checks["redis"] = "unreachable"
        finally:
            await client.aclose()
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    if not ready:
        body.update({"error": "A dependency is unreachable", "code": "NOT_READY"})
    return JSONResponse(body, status_code=200 if ready else 503)
