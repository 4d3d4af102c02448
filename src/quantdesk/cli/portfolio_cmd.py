"""``quantdesk optimize`` and ``quantdesk rebalance``: thin shells over ``quantdesk.services``.

They parse flags, call the services and print. ``rebalance`` is a dry run unless ``--execute`` is given, and paper
unless the config is in live mode, confirms it (``live.confirm``) *and* ``--live`` is passed and answered with yes
at the prompt: the policy is ``services.live_policy``, the steps (plan, confirm, execute) ``services.rebalance``;
this module supplies the prompt and the status line. The services (and with them pandas, skfolio and the IB
adapter) are imported inside the commands, so registering them costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from quantdesk.cli.context import output_from, settings_from
from quantdesk.cli.execution_report import ExitCode, exit_code, print_execution, print_interrupted, waiting_status
from quantdesk.cli.output import Output
from quantdesk.cli.portfolio_flags import (
    flag_errors,
    lookback_value,
    method_help,
    parse_budgets,
    refuse_frontier_path,
    with_methods,
)
from quantdesk.config import Settings
from quantdesk.errors import ConfigError
from quantdesk.services import live_policy

if TYPE_CHECKING:
    from quantdesk.domain.targets import RebalancePlan, TargetWeights
    from quantdesk.portfolio.optimize import OptimizationResult
    from quantdesk.portfolio.rebalance import RebalanceResult
    from quantdesk.services.execution import ExecutionProgress
    from quantdesk.services.portfolio import RebalanceOptions

__all__ = ["optimize", "print_execution", "rebalance"]


class BrokerChoice(StrEnum):
    """Where ``rebalance`` reads holdings (and sends orders)."""

    GATEWAY = "gateway"
    IB = "ib"
    FILE = "file"


class BandModeChoice(StrEnum):
    """How ``--band`` is read."""

    ABSOLUTE = "absolute"
    RELATIVE = "relative"


JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")]
UniverseOpt = Annotated[
    str, typer.Option("--universe", "-u", help="sample, sample:AAPL,MSFT,… or a CSV/Parquet file of closes.")
]
MethodOpt = Annotated[str, typer.Option("--method", "-m", help=method_help())]
LookbackOpt = Annotated[
    str, typer.Option("--lookback", help="Window of history: 5y, 6m, 8w, 252d, a number of rows, or 'all'.")
]
MaxWeightOpt = Annotated[
    float | None, typer.Option("--max-weight", help="Upper bound per weight (default: risk.max_position_pct).")
]
CovOpt = Annotated[str, typer.Option("--cov", help="Covariance: sample, ledoit-wolf, oas, ew, denoised, …")]
MuOpt = Annotated[str, typer.Option("--mu", help="Expected returns: mean, ew, equilibrium, …")]
RfOpt = Annotated[float, typer.Option("--risk-free-rate", help="Annual risk-free rate (0.04 = 4 %).")]
ViewOpt = Annotated[
    list[str] | None,
    typer.Option("--view", help="For black-litterman (repeatable): 'AAPL == 0.10' or 'MSFT - JPM == 0.02'."),
]
BudgetOpt = Annotated[
    list[str] | None,
    typer.Option("--budget", help="For risk-budgeting (repeatable): SYMBOL=SHARE of the risk, e.g. AAPL=0.5."),
]
CashBufferOpt = Annotated[
    float | None, typer.Option("--cash-buffer", help="Fraction of the portfolio kept in cash (0.02 = 2 %).")
]


def _spec_options(views: list[str] | None, budgets: list[str] | None, cash_buffer: float | None) -> dict[str, Any]:
    """The options of ``--view``, ``--budget`` and ``--cash-buffer`` for the optimiser (only those given)."""
    out: dict[str, Any] = {"views": views or None, "risk_budget": parse_budgets(budgets)}
    out["cash_buffer"] = cash_buffer
    return {k: v for k, v in out.items() if v is not None}


def _optimize_result(
    ctx: typer.Context,
    universe: str,
    method: str,
    lookback: str,
    max_weight: float | None,
    cov: str,
    mu: str,
    risk_free_rate: float,
    **spec: Any,
) -> tuple[Settings, Any, OptimizationResult]:
    from quantdesk.services import portfolio as svc

    settings = settings_from(ctx)
    options = {k: v for k, v in spec.items() if v is not None}
    values: dict[str, Any] = {"max_weight": max_weight, "cov": cov, "mu": mu, "risk_free_rate": risk_free_rate}
    with flag_errors():
        svc.check_optimization(method, lookback_value(lookback), settings=settings, **values, **options)
        prices = svc.universe_prices(universe)
        result = svc.optimize_universe(
            universe, method, lookback_value(lookback), settings=settings, prices=prices, **values, **options
        )
    return settings, prices, result


def optimization_doc(result: OptimizationResult) -> dict[str, Any]:
    """The JSON-ready view of an optimisation: statistics, weights and risk contributions, largest first."""
    weights = result.weights.sort_values(ascending=False)
    risk = result.risk_contributions
    return {
        "method": result.method,
        "expected_return": float(result.expected_return),
        "volatility": float(result.volatility),
        "sharpe": float(result.sharpe),
        "weights": {str(k): float(v) for k, v in weights.items()},
        "risk_contributions": {str(k): float(risk.get(k, float("nan"))) for k in weights.index},
        "warnings": list(result.warnings),
        "diagnostics": dict(result.diagnostics),
    }


def print_optimization(out: Output, doc: dict[str, Any], title: str, source: str) -> None:
    """Print the weights table and the headline statistics (nothing in JSON mode)."""
    if out.as_json:
        return
    rows = [
        [sym, f"{w:.2%}", f"{doc['risk_contributions'][sym]:.2%}"]
        for sym, w in doc["weights"].items()
        if abs(w) >= 5e-5
    ]
    out.table(title, ["symbol", "weight", "risk contribution"], rows)
    out.message(
        f"expected return [bold]{doc['expected_return']:.2%}[/bold], volatility [bold]{doc['volatility']:.2%}[/bold], "
        f"Sharpe [bold]{doc['sharpe']:.2f}[/bold] (annualised; {len(rows)} of {len(doc['weights'])} symbols held; "
        f"{escape(source)})"
    )
    for w in doc["warnings"]:
        out.message(f"[yellow]warning:[/yellow] {escape(w)}")


def optimize(
    ctx: typer.Context,
    universe: UniverseOpt = "sample",
    method: MethodOpt = "max-sharpe",
    lookback: LookbackOpt = "5y",
    max_weight: MaxWeightOpt = None,
    min_weight: Annotated[float, typer.Option("--min-weight", help="Lower bound per weight.")] = 0.0,
    cov: CovOpt = "ledoit-wolf",
    mu: MuOpt = "mean",
    risk_free_rate: RfOpt = 0.0,
    target_volatility: Annotated[
        float | None, typer.Option("--target-volatility", help="For max-return-target-vol (0.15 = 15 %).")
    ] = None,
    target_return: Annotated[
        float | None, typer.Option("--target-return", help="For min-risk-target-return (0.12 = 12 %).")
    ] = None,
    long_short: Annotated[
        bool, typer.Option("--long-short", help="Allow shorts (needs risk.allow_short_selling).")
    ] = False,
    frontier: Annotated[
        Path | None, typer.Option("--frontier", help="Also write the efficient frontier chart to this HTML file.")
    ] = None,
    frontier_points: Annotated[int, typer.Option("--frontier-points", min=2, help="Points on the frontier.")] = 20,
    view: ViewOpt = None,
    budget: BudgetOpt = None,
    cash_buffer: CashBufferOpt = None,
    json_: JsonFlag = False,
) -> None:
    """Optimise a universe and print the weights and the portfolio's statistics (nothing is traded)."""
    refuse_frontier_path(frontier)
    _, prices, result = _optimize_result(
        ctx,
        universe,
        method,
        lookback,
        max_weight,
        cov,
        mu,
        risk_free_rate,
        min_weight=min_weight,
        long_only=not long_short,
        target_volatility=target_volatility,
        target_return=target_return,
        **_spec_options(view, budget, cash_buffer),
    )
    out = output_from(json_)
    doc: dict[str, Any] = {"universe": universe, "lookback": lookback, **optimization_doc(result)}
    if frontier is not None:
        from quantdesk.services import portfolio as svc

        with flag_errors():
            doc["frontier"] = svc.write_frontier(prices, result, frontier, points=frontier_points)
    if out.as_json:
        out.json(doc)
        return
    print_optimization(out, doc, f"{method} weights", f"{universe}, lookback {lookback}")
    if frontier is not None:
        out.message(f"Efficient frontier ({frontier_points} points) written to {escape(str(frontier))}.")


