"""The tables of ``quantdesk orders | fills | history``: symbols, prices at tick, money in cents, and the columns
that give way first on a narrow terminal (all of them, with full instrument ids, under ``--wide``).

An empty result is one line naming the filters ("no fills for account DU1 since 2026-12-01"), never a header.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from quantdesk.cli.cells import instrument_label, money, order_status, price, quantity, utc
from quantdesk.cli.output import Col, Output

if TYPE_CHECKING:
    from quantdesk.persistence.repositories import QueryFilter
    from quantdesk.services.orders import FillListing, HistoryReport, OrderListing

__all__ = ["none_found", "print_fills", "print_history", "print_orders"]


def _moment(ts: datetime) -> str:
    at = ts.astimezone(UTC)
    return at.date().isoformat() if at.time() == time(0) else at.strftime("%Y-%m-%d %H:%M:%S UTC")


def none_found(what: str, where: QueryFilter) -> str:
    """The one line of an empty result, naming its filters: ``no open orders for account DU1 since 2026-12-01``."""
    parts = [f"no {what}"]
    if where.side is not None:
        parts.append(f"on the {where.side.value.lower()} side")
    if where.symbol is not None:
        parts.append(f"in {where.symbol}")
    if where.account is not None:
        parts.append(f"for account {where.account}")
    if where.strategy is not None:
        parts.append(f"of strategy {where.strategy}")
    if where.since is not None:
        parts.append(f"since {_moment(where.since)}")
    if where.until is not None:
        end = where.until.astimezone(UTC)  # exclusive: a midnight closes the day before it
        parts.append(f"through {end.date() - timedelta(days=1)}" if end.time() == time(0) else f"before {_moment(end)}")
    return " ".join(parts)


def _symbol_col(wide: bool) -> Col:
    return Col("instrument" if wide else "symbol")


def print_orders(out: Output, listing: OrderListing) -> None:
    """The orders as a table, or one line when there are none."""
    wide = out.wide
    what = "orders" if listing.status == "all" else f"{listing.status} orders"
    out.table(
        what,
        [
            Col("created (UTC)"),
            Col("order id", drop=3),
            Col("account", drop=4),
            Col("strategy", drop=6),
            _symbol_col(wide),
            Col("side"),
            Col("qty"),
            Col("type"),
            Col("limit"),
            Col("stop", drop=2),
            Col("tif", drop=5),
            Col("status"),
            Col("filled"),
            Col("avg price", drop=1),
            Col("perm id", drop=7),
            Col("source", drop=8),
        ],
        [
            [
                utc(o.created_at, seconds=wide),
                o.client_order_id,
                o.account,
                o.strategy,
                instrument_label(o.instrument_id, full=wide),
                o.side,
                quantity(o.quantity),
                o.order_type,
                price(o.limit_price, o.instrument_id),
                price(o.stop_price, o.instrument_id),
                o.tif,
                order_status(o.status, full=wide),
                quantity(o.filled_quantity),
                price(o.avg_fill_price, o.instrument_id, average=True),
                o.perm_id,
                o.source,
            ]
            for o in listing.orders
        ],
        empty=none_found(what, listing.filters),
    )


def print_fills(out: Output, listing: FillListing) -> None:
    """The fills as a table, or one line when there are none."""
    wide = out.wide
    out.table(
        "fills",
        [
            Col("time (UTC)"),
            Col("execution id", drop=5),
            Col("account", drop=4),
            Col("strategy", drop=6),
            _symbol_col(wide),
            Col("side"),
            Col("qty"),
            Col("price"),
            Col("ccy", drop=2),
            Col("commission", justify="right"),
            Col("order id", drop=3),
            Col("perm id", drop=7),
        ],
        [
            [
                utc(f.ts),
                f.execution_id,
                f.account,
                f.strategy,
                instrument_label(f.instrument_id, full=wide),
                f.side,
                quantity(f.quantity),
                price(f.price, f.instrument_id),
                f.currency,
                money(f.commission, f.commission_currency),
                f.client_order_id,
                f.perm_id,
            ]
            for f in listing.fills
        ],
        empty=none_found("fills", listing.filters),
    )


def _commissions(amounts: dict[str, Decimal]) -> str:
    return ", ".join(money(amount, ccy) for ccy, amount in amounts.items())


def print_history(out: Output, report: HistoryReport) -> None:
    """Trades, then totals per instrument and per currency; one line when there are none."""
    if not report.trades:
        out.message(none_found("trades", report.filters))
        return
    wide = out.wide
    trades: list[list[Any]] = [
        [
            utc(t.ts, seconds=wide),
            t.account,
            instrument_label(t.instrument_id, full=wide),
            t.side,
            quantity(t.quantity),
            price(t.price, t.instrument_id),
            money(t.commission, t.commission_currency),
            quantity(t.closed_quantity),
            money(t.realised_pnl),
            quantity(t.position),
            price(t.average_cost, t.instrument_id, average=True),
            t.strategy,
        ]
        for t in report.trades
    ]
    out.table(
        "trade history",
        [
            Col("time (UTC)"),
            Col("account", drop=4),
            _symbol_col(wide),
            Col("side"),
            Col("qty"),
            Col("price"),
            Col("commission", drop=3, justify="right"),
            Col("closed", drop=5),
            Col("realised P&L"),
            Col("position"),
            Col("avg cost", drop=2),
            Col("strategy", drop=6),
        ],
        trades,
    )
    out.table(
        "totals per instrument",
        [
            Col("account", drop=3),
            _symbol_col(wide),
            Col("ccy", drop=2),
            Col("fills"),
            Col("bought"),
            Col("sold"),
            Col("realised P&L"),
            Col("commissions", justify="right"),
            Col("net P&L"),
            Col("position"),
        ],
        [
            [
                i.account,
                instrument_label(i.instrument_id, full=wide),
                i.currency,
                i.fills,
                quantity(i.bought),
                quantity(i.sold),
                money(i.realised_pnl),
                _commissions(i.commissions),
                money(i.net_pnl),
                quantity(i.position),
            ]
            for i in report.instruments
        ],
    )
    out.table(
        "totals per currency",
        ["ccy", "fills", "realised P&L", "commissions", "net P&L"],
        [
            [c.currency, c.fills, money(c.realised_pnl), money(c.commissions), money(c.net_pnl)]
            for c in report.currencies
        ],
    )
    out.message(f"Realised P&L by {report.history.method} (gross of commissions); net P&L subtracts them.")
