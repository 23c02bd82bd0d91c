"""archives: processing state, storage; periodic job claims

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "periodic_runs",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("slot", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", "slot", name=op.f("pk_periodic_runs")),
    )
    with op.batch_alter_table("archives", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("status", sa.String(length=20), nullable=False, server_default="processing"))
        batch_op.add_column(sa.Column("progress", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("failure_reason", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("storage_class", sa.String(length=32), nullable=False, server_default="STANDARD"))
        batch_op.add_column(sa.Column("poster_key", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("mp4_key", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("run_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True))
    # Rows from before (none were ever written, but a database is a database): their creator and time.
    op.execute(
        "UPDATE archives SET user_id = (SELECT user_id FROM streams WHERE streams.stream_id = archives.stream_id)"
    )
    op.execute("UPDATE archives SET updated_at = created_at")
    with op.batch_alter_table("archives", schema=None) as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.alter_column("updated_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_archives_user_id_users"), "users", ["user_id"], ["user_id"], ondelete="CASCADE"
        )
        batch_op.drop_index(batch_op.f("ix_archives_stream_id"))
        batch_op.create_unique_constraint(batch_op.f("uq_archives_stream_id"), ["stream_id"])
        batch_op.create_index("ix_archives_user_created", ["user_id", "created_at"], unique=False)
        batch_op.create_index("ix_archives_status_updated", ["status", "updated_at"], unique=False)
        batch_op.create_check_constraint(
            "status_valid", sa.text("status IN ('processing', 'ready', 'failed', 'deleted')")
        )
        batch_op.create_check_constraint("progress_range", sa.text("progress BETWEEN 0 AND 100"))
        batch_op.create_check_constraint("attempts_non_negative", sa.text("attempts >= 0"))


def downgrade() -> None:
    with op.batch_alter_table("archives", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_archives_attempts_non_negative"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_archives_progress_range"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_archives_status_valid"), type_="check")
        batch_op.drop_index("ix_archives_status_updated")
        batch_op.drop_index("ix_archives_user_created")
        batch_op.drop_constraint(batch_op.f("uq_archives_stream_id"), type_="unique")
        batch_op.create_index(batch_op.f("ix_archives_stream_id"), ["stream_id"], unique=False)
        batch_op.drop_constraint(batch_op.f("fk_archives_user_id_users"), type_="foreignkey")
        for column in (
            "ready_at",
            "updated_at",
            "run_id",
            "lease_until",
            "attempts",
            "mp4_key",
            "poster_key",
            "storage_class",
            "failure_reason",
            "progress",
            "status",
            "user_id",
        ):
            batch_op.drop_column(column)
    op.drop_table("periodic_runs")