# -- rebalance -------------------------------------------------------------------------------------------------------


def _check_flags(settings: Settings, kind: BrokerChoice, execute: bool, live: bool, positions: Path | None) -> None:
    """Refuse contradictory flag combinations, then whatever the live-trading policy refuses, before any work."""
    if kind is BrokerChoice.FILE and positions is None:
        raise ConfigError(
            "--broker file needs --positions-file", field="--positions-file", hint="pass a CSV or JSON of holdings"
        )
    if live and not execute:
        raise ConfigError("--live only applies to --execute", field="--live", hint="add --execute, or drop --live")
    if not execute:
        return
    if kind is BrokerChoice.FILE:
        raise ConfigError(
            "a positions file cannot receive orders",
            field="--execute",
            hint="use --broker gateway (the simulator) or --broker ib, or drop --execute for a dry run",
        )
    live_policy.trading_mode(settings, live=live, broker=kind.value)


def _plan_rows(result: RebalanceResult, limits: dict[str, Decimal]) -> list[list[Any]]:
    rows = []
    for ln in result.lines:
        trade = ln.trade_quantity
        rows.append(
            [
                ln.symbol,
                f"{ln.price:,.2f}",
                _qty(ln.current_quantity),
                f"{ln.current_weight:.2%}",
                f"{ln.requested_weight:.2%}",
                _qty(ln.target_quantity),
                f"{ln.target_weight:.2%}",
                ("+" if trade > 0 else "") + _qty(trade) if trade else "",
                f"{abs(trade) * ln.price:,.2f}" if trade else "",
                f"{ln.estimated_commission:,.2f}" if trade else "",
                f"{limits[ln.symbol]:,}" if ln.symbol in limits else "",
                "; ".join(ln.notes),
            ]
        )
    return rows


