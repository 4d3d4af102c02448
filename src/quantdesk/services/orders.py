"""Orders, fills and trade history from the database at ``database.url``, with filters and CSV export.

The CLI (``quantdesk orders | fills | history``) and later the REST API call these; they never print. The database
must already be at the newest schema: these are read-only views, so an empty or older database is a ``ConfigError``
naming ``database.url`` with the fix (``quantdesk db upgrade``), never a silent migration.

Times select ``[since, until)`` in UTC; ``parse_time`` reads the command-line forms (a date, or an ISO time with or
without an offset; a bare date as ``until`` includes that whole day). Trade-history P&L is average cost, as
``quantdesk.domain.positions.Position`` computes it (see ``quantdesk.persistence.repositories.history``).

Scale: ``to_dict`` (``--json``) gives stored values exactly, computed averages (``avg_fill_price``,
``average_cost``) at the tick's decimals + 4 and any other computed value at the database's 12 decimals;
``write_csv`` (``--csv``) is the database's view at full precision, unrounded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from quantdesk.atomic_files import atomic_write
from quantdesk.config import Settings
from quantdesk.config.masking import mask_url
from quantdesk.domain.instrument_ids import split_instrument_id
from quantdesk.domain.side import OrderSide
from quantdesk.errors import ConfigError, DataError, ValidationError
from quantdesk.persistence import create_db_engine, normalise_url
from quantdesk.persistence.repositories import (
    PNL_METHOD,
    CurrencyTotals,
    FillView,
    InstrumentTotals,
    OrderStatusFilter,
    OrderView,
    QueryFilter,
    TradeHistory,
    TradeRow,
    columns_of,
    csv_record,
    csv_value,
    query_fills,
    query_orders,
    query_trade_history,
)
from quantdesk.persistence.revision import shipped_head, stored_revision

__all__ = [
    "PNL_METHOD",
    "FillListing",
    "HistoryReport",
    "OrderListing",
    "list_fills",
    "list_orders",
    "open_database",
    "parse_time",
    "to_csv",
    "trade_history",
]

_STATUSES: tuple[OrderStatusFilter, ...] = ("open", "done", "all")
_TIME_HINT = "write a date such as 2025-03-03 or an ISO time such as 2025-03-03T14:30:00Z (UTC unless it has an offset)"


# --- inputs ---------------------------------------------------------------------------------------------------------


def parse_time(text: str, field_name: str, *, end: bool = False) -> datetime:
    """A UTC time from a date (``2025-03-03``) or an ISO time; with ``end``, a bare date means the next midnight."""
    raw = text.strip() if isinstance(text, str) else ""
    try:
        if raw and not any(ch in raw for ch in "T :"):
            day = date.fromisoformat(raw)
            start = datetime.combine(day, time(0), tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        ts = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationError(
            f"is not a date or ISO time: {text!r}", field=field_name, value=text, hint=_TIME_HINT
        ) from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _filter(
    account: str | None,
    symbol: str | None,
    strategy: str | None,
    side: OrderSide | str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int | None,
) -> QueryFilter:
    chosen = None if side is None else side if isinstance(side, OrderSide) else OrderSide.parse(side)
    return QueryFilter(account, symbol, strategy, chosen, since, until, limit)


# --- the database ---------------------------------------------------------------------------------------------------


def _sqlite_file(url: str) -> Path | None:
    parsed = normalise_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name).expanduser()


@contextmanager
def open_database(settings: Settings) -> Iterator[Engine]:
    """An engine on ``database.url`` whose schema is at the newest revision; ``ConfigError`` otherwise."""
    url = settings.database.url
    missing = _sqlite_file(url)
    if missing is not None and not missing.exists():
        raise ConfigError(
            f"there is no database file at {missing}",
            field="database.url",
            value=mask_url(url),
            hint="run `quantdesk db upgrade` to create it, or point database.url at your database",
        )
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            current = stored_revision(conn)
        newest = shipped_head()
        if current != newest:
            state = f"is at revision {current}" if current else "has no quantdesk schema"
            raise ConfigError(
                f"the database {state}; this quantdesk needs {newest}",
                field="database.url",
                value=mask_url(url),
                hint="run `quantdesk db upgrade`",
            )
        yield engine
    finally:
        engine.dispose()


# --- results --------------------------------------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return csv_value(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return _json_value(value.value)
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    return str(value)


_AVERAGES = frozenset({"avg_fill_price", "average_cost"})  # quotients: as many digits as the decimal context holds
_AVERAGE_EXTRA_PLACES = 4
_STORED_PLACES = 12  # the database keeps NUMERIC(38, 12): no stored value has more decimals


def _scaled(value: Decimal, places: int) -> Decimal:
    """``value`` with at most ``places`` decimals (half-even), trailing zeros dropped; exact values pass unchanged."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or -exponent <= places:
        return value
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN).normalize()
    return Decimal(format(rounded, "f"))


def _sane(name: str, value: Any, instrument_id: Any) -> Any:
    """A computed decimal at a sane scale: averages at the tick's decimals + 4, anything else at the database's 12."""
    if not isinstance(value, Decimal):
        return value
    if name in _AVERAGES and isinstance(instrument_id, str):
        parts = split_instrument_id(instrument_id)
        tick = parts.tick if parts is not None else Decimal("0.01")
        exponent = tick.normalize().as_tuple().exponent
        tick_places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return _scaled(value, tick_places + _AVERAGE_EXTRA_PLACES)
    return _scaled(value, _STORED_PLACES)


