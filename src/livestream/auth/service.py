"""Sign-in, refresh-token rotation with reuse detection, logout, and access-token checks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from livestream.auth import errors
from livestream.auth.models import RefreshToken
from livestream.auth.repository import TokenRepository
from livestream.auth.throttle import LoginThrottle
from livestream.db import utcnow
from livestream.logging import get_logger
from livestream.security import (
    AccessClaims,
    JWTCodec,
    TokenError,
    hash_password,
    keyed_hash,
    new_opaque_token,
    password_needs_rehash,
    verify_password,
)
from livestream.users.models import User
from livestream.users.repository import UserRepository

log = get_logger("livestream.auth")


@dataclass(frozen=True)
class IssuedSession:
    user: User
    access_token: str
    expires_in: int
    refresh_token: str
    family_id: uuid.UUID


class AuthService:
    def __init__(
        self,
        users: UserRepository,
        tokens: TokenRepository,
        codec: JWTCodec,
        secret_key: str,
        refresh_lifetime: timedelta,
        throttle: LoginThrottle | None = None,
    ) -> None:
        self.users = users
        self.tokens = tokens
        self.codec = codec
        self.secret_key = secret_key
        self.refresh_lifetime = refresh_lifetime
        self.throttle = throttle

    def _hash(self, refresh_token: str) -> str:
        return keyed_hash(self.secret_key, refresh_token, purpose="refresh")

    async def login(self, identity: str, password: str, *, address: str, user_agent: str | None) -> IssuedSession:
        user = await self.users.get_by_login(identity)
        attempt = None
        if self.throttle is not None:
            attempt = await self.throttle.begin(user.user_id if user else None, identity, address)
        # verify_password burns one Argon2 verification for unknown users too, so timing matches.
        ok = verify_password(password, user.password_hash if user else None)
        if user is None or not ok:
            log.info("login_failed", reason="unknown_user" if user is None else "wrong_password")
            raise errors.InvalidCredentials()
        if self.throttle is not None and attempt is not None:
            await self.throttle.succeeded(attempt)
        if password_needs_rehash(user.password_hash):
            # Seed-era bcrypt (or weaker Argon2 parameters) upgraded now that we hold the plain text.
            user.password_hash = hash_password(password)
        log.info("login_succeeded", user_id=str(user.user_id))
        return await self._issue(user, family_id=uuid.uuid4(), user_agent=user_agent)

    async def refresh(self, refresh_token: str, *, user_agent: str | None) -> IssuedSession:
        now = utcnow()
        stored = await self.tokens.get_refresh_by_hash(self._hash(refresh_token))
        if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
            raise errors.InvalidRefreshToken()
        if stored.rotated_at is not None or not await self.tokens.mark_rotated(stored.token_id, now):
            # A rotated token came back: it was stolen or replayed. End the whole family.
            await self.tokens.revoke_family(stored.family_id, now)
            log.warning("refresh_token_reused", user_id=str(stored.user_id), family_id=str(stored.family_id))
            raise errors.RefreshTokenReused()
        user = await self.users.get(stored.user_id)
        if user is None:
            raise errors.InvalidRefreshToken()
        return await self._issue(user, family_id=stored.family_id, user_agent=user_agent)

    async def logout(self, *, refresh_token: str | None, claims: AccessClaims | None) -> None:
        now = utcnow()
        if refresh_token:
            stored = await self.tokens.get_refresh_by_hash(self._hash(refresh_token))
            if stored is not None:
                await self.tokens.revoke_family(stored.family_id, now)
        if claims is not None:
            await self.tokens.revoke_access(claims.jti, claims.user_id, claims.expires_at)
            await self.tokens.revoke_family(claims.session_id, now)

    async def end_other_sessions(self, user_id: uuid.UUID, *, keep_family: uuid.UUID | None) -> None:
        await self.tokens.revoke_user_families(user_id, utcnow(), keep_family=keep_family)

    def decode_access(self, token: str) -> AccessClaims:
        try:
            return self.codec.decode(token)
        except TokenError as exc:
            raise errors.InvalidToken() from exc

    async def authenticate(self, token: str) -> tuple[User, AccessClaims]:
        claims = self.decode_access(token)
        if not await self.tokens.access_valid(claims.jti, claims.session_id):
            raise errors.InvalidToken()
        user = await self.users.get(claims.user_id)
        if user is None:
            raise errors.InvalidToken()
        return user, claims

    async def _issue(self, user: User, *, family_id: uuid.UUID, user_agent: str | None) -> IssuedSession:
        now = utcnow()
        access_token, claims = self.codec.issue(user.user_id, family_id, now=now)
        refresh_token = new_opaque_token()
        await self.tokens.add_refresh(
            RefreshToken(
                user_id=user.user_id,
                family_id=family_id,
                token_hash=self._hash(refresh_token),
                expires_at=now + self.refresh_lifetime,
                user_agent=(user_agent or "")[:255] or None,
            )
        )
        expires_in = int((claims.expires_at - now).total_seconds())
        return IssuedSession(
            user=user,
            access_token=access_token,
            expires_in=expires_in,
            refresh_token=refresh_token,
            family_id=family_id,
        )
