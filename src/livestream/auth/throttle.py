"""Throttling of failed logins, per account and per client address.

Each attempt is counted *before* the password is checked, in one atomic step per counter, so parallel
guesses cannot slip past the limit between a read and a write. A successful login then clears the
account's counter and gives the address its attempt back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from livestream.errors import TooManyRequests
from livestream.ratelimit import Counters
from livestream.security import keyed_hash


@dataclass(frozen=True)
class Attempt:
    account_key: str
    address_key: str


@dataclass(frozen=True)
class LoginThrottle:
    counters: Counters
    secret_key: str
    max_per_account: int
    max_per_address: int
    window_seconds: int

    def _account_key(self, user_id: uuid.UUID | None, identity: str) -> str:
        # The account when it exists, so alice and alice@example.com share one lock; otherwise the keyed
        # hash of what was typed (the counter store never holds an email address).
        subject = str(user_id) if user_id else "unknown:" + identity.strip().lower()
        return "login:acct:" + keyed_hash(self.secret_key, subject, purpose="throttle")[:32]

    async def begin(self, user_id: uuid.UUID | None, identity: str, address: str) -> Attempt:
        """Count this attempt; refuse it when either counter is past its limit."""
        attempt = Attempt(self._account_key(user_id, identity), "login:addr:" + address)
        account = await self.counters.hit(attempt.account_key, self.window_seconds)
        by_address = await self.counters.hit(attempt.address_key, self.window_seconds)
        waits = [
            state.retry_after
            for state, limit in ((account, self.max_per_account), (by_address, self.max_per_address))
            if state.count > limit
        ]
        if waits:
            raise TooManyRequests(max(waits), "Too many failed logins; try again later")
        return attempt

    async def succeeded(self, attempt: Attempt) -> None:
        await self.counters.reset(attempt.account_key)
        await self.counters.release(attempt.address_key)
