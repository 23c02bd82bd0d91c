"""Throttling of failed logins, per account and per client address."""

from __future__ import annotations

from dataclasses import dataclass

from livestream.errors import TooManyRequests
from livestream.ratelimit import Counters
from livestream.security import keyed_hash


@dataclass(frozen=True)
class LoginThrottle:
    counters: Counters
    secret_key: str
    max_per_account: int
    max_per_address: int
    window_seconds: int

    def _account_key(self, identity: str) -> str:
        # Keyed hash: the counter store never holds an email address.
        return "login:acct:" + keyed_hash(self.secret_key, identity.strip().lower(), purpose="throttle")[:32]

    def _address_key(self, address: str) -> str:
        return "login:addr:" + address

    async def check(self, identity: str, address: str) -> None:
        """Refuse before any password work when either counter is spent."""
        for key, limit in (
            (self._account_key(identity), self.max_per_account),
            (self._address_key(address), self.max_per_address),
        ):
            state = await self.counters.peek(key)
            if state.count >= limit:
                raise TooManyRequests(state.retry_after, "Too many failed logins; try again later")

    async def failed(self, identity: str, address: str) -> None:
        await self.counters.hit(self._account_key(identity), self.window_seconds)
        await self.counters.hit(self._address_key(address), self.window_seconds)

    async def succeeded(self, identity: str) -> None:
        await self.counters.reset(self._account_key(identity))
