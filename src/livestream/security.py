"""Password hashing, JWT access tokens, opaque secrets and constant-time comparison."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import bcrypt
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verified against when the account does not exist, so both paths cost one Argon2 verification.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when the password matches; legacy bcrypt hashes (the seed's) still verify."""
    if password_hash is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return False
    if password_hash.startswith(("$2a$", "$2b$", "$2y$")):
        try:
            return bcrypt.checkpw(password.encode()[:72], password_hash.encode())
        except ValueError:
            return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    if not password_hash.startswith("$argon2"):
        return True
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    a_bytes = a.encode() if isinstance(a, str) else a
    b_bytes = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_bytes, b_bytes)


def new_opaque_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def keyed_hash(secret_key: str, value: str, *, purpose: str) -> str:
    """HMAC-SHA256 of a high-entropy secret; lookups by it need no plain text at rest."""
    key = hashlib.sha256(f"{purpose}:{secret_key}".encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    jti: str
    expires_at: datetime
    # The sign-in (refresh-token family) this token belongs to; ending the sign-in ends the token.
    session_id: uuid.UUID


class TokenError(Exception):
    pass


@dataclass(frozen=True)
class JWTCodec:
    secret_key: str
    issuer: str
    audience: str
    lifetime: timedelta

    def issue(
        self, user_id: uuid.UUID, session_id: uuid.UUID, *, now: datetime | None = None
    ) -> tuple[str, AccessClaims]:
        issued = now or datetime.now(UTC)
        expires = issued + self.lifetime
        jti = uuid.uuid4().hex
        payload = {
            "sub": str(user_id),
            "iat": int(issued.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": jti,
            "sid": str(session_id),
            "iss": self.issuer,
            "aud": self.audience,
        }
        token = jwt.encode(payload, self.secret_key, algorithm="HS256")
        return token, AccessClaims(user_id=user_id, jti=jti, expires_at=expires, session_id=session_id)

    def decode(self, token: str) -> AccessClaims:
        try:
            payload = jwt.decode(
                token,
                self.secret_key,
                algorithms=["HS256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["sub", "exp", "iat", "jti", "sid", "iss", "aud"]},
            )
            return AccessClaims(
                user_id=uuid.UUID(payload["sub"]),
                jti=str(payload["jti"]),
                expires_at=datetime.fromtimestamp(payload["exp"], UTC),
                session_id=uuid.UUID(payload["sid"]),
            )
        except (jwt.PyJWTError, ValueError, KeyError) as exc:
            raise TokenError(str(exc)) from exc
