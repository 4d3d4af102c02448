"""``quantdesk validate``: check the connection to TWS / IB Gateway before trading.

Each step prints one ✓/✗ line with the fix on failure (or one JSON document with ``--json``); the exit code is 1
when a step failed. ``--full-test`` also places a 1-share limit order far below the market and cancels it; on a
live port (7496, 4001) it refuses unless ``--live`` is given *and* confirmed at the prompt *and* the configuration
allows live trading (``mode = "live"``; see ``quantdesk config``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Annotated

import typer
from rich.markup import escape

from quantdesk.cli.context import output_from, settings_from
from quantdesk.config import LIVE_PORTS, ensure_trading_mode
from quantdesk.errors import ConfigError
from quantdesk.services import live_policy

__all__ = ["validate"]


def validate(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option("--host", help="TWS/Gateway host (default: ib.host).")] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="API port: 7497/7496 TWS paper/live, 4002/4001 Gateway (ib.port).")
    ] = None,
    client_id: Annotated[
        int | None, typer.Option("--client-id", help="Client id to connect with (default: ib.client_id_execution).")
    ] = None,
    full_test: Annotated[
        bool, typer.Option("--full-test", help="Also place a tiny limit order far from the market and cancel it.")
    ] = False,
    live: Annotated[
        bool, typer.Option("--live", help="Allow --full-test on a live port (asks for confirmation).")
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")] = False,
) -> None:
    """Check connection, accounts, account summary, positions, a quote and a day of bars (✓/✗ with the fix)."""
    from quantdesk.brokers.ib.validate import ValidationOptions, run_validation

    settings = settings_from(ctx)
    ib = settings.ib
    options = ValidationOptions(
        host=host or ib.host,
        port=port if port is not None else ib.port,
        client_id=client_id if client_id is not None else ib.client_id_execution,
        timeout=ib.connect_timeout,
        full_test=full_test,
        market_data_type=ib.market_data_type,
        account=ib.account,
    )
    if full_test and options.live_port:
        where = LIVE_PORTS[options.port]
        if not live:
            raise ConfigError(
                f"--full-test places a real order and port {options.port} is the {where} port",
                field="--live",
                value=options.port,
                hint="run it on a paper port (7497 TWS, 4002 Gateway), or pass --live to confirm a live test order",
            )
        if not typer.confirm(
            f"Place (and cancel) a real 1-share {options.symbol} limit order on the LIVE account via port "
            f"{options.port}?",
            default=False,
        ):
            raise typer.Abort()
        ensure_trading_mode(settings, cli_confirmed=True)
        options = dataclasses.replace(options, allow_live_orders=True)
    out = output_from(json_)
    if not out.as_json:
        out.message(f"Checking IB at {escape(options.host)}:{options.port} as client {options.client_id} …")
    quiet = logging.getLogger("ib_async")
    previous = quiet.level
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        quiet.setLevel(logging.CRITICAL)  # our lines say what went wrong; ib_async's own log would repeat it
    try:
        report = asyncio.run(run_validation(options))
    finally:
        quiet.setLevel(previous)
    seen = live_policy.live_accounts_seen(c.detail for c in report.checks if c.name == "accounts" and c.ok)
    warnings = live_policy.live_warnings(settings, options.port, seen)
    if out.as_json:
        out.json({**report.to_dict(), "warnings": warnings})
    else:
        for check in report.checks:
            colour = "green" if check.ok else ("yellow" if check.skipped else "red")
            out.message(f"[{colour}]{escape(check.line)}[/{colour}]")
        for warning in warnings:
            out.message(f"[yellow]warning:[/yellow] {escape(warning)}")
        verdict = "ready to trade" if report.ok else "not ready: fix the ✗ lines above"
        if report.ok and warnings:
            verdict += " (but see the warnings: a paper configuration on a live session)"
        out.message(f"[bold]{verdict}[/bold]")
    if not report.ok:
        raise typer.Exit(1)
