"""Fills are unique per (account, execution id), not per execution id alone.

Two simulators (or two IB logins) may report the same execution id for different accounts; keyed by the id alone,
the second account's fill was dropped as a duplicate of the first. The key is ``account_key`` (the account, ``''``
for none, filled from ``account_id`` for the rows there are) with ``execution_id``: a NULL account would never
collide in a unique constraint, and a fill without an account must still be recorded once.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 17:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same view as 0002 creates: it reads fills, so it is dropped while the table changes and created again.
TRADE_HISTORY_VIEW = """
CREATE VIEW trade_history AS
SELECT f.execution_id, f.ts, f.account_id, f.instrument_id, f.side, f.quantity, f.price, f.currency,
       f.multiplier, f.commission, f.commission_currency, f.realised_pnl, f.client_order_id, f.perm_id,
       i.strategy_id, i.run_id, i.order_type, i.source, i.list_id
FROM fills f LEFT JOIN order_intents i ON i.client_order_id = f.client_order_id
"""


def upgrade() -> None:
    # PostgreSQL changes the constraint in place. SQLite cannot drop a table constraint, so batch mode copies
    # fills into a new table: safe here, since no foreign key points at fills and fills has none of its own.
    op.execute("DROP VIEW IF EXISTS trade_history")
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_key", sa.String(length=32), server_default="", nullable=False))
    op.execute("UPDATE fills SET account_key = COALESCE(account_id, '')")
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_fills_execution_id"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_fills_account_key_execution_id"), ["account_key", "execution_id"]
        )
    op.execute(TRADE_HISTORY_VIEW)


def downgrade() -> None:
    # Fails (unique violation) when two accounts share an execution id: the older schema cannot hold them both.
    op.execute("DROP VIEW IF EXISTS trade_history")
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_fills_account_key_execution_id"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_fills_execution_id"), ["execution_id"])
        batch_op.drop_column("account_key")
    op.execute(TRADE_HISTORY_VIEW)
