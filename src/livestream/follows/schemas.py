from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from livestream.users.schemas import UserSummary


class FollowCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    following_id: uuid.UUID


class FollowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    follow_id: uuid.UUID
    follower_id: uuid.UUID
    following_id: uuid.UUID
    created_at: datetime


class FollowListItem(BaseModel):
    follow_id: uuid.UUID
    user: UserSummary
    followed_at: datetime
