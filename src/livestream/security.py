"""Password hashing, JWT access tokens, opaque secrets and constant-time comparison."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import os
import secrets
import sys
import threading
import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import bcrypt
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

T = TypeVar("T")

# The production Argon2id parameters (argon2-cffi's defaults: RFC 9106's low-memory profile, 64 MiB, 4 lanes).
# Building it hashes nothing; every hash and verification reads it when it runs (tests swap in cheap ones).
_hasher = PasswordHasher()
_LANES = _hasher.parallelism  # each computation runs this many threads of libargon2's own
_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
# Hashing threads run this much nicer than the process (on Linux, where niceness is per thread; the Argon2 lanes
# they start inherit it). On a saturated CPU the event loop (chat, HTTP, RTMP) and the transcoders come first: a
# sign-in may take longer, a chat message or a video segment must not. Not 19: a hashing thread holds the GIL for
# a few microseconds around each computation, and one starved there would hold up the loop.
HASHING_NICENESS = 10


def usable_cpus() -> int:
    with contextlib.suppress(AttributeError):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_hash_concurrency() -> int:
    """As many computations at once as keep the CPUs busy and no more: each runs its 4 lanes on threads of its
    own, so one per 4 CPUs, and at least one (on 2 CPUs a single computation already takes both)."""
    return max(1, usable_cpus() // _LANES)


class PasswordHashing:
    """Argon2id hashing and verification (and the seed's bcrypt) on threads of their own, never on the event loop.

    argon2-cffi and bcrypt release the GIL, so the loop goes on serving HTTP, chat sockets and RTMP while a worker
    thread hashes. At most ``concurrency`` computations run at once: each takes 64 MiB and about 0.2 s of CPU, so
    an unbounded number would take the machine's memory and starve everything else. Callers wait for a turn,
    first come first served; ``turn()`` lets a caller take one *before* it reads the database, so requests queued
    for a hash hold no database connection. The threads run at a lower priority (``HASHING_NICENESS``).
    """

    def __init__(self, concurrency: int | None = None) -> None:
        self.concurrency = concurrency or default_hash_concurrency()
        self._executor = ThreadPoolExecutor(
            self.concurrency, thread_name_prefix="password-hash", initializer=_yield_to_the_loop
        )
        # One queue of turns per event loop: an asyncio semaphore belongs to the loop it first waits on, and a
        # process may run several loops one after another (the CLI, tests). The threads are shared by all.
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        # Verified against when an account does not exist, so both paths cost one Argon2 computation. Made on a
        # worker thread by the first unknown name (with the parameters then in force), never at import.
        self._dummy: tuple[PasswordHasher, str] | None = None

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[HashingTurn]:
        """Wait for a free hashing slot and hold it: hash and verify through the turn as often as needed."""
        loop = asyncio.get_running_loop()
        turns = self._turns.get(loop)
        if turns is None:
            turns = self._turns[loop] = asyncio.Semaphore(self.concurrency)
        async with turns:
            yield HashingTurn(self)

    async def hash(self, password: str) -> str:
        async with self.turn() as turn:
            return await turn.hash(password)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """True when the password matches; None (no such account) costs the same and is False."""
        async with self.turn() as turn:
            return await turn.verify(password, password_hash)

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)

    def _verify(self, password: str, password_hash: str | None) -> bool:
        """On a worker thread."""
        hasher = _hasher
        if password_hash is None:
            dummy = self._dummy
            if dummy is None or dummy[0] is not hasher:
                # Making the dummy is itself one Argon2 computation: the first unknown name costs what others do.
                self._dummy = (hasher, hasher.hash(secrets.token_urlsafe(16)))
            else:
                with contextlib.suppress(VerificationError):
                    hasher.verify(dummy[1], password)
            return False
        if password_hash.startswith(_BCRYPT_PREFIXES):
            try:
                return bcrypt.checkpw(password.encode()[:72], password_hash.encode())
            except ValueError:
                return False
        try:
            return hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


class HashingTurn:
    """A held hashing slot (from ``PasswordHashing.turn``); its work runs on the hashing threads."""

    def __init__(self, owner: PasswordHashing) -> None:
        self._owner = owner

    async def hash(self, password: str) -> str:
        return await self._owner._run(_hash, password)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        return await self._owner._run(self._owner._verify, password, password_hash)


def _yield_to_the_loop() -> None:
    """A hashing thread's first step: lower its own priority (elsewhere than Linux, setpriority is per process)."""
    if sys.platform != "linux" or HASHING_NICENESS <= 0:
        return
    thread = threading.get_native_id()
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + HASHING_NICENESS))


def _hash(password: str) -> str:
    return _hasher.hash(password)


def password_hashing(concurrency: int | None = None) -> PasswordHashing:
    """The process's hashing threads of this size (``LS_PASSWORD_HASH_CONCURRENCY``; default: one per 4 CPUs).

    One set per size for the whole process, made on first use: the CPUs they share are the process's, whichever
    app, CLI command or test asks."""
    return _hashing_of_size(concurrency or default_hash_concurrency())


@functools.cache
def _hashing_of_size(concurrency: int) -> PasswordHashing:
    return PasswordHashing(concurrency)


def password_needs_rehash(password_hash: str) -> bool:
    """Cheap (it reads the parameters in the hash): seed-era bcrypt and weaker Argon2 parameters say yes."""
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
