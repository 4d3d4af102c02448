"""SQLAlchemy 2 typed models: the tables of quantdesk. ORM classes never leave ``quantdesk.persistence``.

Money, prices and quantities are ``ExactDecimal`` (NUMERIC(38, 12); exact text on SQLite); timestamps are
``UtcDateTime`` (aware, stored as UTC). The Alembic migrations (``migrations/versions/``) create exactly these tables
plus the ``trade_history`` view; a test runs Alembic's comparison to keep the two in step.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from quantdesk.persistence.types import ExactDecimal, UtcDateTime

__all__ = [
    "AccountRow",
    "AccountSnapshotRow",
    "Base",
    "FillRow",
    "KillSwitchRow",
    "OrderEventRow",
    "OrderIntentRow",
    "OrderRow",
    "PositionSnapshotRow",
    "ReconciliationBreakRow",
    "RiskEventRow",
    "RunRow",
    "StrategyRow",
]

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Dec = Mapped[Decimal]
OptDec = Mapped[Decimal | None]


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so constraint names match across databases and migrations."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {Decimal: ExactDecimal(), datetime: UtcDateTime()}  # noqa: RUF012


class AccountRow(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32), unique=True)
    alias: Mapped[str | None] = mapped_column(String(128))
    base_currency: Mapped[str] = mapped_column(String(3), default="USD")
    is_paper: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class StrategyRow(Base):
    __tablename__ = "strategies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    strategy_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class RunRow(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64), unique=True)
    strategy_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("strategies.strategy_id"))
    mode: Mapped[str] = mapped_column(String(16))  # backtest | paper | live
    status: Mapped[str] = mapped_column(String(16))  # running | finished | crashed
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    config_json: Mapped[str | None] = mapped_column(Text)


class OrderIntentRow(Base):
    """What we decided to send, persisted *before* sending; keyed by our ClientOrderId (IB ``orderRef``)."""

    __tablename__ = "order_intents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    run_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("runs.run_id"))
    strategy_id: Mapped[str | None] = mapped_column(String(64))
    account_id: Mapped[str | None] = mapped_column(String(32))
    instrument_id: Mapped[str] = mapped_column(String(128), index=True)
    side: Mapped[str] = mapped_column(String(4))
    quantity: Dec
    order_type: Mapped[str] = mapped_column(String(24))
    limit_price: OptDec
    stop_price: OptDec
    tif: Mapped[str] = mapped_column(String(8))
    parent_client_order_id: Mapped[str | None] = mapped_column(String(64))
    oca_group: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24), index=True)
    filled_quantity: Dec
    filled_notional: Dec
    broker_order_id: Mapped[int | None] = mapped_column(Integer)
    perm_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    client_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # 0002: the whole order (order_codec JSON), why it ended, where it came from, the list it belongs to.
    order_json: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16), server_default="quantdesk")  # quantdesk | adopted
    list_id: Mapped[str | None] = mapped_column(String(64), index=True)


class OrderRow(Base):
    """The broker's view of an order (ours or adopted from TWS), keyed by IB ``permId``."""

    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    perm_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    order_id: Mapped[int] = mapped_column(Integer)
    client_id: Mapped[int | None] = mapped_column(Integer)
    order_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    client_order_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("order_intents.client_order_id"))
    account_id: Mapped[str | None] = mapped_column(String(32))
    instrument_id: Mapped[str] = mapped_column(String(128))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Dec
    order_type: Mapped[str] = mapped_column(String(24))
    limit_price: OptDec
    stop_price: OptDec
    tif: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(24))
    filled_quantity: Dec
    remaining_quantity: Dec
    avg_fill_price: OptDec
    source: Mapped[str] = mapped_column(String(16))  # quantdesk | adopted
    updated_at: Mapped[datetime]


class OrderEventRow(Base):
    __tablename__ = "order_events"
    __table_args__ = (Index(None, "client_order_id", "ts"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_order_id: Mapped[str | None] = mapped_column(String(64))
    perm_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str | None] = mapped_column(String(24))
    message: Mapped[str | None] = mapped_column(Text)
    payload_json: Mapped[str | None] = mapped_column(Text)
    ts: Mapped[datetime]


class FillRow(Base):
    """One execution, recorded once per account: ``(account_key, execution_id)`` is unique (``account_key`` is the
    account, ``''`` for none: SQL's NULLs would never collide); commission lands on the same row."""

    __tablename__ = "fills"
    __table_args__ = (UniqueConstraint("account_key", "execution_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    execution_id: Mapped[str] = mapped_column(String(64))
    client_order_id: Mapped[str] = mapped_column(String(64), index=True)
    perm_id: Mapped[int | None] = mapped_column(BigInteger)
    account_id: Mapped[str | None] = mapped_column(String(32))
    account_key: Mapped[str] = mapped_column(String(32), server_default="")
    instrument_id: Mapped[str] = mapped_column(String(128), index=True)
    side: Mapped[str] = mapped_column(String(4))
    quantity: Dec
    price: Dec
    currency: Mapped[str] = mapped_column(String(3))
    multiplier: Dec
    commission: Dec
    commission_currency: Mapped[str] = mapped_column(String(3))
    realised_pnl: OptDec
    liquidity: Mapped[str | None] = mapped_column(String(16))
    ts: Mapped[datetime] = mapped_column(index=True)
    recorded_at: Mapped[datetime]


class PositionSnapshotRow(Base):
    __tablename__ = "position_snapshots"
    __table_args__ = (Index(None, "account_id", "instrument_id", "ts"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime]
    account_id: Mapped[str | None] = mapped_column(String(32))
    instrument_id: Mapped[str] = mapped_column(String(128))
    quantity: Dec
    avg_cost: Dec
    currency: Mapped[str] = mapped_column(String(3))
    market_price: OptDec
    market_value: OptDec
    unrealised_pnl: OptDec
    realised_pnl: OptDec
    source: Mapped[str] = mapped_column(String(16))  # broker | database


class AccountSnapshotRow(Base):
    __tablename__ = "account_snapshots"
    __table_args__ = (Index(None, "account_id", "ts"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime]
    account_id: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    net_liquidation: Dec
    cash: OptDec
    buying_power: OptDec
    initial_margin: OptDec
    maintenance_margin: OptDec
    values_json: Mapped[str | None] = mapped_column(Text)


class RiskEventRow(Base):
    __tablename__ = "risk_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(index=True)
    rule: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))  # rejected | halted | reduced | warned
    client_order_id: Mapped[str | None] = mapped_column(String(64))
    limit_value: Mapped[str | None] = mapped_column(String(64))
    actual_value: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)


class KillSwitchRow(Base):
    """The persisted trading state: one row (id 1), ACTIVE / REDUCING / HALTED with reason and time."""

    __tablename__ = "kill_switch_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime]


class ReconciliationBreakRow(Base):
    """One difference reconciliation found between the database and the broker, and what was done about it."""

    __tablename__ = "reconciliation_breaks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(index=True)
    run_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))  # missing_at_broker | unknown_at_broker_adopted | fill_missing | …
    account_id: Mapped[str | None] = mapped_column(String(32))
    instrument_id: Mapped[str | None] = mapped_column(String(128))
    client_order_id: Mapped[str | None] = mapped_column(String(64))
    perm_id: Mapped[int | None] = mapped_column(BigInteger)
    target: Mapped[str | None] = mapped_column(Text)
    broker: Mapped[str | None] = mapped_column(Text)
    database: Mapped[str | None] = mapped_column(Text)
    resolution: Mapped[str] = mapped_column(String(32))  # applied | adopted | marked | reported
    message: Mapped[str] = mapped_column(Text)
