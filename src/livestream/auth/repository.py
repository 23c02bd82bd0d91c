"""All queries on refresh tokens, revoked access tokens and account tokens (the account emails' outbox)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livestream.auth.models import AccountToken, RefreshToken, RevokedAccessToken


class TokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_refresh(self, token: RefreshToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def get_refresh_by_hash(self, token_hash: str) -> RefreshToken | None:
        result = await self.session.execute(select(RefreshToken).where(RefreshToken.token_hash == token_hash))
        return result.scalar_one_or_none()

    async def mark_rotated(self, token_id: uuid.UUID, now: datetime) -> bool:
        """Claim a token for rotation; False when another request claimed it first."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.token_id == token_id, RefreshToken.rotated_at.is_(None), RefreshToken.revoked_at.is_(None)
            )
            .values(rotated_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_family(self, family_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_user_families(
        self, user_id: uuid.UUID, now: datetime, *, keep_family: uuid.UUID | None = None
    ) -> None:
        query = update(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        if keep_family is not None:
            query = query.where(RefreshToken.family_id != keep_family)
        await self.session.execute(query.values(revoked_at=now))

    async def revoke_access(self, jti: str, user_id: uuid.UUID, expires_at: datetime) -> None:
        if await self.session.get(RevokedAccessToken, jti) is None:
            self.session.add(RevokedAccessToken(jti=jti, user_id=user_id, expires_at=expires_at))
            await self.session.flush()

    async def access_valid(self, jti: str, family_id: uuid.UUID) -> bool:
        """Not logged out by jti, and its sign-in still has a live refresh token (one round trip)."""
        revoked = exists().where(RevokedAccessToken.jti == jti)
        live_family = exists().where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        result = await self.session.execute(select(~revoked & live_family))
        return bool(result.scalar())

    async def purge_expired(self, now: datetime) -> None:
        await self.session.execute(delete(RevokedAccessToken).where(RevokedAccessToken.expires_at < now))
        await self.session.execute(delete(RefreshToken).where(RefreshToken.expires_at < now))
        # Spent or not, a token past its expiry can do nothing; a pending sign-up's password hash goes with it.
        await self.session.execute(delete(AccountToken).where(AccountToken.expires_at < now))


class AccountTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token: AccountToken) -> AccountToken:
        self.session.add(token)
        await self.session.flush()
        return token

    async def get(self, token_id: uuid.UUID) -> AccountToken | None:
        return await self.session.get(AccountToken, token_id)

    async def get_by_hash(self, token_hash: str, purposes: tuple[str, ...]) -> AccountToken | None:
        result = await self.session.execute(
            select(AccountToken).where(AccountToken.token_hash == token_hash, AccountToken.purpose.in_(purposes))
        )
        return result.scalar_one_or_none()

    async def claim(self, token_id: uuid.UUID, now: datetime) -> bool:
        """Spend a token; False when another request spent it first (single use, whatever the race)."""
        result = await self.session.execute(
            update(AccountToken)
            .where(AccountToken.token_id == token_id, AccountToken.used_at.is_(None))
            .values(used_at=now, password_hash=None)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def spend_others(self, user_id: uuid.UUID, purpose: str, now: datetime) -> None:
        """Every other unused token of this kind of the account: a reset password makes the other links void."""
        await self.session.execute(
            update(AccountToken)
            .where(AccountToken.user_id == user_id, AccountToken.purpose == purpose, AccountToken.used_at.is_(None))
            .values(used_at=now)
        )

    async def unsent(self, *, created_before: datetime, now: datetime, limit: int) -> list[uuid.UUID]:
        """Tokens whose email was never sent (a lost job, a full retry budget) and that could still be used."""
        result = await self.session.execute(
            select(AccountToken.token_id)
            .where(
                AccountToken.sent_at.is_(None),
                AccountToken.used_at.is_(None),
                AccountToken.created_at < created_before,
                AccountToken.expires_at > now,
            )
            .order_by(AccountToken.created_at)
            .limit(limit)
        )
        return list(result.scalars())
