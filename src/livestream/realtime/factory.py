"""Choose the realtime engine from the settings."""

from __future__ import annotations

from livestream.realtime.engine import Engine
from livestream.realtime.memory import MemoryEngine
from livestream.realtime.redis import RedisEngine


def make_engine(redis_url: str | None) -> Engine:
    """Redis when a URL is configured (several processes must share channels and presence), memory otherwise."""
    if redis_url:
        return RedisEngine(redis_url)
    return MemoryEngine()
