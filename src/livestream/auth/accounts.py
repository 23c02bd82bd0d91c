"""Account emails, the request side: sign-up by email, confirming an address, forgotten passwords.

No HTTP here, and no email either: each request writes one ``account_tokens`` row and, after commit, hands its
id to the sending job (``auth.emails``). So a request does the same work whatever the address turns out to
be (an account or none, free or taken): whether it has an account is decided by the job, after the answer has
gone. The request side never learns it, and neither can the one who asked. See docs/decisions.md, D20.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from livestream.auth import errors
from livestream.auth.models import AccountToken
from livestream.auth.repository import AccountTokenRepository, TokenRepository
from livestream.auth.throttle import AccountEmailThrottle
from livestream.db import after_commit, utcnow
from livestream.logging import get_logger
from livestream.security import PasswordHashing, keyed_hash, password_hashing
from livestream.users import errors as user_errors
from livestream.users.models import User
from livestream.users.passwords import is_common
from livestream.users.repository import UserRepository

log = get_logger("livestream.auth")

VERIFY_LIFETIME = timedelta(hours=24)
RESET_LIFETIME = timedelta(minutes=30)

# The tokens each endpoint accepts, and the key each is hashed under: a reset token is never a confirmation.
VERIFY_PURPOSES = ("register", "verify_email")
RESET_PURPOSES = ("reset_password",)
HASH_PURPOSE = {"register": "account:verify", "verify_email": "account:verify", "reset_password": "account:reset"}

Enqueue = Callable[[uuid.UUID], Awaitable[None]]


def account_token_hash(secret_key: str, token: str, purpose: str) -> str:
    """What is stored of a token: HMAC-SHA256 under the app's secret, so the table alone opens nothing."""
    return keyed_hash(secret_key, token, purpose=HASH_PURPOSE[purpose])


