from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from livestream.validation import CleanLine, CleanText, Storable

USERNAME_RE = re.compile(r"[A-Za-z0-9_]{3,50}")


def _check_username(value: str) -> str:
    if not USERNAME_RE.fullmatch(value):
        raise ValueError("username must be 3–50 characters of letters, digits and _")
    return value


def _normalise_email(value: str) -> str:
    return value.strip().lower()


Username = Annotated[str, Storable, AfterValidator(_check_username)]
Email = Annotated[EmailStr, Field(max_length=255), Storable, AfterValidator(_normalise_email)]
Password = Annotated[str, Field(min_length=8, max_length=128), Storable]
DisplayName = Annotated[str, StringConstraints(max_length=100), CleanLine]
Bio = Annotated[str, StringConstraints(max_length=1000), CleanText]


class UserPublic(BaseModel):
    """A profile anyone may see: never the email or the password hash."""

    model_config = ConfigDict(from_attributes=True)

    user_id: uuid.UUID
    username: str
    display_name: str | None
    bio: str | None
    created_at: datetime
    follower_count: int = 0
    following_count: int = 0
    viewer_follow_id: uuid.UUID | None = Field(
        default=None, description="The signed-in viewer's follow of this user, if any (to unfollow)"
    )
    viewer_follow_notify: bool | None = Field(
        default=None,
        description="Whether that follow notifies the viewer (false: muted); null when the viewer does not follow",
    )


class UserPrivate(UserPublic):
    """The account as its owner sees it."""

    email: str
    email_verified: bool = Field(
        default=False, description="The address was confirmed by a link sent to it (false again after a change)"
    )
    updated_at: datetime


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username | None = None
    email: Email | None = None
    display_name: DisplayName | None = None
    bio: Bio | None = None
    password: Password | None = None
    current_password: Annotated[str, Field(max_length=128), Storable] | None = None


class UserSummary(BaseModel):
    """A user as shown in lists."""

    model_config = ConfigDict(from_attributes=True)

    user_id: uuid.UUID
    username: str
    display_name: str | None
    bio: str | None
    created_at: datetime
