"""Portfolio services: optimise a universe, plan a rebalance from a broker or a file.

The CLI (``quantdesk optimize`` / ``quantdesk rebalance``) and later the REST API call these; they never print.
Opening a broker is :mod:`quantdesk.services.brokers`, executing a plan :mod:`quantdesk.services.execution`, the
whole rebalance (plan, confirm, execute) :mod:`quantdesk.services.rebalance`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from quantdesk.brokers.base import Broker
from quantdesk.config import Settings
from quantdesk.domain.instruments import Instrument, Stock
from quantdesk.domain.targets import TargetWeights
from quantdesk.domain.values import Numeric
from quantdesk.errors import DataError, NotFound
from quantdesk.execution.fees import FeeModel
from quantdesk.portfolio.rebalance import (
    BandMode,
    Holdings,
    RebalanceResult,
    RebalanceSettings,
    load_holdings_file,
    plan_rebalance,
    quotes_from_broker,
    snapshot_from_broker,
    symbol_of,
)
from quantdesk.services.portfolio_inputs import (
    check_optimization,
    check_positions_file,
    check_weight_cap,
    read_closes,
)

if TYPE_CHECKING:
    from quantdesk.portfolio.optimize import OptimizationResult

__all__ = [
    "RebalanceOptions",
    "build_rebalance",
    "check_optimization",
    "check_positions_file",
    "last_prices",
    "optimize_universe",
    "plan_from_broker",
    "plan_from_file",
    "universe_prices",
    "write_frontier",
]

_CENT = Decimal("0.01")


# -- optimisation ---------------------------------------------------------------------------------------------------


def universe_prices(universe: str = "sample") -> pd.DataFrame:
    """Wide daily closes of a universe: ``sample`` (the 20 bundled S&P 500 stocks), ``sample:AAPL,MSFT,…``, or a
    CSV/Parquet file of closes (dates in the first column, one column per symbol)."""
    from quantdesk.data import load_sample_prices

    text = universe.strip()
    if text.lower() == "sample":
        return load_sample_prices()
    if text.lower().startswith("sample:"):
        symbols = [s.strip() for s in text.split(":", 1)[1].split(",") if s.strip()]
        return load_sample_prices(symbols)
    path = Path(text).expanduser()
    if not path.is_file():
        raise NotFound(
            f"unknown universe {universe!r}",
            field="universe",
            value=universe,
            hint="use 'sample', 'sample:AAPL,MSFT,JPM' or a CSV/Parquet file of closes",
        )
    return read_closes(path)


def optimize_universe(
    universe: str = "sample",
    method: str = "max-sharpe",
    lookback: str | int | None = "5y",
    *,
    max_weight: float | None = None,
    min_weight: float = 0.0,
    cov: str = "ledoit-wolf",
    mu: str = "mean",
    long_only: bool = True,
    settings: Settings | None = None,
    prices: pd.DataFrame | None = None,
    **spec_options: Any,
) -> OptimizationResult:
    """Optimise ``universe`` with ``method``; ``max_weight`` defaults to the config's ``risk.max_position_pct``.

    ``spec_options`` go to ``OptimizationSpec`` unchanged (``risk_free_rate``, ``target_volatility``, ``groups``,
    ``turnover_limit``, ``fallback``, …). A long/short optimisation needs ``risk.allow_short_selling``; a
    ``max_weight`` above ``risk.max_position_pct`` is refused unless the ``max_position`` rule is disabled.
    """
    from quantdesk.portfolio.optimize import optimize

    cfg = settings or Settings()
    spec = check_optimization(
        method,
        lookback,
        max_weight=max_weight,
        min_weight=min_weight,
        cov=cov,
        mu=mu,
        long_only=long_only,
        settings=cfg,
        **spec_options,
    )
    frame = prices if prices is not None else universe_prices(universe)
    check_weight_cap(spec, frame.shape[1], cfg)
    return optimize(frame, spec)


def write_frontier(
    prices: pd.DataFrame, result: OptimizationResult, path: Path | str, *, points: int = 20
) -> dict[str, Any]:
    """Compute the efficient frontier under ``result``'s window, estimators and bounds, and write it (with the
    result's portfolio and risk contributions) to an HTML or PNG file (by the extension); returns the points."""
    from quantdesk.portfolio import OptimizationSpec, efficient_frontier

    base = result.spec
    spec = OptimizationSpec(
        method="min-variance",
        lookback=base.lookback,
        cov=base.cov,
        mu=base.mu,
        max_weight=base.max_weight,
        min_weight=base.min_weight,
        long_only=base.long_only,
        gross_cap=base.gross_cap,
        cash_buffer=base.cash_buffer,
        risk_free_rate=base.risk_free_rate,
        half_life=base.half_life,
    )
    frontier = efficient_frontier(prices, spec, points=points)
    written = frontier.write_html(path, result=result)
    return {
        "path": str(written),
        "max_sharpe_point": frontier.max_sharpe,
        "points": frontier.points.reset_index().to_dict(orient="records"),
        "notes": list(frontier.notes),
    }