class AccountService:
    def __init__(
        self,
        users: UserRepository,
        tokens: AccountTokenRepository,
        sessions: TokenRepository,
        *,
        secret_key: str,
        email_enabled: bool,
        enqueue: Enqueue,
        throttle: AccountEmailThrottle | None = None,
        passwords: PasswordHashing | None = None,
    ) -> None:
        self.users = users
        self.tokens = tokens
        self.sessions = sessions
        self.secret_key = secret_key
        self.email_enabled = email_enabled
        self.enqueue = enqueue
        self.throttle = throttle
        self.passwords = passwords or password_hashing()

    # --- requests that mail a link ---------------------------------------------------------------------

    async def start_registration(self, *, username: str, email: str, password: str, client: str) -> None:
        """Sign-up while email is on: nothing is created but a pending row; the link creates the account.

        Checks that depend only on what was typed (a weak password, a taken username: usernames are public)
        still answer at once; whether the address is taken is never looked at here."""
        if self.throttle is not None:
            await self.throttle.hit(email, client)
        if is_common(password) or password.lower() in (username.lower(), email.lower()):
            raise user_errors.WeakPassword()
        # Hashed before the first query, as registration always was: a sign-up waiting for a hashing thread
        # holds no database connection.
        password_hash = await self.passwords.hash(password)
        if await self.users.username_taken(username):
            raise user_errors.UsernameTaken()
        await self._outbox(
            AccountToken(
                purpose="register",
                email=email,
                username=username,
                password_hash=password_hash,
                expires_at=utcnow() + VERIFY_LIFETIME,
            )
        )

    async def forgot_password(self, email: str, *, client: str) -> None:
        """Queue a reset link for whatever account has ``email`` (the job finds out; nothing here does)."""
        if not self.email_enabled:
            raise errors.EmailDisabled()
        if self.throttle is not None:
            await self.throttle.hit(email, client)
        await self._outbox(AccountToken(purpose="reset_password", email=email, expires_at=utcnow() + RESET_LIFETIME))

    async def resend_verification(self, user: User, *, client: str) -> None:
        # Already confirmed is true with or without a mail server: said first.
        if user.email_verified_at is not None:
            raise errors.EmailAlreadyVerified()
        if not self.email_enabled:
            raise errors.EmailDisabled()
        if self.throttle is not None:
            await self.throttle.hit(user.email, client)
        await self._verification_for(user)

    async def email_change_requested(self, addresses: list[str], *, client: str) -> None:
        """An account changes its address: each address it mails (a link to the new one, a notice to the old
        one, or a notice to the owner of a taken one) counts like a sign-up, so nobody can flood a mailbox by
        switching between two addresses."""
        if self.throttle is not None:
            for address in dict.fromkeys(a.strip().lower() for a in addresses):
                await self.throttle.hit(address, client)

    async def email_changed(self, user: User) -> None:
        """After an email change (the account's address is already the new one, unconfirmed): a link to it."""
        if self.email_enabled:
            await self._verification_for(user)

    async def _verification_for(self, user: User) -> None:
        await self._outbox(
            AccountToken(
                user_id=user.user_id, purpose="verify_email", email=user.email, expires_at=utcnow() + VERIFY_LIFETIME
            )
        )

    async def _outbox(self, row: AccountToken) -> None:
        await self.tokens.add(row)
        token_id = row.token_id
        after_commit(self.tokens.session, lambda: self.enqueue(token_id))

    # --- links coming back -----------------------------------------------------------------------------

    async def verify_email(self, token: str) -> tuple[User, bool]:
        """Confirm the address a link was sent to; returns the account and whether this link created it."""
        row = await self.tokens.get_by_hash(account_token_hash(self.secret_key, token, "verify_email"), VERIFY_PURPOSES)
        if row is None:
            raise errors.InvalidVerificationToken()
        if row.used_at is not None:
            raise errors.VerificationTokenUsed()
        now = utcnow()
        if row.expires_at <= now:
            raise errors.VerificationTokenExpired()
        if row.purpose == "register":
            return await self._finish_registration(row), True
        user = await self.users.get(row.user_id) if row.user_id is not None else None
        if user is None or user.email.lower() != row.email.lower():
            # The account changed its address since: this link confirms an address it no longer has.
            raise errors.InvalidVerificationToken("This confirmation link is for an address the account no longer has")
        if not await self.tokens.claim(row.token_id, now):
            raise errors.VerificationTokenUsed()
        user.email_verified_at = now
        log.info("email_verified", user_id=str(user.user_id))
        return user, False

    async def _finish_registration(self, row: AccountToken) -> User:
        now = utcnow()
        username, password_hash = row.username, row.password_hash
        if username is None or password_hash is None:  # written together by start_registration; never apart
            raise errors.InvalidVerificationToken()
        if not await self.tokens.claim(row.token_id, now):
            raise errors.VerificationTokenUsed()
        user = User(username=username, email=row.email, password_hash=password_hash, email_verified_at=now)
        if not await self.users.add(user):
            # Someone else took the name (or confirmed this address) between the sign-up and this link.
            # The one holding the link owns the address, so saying which is no leak; the request rolls back.
            if await self.users.username_taken(username):
                raise user_errors.UsernameTaken("That username was taken meanwhile; sign up again with another")
            raise user_errors.EmailTaken()
        log.info("registration_confirmed", user_id=str(user.user_id))
        return user

    async def reset_password(self, token: str, password: str) -> User:
        """Set a new password from a reset link; every session of the account ends (access tokens too)."""
        row = await self.tokens.get_by_hash(
            account_token_hash(self.secret_key, token, "reset_password"), RESET_PURPOSES
        )
        if row is None:
            raise errors.InvalidResetToken()
        if row.used_at is not None:
            raise errors.ResetTokenUsed()
        now = utcnow()
        if row.expires_at <= now:
            raise errors.ResetTokenExpired()
        user = await self.users.get(row.user_id) if row.user_id is not None else None
        if user is None or user.email.lower() != row.email.lower():
            raise errors.InvalidResetToken("This reset link is for an address the account no longer has")
        if is_common(password) or password.lower() in (user.username.lower(), user.email.lower()):
            raise user_errors.WeakPassword()
        password_hash = await self.passwords.hash(password)
        if not await self.tokens.claim(row.token_id, now):
            raise errors.ResetTokenUsed()
        await self.tokens.spend_others(user.user_id, "reset_password", now)
        user.password_hash = password_hash
        user.updated_at = now
        if user.email_verified_at is None:
            # The link reached this address: that is the proof a confirmation link would have given.
            user.email_verified_at = now
        # Ending every refresh family ends its access tokens at once too (TokenRepository.access_valid).
        await self.sessions.revoke_user_families(user.user_id, now)
        log.info("password_reset", user_id=str(user.user_id))
        return user
