from __future__ import annotations

import binascii
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from livestream.push.keys import b64url_decode
from livestream.push.models import ENDPOINT_MAX
from livestream.validation import Storable

# Room for padding and a few stray characters; the decoded length is what is checked.
_P256DH_MAX = 100
_AUTH_MAX = 40


class PushKeysIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    p256dh: Annotated[str, Field(max_length=_P256DH_MAX), Storable] = Field(
        description="The browser's P-256 public key: 65 bytes (an uncompressed point), base64url"
    )
    auth: Annotated[str, Field(max_length=_AUTH_MAX), Storable] = Field(
        description="The browser's 16-byte auth secret, base64url"
    )

    @field_validator("p256dh")
    @classmethod
    def _point(cls, value: str) -> str:
        raw = _decoded(value, "p256dh")
        if len(raw) != 65 or raw[0] != 4:
            raise ValueError("p256dh must be a 65-byte uncompressed P-256 point (starting with 0x04)")
        return value.rstrip("=")

    @field_validator("auth")
    @classmethod
    def _secret(cls, value: str) -> str:
        if len(_decoded(value, "auth")) != 16:
            raise ValueError("auth must be 16 bytes")
        return value.rstrip("=")


def _decoded(value: str, name: str) -> bytes:
    try:
        return b64url_decode(value)
    except (binascii.Error, ValueError):
        raise ValueError(f"{name} must be base64url") from None


class PushSubscriptionIn(BaseModel):
    """What ``PushSubscription.toJSON()`` gives in the browser."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # A little over the limit so the service, not the schema, answers a long one with the endpoint rules.
    endpoint: Annotated[str, Field(min_length=1, max_length=ENDPOINT_MAX * 4), Storable] = Field(
        description=f"The push service URL the browser was given: https, at most {ENDPOINT_MAX} bytes"
    )
    keys: PushKeysIn
    expirationTime: int | None = Field(
        default=None, description="Ignored (browsers send it; null for every push service in use)"
    )


class PushSubscriptionOut(BaseModel):
    subscription_id: uuid.UUID
    endpoint: str
    created_at: datetime


class PushUnsubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    endpoint: Annotated[str, Field(min_length=1, max_length=ENDPOINT_MAX * 4), Storable]


class VapidPublicKey(BaseModel):
    public_key: str = Field(
        description="The applicationServerKey for pushManager.subscribe: a P-256 point, base64url without padding"
    )
