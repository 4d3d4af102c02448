"""Read-only queries behind ``quantdesk orders`` and ``quantdesk fills``: filtered views of order intents and fills,
plain rows for tables, JSON and CSV (``csv_record``).

Filters combine with AND. ``symbol`` matches a full instrument id or every instrument of a symbol (``AAPL`` matches
``AAPL.STK.SMART.USD`` and its options); ``strategy`` is the intent's strategy; times select ``[since, until)``.
Rows come oldest first; ``limit`` keeps the newest ``limit`` of them. Decimals are returned without the trailing
zeros PostgreSQL pads NUMERIC(38, 12) with, so both databases print the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

from sqlalchemy import Engine, Select, select
from sqlalchemy.orm import Session

from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.side import OrderSide
from quantdesk.errors import ValidationError
from quantdesk.persistence.models import FillRow, OrderIntentRow
from quantdesk.persistence.repositories._common import newest, plain, plain_or_none, symbol_clause, utc

__all__ = [
    "FillJoinRow",
    "FillView",
    "OrderStatusFilter",
    "OrderView",
    "QueryFilter",
    "columns_of",
    "csv_record",
    "csv_value",
    "fills_statement",
    "query_fills",
    "query_orders",
]

OrderStatusFilter = Literal["open", "done", "all"]
FillJoinRow = tuple[FillRow, str | None, str | None, str | None]
"""A fill with its intent's strategy, order type and source (``None`` when the intent is unknown)."""
_OPEN = tuple(s.value for s in OrderStatus if not s.is_terminal)
_DONE = tuple(s.value for s in OrderStatus if s.is_terminal)


@dataclass(frozen=True, slots=True)
class QueryFilter:
    """What to select: account, symbol, strategy, side, time window ``[since, until)`` and the newest ``limit``."""

    account: str | None = None
    symbol: str | None = None
    strategy: str | None = None
    side: OrderSide | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.since is not None:
            object.__setattr__(self, "since", utc(self.since, "since"))
        if self.until is not None:
            object.__setattr__(self, "until", utc(self.until, "until"))
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValidationError(
                f"since {self.since.isoformat()} is not before until {self.until.isoformat()}",
                field="since",
                value=self.since,
                hint="pick a since earlier than until",
            )
        if self.limit is not None and (isinstance(self.limit, bool) or self.limit < 1):
            raise ValidationError(
                f"must be a positive number of rows, got {self.limit!r}",
                field="limit",
                value=self.limit,
                hint="pass 1 or more, or no limit",
            )
        if self.side is not None and not isinstance(self.side, OrderSide):
            object.__setattr__(self, "side", OrderSide.parse(str(self.side)))


@dataclass(frozen=True, slots=True)
class OrderView:
    """One order intent as listed: what was asked, where it is, and the broker's ids."""

    created_at: datetime
    updated_at: datetime
    client_order_id: str
    account: str | None
    strategy: str | None
    instrument_id: str
    side: str
    quantity: Decimal
    order_type: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    tif: str
    status: str
    filled_quantity: Decimal
    remaining_quantity: Decimal
    avg_fill_price: Decimal | None
    perm_id: int | None
    order_id: int | None
    source: str
    list_id: str | None
    parent_client_order_id: str | None
    reason: str | None
    error_code: int | None
    run_id: str | None


@dataclass(frozen=True, slots=True)
class FillView:
    """One execution as listed, with its order's strategy, type and source."""

    ts: datetime
    execution_id: str
    client_order_id: str
    perm_id: int | None
    account: str | None
    strategy: str | None
    instrument_id: str
    side: str
    quantity: Decimal
    price: Decimal
    currency: str
    multiplier: Decimal
    notional: Decimal
    commission: Decimal
    commission_currency: str
    broker_realised_pnl: Decimal | None
    liquidity: str | None
    order_type: str | None
    source: str | None


def _order_view(r: OrderIntentRow) -> OrderView:
    filled = plain(r.filled_quantity)
    return OrderView(
        created_at=r.created_at,
        updated_at=r.updated_at,
        client_order_id=r.client_order_id,
        account=r.account_id,
        strategy=r.strategy_id,
        instrument_id=r.instrument_id,
        side=r.side,
        quantity=plain(r.quantity),
        order_type=r.order_type,
        limit_price=plain_or_none(r.limit_price),
        stop_price=plain_or_none(r.stop_price),
        tif=r.tif,
        status=r.status,
        filled_quantity=filled,
        remaining_quantity=plain(r.quantity - r.filled_quantity) if r.status not in _DONE else Decimal(0),
        avg_fill_price=plain(r.filled_notional / r.filled_quantity) if filled else None,
        perm_id=r.perm_id,
        order_id=r.broker_order_id,
        source=r.source,
        list_id=r.list_id,
        parent_client_order_id=r.parent_client_order_id,
        reason=r.reason,
        error_code=r.error_code,
        run_id=r.run_id,
    )


