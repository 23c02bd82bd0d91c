"""Unsubscribe tokens: a link in every notification email that turns its recipient's email off, no sign-in needed.

``<user_id hex>.<HMAC-SHA256 hex>``, keyed with the app secret (``security.keyed_hash``) and compared in
constant time. The token names the user only and never expires: RFC 8058 expects a List-Unsubscribe link to
keep working, and all it can do is switch email off. Rotating ``LS_SECRET_KEY`` voids every link sent before.
"""

from __future__ import annotations

import re
import uuid

from livestream.security import constant_time_equals, keyed_hash

PURPOSE = "notification-email-unsubscribe:v1"
MAX_TOKEN = 200  # well above the 97 characters of a real token; longer input is not looked at
_SHAPE = re.compile(r"([0-9a-f]{32})\.([0-9a-f]{64})")


def unsubscribe_token(secret_key: str, user_id: uuid.UUID) -> str:
    return f"{user_id.hex}.{keyed_hash(secret_key, user_id.hex, purpose=PURPOSE)}"


def user_of_token(secret_key: str, token: str) -> uuid.UUID | None:
    """The user the token was made for; None for anything this server did not sign."""
    if len(token) > MAX_TOKEN:
        return None
    shape = _SHAPE.fullmatch(token.strip())
    if shape is None:
        return None
    user_hex, mac = shape.groups()
    if not constant_time_equals(mac, keyed_hash(secret_key, user_hex, purpose=PURPOSE)):
        return None
    return uuid.UUID(hex=user_hex)