def print_plan(out: Output, result: RebalanceResult, limits: dict[str, Decimal], source: str) -> None:
    """Print the delta-trades table and the plan's totals (nothing in JSON mode)."""
    if out.as_json:
        return
    p = result.plan
    columns = ["symbol", "price", "held", "weight", "target", "target qty", "reached", "trade", "notional", "fee"]
    out.table(
        f"Rebalance plan for {escape(source)}",
        [*columns, "limit", "notes"],
        _plan_rows(result, limits),
    )
    out.message(
        f"portfolio {p.portfolio_value:,.2f} {p.currency}: sell {p.sell_notional:,.2f}, buy {p.buy_notional:,.2f}, "
        f"est. commission {p.estimated_commission:,.2f}, turnover {p.turnover:.2%}; "
        f"cash {p.cash_before:,.2f} → {p.cash_after:,.2f} (reserve {result.cash_reserve:,.2f})"
    )
    for w in result.warnings:
        out.message(f"[yellow]warning:[/yellow] {escape(w)}")


def _qty(value: Decimal) -> str:
    return f"{value.normalize():,f}"


def plan_limits(result: RebalanceResult, settings: Settings) -> dict[str, Decimal]:
    """The limit price each planned order would carry under the config's order settings."""
    from quantdesk.portfolio.rebalance import plan_to_orders

    orders = plan_to_orders(result.plan, settings.orders)
    return {o.instrument.symbol: o.limit_price for o in orders if o.limit_price is not None}


