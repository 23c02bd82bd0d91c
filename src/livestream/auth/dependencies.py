"""Who is asking: the auth service on the request's session, and the signed-in user for routers."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from livestream.auth.accounts import AccountService
from livestream.auth.emails import AccountEmails
from livestream.auth.errors import InvalidToken
from livestream.auth.repository import AccountTokenRepository, TokenRepository
from livestream.auth.service import AuthService
from livestream.auth.throttle import AccountEmailThrottle, LoginThrottle
from livestream.config import Settings
from livestream.http.deps import SessionDep, SettingsDep, provided
from livestream.ratelimit import Counters
from livestream.security import AccessClaims, JWTCodec, password_hashing
from livestream.users.models import User
from livestream.users.repository import UserRepository

CodecDep = Annotated[JWTCodec, Depends(provided(JWTCodec))]
CountersDep = Annotated[Counters, Depends(provided(Counters))]


def make_auth_service(
    session: AsyncSession, settings: Settings, codec: JWTCodec, throttle: LoginThrottle | None = None
) -> AuthService:
    """The auth service on a session: for requests (with the login throttle) and for WebSockets (without)."""
    return AuthService(
        users=UserRepository(session),
        tokens=TokenRepository(session),
        codec=codec,
        secret_key=settings.secret_key,
        refresh_lifetime=timedelta(days=settings.refresh_token_days),
        throttle=throttle,
        passwords=password_hashing(settings.password_hash_concurrency),
    )


def login_throttle(settings: Settings, counters: Counters) -> LoginThrottle:
    return LoginThrottle(
        counters=counters,
        secret_key=settings.secret_key,
        max_per_account=settings.login_max_failures_per_account,
        max_per_address=settings.login_max_failures_per_address,
        window_seconds=settings.login_lockout_seconds,
    )


async def get_auth_service(
    session: SessionDep, settings: SettingsDep, codec: CodecDep, counters: CountersDep
) -> AuthService:
    return make_auth_service(session, settings, codec, login_throttle(settings, counters))


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]
AccountEmailsDep = Annotated[AccountEmails, Depends(provided(AccountEmails))]


async def get_account_service(
    session: SessionDep, settings: SettingsDep, counters: CountersDep, emails: AccountEmailsDep
) -> AccountService:
    return AccountService(
        UserRepository(session),
        AccountTokenRepository(session),
        TokenRepository(session),
        secret_key=settings.secret_key,
        email_enabled=emails.enabled,
        enqueue=emails.enqueue,
        throttle=AccountEmailThrottle(counters=counters, secret_key=settings.secret_key),
        passwords=password_hashing(settings.password_hash_concurrency),
    )


AccountServiceDep = Annotated[AccountService, Depends(get_account_service)]

bearer = HTTPBearer(auto_error=False, description="Access token from /api/auth/login or /api/auth/refresh")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def optional_auth(
    request: Request, auth: AuthServiceDep, credentials: BearerDep
) -> tuple[User, AccessClaims] | None:
    if credentials is None:
        return None
    user, claims = await auth.authenticate(credentials.credentials)
    request.scope.setdefault("state", {})["user_id"] = str(user.user_id)
    return user, claims


OptionalAuthDep = Annotated[tuple[User, AccessClaims] | None, Depends(optional_auth)]


async def require_auth(authenticated: OptionalAuthDep) -> tuple[User, AccessClaims]:
    if authenticated is None:
        raise InvalidToken("Authentication required")
    return authenticated


async def current_user(authenticated: Annotated[tuple[User, AccessClaims], Depends(require_auth)]) -> User:
    return authenticated[0]


async def optional_user(authenticated: OptionalAuthDep) -> User | None:
    return authenticated[0] if authenticated else None


CurrentUser = Annotated[User, Depends(current_user)]
OptionalUser = Annotated[User | None, Depends(optional_user)]
AuthenticatedDep = Annotated[tuple[User, AccessClaims], Depends(require_auth)]
