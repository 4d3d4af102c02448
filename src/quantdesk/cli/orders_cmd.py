"""``quantdesk orders``, ``quantdesk fills`` and ``quantdesk history``: thin shells over ``quantdesk.services.orders``.

Each reads the database at ``database.url`` (read-only), filters by ``--account``, ``--symbol``, ``--strategy``,
``--side`` and ``--since``/``--until`` (a date, or an ISO time; UTC unless it carries an offset), keeps the newest
``--limit`` rows, and prints a table, one JSON document (``--json``), or writes a CSV file (``--csv PATH``).

Tables show symbols, prices at the instrument's tick and money in cents, and leave out the least important columns
on a narrow terminal; ``--wide`` shows every column and the full instrument ids. ``--json`` keeps exact decimals
(computed averages rounded to the tick's scale + 4); ``--csv`` is the database's view, at full precision.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from quantdesk.cli.context import settings_from
from quantdesk.cli.output import Output

if TYPE_CHECKING:
    from datetime import datetime

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
    Path | None,
    typer.Option("--csv", dir_okay=False, help="Write the rows to this CSV file (full precision) instead of a table."),
]
WideFlag = Annotated[
    bool,
    typer.Option(
        "--wide", help="Every column and full instrument ids (AAPL.STK.SMART.USD), however narrow the terminal."
    ),
]


def _output(json_: bool, wide: bool) -> Output:
    return Output(json_, wide=wide, wide_flag="--wide")


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
    wide: WideFlag = False,
    json_: JsonFlag = False,
) -> None:
    """List orders from the database: working ones by default, or finished ones, or all."""
    from quantdesk.services import orders as svc

    where = _filters(account, symbol, strategy, side, since, until, limit)
    listing = svc.list_orders(settings_from(ctx), status=status.value, **where)
    out = _output(json_, wide)
    if csv is not None:
        _wrote(out, "orders", listing.write_csv(csv), csv)
        return
    if out.as_json:
        out.json(listing.to_dict())
        return
    from quantdesk.cli.trade_tables import print_orders

    print_orders(out, listing)


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
    wide: WideFlag = False,
    json_: JsonFlag = False,
) -> None:
    """List executions from the database with their commissions, oldest first."""
    from quantdesk.services import orders as svc

    listing = svc.list_fills(settings_from(ctx), **_filters(account, symbol, strategy, side, since, until, limit))
    out = _output(json_, wide)
    if csv is not None:
        _wrote(out, "fills", listing.write_csv(csv), csv)
        return
    if out.as_json:
        out.json(listing.to_dict())
        return
    from quantdesk.cli.trade_tables import print_fills

    print_fills(out, listing)


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
    wide: WideFlag = False,
    json_: JsonFlag = False,
) -> None:
    """Trade history: every fill with the position it left and the P&L it realised (average cost), and totals."""
    from quantdesk.services import orders as svc

    report = svc.trade_history(settings_from(ctx), **_filters(account, symbol, strategy, side, since, until, limit))
    out = _output(json_, wide)
    if csv is not None:
        _wrote(out, "trades", report.write_csv(csv), csv)
        return
    if out.as_json:
        out.json(report.to_dict())
        return
    from quantdesk.cli.trade_tables import print_history

    print_history(out, report)
