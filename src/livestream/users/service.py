"""Accounts: registration, profiles, updates. No HTTP here; the request scope commits."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from livestream.db import utcnow
from livestream.security import PasswordHashing, password_hashing
from livestream.users import errors
from livestream.users.models import User
from livestream.users.passwords import is_common
from livestream.users.repository import UserRepository
from livestream.users.schemas import UserPrivate, UserPublic, UserUpdate


class PasswordChecks(Protocol):
    """Counts current-password checks per account and refuses them past a limit (``auth.throttle`` has one)."""

    async def begin(self, user_id: uuid.UUID) -> str: ...

    async def succeeded(self, key: str) -> None: ...


@dataclass(frozen=True)
class Updated:
    user: User
    password_changed: bool
    # With ``mail_check`` (email on): the address asked for had another account, so nothing was changed and the
    # answer must look as for a free address (its owner is told by email, D20).
    taken_email: str | None = None


class UserService:
    def __init__(
        self,
        users: UserRepository,
        passwords: PasswordHashing | None = None,
        password_checks: PasswordChecks | None = None,
    ) -> None:
        self.users = users
        self.passwords = passwords or password_hashing()
        self.password_checks = password_checks

    async def register(self, *, username: str, email: str, password: str) -> User:
        if is_common(password) or password.lower() in (username.lower(), email.lower()):
            raise errors.WeakPassword()
        # Hashed before the first query: a registration waiting for a hashing thread holds no database connection.
        password_hash = await self.passwords.hash(password)
        await self._ensure_free(username=username, email=email)
        user = User(username=username, email=email, password_hash=password_hash)
        if not await self.users.add(user):
            # Two registrations raced past the checks above; the unique indexes decided.
            raise await self._conflict_for(username, email)
        return user

    async def get(self, user_id: uuid.UUID) -> User:
        user = await self.users.get(user_id)
        if user is None:
            raise errors.UserNotFound()
        return user

    async def update(
        self,
        actor_id: uuid.UUID,
        user_id: uuid.UUID,
        change: UserUpdate,
        *,
        mail_check: Callable[[list[str]], Awaitable[None]] | None = None,
    ) -> Updated:
        """Apply a profile change. ``mail_check`` (given when the server sends email) counts the addresses an
        email change mails (TooManyRequests past the limits) and hides whether the new address is taken."""
        user = await self.get(user_id)
        if actor_id != user_id:
            raise errors.NotYourAccount()
        sensitive = (change.email is not None and change.email != user.email.lower()) or change.password is not None
        if sensitive:
            if not change.current_password:
                raise errors.CurrentPasswordRequired()
            # Counted before the check, like sign-ins: a stolen access token must not allow unlimited guesses.
            check = await self.password_checks.begin(user.user_id) if self.password_checks else None
            if not await self.passwords.verify(change.current_password, user.password_hash):
                raise errors.WrongPassword()
            if self.password_checks and check is not None:
                await self.password_checks.succeeded(check)
        changes: dict[str, object] = {}
        if change.username is not None and change.username != user.username:
            if await self.users.username_taken(change.username, excluding=user.user_id):
                raise errors.UsernameTaken()
            changes["username"] = change.username
        taken_email: str | None = None
        if change.email is not None and change.email != user.email:
            if mail_check is not None:
                # Counted after the password check: the new address gets a link (or a notice), the old one a notice.
                await mail_check([change.email, user.email])
            if await self.users.email_taken(change.email, excluding=user.user_id):
                if mail_check is None:
                    raise errors.EmailTaken()
                taken_email = change.email
            else:
                changes["email"] = change.email
                # A new address is unconfirmed until a link sent to it comes back (auth.accounts).
                changes["email_verified_at"] = None
        if change.display_name is not None:
            changes["display_name"] = change.display_name or None
        if change.bio is not None:
            changes["bio"] = change.bio or None
        password_changed = False
        if change.password is not None:
            if is_common(change.password) or change.password.lower() == user.username.lower():
                raise errors.WeakPassword()
            changes["password_hash"] = await self.passwords.hash(change.password)
            password_changed = True
        changes["updated_at"] = utcnow()
        username, email = changes.get("username", user.username), changes.get("email", user.email)
        if not await self.users.change(user, changes):
            raise await self._conflict_for(str(username), str(email), excluding=user.user_id)
        return Updated(user, password_changed, taken_email)

    async def public_profile(
        self, *, user_id: uuid.UUID | None = None, username: str | None = None, viewer_id: uuid.UUID | None = None
    ) -> UserPublic:
        """The profile as ``viewer_id`` sees it (None: anonymous, the view every reader may share)."""
        row = await self.users.get_profile(user_id=user_id, username=username, viewer_id=viewer_id)
        if row is None:
            raise errors.UserNotFound()
        # Following yourself is impossible, so the owner never sees a follow of their own.
        return UserPublic.model_validate(row._asdict())

    async def private_profile(self, user: User) -> UserPrivate:
        followers, following = await self.users.follow_counts(user.user_id)
        return UserPrivate.model_validate(user).model_copy(
            update={"follower_count": followers, "following_count": following}
        )

    async def _ensure_free(self, *, username: str, email: str) -> None:
        if await self.users.username_taken(username):
            raise errors.UsernameTaken()
        if await self.users.email_taken(email):
            raise errors.EmailTaken()

    async def _conflict_for(
        self, username: str, email: str, *, excluding: uuid.UUID | None = None
    ) -> errors.UsernameTaken | errors.EmailTaken:
        if await self.users.username_taken(username, excluding=excluding):
            return errors.UsernameTaken()
        return errors.EmailTaken()
