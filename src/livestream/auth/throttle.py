"""Throttling of password guesses: sign-ins per identity and per client address, and the current-password
check of account changes per account.

Each attempt is counted *before* the password is checked, in one atomic step per counter, so parallel
guesses cannot slip past the limit between a read and a write. A success then clears its identity's (or
account's) counter and gives the address its attempt back.

Sign-in counters are keyed by what was typed (stripped and lower-cased), never by the account it resolves
to: if ``alice`` and ``alice@example.com`` shared one lock, locking one and trying the other would tell an
attacker that the two belong together. So an account's username and email each allow ``max_per_account``
failures per window; a guesser spreading over both gets twice that, and no more, since every attempt from an
address, whatever it names, also counts against that address's ``max_per_address``. Unknown identities are
counted the same way, so a lock says nothing about whether an account exists.

The client address is the connection's, as the ASGI server puts it in the scope (``request.client``). Only
the server's proxy-headers handling (``LS_TRUSTED_PROXIES``) may replace it with an ``X-Forwarded-For`` hop;
nothing here reads forwarding headers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from livestream.errors import TooManyRequests
from livestream.ratelimit import Counters, CounterState
from livestream.security import keyed_hash


@dataclass(frozen=True)
class Attempt:
    account_key: str
    address_key: str


def _refuse_past(limits: list[tuple[CounterState, int]], message: str) -> None:
    waits = [state.retry_after for state, limit in limits if state.count > limit]
    if waits:
        raise TooManyRequests(max(waits), message)


@dataclass(frozen=True)
class LoginThrottle:
    counters: Counters
    secret_key: str
    max_per_account: int
    max_per_address: int
    window_seconds: int

    def _identity_key(self, identity: str) -> str:
        # A keyed hash of what was typed: the counter store never holds a username or an email address.
        return "login:acct:" + keyed_hash(self.secret_key, identity.strip().lower(), purpose="throttle")[:32]

    async def begin(self, identity: str, address: str) -> Attempt:
        """Count this attempt; refuse it when either counter is past its limit."""
        attempt = Attempt(self._identity_key(identity), "login:addr:" + address)
        account = await self.counters.hit(attempt.account_key, self.window_seconds)
        by_address = await self.counters.hit(attempt.address_key, self.window_seconds)
        _refuse_past(
            [(account, self.max_per_account), (by_address, self.max_per_address)],
            "Too many failed logins; try again later",
        )
        return attempt

    async def succeeded(self, attempt: Attempt) -> None:
        await self.counters.reset(attempt.account_key)
        await self.counters.release(attempt.address_key)


@dataclass(frozen=True)
class PasswordCheckThrottle:
    """The current password that account changes ask for (``PUT /api/users/{id}``), per account.

    Whoever holds a stolen access token may try it, so its failures are counted like sign-in failures, with the
    same limit and window, but on a counter of their own: a thief's guesses here cannot lock the owner out of
    signing in. Past the limit even the right password is refused until the window ends."""

    counters: Counters
    max_failures: int
    window_seconds: int

    async def begin(self, user_id: uuid.UUID) -> str:
        key = f"password:acct:{user_id}"
        state = await self.counters.hit(key, self.window_seconds)
        _refuse_past([(state, self.max_failures)], "Too many wrong passwords; try again later")
        return key

    async def succeeded(self, key: str) -> None:
        await self.counters.reset(key)


@dataclass(frozen=True)
class AccountEmailThrottle:
    """Requests that make the server email an address: forgotten passwords, sign-ups while email is on, and
    resent confirmations. Every request counts (not only failures): each one may put a message in a stranger's
    inbox, so these counters bound how hard anyone can mail-bomb an address through us, and how fast one client
    can spray addresses.

    The address counter is keyed by a keyed hash of what was typed (never the address itself), and counts
    unknown addresses exactly as known ones: a 429 tells nothing about whether an account exists."""

    counters: Counters
    secret_key: str
    max_per_address: int = 5
    max_per_client: int = 20
    window_seconds: int = 3600

    def _address_key(self, email: str) -> str:
        return "mail:addr:" + keyed_hash(self.secret_key, email.strip().lower(), purpose="throttle")[:32]

    async def hit(self, email: str, client: str) -> None:
        """Count one email about to be sent to ``email`` for ``client``; TooManyRequests past either limit."""
        by_address = await self.counters.hit(self._address_key(email), self.window_seconds)
        by_client = await self.counters.hit("mail:client:" + client, self.window_seconds)
        _refuse_past(
            [(by_address, self.max_per_address), (by_client, self.max_per_client)],
            "Too many emails asked for; try again later",
        )
