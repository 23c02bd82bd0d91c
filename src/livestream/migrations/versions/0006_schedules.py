"""schedules: a creator's planned streams, their reminders and the stream each became

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("schedule_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=140), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stream_id", sa.Uuid(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('scheduled', 'live', 'done', 'cancelled')", name="ck_schedules_status"),
        sa.CheckConstraint(
            "duration_minutes IS NULL OR (duration_minutes >= 5 AND duration_minutes <= 1440)",
            name="ck_schedules_duration",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["stream_id"], ["streams.stream_id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("schedule_id"),
    )
    op.create_index("ix_schedules_user_starts", "schedules", ["user_id", "starts_at"], unique=False)
    op.create_index("ix_schedules_status_starts", "schedules", ["status", "starts_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_schedules_status_starts", table_name="schedules")
    op.drop_index("ix_schedules_user_starts", table_name="schedules")
    op.drop_table("schedules")
