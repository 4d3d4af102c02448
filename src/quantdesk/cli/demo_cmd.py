"""``quantdesk demo``: the main job end to end, offline, in paper mode.

1. Load the real S&P 500 sample (bundled with skfolio) into the bar store and summarise it.
2. Optimise it (maximum Sharpe on the last 5 years, positions capped at the config's max position size).
3. Start the TWS-API gateway simulator in-process on a free port and connect the IB adapter to it, exactly as it
   would connect to TWS: show the paper account, a quote and a day of bars.
4. Plan the rebalance of the paper account to the optimised weights (whole shares, sells first, commissions) and
   execute it as paper trades through the OMS and the adapter (``services.rebalance``, the use case
   ``quantdesk rebalance`` runs too); show the orders and the resulting positions.

Nothing here can reach a real account: the broker is the in-process simulator. Nothing here touches the user's own
records either: the demo keeps its bar store, database and simulated paper account in ``<data_dir>/demo/`` (or
``--data-dir``), so a second run trades only the drift of its own account.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from quantdesk.cli.context import output_from, settings_from

if TYPE_CHECKING:
    from quantdesk.cli.output import Output
    from quantdesk.config import Settings
    from quantdesk.portfolio.optimize import OptimizationResult
    from quantdesk.portfolio.rebalance import RebalanceResult

__all__ = ["demo"]


def demo(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")] = False,
    trade: Annotated[
        bool, typer.Option("--trade/--no-trade", help="Execute the plan as paper trades on the simulator.")
    ] = True,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Where the demo keeps its simulated bars, database and paper account (default: <data_dir>/demo).",
        ),
    ] = None,
) -> None:
    """Run the demo: sample data → optimisation → in-process IB gateway → rebalance plan → paper trades."""
    from quantdesk.cli.data_cmd import print_sample_summary
    from quantdesk.cli.portfolio_cmd import optimization_doc, print_optimization
    from quantdesk.services import datasets, portfolio
    from quantdesk.services.sandbox import sandbox_settings

    user_settings = settings_from(ctx)
    settings = sandbox_settings(user_settings, "demo", data_dir)
    out = output_from(json_)
    out.message(
        f"[bold]quantdesk demo[/bold] - mode [green]{settings.mode}[/green], simulated data directory "
        f"{escape(str(settings.paths.data_dir))} (your own records in "
        f"{escape(str(user_settings.paths.data_dir))} are not touched)"
    )
    started = time.perf_counter()
    sample = datasets.load_sample(datasets.open_store(settings.paths.data_dir))
    sample_doc = sample.to_dict()
    out.message(
        f"\n[bold]1. Data[/bold]: Stored {len(sample.symbols)} symbols and {sample.rows:,} daily bars "
        f"({sample_doc['first'][:10]} to {sample_doc['last'][:10]}) in {time.perf_counter() - started:.1f} s"
    )
    if not out.as_json:
        print_sample_summary(out, "S&P 500 sample (daily, adjusted) in the bar store", sample_doc["symbols"])

    prices = portfolio.universe_prices("sample")
    result = portfolio.optimize_universe("sample", "max-sharpe", "5y", settings=settings, prices=prices)
    opt_doc = optimization_doc(result)
    out.message("\n[bold]2. Optimisation[/bold]: maximum Sharpe on the last 5 years of the sample")
    print_optimization(out, opt_doc, "Target weights (max Sharpe, 5y, Ledoit-Wolf)", "sample")

    broker_doc = asyncio.run(_broker_part(out, settings, result, prices, trade))
    if out.as_json:
        out.json(
            {
                "mode": settings.mode,
                "data_dir": str(settings.paths.data_dir),
                "sample": sample_doc,
                "optimization": opt_doc,
                **broker_doc,
                "seconds": time.perf_counter() - started,
            }
        )
        return
    out.message(
        f"\nDone in {time.perf_counter() - started:.1f} s. Next: `quantdesk gateway` runs the simulator on its own; "
        "`quantdesk validate --port 4002` checks a connection; `quantdesk rebalance --help`."
    )


async def _broker_part(
    out: Output, settings: Settings, result: OptimizationResult, prices: Any, trade: bool
) -> dict[str, Any]:
    """Steps 3 and 4: everything that talks to the broker, on one event loop."""
    from quantdesk.cli.execution_report import print_execution
    from quantdesk.domain.instruments import Stock
    from quantdesk.domain.market import BarSize
    from quantdesk.services import brokers, portfolio
    from quantdesk.services.rebalance import rebalance

    doc: dict[str, Any] = {}
    async with brokers.open_broker("gateway", settings) as broker:
        accounts = await broker.managed_accounts()
        summary = await broker.account_summary(accounts[0])
        aapl = Stock("AAPL")
        quote = await broker.quote(aapl)
        bars = await broker.historical_bars(aapl, BarSize.MIN_30, quote.ts - timedelta(days=1), quote.ts)
        out.message(
            f"\n[bold]3. Broker[/bold]: IB adapter connected to the in-process gateway; paper account "
            f"{accounts[0]}, net liquidation {summary.net_liquidation}, buying power {summary.buying_power}"
        )
        if not out.as_json:
            out.table(
                f"AAPL: bid {quote.bid} × ask {quote.ask}; last {len(bars)} thirty-minute bars",
                ["start (UTC)", "open", "high", "low", "close", "volume"],
                [[b.ts, b.open, b.high, b.low, b.close, b.volume] for b in bars[-6:]],
            )
        doc["broker"] = {
            "account": str(accounts[0]),
            "net_liquidation": summary.net_liquidation.amount,
            "quote": {"symbol": "AAPL", "bid": quote.bid, "ask": quote.ask, "ts": quote.ts},
            "bars": len(bars),
        }

        def show(plan: RebalanceResult, _pending: Mapping[str, Decimal]) -> None:
            start = "from cash" if plan.plan.cash_before == plan.plan.portfolio_value else "from the account's holdings"
            out.message(f"\n[bold]4. Rebalance[/bold]: {start} to the target weights, whole shares, sells first")
            _print_compact_plan(out, plan)
            doc["plan"] = plan.to_dict()

        run = await rebalance(
            broker,
            settings,
            result.to_target_weights(),
            execute=trade,
            account=str(accounts[0]),
            fallback_prices=portfolio.last_prices(prices),
            timeout=60,
            on_plan=show,
        )
        if not trade:
            return doc
        done, positions = run.execution, run.positions_after or []
        assert done is not None  # a paper run is never declined
        print_execution(out, done)
        if not out.as_json:
            from quantdesk.cli import cells

            out.table(
                "Positions after the paper trades",
                ["symbol", "quantity", "average cost"],
                [
                    [
                        cells.instrument_label(p.instrument_id.value),
                        cells.quantity(p.quantity),
                        cells.price(p.average_cost, p.instrument_id.value, average=True),
                    ]
                    for p in positions
                ],
            )
        doc["execution"] = done.to_dict()
        doc["positions"] = {p.instrument_id.value: p.quantity for p in positions}
    return doc


def _print_compact_plan(out: Output, result: RebalanceResult) -> None:
    """The plan's trades in seven columns (``quantdesk rebalance`` shows every column and note)."""
    if out.as_json:
        return
    p = result.plan
    rows = [
        [
            ln.symbol,
            f"{ln.price:,.2f}",
            f"{ln.requested_weight:.2%}",
            f"{ln.target_quantity.normalize():,f}",
            f"{ln.target_weight:.2%}",
            f"{ln.trade_quantity.normalize():+,f}",
            f"{ln.estimated_commission:,.2f}",
        ]
        for ln in result.lines
        if ln.trade_quantity
    ]
    if rows:
        out.table(
            "Rebalance plan (delta trades)", ["symbol", "price", "target", "qty", "reached", "trade", "fee"], rows
        )
    else:
        out.message("no trades: the account already holds the target quantities (within the band)")
    out.message(
        f"portfolio {p.portfolio_value:,.2f} {p.currency}: buy {p.buy_notional:,.2f}, sell {p.sell_notional:,.2f}, "
        f"est. commission {p.estimated_commission:,.2f}; cash {p.cash_before:,.2f} → {p.cash_after:,.2f}"
    )
    for w in result.warnings:
        out.message(f"[yellow]note:[/yellow] {escape(w)}")
