"""The server's VAPID key pair (RFC 8292): from LS_VAPID_PRIVATE_KEY, or generated once and kept in the database.

The private key never leaves this module in a log line or an error message: errors say what is wrong with the
setting, never what it holds.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid

from livestream.db import Database
from livestream.logging import get_logger
from livestream.push.models import VapidKey
from livestream.push.repository import PushRepository

log = get_logger("livestream.push")

# The one row of vapid_keys.
KEY_ID = 1


class VapidKeyError(ValueError):
    """LS_VAPID_PRIVATE_KEY cannot be used; the message says why (and never holds the key)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url (padding optional): ``binascii.Error`` for anything else."""
    if not text or any(c not in _B64URL for c in text):
        raise binascii.Error("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


@dataclass(frozen=True)
class VapidKeys:
    private_key: ec.EllipticCurvePrivateKey

    def __repr__(self) -> str:  # no key material in tracebacks or logs
        return f"VapidKeys(public_key={self.public_key!r})"

    @property
    def public_key(self) -> str:
        """The applicationServerKey: the uncompressed P-256 point, base64url without padding."""
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    @property
    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")

    def vapid(self) -> Vapid:
        # The subject is checked by our settings (py_vapid's own check refuses an https subject with a port).
        return Vapid(self.private_key, conf={"no-strict": True})

    @classmethod
    def generate(cls) -> VapidKeys:
        return cls(ec.generate_private_key(ec.SECP256R1()))


def parse_private_key(text: str) -> VapidKeys:
    """A P-256 private key as PEM (PKCS#8 or SEC 1; ``\\n`` escapes allowed, for one-line environments), as the
    raw 32-byte scalar base64url-encoded (what most VAPID generators print), or as DER base64url-encoded."""
    value = text.strip()
    if not value:
        raise VapidKeyError("LS_VAPID_PRIVATE_KEY is empty; unset it to have a key generated and stored")
    key: object
    if value.startswith("-----BEGIN"):
        pem = value.replace("\\n", "\n").encode("ascii", errors="replace")
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            raise VapidKeyError(
                "LS_VAPID_PRIVATE_KEY looks like PEM but cannot be read (it must be an unencrypted private key)"
            ) from None
    else:
        try:
            raw = b64url_decode(value)
        except (binascii.Error, ValueError):
            raise VapidKeyError(
                "LS_VAPID_PRIVATE_KEY is neither PEM nor base64url (the raw 32-byte P-256 private key)"
            ) from None
        if len(raw) == 32:
            try:
                key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
            except ValueError:
                raise VapidKeyError("LS_VAPID_PRIVATE_KEY is not a valid P-256 private key") from None
        else:
            try:
                key = serialization.load_der_private_key(raw, password=None)
            except (ValueError, TypeError):
                raise VapidKeyError(
                    "LS_VAPID_PRIVATE_KEY decodes to "
                    f"{len(raw)} bytes: expected the raw 32-byte P-256 private key (or PEM)"
                ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise VapidKeyError("LS_VAPID_PRIVATE_KEY must be an elliptic-curve key on P-256 (prime256v1)")
    return VapidKeys(key)


async def load_or_create(db: Database) -> VapidKeys:
    """The stored key pair; the first process to get here generates it. Two processes starting at once both
    try to insert row 1; the database keeps one and both then read that one."""
    async with db.sessionmaker() as session:
        stored = await PushRepository(session).vapid_key(KEY_ID)
    if stored is None:
        fresh = VapidKeys.generate()
        async with db.unit_of_work() as session:
            inserted = await PushRepository(session).insert_vapid_key_unless_there(
                KEY_ID, fresh.private_pem, fresh.public_key
            )
        if inserted:
            log.info("vapid_keys_generated", public_key=fresh.public_key)
        async with db.sessionmaker() as session:
            stored = await PushRepository(session).vapid_key(KEY_ID)
        if stored is None:  # deleted between the two statements: an operator rotating it
            raise RuntimeError("the VAPID key row vanished while it was being created; start again")
    return _from_row(stored)


def _from_row(row: VapidKey) -> VapidKeys:
    try:
        return parse_private_key(row.private_key)
    except VapidKeyError:
        raise RuntimeError(
            "the VAPID key stored in vapid_keys cannot be read; delete that row to generate a new one"
        ) from None
