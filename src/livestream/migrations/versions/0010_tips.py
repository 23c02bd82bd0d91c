"""tips: the transactions ledger completed, webhook events, payout accounts, the test provider's intents

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("platform_fee", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("request_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("failure_code", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("refund_due", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    # Rows from before keys existed (none were ever written: nothing used the table) get one of their own.
    op.execute(
        "UPDATE transactions SET idempotency_key = 'legacy:' || CAST(transaction_id AS VARCHAR) "
        "WHERE idempotency_key IS NULL"
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.alter_column("idempotency_key", existing_type=sa.String(length=255), nullable=False)
        batch_op.alter_column("platform_fee", existing_type=sa.BigInteger(), server_default=None)
        batch_op.drop_constraint(batch_op.f("ck_transactions_status_valid"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_transactions_currency_iso4217"), type_="check")
        batch_op.create_check_constraint(
            "status_valid", "status IN ('pending', 'succeeded', 'failed', 'refunded', 'disputed')"
        )
        batch_op.create_check_constraint("currency_supported", "currency IN ('JPY', 'USD', 'EUR')")
        batch_op.create_check_constraint("fee_within_amount", "platform_fee >= 0 AND platform_fee <= amount")
        batch_op.create_check_constraint("provider_known", "provider IN ('stripe', 'test')")
        batch_op.create_check_constraint("message_length", "message IS NULL OR length(message) <= 200")
        batch_op.create_unique_constraint("uq_transactions_sender_idempotency_key", ["sender_id", "idempotency_key"])
        batch_op.create_index("ix_transactions_sender_created", ["sender_id", "created_at"], unique=False)
        batch_op.create_index("ix_transactions_stream_id", ["stream_id"], unique=False)
        batch_op.create_index("ix_transactions_status_created", ["status", "created_at"], unique=False)
        batch_op.create_index("ix_transactions_refund_due", ["refund_due"], unique=False)

    op.create_table(
        "payment_events",
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("object_id", sa.String(length=255), nullable=True),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_payment_events")),
    )
    op.create_table(
        "payout_accounts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("details_submitted", sa.Boolean(), nullable=False),
        sa.Column("charges_enabled", sa.Boolean(), nullable=False),
        sa.Column("payouts_enabled", sa.Boolean(), nullable=False),
        sa.Column("transfers_active", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_payout_accounts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_payout_accounts")),
        sa.UniqueConstraint("account_id", name=op.f("uq_payout_accounts_account_id")),
    )
    op.create_table(
        "test_payment_intents",
        sa.Column("intent_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=40), server_default=sa.text("'requires_payment_method'"), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("failure_code", sa.String(length=60), nullable=True),
        sa.Column("refunded", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_test_payment_intents_amount_positive")),
        sa.PrimaryKeyConstraint("intent_id", name=op.f("pk_test_payment_intents")),
    )
    with op.batch_alter_table("test_payment_intents", schema=None) as batch_op:
        batch_op.create_index("ix_test_payment_intents_idempotency_key", ["idempotency_key"], unique=True)
    with op.batch_alter_table("notification_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tip_received", sa.Boolean(), server_default=sa.text("true"), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("notification_settings", schema=None) as batch_op:
        batch_op.drop_column("tip_received")
    with op.batch_alter_table("test_payment_intents", schema=None) as batch_op:
        batch_op.drop_index("ix_test_payment_intents_idempotency_key")
    op.drop_table("test_payment_intents")
    op.drop_table("payout_accounts")
    op.drop_table("payment_events")
    # Statuses the old constraint does not know cannot stay.
    op.execute("DELETE FROM transactions WHERE status = 'disputed'")
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_transactions_refund_due")
        batch_op.drop_index("ix_transactions_status_created")
        batch_op.drop_index("ix_transactions_stream_id")
        batch_op.drop_index("ix_transactions_sender_created")
        batch_op.drop_constraint("uq_transactions_sender_idempotency_key", type_="unique")
        batch_op.drop_constraint(batch_op.f("ck_transactions_message_length"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_transactions_provider_known"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_transactions_fee_within_amount"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_transactions_currency_supported"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_transactions_status_valid"), type_="check")
        batch_op.create_check_constraint("status_valid", "status IN ('pending', 'succeeded', 'failed', 'refunded')")
        batch_op.create_check_constraint("currency_iso4217", "length(currency) = 3")
        batch_op.drop_column("refund_due")
        batch_op.drop_column("settled_at")
        batch_op.drop_column("failure_code")
        batch_op.drop_column("request_hash")
        batch_op.drop_column("idempotency_key")
        batch_op.drop_column("platform_fee")
