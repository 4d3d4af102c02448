"""``quantdesk reconcile`` and ``quantdesk kill-switch``: compare the database with the broker; stop trading.

Both are thin: the trading session (``services.trading``) does the work. ``kill-switch halt`` persists HALTED
*first*, then connects to cancel every working order; if the broker cannot be reached the switch stays HALTED and
the error says the orders are still working.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from quantdesk.cli.context import output_from, settings_from
from quantdesk.cli.output import Col, Output
from quantdesk.config import Settings

__all__ = ["kill_switch_app", "reconcile"]

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")]
AccountOpt = Annotated[
    str | None, typer.Option("--account", help="The account (default: ib.account, or the only one).")
]
ReconcileAccountOpt = Annotated[
    str | None,
    typer.Option(
        "--account", help="The account to reconcile (default: ib.account, else every account, each on its own)."
    ),
]


class Venue(StrEnum):
    """Which broker to connect to."""

    GATEWAY = "gateway"
    IB = "ib"


VenueOpt = Annotated[
    Venue,
    typer.Option("--broker", help="ib: TWS / IB Gateway at ib.host:ib.port; gateway: an in-process simulator."),
]


TargetOpt = Annotated[
    Path | None,
    typer.Option(
        "--target",
        help="Target positions to compare with the broker's: CSV symbol,quantity or JSON, as --positions-file "
        "of rebalance (a 0 means flat; cash is ignored).",
    ),
]


def reconcile(
    ctx: typer.Context,
    broker: VenueOpt = Venue.IB,
    account: ReconcileAccountOpt = None,
    target: TargetOpt = None,
    json_: JsonFlag = False,
) -> None:
    """Compare the database with the broker (orders, fills, positions), per account; apply what it can and list
    every break."""
    settings = settings_from(ctx)
    out = output_from(json_)
    document = asyncio.run(_reconcile(settings, broker, account, target))
    _print_reconciliation(out, document)


async def _reconcile(settings: Settings, venue: Venue, account: str | None, target: Path | None) -> dict[str, Any]:
    from quantdesk.services.brokers import open_broker
    from quantdesk.services.trading import reconcile_accounts

    async with open_broker(venue.value, settings) as broker:
        reports = await reconcile_accounts(settings, broker, account, target)
    return {"clean": all(r.clean for r in reports), "accounts": [r.to_dict() for r in reports]}


def _print_reconciliation(out: Output, doc: dict[str, Any]) -> None:
    if out.as_json:
        out.json(doc)
        return
    for each in doc["accounts"]:
        _print_account(out, each)


def _print_account(out: Output, doc: dict[str, Any]) -> None:
    from quantdesk.cli.cells import instrument_label as sym
    from quantdesk.cli.cells import number, plural

    out.message(
        (f"{doc['account']}: r" if doc["account"] else "R")
        + f"econciled {plural(doc['broker_orders'], 'broker order')} and {plural(doc['executions'], 'execution')}: "
        + ("no breaks." if doc["clean"] else f"{plural(len(doc['breaks']), 'break')}.")
    )
    if doc["breaks"]:
        out.table(
            "Breaks (target vs broker vs database)",
            ["kind", "resolution", "instrument", Col("order", drop=1), "target", "broker", "database", "message"],
            [
                [b["kind"], b["resolution"], sym(b["instrument_id"]), b["client_order_id"], number(b["target"]),
                 number(b["broker"]), number(b["database"]), b["message"]]
                for b in doc["breaks"]
            ],
        )  # fmt: skip
    if doc["positions"]:
        with_target = any(v["target"] is not None for v in doc["positions"].values())
        out.table(
            "Positions",
            ["instrument", *(["target"] if with_target else []), "broker", "database"],
            [
                [sym(k), *([number(v["target"])] if with_target else []), number(v["broker"]), number(v["database"])]
                for k, v in doc["positions"].items()
            ],
        )


# --- kill switch ---------------------------------------------------------------------------------------------------

kill_switch_app = typer.Typer(
    help="The trading state: ACTIVE, REDUCING (only risk-reducing orders) or HALTED (nothing; working orders "
    "cancelled). It is stored in the database and survives restarts.",
    no_args_is_help=True,
)

ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (stored with the change and shown in the history).")]


@kill_switch_app.command("status")
def status(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=0, help="How many past changes to show (0: none).")] = 10,
    json_: JsonFlag = False,
) -> None:
    """Show the trading state, why and since when, and its history (the newest changes, newest last)."""
    from quantdesk.services.trading import kill_switch_history, kill_switch_status

    settings = settings_from(ctx)
    current = kill_switch_status(settings)
    history = kill_switch_history(settings, limit) if limit else []
    out = output_from(json_)
    doc = {
        "state": current.state.value,
        "reason": current.reason,
        "changed_by": current.changed_by,
        "changed_at": current.changed_at.isoformat() if current.changed_at else None,
        "history": [{"ts": e.ts.isoformat(), "change": e.message} for e in history],
    }
    out.result(
        doc,
        text=escape(
            f"{current.state.value} — {current.reason} (by {current.changed_by}"
            + (f", {current.changed_at:%Y-%m-%d %H:%M:%S} UTC)" if current.changed_at else ")")
        ),
    )
    if history and not out.as_json:
        out.table(
            f"Kill-switch history (last {len(history)}, newest last)",
            ["time (UTC)", "change"],
            [[f"{e.ts:%Y-%m-%d %H:%M:%S}", e.message] for e in history],
        )


@kill_switch_app.command("halt")
def halt(
    ctx: typer.Context,
    reason: ReasonOpt = "halted by hand",
    broker: VenueOpt = Venue.IB,
    cancel: Annotated[
        bool, typer.Option("--cancel/--no-cancel", help="Also cancel every working order at the broker.")
    ] = True,
    json_: JsonFlag = False,
) -> None:
    """Stop all trading: HALTED is stored first, then every working order is cancelled at the broker.

    Exit codes: 0 halted (and cancelled); 2 bad input; 7 HALTED was stored but the working orders could not be
    cancelled (the broker is unreachable): they still work at the broker until cancelled there or by
    `quantdesk cancel --all` once it is back.
    """
    from quantdesk.errors import QuantdeskError

    settings = settings_from(ctx)
    out = output_from(json_)
    changed = _change(settings, "halt", reason)
    document: dict[str, Any] = {"state": changed, "cancelled": []}
    if cancel:
        try:
            document["cancelled"] = asyncio.run(_cancel_working(settings, broker))
        except (QuantdeskError, OSError, TimeoutError) as exc:
            _halted_but_not_cancelled(out, document, reason, exc)
    out.result(
        document,
        text=escape(f"HALTED ({reason}); cancel requested for {len(document['cancelled'])} working order(s)")
        if cancel
        else escape(f"HALTED ({reason}); working orders left as they are (--no-cancel)"),
    )


@kill_switch_app.command("reduce")
def reduce(ctx: typer.Context, reason: ReasonOpt = "reducing by hand", json_: JsonFlag = False) -> None:
    """Accept only orders that reduce a position."""
    output_from(json_).result({"state": _change(settings_from(ctx), "reduce", reason)}, text=f"REDUCING ({reason})")


@kill_switch_app.command("resume")
def resume(ctx: typer.Context, reason: ReasonOpt = "resumed by hand", json_: JsonFlag = False) -> None:
    """Trade normally again."""
    output_from(json_).result({"state": _change(settings_from(ctx), "resume", reason)}, text=f"ACTIVE ({reason})")


def _halted_but_not_cancelled(out: Output, document: dict[str, Any], reason: str, exc: BaseException) -> None:
    """HALTED is stored, the cancels failed: say both, and exit with ``CANCEL_FAILED``."""
    from quantdesk.cli.execution_report import ExitCode
    from quantdesk.cli.output import err_console, error_line

    document.update(cancelled=None, cancel_error=error_line(exc))
    if out.as_json:
        out.json(document)
    else:
        out.message(escape(f"HALTED ({reason}) is stored: no session sends orders until `kill-switch resume`."))
        err_console.print(f"[red]cancelling the working orders failed: {escape(error_line(exc))}[/red]")
        err_console.print(
            "[yellow]orders already working at the broker still work: cancel them in TWS, or with "
            "`quantdesk cancel --all` once the broker is reachable[/yellow]"
        )
    raise typer.Exit(ExitCode.CANCEL_FAILED)


def _change(settings: Settings, action: str, reason: str) -> str:
    from quantdesk.services.trading import change_kill_switch

    return change_kill_switch(settings, action, reason, by="cli").state.value


async def _cancel_working(settings: Settings, venue: Venue) -> list[str]:
    from quantdesk.services.brokers import open_broker
    from quantdesk.services.trading import cancel_working_orders

    async with open_broker(venue.value, settings) as broker:
        return await cancel_working_orders(settings, broker)
