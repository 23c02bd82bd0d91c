"""Dependencies shared by every router: the request's session, services, and the signed-in user."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from livestream.api.container import Container
from livestream.auth.errors import InvalidToken
from livestream.auth.repository import TokenRepository
from livestream.auth.service import AuthService
from livestream.auth.throttle import LoginThrottle
from livestream.errors import AppError
from livestream.security import AccessClaims
from livestream.users.models import User
from livestream.users.repository import UserRepository


# Every dependency is async: FastAPI runs sync ones in a thread pool, a thread hop per request each.
async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_session(container: ContainerDep) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: services flush, this commits once the handler returns."""
    async with container.db.sessionmaker() as session:
        try:
            yield session
        except AppError as exc:
            if exc.keeps_changes:
                await session.commit()
            else:
                await session.rollback()
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()
            for callback in session.info.pop("after_commit", []):
                await callback()


def after_commit(session: AsyncSession, callback: Callable[[], Awaitable[None]]) -> None:
    """Run a side effect (disconnecting a publisher, a publish) only once the request's writes are committed."""
    session.info.setdefault("after_commit", []).append(callback)


# scope="function": commit before the response is sent, so a client never sees an uncommitted result.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def auth_service(session: AsyncSession, container: Container, throttle: LoginThrottle | None = None) -> AuthService:
    """The auth service on a session: for requests (with the login throttle) and for WebSockets (without)."""
    settings = container.settings
    return AuthService(
        users=UserRepository(session),
        tokens=TokenRepository(session),
        codec=container.codec,
        secret_key=settings.secret_key,
        refresh_lifetime=timedelta(days=settings.refresh_token_days),
        throttle=throttle,
    )


async def get_auth_service(session: SessionDep, container: ContainerDep) -> AuthService:
    settings = container.settings
    throttle = LoginThrottle(
        counters=container.counters,
        secret_key=settings.secret_key,
        max_per_account=settings.login_max_failures_per_account,
        max_per_address=settings.login_max_failures_per_address,
        window_seconds=settings.login_lockout_seconds,
    )
    return auth_service(session, container, throttle)


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]

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