def _row_dict(row: Any) -> dict[str, Any]:
    instrument_id = getattr(row, "instrument_id", None)
    return {f.name: _json_value(_sane(f.name, getattr(row, f.name), instrument_id)) for f in fields(row)}


def _filters_dict(where: QueryFilter) -> dict[str, Any]:
    return {f.name: _json_value(getattr(where, f.name)) for f in fields(where)}


@dataclass(frozen=True, slots=True)
class OrderListing:
    """The orders one query selected, with the filters that selected them."""

    status: OrderStatusFilter
    filters: QueryFilter
    orders: list[OrderView] = field(hash=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: decimals as strings, times ISO."""
        rows = [_row_dict(o) for o in self.orders]
        return {"status": self.status, "filters": _filters_dict(self.filters), "count": len(rows), "orders": rows}

    def write_csv(self, path: Path | str) -> int:
        """Write the orders as CSV; returns the number of rows."""
        return to_csv(self.orders, path, columns=columns_of(OrderView))


@dataclass(frozen=True, slots=True)
class FillListing:
    """The fills one query selected, with the filters that selected them."""

    filters: QueryFilter
    fills: list[FillView] = field(hash=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: decimals as strings, times ISO."""
        rows = [_row_dict(f) for f in self.fills]
        return {"filters": _filters_dict(self.filters), "count": len(rows), "fills": rows}

    def write_csv(self, path: Path | str) -> int:
        """Write the fills as CSV; returns the number of rows."""
        return to_csv(self.fills, path, columns=columns_of(FillView))


@dataclass(frozen=True, slots=True)
class HistoryReport:
    """The trade history one query selected: trades, totals per instrument and per currency, the P&L method."""

    filters: QueryFilter
    history: TradeHistory = field(hash=False)

    @property
    def trades(self) -> list[TradeRow]:
        """The shown trades, oldest first."""
        return self.history.trades

    @property
    def instruments(self) -> list[InstrumentTotals]:
        """Totals per account and instrument."""
        return self.history.instruments

    @property
    def currencies(self) -> list[CurrencyTotals]:
        """Totals per currency."""
        return self.history.currencies

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: decimals as strings, times ISO."""
        return {
            "filters": _filters_dict(self.filters),
            "method": self.history.method,
            "count": len(self.trades),
            "trades": [_row_dict(t) for t in self.trades],
            "instruments": [_row_dict(t) for t in self.instruments],
            "currencies": [_row_dict(t) for t in self.currencies],
        }

    def write_csv(self, path: Path | str) -> int:
        """Write the trades (not the totals) as CSV; returns the number of rows."""
        return to_csv(self.trades, path, columns=columns_of(TradeRow))


# --- queries --------------------------------------------------------------------------------------------------------


def list_orders(
    settings: Settings,
    *,
    status: OrderStatusFilter = "open",
    account: str | None = None,
    symbol: str | None = None,
    strategy: str | None = None,
    side: OrderSide | str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> OrderListing:
    """Orders (ours and adopted): ``open`` = not terminal, ``done`` = filled, cancelled, rejected or expired."""
    if status not in _STATUSES:
        raise ValidationError(f"unknown status {status!r}", field="status", value=status, hint="use open, done or all")
    where = _filter(account, symbol, strategy, side, since, until, limit)
    with open_database(settings) as engine:
        return OrderListing(status, where, query_orders(engine, where, status))


def list_fills(
    settings: Settings,
    *,
    account: str | None = None,
    symbol: str | None = None,
    strategy: str | None = None,
    side: OrderSide | str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> FillListing:
    """Executions with their commissions, oldest first (the newest ``limit`` when given)."""
    where = _filter(account, symbol, strategy, side, since, until, limit)
    with open_database(settings) as engine:
        return FillListing(where, query_fills(engine, where))


def trade_history(
    settings: Settings,
    *,
    account: str | None = None,
    symbol: str | None = None,
    strategy: str | None = None,
    side: OrderSide | str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> HistoryReport:
    """Trades per instrument with the position each left and its realised P&L (average cost), plus totals."""
    where = _filter(account, symbol, strategy, side, since, until, limit)
    with open_database(settings) as engine:
        return HistoryReport(where, query_trade_history(engine, where))


# --- CSV ------------------------------------------------------------------------------------------------------------


def to_csv(rows: Sequence[Any], path: Path | str, *, columns: Sequence[str] | None = None) -> int:
    """Write row dataclasses to ``path`` (all or nothing): a header row, ISO times, decimals as plain text.

    ``columns`` defaults to the first row's fields; pass it to get a header for an empty result.
    """
    names = list(columns) if columns is not None else (columns_of(type(rows[0])) if rows else [])
    if not names:
        raise ValidationError(
            "no columns to write", field="columns", value=None, hint="pass columns= when there may be no rows"
        )
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(csv_record(row, names))
    data = buffer.getvalue().encode("utf-8")
    target = Path(path).expanduser()
    try:
        atomic_write(target, lambda fh: fh.write(data))
    except OSError as exc:  # name the file asked for, not the temporary file beside it
        raise DataError(
            f"cannot write {target}: {exc.strerror or exc}",
            field="--csv",
            value=str(target),
            hint=f"write to a folder that exists (or can be created) and is writable, not {target.parent}",
        ) from None
    return len(rows)
