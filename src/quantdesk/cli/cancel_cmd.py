"""``quantdesk cancel ORDER|--all``: cancel working orders through the OMS (a thin shell over services.trading).

ORDER is our ClientOrderId (the id ``quantdesk orders`` and ``rebalance`` show) or IB's perm id. Exit codes: 0
every order asked for was cancelled (or its cancel is pending at the broker), 2 bad input, 3 nothing matched or
the order had ended already.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.markup import escape

from quantdesk.cli.context import output_from, settings_from
from quantdesk.cli.execution_report import ExitCode
from quantdesk.errors import ConfigError

__all__ = ["cancel"]


class Venue(StrEnum):
    """Which broker to connect to."""

    IB = "ib"
    GATEWAY = "gateway"


def cancel(
    ctx: typer.Context,
    order: Annotated[
        str | None, typer.Argument(help="Our order id (as `quantdesk orders` shows it) or IB's perm id.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Cancel every working order instead of one.")] = False,
    broker: Annotated[
        Venue, typer.Option("--broker", help="ib: TWS / IB Gateway at ib.host:ib.port; gateway: the simulator.")
    ] = Venue.IB,
    account: Annotated[str | None, typer.Option("--account", help="The account (default: ib.account).")] = None,
    wait: Annotated[float, typer.Option("--wait", min=0, help="Seconds to wait for the broker's confirmations.")] = 10,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")] = False,
) -> None:
    """Cancel one working order, or every one with --all; prints what was cancelled."""
    if (order is None) == (not all_):
        raise ConfigError(
            "name one order or pass --all" if order is None else "ORDER and --all exclude each other",
            field="ORDER",
            value=order,
            hint="pass an order id from `quantdesk orders` (or a perm id), or --all for every working order",
        )
    settings = settings_from(ctx)
    out = output_from(json_)
    done = asyncio.run(_cancel(settings, broker, order, account, wait))
    doc: dict[str, Any] = {
        "cancelled": [{"client_order_id": c, "status": s} for c, s in done.cancelled],
        "finished": [{"client_order_id": c, "status": s} for c, s in done.finished],
        "unknown": done.unknown,
    }
    if out.as_json:
        out.json(doc)
    else:
        for cid, status in done.cancelled:
            pending = "" if status == "CANCELLED" else " (cancel requested; the broker has not confirmed yet)"
            out.message(f"cancelled {escape(cid)}: {status}{pending}")
        for cid, status in done.finished:
            out.message(f"[yellow]not cancelled:[/yellow] {escape(cid)} has ended already ({status})")
        for text in done.unknown:
            out.message(f"[red]no order {escape(text)}[/red]: list orders with `quantdesk orders`")
        if all_ and not done.cancelled:
            out.message("nothing to cancel: no order is working")
    if not done.cancelled and not all_:
        raise typer.Exit(ExitCode.REFUSED)


async def _cancel(settings: Any, venue: Venue, order: str | None, account: str | None, wait: float) -> Any:
    from quantdesk.services.brokers import open_broker
    from quantdesk.services.trading import cancel_orders

    async with open_broker(venue.value, settings) as broker:
        return await cancel_orders(settings, broker, order, account=account, wait=wait)
