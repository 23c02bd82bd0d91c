from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from livestream.users.schemas import Email, Password, Username, UserPrivate
from livestream.validation import Storable


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    email: Email
    password: Password


Identity = Annotated[str, Field(min_length=1, max_length=255), Storable]


class LoginRequest(BaseModel):
    """Sign in with ``login`` (email or username); ``email`` or ``username`` are accepted as aliases."""

    model_config = ConfigDict(extra="forbid")

    login: Identity | None = None
    email: Identity | None = None
    username: Identity | None = None
    password: Annotated[str, Field(min_length=1, max_length=128), Storable]
    include_refresh_token: bool = Field(
        default=False, description="Also return the refresh token in the body (for non-browser clients)"
    )

    @model_validator(mode="after")
    def _one_identity(self) -> LoginRequest:
        given = [v for v in (self.login, self.email, self.username) if v]
        if len(given) != 1:
            raise ValueError("give exactly one of login, email or username")
        return self

    @property
    def identity(self) -> str:
        return self.login or self.email or self.username or ""


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: Annotated[str, Field(min_length=1, max_length=200), Storable] | None = None
    include_refresh_token: bool = False


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires")
    user: UserPrivate
    refresh_token: str | None = Field(default=None, description="Only when include_refresh_token was set")


# A token is 43 URL-safe characters; anything much longer is not one, and is refused before any lookup.
AccountTokenText = Annotated[str, Field(min_length=1, max_length=200), Storable]


class RegistrationPending(BaseModel):
    """The answer to a sign-up while the server sends email, the same whether the address was free or taken."""

    status: Literal["check_email"] = "check_email"
    message: str = "Check your email: we have sent a link to finish signing up."


class EmailAccepted(BaseModel):
    """The answer to a request that mails a link, the same whether or not an account has the address."""

    status: Literal["accepted"] = "accepted"
    message: str


class VerifyEmailRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: AccountTokenText


class VerifyEmailResponse(BaseModel):
    email: str = Field(description="The address now confirmed")
    username: str
    account_created: bool = Field(description="True when this link finished a sign-up (the account now exists)")


class ForgotPasswordRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email


class ResetPasswordRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: AccountTokenText
    password: Password


class PasswordReset(BaseModel):
    status: Literal["password_reset"] = "password_reset"
    message: str = "Your password is changed and every session has been signed out; sign in with the new password."
