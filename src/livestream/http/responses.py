"""OpenAPI ``responses`` entries for the errors each endpoint can return."""

from __future__ import annotations

from typing import Any

from livestream.http.errors import ErrorBody

_DESCRIPTIONS = {
    400: "Invalid input (VALIDATION_ERROR, INVALID_JSON, or a domain code)",
    401: "Missing, expired or revoked credentials",
    403: "Not allowed for this user",
    404: "Not found",
    409: "Conflicts with existing data",
    429: "Rate limited; see Retry-After",
    502: "An outside service it needs (the payment provider) failed; try again shortly",
    503: "A service it needs (storage) is unreachable, or the feature is off on this server",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in (400, *statuses)}