def last_prices(prices: pd.DataFrame) -> dict[str, Decimal]:
    """The last close of each column, to the cent: the prices a plan from a file uses."""
    out: dict[str, Decimal] = {}
    for sym in prices.columns:
        col = prices[sym].dropna()
        if not col.empty and float(col.iloc[-1]) > 0:
            out[str(sym)] = Decimal(repr(float(col.iloc[-1]))).quantize(_CENT, rounding=ROUND_HALF_EVEN)
    return out


# -- planning -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RebalanceOptions:
    """Per-run choices on top of the config (None keeps the config's value or the planner's default)."""

    band: Decimal | None = None
    band_mode: BandMode | None = None
    min_trade_value: Decimal | None = None
    cash_buffer: Decimal | None = None
    fractional: bool | None = None
    fee_model: FeeModel | None = None

    def settings(self, config: Settings) -> RebalanceSettings:
        """The planner's settings: the config's risk and order sections with these choices on top."""
        return RebalanceSettings.from_settings(
            config,
            band=self.band,
            band_mode=self.band_mode,
            min_trade_value=self.min_trade_value,
            cash_buffer=self.cash_buffer,
            fractional=self.fractional,
            fee_model=self.fee_model,
        )


def build_rebalance(
    target: TargetWeights,
    holdings: Holdings,
    prices: Mapping[str, Numeric],
    settings: Settings | None = None,
    *,
    options: RebalanceOptions | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> RebalanceResult:
    """The plan that moves ``holdings`` to ``target`` at ``prices`` under the config's risk and order settings."""
    planner = (options or RebalanceOptions()).settings(settings or Settings())
    return plan_rebalance(holdings, prices, target, planner, instruments=instruments)


def plan_from_file(
    target: TargetWeights,
    positions_file: Path | str,
    prices: Mapping[str, Numeric],
    settings: Settings | None = None,
    *,
    cash: Numeric | None = None,
    options: RebalanceOptions | None = None,
) -> RebalanceResult:
    """A plan for the holdings in ``positions_file``; prices default to the file's price column where given."""
    holdings = load_holdings_file(positions_file, cash=cash)
    merged = {**holdings.marks, **prices}
    result = build_rebalance(target, holdings, merged, settings, options=options)
    unused = sorted(s for s, mark in holdings.marks.items() if s in prices and Decimal(str(prices[s])) != mark)
    if unused:
        note = f"the file's prices for {', '.join(unused)} are not used: they are priced at the universe's last close"
        result = replace(result, warnings=(*result.warnings, note))
    return result


async def plan_from_broker(
    target: TargetWeights,
    broker: Broker,
    settings: Settings | None = None,
    *,
    account: str | None = None,
    options: RebalanceOptions | None = None,
    fallback_prices: Mapping[str, Numeric] | None = None,
    pending: Mapping[str, Decimal] | None = None,
) -> RebalanceResult:
    """A plan for an account at ``broker``: its cash and stock positions, priced at the quotes' mids.

    ``pending`` (signed quantity per symbol of orders still working, e.g. ``TradingSession.pending_by_symbol()``)
    counts as if already filled, so a rebalance run again after a crash never orders the same shares twice.

    A symbol without a quote (market closed, no data subscription) is priced at the broker's mark of the position,
    else at ``fallback_prices`` (e.g. the last closes), with a warning; with neither, planning fails naming it.
    """
    holdings = await snapshot_from_broker(broker, account or None)
    wanted = (symbol_of(k) for k, w in target.items() if w != 0)
    symbols = list(dict.fromkeys([*wanted, *holdings.positions, *(pending or {})]))
    instruments = {s: holdings.instruments.get(s) or Stock(s, currency=holdings.currency) for s in symbols}
    quotes = await quotes_from_broker(broker, instruments.values(), missing_ok=True)
    prices: dict[str, Numeric] = {**(fallback_prices or {}), **holdings.marks, **quotes}
    if pending:
        holdings = _with_pending(holdings, pending, prices)
    result = build_rebalance(target, holdings, prices, settings, options=options, instruments=instruments)
    unquoted = [s for s in symbols if s not in quotes]
    if unquoted:
        note = f"no quote for {', '.join(unquoted)}: priced at the last known price instead"
        result = replace(result, warnings=(*result.warnings, note))
    return result


def _with_pending(holdings: Holdings, pending: Mapping[str, Decimal], prices: Mapping[str, Numeric]) -> Holdings:
    """``holdings`` as if the working orders had filled at ``prices`` (cash moves by their notional)."""
    positions = dict(holdings.positions)
    cash = holdings.cash
    for symbol, qty in pending.items():
        price = prices.get(symbol)
        if price is None:
            raise DataError(
                f"no price for {symbol}, which has working orders",
                field="pending",
                value=symbol,
                hint="wait for the working orders to finish, or cancel them, then plan again",
            )
        positions[symbol] = positions.get(symbol, Decimal(0)) + qty
        cash -= qty * Decimal(str(price))
    return replace(holdings, positions=positions, cash=cash)
