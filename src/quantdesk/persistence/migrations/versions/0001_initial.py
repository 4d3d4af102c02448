"""Initial schema: every table of quantdesk and the trade_history view.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 18:17:44.045852
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from quantdesk.persistence.types import ExactDecimal, UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The trade history: a view over fills joined with their intents (not part of the ORM metadata).
TRADE_HISTORY_VIEW = """
CREATE VIEW trade_history AS
SELECT f.execution_id, f.ts, f.account_id, f.instrument_id, f.side, f.quantity, f.price, f.currency,
       f.multiplier, f.commission, f.commission_currency, f.realised_pnl, f.client_order_id, f.perm_id,
       i.strategy_id, i.run_id, i.order_type
FROM fills f LEFT JOIN order_intents i ON i.client_order_id = f.client_order_id
"""


def upgrade() -> None:
    op.create_table(
        "account_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ts", UtcDateTime(), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("net_liquidation", ExactDecimal(), nullable=False),
        sa.Column("cash", ExactDecimal(), nullable=True),
        sa.Column("buying_power", ExactDecimal(), nullable=True),
        sa.Column("initial_margin", ExactDecimal(), nullable=True),
        sa.Column("maintenance_margin", ExactDecimal(), nullable=True),
        sa.Column("values_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_snapshots")),
    )
    with op.batch_alter_table("account_snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_snapshots_account_id_ts"), ["account_id", "ts"], unique=False)

    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("alias", sa.String(length=128), nullable=True),
        sa.Column("base_currency", sa.String(length=3), nullable=False),
        sa.Column("is_paper", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("account_id", name=op.f("uq_accounts_account_id")),
    )
    op.create_table(
        "fills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("execution_id", sa.String(length=64), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("perm_id", sa.BigInteger(), nullable=True),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("instrument_id", sa.String(length=128), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("price", ExactDecimal(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("multiplier", ExactDecimal(), nullable=False),
        sa.Column("commission", ExactDecimal(), nullable=False),
        sa.Column("commission_currency", sa.String(length=3), nullable=False),
        sa.Column("realised_pnl", ExactDecimal(), nullable=True),
        sa.Column("liquidity", sa.String(length=16), nullable=True),
        sa.Column("ts", UtcDateTime(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fills")),
        sa.UniqueConstraint("execution_id", name=op.f("uq_fills_execution_id")),
    )
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fills_client_order_id"), ["client_order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_fills_instrument_id"), ["instrument_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_fills_ts"), ["ts"], unique=False)

    op.create_table(
        "kill_switch_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kill_switch_state")),
    )
    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=True),
        sa.Column("perm_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("payload_json", sa.Text(), nullable=True),
        sa.Column("ts", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_events_client_order_id_ts"), ["client_order_id", "ts"], unique=False)

    op.create_table(
        "position_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ts", UtcDateTime(), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("instrument_id", sa.String(length=128), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("avg_cost", ExactDecimal(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("market_price", ExactDecimal(), nullable=True),
        sa.Column("market_value", ExactDecimal(), nullable=True),
        sa.Column("unrealised_pnl", ExactDecimal(), nullable=True),
        sa.Column("realised_pnl", ExactDecimal(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_position_snapshots")),
    )
    with op.batch_alter_table("position_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_position_snapshots_account_id_instrument_id_ts"),
            ["account_id", "instrument_id", "ts"],
            unique=False,
        )

    op.create_table(
        "risk_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ts", UtcDateTime(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=True),
        sa.Column("limit_value", sa.String(length=64), nullable=True),
        sa.Column("actual_value", sa.String(length=64), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_events")),
    )
    with op.batch_alter_table("risk_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_events_ts"), ["ts"], unique=False)

    op.create_table(
        "strategies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("strategy_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_strategies")),
        sa.UniqueConstraint("strategy_id", name=op.f("uq_strategies_strategy_id")),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("strategy_id", sa.String(length=64), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=True),
        sa.Column("config_json", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["strategy_id"], ["strategies.strategy_id"], name=op.f("fk_runs_strategy_id_strategies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint("run_id", name=op.f("uq_runs_run_id")),
    )
    op.create_table(
        "order_intents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("strategy_id", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("instrument_id", sa.String(length=128), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("order_type", sa.String(length=24), nullable=False),
        sa.Column("limit_price", ExactDecimal(), nullable=True),
        sa.Column("stop_price", ExactDecimal(), nullable=True),
        sa.Column("tif", sa.String(length=8), nullable=False),
        sa.Column("parent_client_order_id", sa.String(length=64), nullable=True),
        sa.Column("oca_group", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("filled_quantity", ExactDecimal(), nullable=False),
        sa.Column("filled_notional", ExactDecimal(), nullable=False),
        sa.Column("broker_order_id", sa.Integer(), nullable=True),
        sa.Column("perm_id", sa.BigInteger(), nullable=True),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], name=op.f("fk_order_intents_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_intents")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_order_intents_client_order_id")),
    )
    with op.batch_alter_table("order_intents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_intents_instrument_id"), ["instrument_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_order_intents_perm_id"), ["perm_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_order_intents_status"), ["status"], unique=False)

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("perm_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("order_ref", sa.String(length=64), nullable=True),
        sa.Column("client_order_id", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("instrument_id", sa.String(length=128), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("order_type", sa.String(length=24), nullable=False),
        sa.Column("limit_price", ExactDecimal(), nullable=True),
        sa.Column("stop_price", ExactDecimal(), nullable=True),
        sa.Column("tif", sa.String(length=8), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("filled_quantity", ExactDecimal(), nullable=False),
        sa.Column("remaining_quantity", ExactDecimal(), nullable=False),
        sa.Column("avg_fill_price", ExactDecimal(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_order_id"], ["order_intents.client_order_id"], name=op.f("fk_orders_client_order_id_order_intents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("perm_id", name=op.f("uq_orders_perm_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_order_ref"), ["order_ref"], unique=False)

    op.execute(TRADE_HISTORY_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS trade_history")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_order_ref"))

    op.drop_table("orders")
    with op.batch_alter_table("order_intents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_intents_status"))
        batch_op.drop_index(batch_op.f("ix_order_intents_perm_id"))
        batch_op.drop_index(batch_op.f("ix_order_intents_instrument_id"))

    op.drop_table("order_intents")
    op.drop_table("runs")
    op.drop_table("strategies")
    with op.batch_alter_table("risk_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_events_ts"))

    op.drop_table("risk_events")
    with op.batch_alter_table("position_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_position_snapshots_account_id_instrument_id_ts"))

    op.drop_table("position_snapshots")
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_events_client_order_id_ts"))

    op.drop_table("order_events")
    op.drop_table("kill_switch_state")
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fills_ts"))
        batch_op.drop_index(batch_op.f("ix_fills_instrument_id"))
        batch_op.drop_index(batch_op.f("ix_fills_client_order_id"))

    op.drop_table("fills")
    op.drop_table("accounts")
    with op.batch_alter_table("account_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_snapshots_account_id_ts"))

    op.drop_table("account_snapshots")
