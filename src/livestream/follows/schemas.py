from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from livestream.users.schemas import UserSummary


class FollowCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    following_id: uuid.UUID


class FollowUpdate(BaseModel):
    # Strict: "no" or 0 is refused, not read as false.
    model_config = ConfigDict(extra="forbid", strict=True)

    notify: bool


class FollowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    follow_id: uuid.UUID
    follower_id: uuid.UUID
    following_id: uuid.UUID
    created_at: datetime
    notify: bool = True


class FollowListItem(BaseModel):
    follow_id: uuid.UUID
    user: UserSummary
    followed_at: datetime
