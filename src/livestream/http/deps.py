"""Dependencies every router shares: the request's unit of work and the app-lifetime objects it provides.

The composition root (``livestream.app``) registers each long-lived object once by its type; routers ask for
one with ``provided(SomeType)``. So a domain names what it needs without importing the root that builds it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from livestream.config import Settings
from livestream.db import Database, after_commit, run_after_commit
from livestream.errors import AppError

T = TypeVar("T")

# Each dependency is async: FastAPI runs sync ones in a thread pool, a thread hop per request each.
_providers: dict[type[Any], Callable[[HTTPConnection], Awaitable[Any]]] = {}


def provided(kind: type[T]) -> Callable[[HTTPConnection], Awaitable[T]]:
    """The dependency giving the app's one ``kind`` (one function per type, so FastAPI caches it per request)."""
    provider = _providers.get(kind)
    if provider is None:

        async def provider(connection: HTTPConnection) -> Any:
            return connection.app.state.provided[kind]

        provider.__name__ = f"provide_{kind.__name__}"
        _providers[kind] = provider
    return cast(Callable[[HTTPConnection], Awaitable[T]], provider)


def lookup(connection: HTTPConnection, kind: type[T]) -> T:
    """The app's one ``kind``, outside FastAPI's dependency injection (plain Starlette routes)."""
    value: T = connection.app.state.provided[kind]
    return value


SettingsDep = Annotated[Settings, Depends(provided(Settings))]
DatabaseDep = Annotated[Database, Depends(provided(Database))]


async def get_session(db: DatabaseDep) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: services flush, this commits once the handler returns."""
    async with db.sessionmaker() as session:
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
            # Supervised: a failing side effect is logged, the committed change is still answered as done.
            await run_after_commit(session)


async def end_reads(session: AsyncSession) -> None:
    """End the request's transaction before a slow call to an outside service: the reads so far (signing in)
    hold a database connection (and on SQLite, maybe the lock) that nothing needs meanwhile. Nothing was written
    yet; a later read starts a new transaction."""
    await session.commit()


__all__ = [
    "DatabaseDep",
    "SessionDep",
    "SettingsDep",
    "after_commit",
    "end_reads",
    "get_session",
    "lookup",
    "provided",
]


# scope="function": commit before the response is sent, so a client never sees an uncommitted result.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
