"""The app's periodic jobs: registered where jobs run, and doing their work when their period comes."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import func, select

from livestream.auth.models import RefreshToken, RevokedAccessToken
from livestream.db import utcnow
from tests.api.helpers import container, quick_user


async def test_the_app_schedules_its_reconcilers_and_purges(app: FastAPI) -> None:
    assert container(app).periodic.names == [
        "archives.reconcile",
        "auth.account_emails_unsent",
        "auth.purge_expired",
        "jobs.purge_claims",
        "notifications.purge",
        "notifications.reconcile",
        "schedules.remind",
        "streams.end_stale",
    ]


async def test_expired_tokens_are_purged_by_the_periodic_job(app: FastAPI) -> None:
    user, _ = await quick_user(app)
    user_id = uuid.UUID(user["user_id"])
    c = container(app)
    now = utcnow()
    async with c.db.unit_of_work() as session:
        session.add(RevokedAccessToken(jti="old", user_id=user_id, expires_at=now - timedelta(minutes=1)))
        session.add(RevokedAccessToken(jti="current", user_id=user_id, expires_at=now + timedelta(minutes=10)))
        for i, expires in enumerate((now - timedelta(days=1), now + timedelta(days=1))):
            session.add(
                RefreshToken(
                    user_id=user_id, family_id=uuid.uuid4(), token_hash=f"h{i}{uuid.uuid4().hex}", expires_at=expires
                )
            )
    assert await c.periodic.run_once("auth.purge_expired")
    async with c.db.sessionmaker() as session:
        jtis = (await session.execute(select(RevokedAccessToken.jti))).scalars().all()
        expired_left = (
            await session.execute(
                select(func.count()).select_from(RefreshToken).where(RefreshToken.expires_at < utcnow())
            )
        ).scalar_one()
        ours = (await session.execute(select(RefreshToken.token_hash).where(RefreshToken.user_id == user_id))).all()
    assert jtis == ["current"]
    assert expired_left == 0
    assert any(row[0].startswith("h1") for row in ours)
