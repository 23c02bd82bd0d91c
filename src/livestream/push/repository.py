"""All queries on push subscriptions and the stored VAPID key."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from livestream.db import utcnow
from livestream.notifications.models import KINDS, NotificationSettings
from livestream.push.models import PushSubscription, VapidKey

# Recipients are looked up this many users per query (a fan-out batch is 5,000 by default: one query).
RECIPIENTS_CHUNK = 10_000


@dataclass(frozen=True)
class Recipient:
    user_id: uuid.UUID
    subscription_id: uuid.UUID
    kinds: frozenset[str]


class PushRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    # --- VAPID key -------------------------------------------------------------------------------------------

    async def vapid_key(self, key_id: int) -> VapidKey | None:
        return await self.session.get(VapidKey, key_id, populate_existing=True)

    async def insert_vapid_key_unless_there(self, key_id: int, private_pem: str, public_key: str) -> bool:
        """True when this call wrote the row; False when another process had (the unique key decides)."""
        dialect = postgresql if self._postgres else sqlite
        statement = (
            dialect.insert(VapidKey)
            .values(key_id=key_id, private_key=private_pem, public_key=public_key, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["key_id"])
            .returning(VapidKey.key_id)
        )
        return (await self.session.execute(statement)).first() is not None

    # --- subscriptions ---------------------------------------------------------------------------------------

    async def get(self, subscription_id: uuid.UUID) -> PushSubscription | None:
        return await self.session.get(PushSubscription, subscription_id)

    async def by_endpoint(self, endpoint: str) -> PushSubscription | None:
        result = await self.session.execute(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
        return result.scalar_one_or_none()

    async def upsert(
        self, *, user_id: uuid.UUID, endpoint: str, p256dh: str, auth: str, user_agent: str | None
    ) -> PushSubscription:
        """One row per endpoint: a browser subscribing again (new keys, another user signed in on it) updates
        the row and moves it to this user; two requests for one endpoint at once end with one row."""
        dialect = postgresql if self._postgres else sqlite
        values = {
            "subscription_id": uuid.uuid4(),
            "user_id": user_id,
            "endpoint": endpoint,
            "p256dh": p256dh,
            "auth": auth,
            "user_agent": user_agent,
            "created_at": utcnow(),
            "failures": 0,
        }
        insert = dialect.insert(PushSubscription).values(**values)
        statement = insert.on_conflict_do_update(
            index_elements=["endpoint"],
            set_={
                "user_id": insert.excluded.user_id,
                "p256dh": insert.excluded.p256dh,
                "auth": insert.excluded.auth,
                "user_agent": insert.excluded.user_agent,
                "failures": 0,
            },
        ).returning(PushSubscription.subscription_id)
        subscription_id = (await self.session.execute(statement)).scalar_one()
        found = await self.session.get(PushSubscription, subscription_id, populate_existing=True)
        assert found is not None
        return found

    async def ids_of_user(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        """The user's subscriptions, the most recently useful first (last success, else creation)."""
        freshest = func.coalesce(PushSubscription.last_success_at, PushSubscription.created_at)
        result = await self.session.execute(
            select(PushSubscription.subscription_id)
            .where(PushSubscription.user_id == user_id)
            .order_by(freshest.desc(), PushSubscription.subscription_id)
        )
        return list(result.scalars())

    async def delete_ids(self, ids: Iterable[uuid.UUID]) -> int:
        chosen = list(ids)
        if not chosen:
            return 0
        result = await self.session.execute(
            delete(PushSubscription).where(PushSubscription.subscription_id.in_(chosen))
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def delete_own(self, user_id: uuid.UUID, endpoint: str) -> bool:
        result = await self.session.execute(
            delete(PushSubscription).where(PushSubscription.user_id == user_id, PushSubscription.endpoint == endpoint)
        )
        return bool(getattr(result, "rowcount", 0))

    async def succeeded(self, subscription_id: uuid.UUID) -> None:
        await self.session.execute(
            update(PushSubscription)
            .where(PushSubscription.subscription_id == subscription_id)
            .values(last_success_at=utcnow(), failures=0)
        )

    async def failed(self, subscription_id: uuid.UUID) -> int:
        """Count one more failure; returns the count (0 when the subscription is gone)."""
        result = await self.session.execute(
            update(PushSubscription)
            .where(PushSubscription.subscription_id == subscription_id)
            .values(failures=PushSubscription.failures + 1)
            .returning(PushSubscription.failures)
        )
        count = result.scalar_one_or_none()
        return int(count or 0)

    # --- delivery --------------------------------------------------------------------------------------------

    async def recipients(self, user_ids: Iterable[uuid.UUID]) -> list[Recipient]:
        """Each subscription of these users who turned push on, with the kinds they have on: one query (per
        ``RECIPIENTS_CHUNK`` users). No settings row means push off (the default)."""
        wanted = list(dict.fromkeys(user_ids))
        found: list[Recipient] = []
        for start in range(0, len(wanted), RECIPIENTS_CHUNK):
            chunk = wanted[start : start + RECIPIENTS_CHUNK]
            query = (
                select(
                    PushSubscription.user_id,
                    PushSubscription.subscription_id,
                    *(getattr(NotificationSettings, kind) for kind in KINDS),
                )
                .join(NotificationSettings, NotificationSettings.user_id == PushSubscription.user_id)
                .where(PushSubscription.user_id.in_(chunk), NotificationSettings.push.is_(True))
            )
            for row in await self.session.execute(query):
                kinds = frozenset(kind for kind, on in zip(KINDS, row[2:], strict=True) if on)
                found.append(Recipient(user_id=row[0], subscription_id=row[1], kinds=kinds))
        return found
