"""streams media state and stream keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stream_keys",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key_encrypted", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_stream_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_stream_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_stream_keys_key_hash")),
    )
    with op.batch_alter_table("streams", schema=None) as batch_op:
        batch_op.add_column(sa.Column("media_state", sa.String(length=20), server_default="waiting", nullable=False))
        batch_op.add_column(sa.Column("last_ingest_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_streams_media_state_valid"), "media_state IN ('waiting', 'live', 'reconnecting', 'ended')"
        )


def downgrade() -> None:
    with op.batch_alter_table("streams", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_streams_media_state_valid"), type_="check")
        batch_op.drop_column("last_ingest_at")
        batch_op.drop_column("media_state")

    op.drop_table("stream_keys")
