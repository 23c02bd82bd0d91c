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
    PasswordHashing,
    TokenError,
    keyed_hash,
    new_opaque_token,
    password_hashing,
    password_needs_rehash,
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
        passwords: PasswordHashing | None = None,
    ) -> None:
        self.users = users
        self.tokens = tokens
        self.codec = codec
        self.secret_key = secret_key
        self.refresh_lifetime = refresh_lifetime
        self.throttle = throttle
        self.passwords = passwords or password_hashing()

    def _hash(self, refresh_token: str) -> str:
        return keyed_hash(self.secret_key, refresh_token, purpose="refresh")

    async def login(self, identity: str, password: str, *, address: str, user_agent: str | None) -> IssuedSession:
        # Counted first (by what was typed and by address), so a refused attempt costs no query and no hash.
        attempt = await self.throttle.begin(identity, address) if self.throttle is not None else None
        # The account is read once a hashing thread is ours: logins queued behind others' hashes hold no
        # database connection (chat and every other request keep the pool).
        async with self.passwords.turn() as hashing:
            user = await self.users.get_by_login(identity)
            # An unknown name is checked against a dummy hash: one Argon2 computation either way, so timing matches.
            ok = await hashing.verify(password, user.password_hash if user else None)
            # Seed-era bcrypt (or weaker Argon2 parameters) upgraded now that we hold the plain text.
            upgraded = (
                await hashing.hash(password) if user and ok and password_needs_rehash(user.password_hash) else None
            )
        if user is None or not ok:
            log.info("login_failed", reason="unknown_user" if user is None else "wrong_password")
            raise errors.InvalidCredentials()
        if self.throttle is not None and attempt is not None:
            await self.throttle.succeeded(attempt)
        if upgraded is not None:
            user.password_hash = upgraded
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
