"""Order intents keep the whole order, reason, error code, source and list; reconciliation breaks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from quantdesk.persistence.types import UtcDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The view reads order_intents, so it is dropped before the table changes and created again afterwards, now with
# the intent's source and order list. The columns are added and dropped in place (ALTER TABLE, SQLite >= 3.35).
TRADE_HISTORY_VIEW = """
CREATE VIEW trade_history AS
SELECT f.execution_id, f.ts, f.account_id, f.instrument_id, f.side, f.quantity, f.price, f.currency,
       f.multiplier, f.commission, f.commission_currency, f.realised_pnl, f.client_order_id, f.perm_id,
       i.strategy_id, i.run_id, i.order_type, i.source, i.list_id
FROM fills f LEFT JOIN order_intents i ON i.client_order_id = f.client_order_id
"""

TRADE_HISTORY_VIEW_0001 = """
CREATE VIEW trade_history AS
SELECT f.execution_id, f.ts, f.account_id, f.instrument_id, f.side, f.quantity, f.price, f.currency,
       f.multiplier, f.commission, f.commission_currency, f.realised_pnl, f.client_order_id, f.perm_id,
       i.strategy_id, i.run_id, i.order_type
FROM fills f LEFT JOIN order_intents i ON i.client_order_id = f.client_order_id
"""


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS trade_history")
    with op.batch_alter_table("order_intents", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("order_json", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("error_code", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(length=16), server_default="quantdesk", nullable=False))
        batch_op.add_column(sa.Column("list_id", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_order_intents_list_id"), ["list_id"], unique=False)

    op.create_table(
        "reconciliation_breaks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ts", UtcDateTime(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("instrument_id", sa.String(length=128), nullable=True),
        sa.Column("client_order_id", sa.String(length=64), nullable=True),
        sa.Column("perm_id", sa.BigInteger(), nullable=True),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("broker", sa.Text(), nullable=True),
        sa.Column("database", sa.Text(), nullable=True),
        sa.Column("resolution", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_breaks")),
    )
    with op.batch_alter_table("reconciliation_breaks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reconciliation_breaks_ts"), ["ts"], unique=False)

    op.execute(TRADE_HISTORY_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS trade_history")
    with op.batch_alter_table("reconciliation_breaks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_breaks_ts"))

    op.drop_table("reconciliation_breaks")
    # ALTER TABLE … DROP COLUMN in place: recreating order_intents on SQLite would trip the foreign key from orders.
    with op.batch_alter_table("order_intents", schema=None, recreate="never") as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_intents_list_id"))
        batch_op.drop_column("list_id")
        batch_op.drop_column("source")
        batch_op.drop_column("error_code")
        batch_op.drop_column("reason")
        batch_op.drop_column("order_json")

    op.execute(TRADE_HISTORY_VIEW_0001)
