"""chat moderation: bans, moderators, slow mode

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_bans",
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("channel_id <> user_id", name=op.f("ck_chat_bans_not_self")),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["users.user_id"], name=op.f("fk_chat_bans_channel_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.user_id"], name=op.f("fk_chat_bans_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_chat_bans_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("channel_id", "user_id", name=op.f("pk_chat_bans")),
    )
    op.create_index(op.f("ix_chat_bans_user_id"), "chat_bans", ["user_id"], unique=False)
    op.create_table(
        "chat_moderators",
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("channel_id <> user_id", name=op.f("ck_chat_moderators_not_self")),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["users.user_id"], name=op.f("fk_chat_moderators_channel_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_chat_moderators_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("channel_id", "user_id", name=op.f("pk_chat_moderators")),
    )
    op.create_index(op.f("ix_chat_moderators_user_id"), "chat_moderators", ["user_id"], unique=False)
    with op.batch_alter_table("streams", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slow_mode_seconds", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_check_constraint(
            op.f("ck_streams_slow_mode_range"), "slow_mode_seconds = 0 OR slow_mode_seconds BETWEEN 3 AND 120"
        )


def downgrade() -> None:
    with op.batch_alter_table("streams", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_streams_slow_mode_range"), type_="check")
        batch_op.drop_column("slow_mode_seconds")
    op.drop_index(op.f("ix_chat_moderators_user_id"), table_name="chat_moderators")
    op.drop_table("chat_moderators")
    op.drop_index(op.f("ix_chat_bans_user_id"), table_name="chat_bans")
    op.drop_table("chat_bans")