def query_orders(engine: Engine, where: QueryFilter, status: OrderStatusFilter = "open") -> list[OrderView]:
    """Order intents (ours and adopted) matching ``where``; ``open`` = not terminal, ``done`` = terminal."""
    c = OrderIntentRow
    stmt = select(c)
    if status == "open":
        stmt = stmt.where(c.status.in_(_OPEN))
    elif status == "done":
        stmt = stmt.where(c.status.in_(_DONE))
    elif status != "all":
        raise ValidationError(
            f"unknown status filter {status!r}", field="status", value=status, hint="use open, done or all"
        )
    if where.account is not None:
        stmt = stmt.where(c.account_id == where.account)
    if where.symbol is not None:
        stmt = stmt.where(symbol_clause(c.instrument_id, where.symbol))
    if where.strategy is not None:
        stmt = stmt.where(c.strategy_id == where.strategy)
    if where.side is not None:
        stmt = stmt.where(c.side == where.side.value)
    if where.since is not None:
        stmt = stmt.where(c.created_at >= where.since)
    if where.until is not None:
        stmt = stmt.where(c.created_at < where.until)
    with Session(engine) as session:
        rows = list(session.scalars(newest(stmt, where.limit, c.created_at, c.id)))
    if where.limit is not None:
        rows.reverse()
    return [_order_view(r) for r in rows]


def fills_statement(where: QueryFilter, *, window: bool = True) -> Select[*tuple[Any, ...]]:
    """Fills joined with their intent's strategy, order type and source; ``window=False`` ignores ``since``/side."""
    f, i = FillRow, OrderIntentRow
    stmt = select(f, i.strategy_id, i.order_type, i.source).outerjoin(i, i.client_order_id == f.client_order_id)
    if where.account is not None:
        stmt = stmt.where(f.account_id == where.account)
    if where.symbol is not None:
        stmt = stmt.where(symbol_clause(f.instrument_id, where.symbol))
    if where.strategy is not None:
        stmt = stmt.where(i.strategy_id == where.strategy)
    if where.until is not None:
        stmt = stmt.where(f.ts < where.until)
    if window and where.since is not None:
        stmt = stmt.where(f.ts >= where.since)
    if window and where.side is not None:
        stmt = stmt.where(f.side == where.side.value)
    return stmt


def query_fills(engine: Engine, where: QueryFilter) -> list[FillView]:
    """Fills matching ``where``, oldest first (the newest ``limit`` when given)."""
    f = FillRow
    with Session(engine) as session:
        stmt = newest(fills_statement(where), where.limit, f.ts, f.id)
        rows: list[FillJoinRow] = [(r[0], r[1], r[2], r[3]) for r in session.execute(stmt)]
    if where.limit is not None:
        rows.reverse()
    return [
        FillView(
            ts=r.ts,
            execution_id=r.execution_id,
            client_order_id=r.client_order_id,
            perm_id=r.perm_id,
            account=r.account_id,
            strategy=strategy,
            instrument_id=r.instrument_id,
            side=r.side,
            quantity=plain(r.quantity),
            price=plain(r.price),
            currency=r.currency,
            multiplier=plain(r.multiplier),
            notional=plain(r.quantity * r.price * r.multiplier),
            commission=plain(r.commission),
            commission_currency=r.commission_currency,
            broker_realised_pnl=plain_or_none(r.realised_pnl),
            liquidity=r.liquidity,
            order_type=order_type,
            source=source,
        )
        for r, strategy, order_type, source in rows
    ]


# --- plain records for CSV ------------------------------------------------------------------------------------------


def csv_value(value: Any) -> str:
    """One cell: ISO timestamps, decimals as plain text (no exponent), enums by value, mappings as JSON, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(plain(value), "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Mapping):
        return json.dumps({str(k): csv_value(v) for k, v in value.items()}, sort_keys=True)
    return str(value)


def columns_of(row_type: type[Any]) -> list[str]:
    """The column names of a row dataclass, in declaration order."""
    return [f.name for f in fields(row_type)]


def csv_record(row: Any, columns: Sequence[str] | None = None) -> dict[str, str]:
    """A row dataclass as ``{column: text}``."""
    names = list(columns) if columns is not None else columns_of(type(row))
    return {name: csv_value(getattr(row, name)) for name in names}
