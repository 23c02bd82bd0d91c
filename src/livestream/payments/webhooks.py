"""Webhook bodies checked and read: the signature with the SDK, then the event as plain values."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import stripe

from livestream.payments.base import InvalidEvent, WebhookEvent

# Stripe's default: a signature older than five minutes is a replay, not a delivery.
TOLERANCE_SECONDS = 300
# Stripe's events are a few kilobytes; anything this large is not one.
MAX_BODY_BYTES = 256 * 1024
MAX_ID_CHARS = 255


def parse_event(payload: bytes, header: str | None, secrets: Sequence[str]) -> WebhookEvent:
    """The event in ``payload`` if ``header`` signs it with one of ``secrets`` (Stripe gives each endpoint its
    own: the platform's events and the connected accounts' come signed differently) within the tolerance;
    else InvalidEvent."""
    if len(payload) > MAX_BODY_BYTES:
        raise InvalidEvent("body too large")
    if not header or len(header) > 4096:
        raise InvalidEvent("missing signature")
    if not any(_signed(payload, header, secret) for secret in secrets):
        raise InvalidEvent("bad or stale signature")
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the parser goes
        raise InvalidEvent("body is not JSON") from exc
    return _event(data)


def _signed(payload: bytes, header: str, secret: str) -> bool:
    try:
        stripe.WebhookSignature.verify_header(payload, header, secret, TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError:
        return False
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidEvent("body is not UTF-8") from exc
    return True


def _event(data: Any) -> WebhookEvent:
    if not isinstance(data, dict) or data.get("object") != "event":
        raise InvalidEvent("not an event")
    event_id, kind, created = data.get("id"), data.get("type"), data.get("created")
    body = data.get("data")
    obj = body.get("object") if isinstance(body, dict) else None
    if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_ID_CHARS:
        raise InvalidEvent("event id missing")
    if not isinstance(kind, str) or not 0 < len(kind) <= 100:
        raise InvalidEvent("event type missing")
    if not isinstance(created, int) or isinstance(created, bool) or not 0 <= created < 2**40:
        raise InvalidEvent("event time missing")
    if not isinstance(obj, dict):
        raise InvalidEvent("event object missing")
    return WebhookEvent(id=event_id, type=kind, object=obj, created=created, livemode=data.get("livemode") is True)


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload`` (the test provider's deliveries), with the SDK's own helper."""
    header: str = stripe.WebhookSignature.generate_signature_header(payload.decode("utf-8"), secret, timestamp)
    return header