async def _with_broker(
    out: Output,
    settings: Settings,
    kind: BrokerChoice,
    target: TargetWeights,
    options: RebalanceOptions,
    account: str | None,
    execute: bool,
    live: bool,
    timeout: float,
) -> dict[str, Any]:
    from quantdesk.services.execution import ExecutionProgress

    progress = ExecutionProgress()
    try:
        return await _run(out, settings, kind, target, options, account, execute, live, timeout, progress)
    except asyncio.CancelledError:  # Ctrl-C: say what went out (the session closes cleanly after this)
        if execute:
            print_interrupted(progress, settings.mode)
        raise


async def _run(
    out: Output,
    settings: Settings,
    kind: BrokerChoice,
    target: TargetWeights,
    options: RebalanceOptions,
    account: str | None,
    execute: bool,
    live: bool,
    timeout: float,
    progress: ExecutionProgress,
) -> dict[str, Any]:
    from quantdesk.services import brokers
    from quantdesk.services.rebalance import rebalance as run_rebalance

    doc: dict[str, Any] = {"broker": kind.value, "execute": execute}

    def show(result: RebalanceResult, pending: Mapping[str, Decimal]) -> None:
        doc["plan"] = result.to_dict()
        source = f"{result.plan.account or 'the default account'} via {kind.value}"
        print_plan(out, result, plan_limits(result, settings), source)
        if pending:
            out.message(f"Counted {len(pending)} symbol(s) with orders still working from an earlier run.")

    async def confirm(plan: RebalancePlan) -> bool:
        question = (
            f"Send {len(plan.trades)} order(s) worth {plan.buy_notional + plan.sell_notional:,.2f} "
            f"{plan.currency} to the LIVE account {plan.account}?"
        )
        return bool(await asyncio.to_thread(typer.confirm, question, default=False, err=True))

    @contextlib.asynccontextmanager
    async def sending(plan: RebalancePlan, progress: ExecutionProgress) -> AsyncIterator[None]:
        out.message(f"Sending {len(plan.trades)} order(s) through the OMS and its risk checks, sells first …")
        async with waiting_status(out, progress):
            yield

    async with brokers.open_broker(kind.value, settings) as broker:
        run = await run_rebalance(
            broker,
            settings,
            target,
            execute=execute,
            live=live,
            account=account,
            options=options,
            timeout=timeout,
            confirm=confirm,
            on_plan=show,
            sending=sending,
            progress=progress,
        )
    if not execute:
        out.message(f"Dry run: nothing sent. Add --execute to send {len(run.plan.trades)} order(s).")
        return doc
    if run.declined:
        raise typer.Abort()
    if run.on_target:
        out.message("Nothing to trade: the account is on target.")
        doc["execution"] = None
        return doc
    done, held = run.execution, run.positions_after or []
    assert done is not None  # executed, neither declined nor on target
    doc["execution"] = done.to_dict()
    doc["exit_code"] = int(exit_code(done))
    print_execution(out, done, with_exit_code=True)
    doc["positions_after"] = {p.instrument_id.value: p.quantity for p in held}
    if not out.as_json:
        out.table(
            "Positions after execution",
            ["instrument", "quantity"],
            [[p.instrument_id.value, f"{p.quantity.normalize():,f}"] for p in held],
        )
    return doc


