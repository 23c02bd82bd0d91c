"""notifications: one per event and recipient, unread index, settings; follows can be muted

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("stream_started", "schedule_reminder", "archive_ready", "new_follower")


def upgrade() -> None:
    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notify", sa.Boolean(), nullable=False, server_default=sa.text("true")))
        batch_op.create_index("ix_follows_following_follow", ["following_id", "follow_id"], unique=False)
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_key", sa.String(length=120), nullable=True))
    # Rows from before (none were ever written): each its own event.
    op.execute("UPDATE notifications SET event_key = type || ':' || CAST(notification_id AS VARCHAR(40))")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.alter_column("event_key", existing_type=sa.String(length=120), nullable=False)
        batch_op.create_unique_constraint("uq_notifications_user_event", ["user_id", "event_key"])
        batch_op.create_index("ix_notifications_user_unread", ["user_id", "read_at"], unique=False)
    op.create_table(
        "notification_settings",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("push", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        *(sa.Column(kind, sa.Boolean(), nullable=False, server_default=sa.text("true")) for kind in KINDS),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_notification_settings_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_settings")),
    )


def downgrade() -> None:
    op.drop_table("notification_settings")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_user_unread")
        batch_op.drop_constraint("uq_notifications_user_event", type_="unique")
        batch_op.drop_column("event_key")
    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.drop_index("ix_follows_following_follow")
        batch_op.drop_column("notify")
