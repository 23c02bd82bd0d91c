"""Structured JSON logs (seed §6.2): one JSON object per line on stdout."""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

import structlog

# Keys whose values never reach a log line, whatever a caller passes.
REDACTED_KEYS = frozenset(
    {
        "password",
        "current_password",
        "new_password",
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "cookie",
        "set-cookie",
        "secret",
        "secret_key",
        "stream_key",
    }
)


def _redact(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in list(event_dict):
        if key.lower() in REDACTED_KEYS:
            event_dict[key] = "[redacted]"
    return event_dict


class _StdoutLogger:
    """Writes each line to whatever ``sys.stdout`` is at that moment (a test's capture, a redirect), so one
    instance serves every logger and assembled loggers can be kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def msg(self, message: str) -> None:
        with self._lock:
            out = sys.stdout
            out.write(message + "\n")
            out.flush()

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


_STDOUT = _StdoutLogger()
# Loggers assembled once per configuration, for lines written on every request (bound_logger).
_assembled: dict[str, Any] = {}


def _stdout_logger(*_args: Any) -> _StdoutLogger:
    return _STDOUT


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        _redact,
        structlog.processors.format_exc_info,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=_stdout_logger,
        cache_logger_on_first_use=False,
    )
    _assembled.clear()
    # uvicorn's own access log would duplicate ours, without request ids.
    logging.getLogger("uvicorn.access").disabled = True


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


def bound_logger(name: str) -> Any:
    """The logger ``name`` assembled once for the current configuration (``configure_logging`` starts over).

    For lines written on every request: ``get_logger``'s lazy proxy assembles a new logger at every call (about
    4 µs, even when the level is filtered out). Has ``is_enabled_for(level)``.
    """
    logger = _assembled.get(name)
    if logger is None:
        logger = _assembled[name] = structlog.get_logger(name).bind()
    return logger
