"""``livestream worker``: background jobs and the periodic reconcilers in their own process, no HTTP, no RTMP.

It shares the database, the Redis queue and the media directory (or bucket) with the ``serve``/ingest processes;
several can run at once (each periodic job still runs once per period: the database decides).
"""

from __future__ import annotations

import asyncio
import signal

from livestream.app.container import Container
from livestream.config import Settings
from livestream.logging import configure_logging, get_logger

log = get_logger("livestream.worker")


class WorkerNeedsRedis(RuntimeError):
    """Without LS_REDIS_URL jobs live in the serving process's memory: a separate worker would get none."""


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    if settings.redis_url is None:
        raise WorkerNeedsRedis("livestream worker needs LS_REDIS_URL (without it, `livestream serve` runs the jobs)")
    configure_logging(settings.log_level, json=settings.log_json)
    # A worker always takes jobs off the queue and keeps the periodic schedule.
    settings = settings.model_copy(update={"jobs_in_process": True})
    container = Container.build(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await container.start_jobs(periodic=settings.jobs_periodic)
    log.info("worker_started", queue=settings.jobs_queue, periodic=container.periodic.names)
    try:
        await stop.wait()
    finally:
        log.info("worker_stopping")
        await container.close()