def rebalance(
    ctx: typer.Context,
    method: MethodOpt = "max-sharpe",
    universe: UniverseOpt = "sample",
    lookback: LookbackOpt = "5y",
    max_weight: MaxWeightOpt = None,
    cov: CovOpt = "ledoit-wolf",
    mu: MuOpt = "mean",
    risk_free_rate: RfOpt = 0.0,
    broker: Annotated[
        BrokerChoice | None,
        typer.Option(
            "--broker",
            "-b",
            case_sensitive=False,
            help="gateway (in-process simulator, paper), ib (settings.ib) or file. Default: file with "
            "--positions-file, else gateway.",
        ),
    ] = None,
    positions_file: Annotated[
        Path | None,
        typer.Option("--positions-file", help="Holdings as CSV (symbol,quantity[,price]; a CASH row) or JSON."),
    ] = None,
    cash: Annotated[float | None, typer.Option("--cash", help="Cash, overriding the positions file's.")] = None,
    account: Annotated[str | None, typer.Option("--account", help="Account id (default: the login's first).")] = None,
    band: Annotated[float | None, typer.Option("--band", help="No trade while the drift is under this.")] = None,
    band_mode: Annotated[
        BandModeChoice | None,
        typer.Option("--band-mode", case_sensitive=False, help="absolute (weight points) or relative (of target)."),
    ] = None,
    min_trade: Annotated[float | None, typer.Option("--min-trade", help="Skip trades worth less than this.")] = None,
    cash_buffer: Annotated[
        float | None, typer.Option("--cash-buffer", help="Fraction of the portfolio kept in cash (0.02 = 2 %).")
    ] = None,
    fractional: Annotated[
        bool, typer.Option("--fractional", help="Fractional shares where the instrument allows them.")
    ] = False,
    execute: Annotated[bool, typer.Option("--execute", help="Send the orders (default: dry run).")] = False,
    live: Annotated[
        bool, typer.Option("--live", help="Trade a live account: needs a confirmed live config and a yes.")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for fills per side.")] = 120.0,
    view: ViewOpt = None,
    budget: BudgetOpt = None,
    json_: JsonFlag = False,
) -> None:
    """Optimise, then show the trades that move the account to the target; send them only with --execute.

    Exit codes (docs/exit-codes.md):
    0 every order filled (or a dry run, or nothing to trade);
    1 unexpected error; 2 bad input or configuration;
    3 refused: nothing filled (every order refused by risk or rejected);
    4 partly done; 5 timed out with orders still working (listed, with how to cancel them);
    6 stopped: the broker was away longer than the ib.reconnect_* settings allow;
    130 interrupted (Ctrl-C): what was and was not sent is printed.
    """
    from quantdesk.services import portfolio as svc

    settings = settings_from(ctx)
    kind = broker or (BrokerChoice.FILE if positions_file is not None else BrokerChoice.GATEWAY)
    _check_flags(settings, kind, execute, live, positions_file)
    if cash is not None and kind is not BrokerChoice.FILE:
        raise ConfigError(
            f"--cash applies to a positions file; the {kind.value} account reports its own cash",
            field="--cash",
            value=cash,
            hint="drop --cash, or plan from a file with --positions-file",
        )
    out = output_from(json_)
    options = svc.RebalanceOptions(
        band=None if band is None else Decimal(repr(band)),
        band_mode=None if band_mode is None else band_mode.value,
        min_trade_value=None if min_trade is None else Decimal(repr(min_trade)),
        cash_buffer=None if cash_buffer is None else Decimal(repr(cash_buffer)),
        fractional=fractional or None,
    )
    with flag_errors():  # every option is checked before the optimiser runs
        options.settings(settings)
        if positions_file is not None:
            svc.check_positions_file(positions_file, cash=cash)
    spec = _spec_options(view, budget, None)
    _, prices, opt = _optimize_result(ctx, universe, method, lookback, max_weight, cov, mu, risk_free_rate, **spec)
    opt_doc = optimization_doc(opt)
    print_optimization(out, opt_doc, f"{method} target weights", f"{universe}, lookback {lookback}")
    target = opt.to_target_weights()
    if kind is BrokerChoice.FILE:
        assert positions_file is not None  # _check_flags
        with flag_errors():
            result = svc.plan_from_file(
                target, positions_file, svc.last_prices(prices), settings, cash=cash, options=options
            )
        print_plan(out, result, plan_limits(result, settings), str(positions_file))
        out.message("Dry run from a file: nothing sent (prices are the universe's last closes).")
        doc: dict[str, Any] = {"broker": kind.value, "execute": False, "plan": result.to_dict()}
    else:
        try:
            doc = asyncio.run(_with_broker(out, settings, kind, target, options, account, execute, live, timeout))
        except KeyboardInterrupt:
            raise typer.Exit(ExitCode.INTERRUPTED) from None  # what was sent is printed already
    if out.as_json:
        out.json({"mode": settings.mode, "optimization": opt_doc, **doc})
    if doc.get("exit_code"):
        raise typer.Exit(doc["exit_code"])


optimize.__doc__ = with_methods(optimize.__doc__)
rebalance.__doc__ = with_methods(rebalance.__doc__)
