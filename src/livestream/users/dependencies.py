"""The user service on the request's session, and the app's shared profile views, for every router that needs them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from livestream.auth.throttle import PasswordCheckThrottle
from livestream.http.deps import SessionDep, SettingsDep, provided
from livestream.ratelimit import Counters
from livestream.security import password_hashing
from livestream.users.repository import UserRepository
from livestream.users.service import UserService
from livestream.users.views import ProfileViews


async def get_user_service(
    session: SessionDep, settings: SettingsDep, counters: Annotated[Counters, Depends(provided(Counters))]
) -> UserService:
    # Wrong current passwords count like failed sign-ins: same counters, limit and window, per account.
    checks = PasswordCheckThrottle(
        counters=counters,
        max_failures=settings.login_max_failures_per_account,
        window_seconds=settings.login_lockout_seconds,
    )
    return UserService(
        UserRepository(session),
        passwords=password_hashing(settings.password_hash_concurrency),
        password_checks=checks,
    )


UserServiceDep = Annotated[UserService, Depends(get_user_service)]
ProfileViewsDep = Annotated[ProfileViews, Depends(provided(ProfileViews))]
