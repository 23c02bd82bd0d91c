"""Stream keys: high-entropy secrets, found by keyed hash, kept encrypted so the owner can see theirs again."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from livestream.security import keyed_hash

KEY_PREFIX = "live_"


def new_stream_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class StreamKeyCipher:
    """AES-256-GCM with a key derived from LS_SECRET_KEY; the stored value is nonce + ciphertext, base64."""

    def __init__(self, secret_key: str) -> None:
        self._secret_key = secret_key
        self._aead = AESGCM(hashlib.sha256(f"stream-key-encryption:{secret_key}".encode()).digest())

    def lookup_hash(self, stream_key: str) -> str:
        return keyed_hash(self._secret_key, stream_key, purpose="stream-key")

    def encrypt(self, stream_key: str) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, stream_key.encode(), b"stream-key")).decode()

    def decrypt(self, stored: str) -> str:
        raw = base64.b64decode(stored)
        return self._aead.decrypt(raw[:12], raw[12:], b"stream-key").decode()
