"""``quantdesk orders``, ``quantdesk fills`` and ``quantdesk history``: thin shells over ``quantdesk.services.orders``.

Each reads the database at ``database.url`` (read-only), filters by ``--account``, ``--symbol``, ``--strategy``,
``--side`` and ``--since``/``--until`` (a date, or an ISO time; UTC unless it carries an offset), keeps the newest
``--limit`` rows, and prints a table, one JSON document (``--json``), or writes a CSV file (``--csv PATH``).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from quantdesk.cli.context import output_from, settings_from
from quantdesk.cli.output import Output

if TYPE_CHECKING:
    from datetime import datetime

    from quantdesk.services.orders import FillListing, HistoryReport, OrderListing

__all__ = ["fills", "history", "orders"]


class StatusChoice(StrEnum):
    """Which orders ``quantdesk orders`` lists."""

    OPEN = "open"
    DONE = "done"
    ALL = "all"


class SideChoice(StrEnum):
    """Buys or sells only."""

    BUY = "buy"
    SELL = "sell"


JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")]
AccountOpt = Annotated[str | None, typer.Option("--account", "-a", help="Only this account, e.g. DU1234567.")]
SymbolOpt = Annotated[
    str | None, typer.Option("--symbol", help="A symbol (AAPL: every AAPL instrument) or a full instrument id.")
]
StrategyOpt = Annotated[str | None, typer.Option("--strategy", help="Only orders of this strategy id.")]
SideOpt = Annotated[SideChoice | None, typer.Option("--side", case_sensitive=False, help="buy or sell.")]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="From this date or ISO time (inclusive; UTC unless an offset is given).")
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="Up to this ISO time (exclusive), or through this whole date.")
]
LimitOpt = Annotated[int | None, typer.Option("--limit", "-n", min=1, help="Keep the newest N rows.")]
CsvOpt = Annotated[
    Path | None, typer.Option("--csv", dir_okay=False, help="Write the rows to this CSV file instead of a table.")
]


def _window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    from quantdesk.services.orders import parse_time

    start = None if since is None else parse_time(since, "--since")
    end = None if until is None else parse_time(until, "--until", end=True)
    return start, end


def _filters(
    account: str | None,
    symbol: str | None,
    strategy: str | None,
    side: SideChoice | None,
    since: str | None,
    until: str | None,
    limit: int | None,
) -> dict[str, Any]:
    start, end = _window(since, until)
    return {
        "account": account,
        "symbol": symbol,
        "strategy": strategy,
        "side": None if side is None else side.value.upper(),
        "since": start,
        "until": end,
        "limit": limit,
    }


def _wrote(out: Output, what: str, rows: int, path: Path) -> None:
    """Report a CSV export: a line for people, ``{"csv": path, "rows": n}`` with ``--json``."""
    out.result({"csv": str(path), "rows": rows}, text=escape(f"Wrote {rows} {what} to {path}."))


def orders(
    ctx: typer.Context,
    status: Annotated[
        StatusChoice, typer.Option("--status", case_sensitive=False, help="open (working), done (finished) or all.")
    ] = StatusChoice.OPEN,
    account: AccountOpt = None,
    symbol: SymbolOpt = None,
    strategy: StrategyOpt = None,
    side: SideOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: LimitOpt = None,
    csv: CsvOpt = None,
    json_: JsonFlag = False,
) -> None:
    """List orders from the database: working ones by default, or finished ones, or all."""
    from quantdesk.services import orders as svc

    where = _filters(account, symbol, strategy, side, since, until, limit)
    listing = svc.list_orders(settings_from(ctx), status=status.value, **where)
    out = output_from(json_)
    if csv is not None:
        _wrote(out, "orders", listing.write_csv(csv), csv)
        return
    if out.as_json:
        out.json(listing.to_dict())
        return
    print_orders(out, listing)


def print_orders(out: Output, listing: OrderListing) -> None:
    """The orders as a table, with a line when there are none."""
    out.table(
        f"{listing.status} orders",
        [
            "created",
            "client order id",
            "account",
            "strategy",
            "instrument",
            "side",
            "qty",
            "type",
            "limit",
            "stop",
            "tif",
            "status",
            "filled",
            "avg price",
            "perm id",
            "source",
        ],
        [
            [
                o.created_at,
                o.client_order_id,
                o.account,
                o.strategy,
                o.instrument_id,
                o.side,
                o.quantity,
                o.order_type,
                o.limit_price,
                o.stop_price,
                o.tif,
                o.status,
                o.filled_quantity,
                o.avg_fill_price,
                o.perm_id,
                o.source,
            ]
            for o in listing.orders
        ],
    )
    if not listing.orders:
        out.message(f"No {listing.status} orders match.")


def fills(
    ctx: typer.Context,
    account: AccountOpt = None,
    symbol: SymbolOpt = None,
    strategy: StrategyOpt = None,
    side: SideOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: LimitOpt = None,
    csv: CsvOpt = None,
    json_: JsonFlag = False,
) -> None:
    """List executions from the database with their commissions, oldest first."""
    from quantdesk.services import orders as svc

    listing = svc.list_fills(settings_from(ctx), **_filters(account, symbol, strategy, side, since, until, limit))
    out = output_from(json_)
    if csv is not None:
        _wrote(out, "fills", listing.write_csv(csv), csv)
        return
    if out.as_json:
        out.json(listing.to_dict())
        return
    print_fills(out, listing)


def print_fills(out: Output, listing: FillListing) -> None:
    """The fills as a table, with a line when there are none."""
    out.table(
        "fills",
        [
            "time",
            "execution id",
            "account",
            "strategy",
            "instrument",
            "side",
            "qty",
            "price",
            "ccy",
            "commission",
            "client order id",
            "perm id",
        ],
        [
            [
                f.ts,
                f.execution_id,
                f.account,
                f.strategy,
                f.instrument_id,
                f.side,
                f.quantity,
                f.price,
                f.currency,
                f"{f.commission} {f.commission_currency}",
                f.client_order_id,
                f.perm_id,
            ]
            for f in listing.fills
        ],
    )
    if not listing.fills:
        out.message("No fills match.")


def history(
    ctx: typer.Context,
    account: AccountOpt = None,
    symbol: SymbolOpt = None,
    strategy: StrategyOpt = None,
    side: SideOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: LimitOpt = None,
    csv: CsvOpt = None,
    json_: JsonFlag = False,
) -> None:
    """Trade history: every fill with the position it left and the P&L it realised (average cost), and totals."""
    from quantdesk.services import orders as svc

    report = svc.trade_history(settings_from(ctx), **_filters(account, symbol, strategy, side, since, until, limit))
    out = output_from(json_)
    if csv is not None:
        _wrote(out, "trades", report.write_csv(csv), csv)
        return
    if out.as_json:
        out.json(report.to_dict())
        return
    print_history(out, report)


def _commissions(amounts: dict[str, Any]) -> str:
    return ", ".join(f"{amount} {ccy}" for ccy, amount in amounts.items())


def print_history(out: Output, report: HistoryReport) -> None:
    """Trades, then totals per instrument and per currency."""
    if not report.trades:
        out.message("No trades match.")
        return
    out.table(
        "trade history",
        [
            "time",
            "account",
            "instrument",
            "side",
            "qty",
            "price",
            "commission",
            "closed",
            "realised P&L",
            "position",
            "avg cost",
            "strategy",
        ],
        [
            [
                t.ts,
                t.account,
                t.instrument_id,
                t.side,
                t.quantity,
                t.price,
                f"{t.commission} {t.commission_currency}",
                t.closed_quantity,
                t.realised_pnl,
                t.position,
                t.average_cost,
                t.strategy,
            ]
            for t in report.trades
        ],
    )
    out.table(
        "totals per instrument",
        [
            "account",
            "instrument",
            "ccy",
            "fills",
            "bought",
            "sold",
            "realised P&L",
            "commissions",
            "net P&L",
            "position",
        ],
        [
            [
                i.account,
                i.instrument_id,
                i.currency,
                i.fills,
                i.bought,
                i.sold,
                i.realised_pnl,
                _commissions(i.commissions),
                i.net_pnl,
                i.position,
            ]
            for i in report.instruments
        ],
    )
    out.table(
        "totals per currency",
        ["ccy", "fills", "realised P&L", "commissions", "net P&L"],
        [[c.currency, c.fills, c.realised_pnl, c.commissions, c.net_pnl] for c in report.currencies],
    )
    out.message(f"Realised P&L by {report.history.method} (gross of commissions); net P&L subtracts them.")
