"""notification deliveries: which notifications were sent by email and push

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# One column per channel that must not send twice (set after a send succeeded); web push may add "pushed_at".
# email_claimed_at: the email job's lease, so that two copies of one job running at once send one email.
COLUMNS = ("emailed_at", "email_claimed_at")


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
