"""Portfolio services: optimise a universe, plan a rebalance from a broker or a file, execute a plan.

The CLI (``quantdesk optimize`` / ``quantdesk rebalance``) and later the REST API call these; they never print.
Execution is **paper by default**: ``execute_plan`` asks ``ensure_trading_mode`` first, and refuses to send a
paper-mode plan to a live (non-``D…``) account.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from quantdesk.brokers.base import Broker, OrderStatusReport
from quantdesk.config import Mode, Settings, ensure_trading_mode
from quantdesk.domain.identifiers import BrokerOrderId, ClientOrderId
from quantdesk.domain.instruments import Instrument, Stock
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.domain.targets import RebalancePlan, TargetWeights
from quantdesk.domain.values import Numeric
from quantdesk.errors import ConfigError, ConnectionLost, DataError, NotFound, RiskRejected
from quantdesk.execution.fees import FeeModel
from quantdesk.portfolio.rebalance import (
    BandMode,
    Holdings,
    RebalanceResult,
    RebalanceSettings,
    load_holdings_file,
    plan_rebalance,
    plan_to_orders,
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
    from quantdesk.oms.manager import OrderManager
    from quantdesk.portfolio.optimize import OptimizationResult
    from quantdesk.services.trading import TradingSession

__all__ = [
    "BrokerKind",
    "ExecutionProgress",
    "ExecutionResult",
    "RebalanceOptions",
    "build_rebalance",
    "check_optimization",
    "check_positions_file",
    "execute_plan",
    "last_prices",
    "open_broker",
    "optimize_universe",
    "plan_from_broker",
    "plan_from_file",
    "universe_prices",
    "write_frontier",
]

log = logging.getLogger(__name__)
BrokerKind = Literal["gateway", "ib", "file"]
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


@contextlib.asynccontextmanager
async def open_broker(kind: BrokerKind, settings: Settings) -> AsyncIterator[Broker]:
    """A connected broker: ``ib`` at ``settings.ib``, or ``gateway``, an in-process TWS simulator on a free port
    with the IB adapter connected to it (one paper account, ``settings.ib.account`` when set, whose cash,
    positions, orders and executions are kept in ``<data_dir>/gateway/<account>.json`` between runs; the bars
    and contracts fetched from it in ``<data_dir>/gateway/``, labelled ``gateway-sim``)."""
    from quantdesk.brokers.ib import IBBroker

    if kind == "ib":
        broker = IBBroker.from_settings(settings)
        await broker.connect()
        try:
            yield broker
        finally:
            await broker.disconnect()
        return
    if kind != "gateway":
        raise ConfigError(f"no broker connection for {kind!r}", field="broker", value=kind, hint="use gateway or ib")
    from quantdesk.gateway import DEFAULT_ACCOUNTS, GatewayConfig, GatewayServer
    from quantdesk.services.sandbox import SIMULATED_BAR_SOURCE, gateway_data_dir

    account = settings.ib.account or DEFAULT_ACCOUNTS[0]
    # The simulated paper account lives on between runs (like a real one), so the database and it stay in step.
    # Its bars and contract ids stay beside it, labelled as simulated: they never reach the user's bar store.
    sim_dir = gateway_data_dir(settings.paths.data_dir)
    async with GatewayServer(GatewayConfig(port=0, accounts=(account,), state_file=sim_dir / f"{account}.json")) as gw:
        ib_settings = settings.ib.model_copy(update={"host": "127.0.0.1", "port": gw.port, "account": account})
        broker = IBBroker(ib_settings, data_dir=sim_dir, bar_source=SIMULATED_BAR_SOURCE)
        await broker.connect()
        try:
            yield broker
        finally:
            await broker.disconnect()


# -- execution ------------------------------------------------------------------------------------------------------


Outcome = Literal["done", "refused", "partial", "working", "stopped"]


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """What ``execute_plan`` did: the last report of every order sent, the buys held back, and why."""

    mode: Mode
    reports: list[OrderStatusReport]
    skipped: list[Order] = field(default_factory=list)
    reason: str | None = None
    rejected: list[tuple[Order, str]] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped before it sent everything (the broker went away)

    @property
    def complete(self) -> bool:
        """True when every order of the plan was sent and filled."""
        return (
            not self.stopped
            and not self.skipped
            and not self.rejected
            and all(r.status is OrderStatus.FILLED for r in self.reports)
        )

    @property
    def working(self) -> list[OrderStatusReport]:
        """The orders still working at the broker (not terminal) when the run ended."""
        return [r for r in self.reports if not r.status.is_terminal]

    @property
    def outcome(self) -> Outcome:
        """``done`` (all filled), ``stopped`` (the run ended early), ``working`` (orders left at the broker),
        ``refused`` (nothing filled: every order refused by risk or rejected) or ``partial`` (the rest)."""
        if self.stopped:
            return "stopped"
        if self.working:
            return "working"
        if self.complete:
            return "done"
        if not any(r.filled_quantity for r in self.reports) and (self.rejected or self.reports):
            return "refused"
        return "partial"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "mode": self.mode,
            "complete": self.complete,
            "outcome": self.outcome,
            "reason": self.reason,
            "stopped": self.stopped,
            "orders": [
                {
                    "client_order_id": None if r.client_order_id is None else r.client_order_id.value,
                    "perm_id": r.broker_order_id.perm_id,
                    "instrument": r.instrument_id.value,
                    "side": r.side.value,
                    "quantity": str(r.quantity),
                    "filled": str(r.filled_quantity),
                    "avg_price": None if r.avg_fill_price is None else str(r.avg_fill_price),
                    "status": r.status.value,
                    "reason": r.reason,
                }
                for r in self.reports
            ],
            "skipped": [
                {"instrument": o.instrument.id.value, "side": o.side.value, "quantity": str(o.quantity)}
                for o in self.skipped
            ],
            "rejected": [
                {"instrument": o.instrument.id.value, "side": o.side.value, "quantity": str(o.quantity), "reason": why}
                for o, why in self.rejected
            ],
        }


@dataclass(slots=True)
class ExecutionProgress:
    """What a run has done so far, readable while it runs (a status line) and after it stopped (Ctrl-C)."""

    phase: str = "starting"  # starting, history, sending, waiting, done
    planned: list[Order] = field(default_factory=list)
    sent: list[Order] = field(default_factory=list)
    rejected: list[tuple[Order, str]] = field(default_factory=list)
    deadline: float | None = None  # loop time at which waiting for fills ends
    manager: OrderManager | None = None

    def reports(self) -> list[OrderStatusReport]:
        """The current report of every order sent so far (each slice of a sliced order)."""
        return [] if self.manager is None else _reports(self.manager, self.sent)

    def unsent(self) -> list[Order]:
        """The planned orders not sent (nor refused) yet, and the slices not sent of those sent."""
        done = {o.client_order_id for o in self.sent} | {o.client_order_id for o, _ in self.rejected}
        rest = [o for o in self.planned if o.client_order_id not in done]
        return rest if self.manager is None else [*_unsent(self.manager, self.sent), *rest]

    def result(self, mode: Mode, stopped: str) -> ExecutionResult:
        """The run as it stands, stopped early for ``stopped``."""
        return ExecutionResult(mode, self.reports(), self.unsent(), None, list(self.rejected), stopped)


async def execute_plan(
    plan: RebalancePlan,
    broker: Broker,
    settings: Settings | None = None,
    *,
    confirm_live: bool = False,
    instruments: Mapping[str, Instrument] | None = None,
    timeout: float = 120.0,
    poll_interval: float = 0.25,
    session: TradingSession | None = None,
    progress: ExecutionProgress | None = None,
) -> ExecutionResult:
    """Send ``plan`` through the OMS and its risk engine: sells, then (once every sell filled) buys.

    Paper by default: ``ensure_trading_mode(settings, confirm_live)`` decides, and a paper-mode plan for a live
    account (not ``D…``) is refused. Every order is checked by the pre-trade rules and persisted as an intent
    before it is sent (``session``, or a trading session opened here on ``broker``); an order a rule refuses is
    listed in ``rejected`` with the rule's message and the others go on. An order above the participation cap
    (the ADV learned from the broker's daily bars) goes out in timed slices, each reported on its own. Each group
    waits up to ``timeout`` seconds, plus the time its slices need, for terminal states; orders still working then
    stay at the broker and the buys are held back (``skipped``).
    ``poll_interval`` is kept for compatibility: the OMS is event driven.

    A broker that goes away for longer than the ``ib`` reconnect settings allow stops the run: the result is
    ``stopped`` and says which orders were sent and which not (none is ever sent twice). ``progress`` is filled in
    as the run goes, for a status line and for a report after an interrupt.
    """
    cfg = settings or Settings()
    mode = ensure_trading_mode(cfg, confirm_live)
    if mode == "paper" and plan.account is not None and not plan.account.is_paper:
        raise ConfigError(
            f"account {plan.account} looks like a live account, but the configuration is in paper mode",
            field="mode",
            value=cfg.mode,
            hint="use a paper account (DU…), or configure and confirm live trading",
        )
    orders = plan_to_orders(plan, cfg.orders, instruments)
    if not orders:
        return ExecutionResult(mode, [])
    if session is None:
        from quantdesk.services.trading import trading_session

        account = str(plan.account) if plan.account is not None else None
        async with trading_session(cfg, broker, account=account, mode=mode) as opened:
            return await _stopping(opened, plan, orders, mode, timeout, progress)
    return await _stopping(session, plan, orders, mode, timeout, progress)


async def _stopping(
    session: TradingSession,
    plan: RebalancePlan,
    orders: Sequence[Order],
    mode: Mode,
    timeout: float,
    progress: ExecutionProgress | None,
) -> ExecutionResult:
    """``_execute``, turning a broker gone for good into a ``stopped`` result that says what was sent."""
    progress = progress if progress is not None else ExecutionProgress()
    progress.planned, progress.manager = list(orders), session.manager
    try:
        return await _execute(session, plan, orders, mode, timeout, progress)
    except (ConnectionLost, ConnectionError) as exc:
        log.warning("execution stopped: %s", exc)
        with contextlib.suppress(Exception):
            await session.manager.flush()
        return progress.result(mode, f"the connection to the broker was lost while {progress.phase}: {exc}")
    finally:
        progress.phase = "done"


async def _execute(
    session: TradingSession,
    plan: RebalancePlan,
    orders: Sequence[Order],
    mode: Mode,
    timeout: float,
    progress: ExecutionProgress,
) -> ExecutionResult:
    from quantdesk.oms.fault_points import crash_point
    from quantdesk.oms.slicing import learn_adv

    manager = session.manager
    progress.phase = "loading daily bars for the participation cap"
    await learn_adv(manager, [o.instrument for o in orders])
    loop = asyncio.get_running_loop()
    prices = {symbol_of(t.instrument): t.price for t in plan.trades}
    sent, rejected = progress.sent, progress.rejected
    for group in (_side(orders, sell=True), _side(orders, sell=False)):
        if not group:
            continue
        if sent and not all(_filled(manager, o) for o in sent if o.is_sell):
            reason = "buys held back: not every sell filled (run the rebalance again once they have)"
            return ExecutionResult(mode, _reports(manager, sent), [*_unsent(manager, sent), *group], reason, rejected)
        if sent:
            crash_point("between_groups")
        progress.phase = "sending orders"
        for order in group:
            try:
                await manager.submit(order, price=prices.get(order.instrument.symbol))
            except RiskRejected as exc:
                rejected.append((order, str(exc)))
                continue
            except (ConnectionLost, ConnectionError):
                if manager.get(order.client_order_id) is not None:
                    sent.append(order)  # it may have left: the report shows it unacknowledged, reconcile decides
                raise
            sent.append(order)
        parents = [o.client_order_id for o in group]
        deadline = loop.time() + timeout + manager.slicer.schedule(parents)
        progress.phase, progress.deadline = "waiting for fills", deadline
        await manager.slicer.wait(parents, deadline - loop.time())
        family = [c for p in parents for c in manager.slicer.family(p)]
        await manager.wait_terminal(family, max(deadline - loop.time(), 0.0))
        await _fills_recorded(manager, family, max(deadline - loop.time(), 0.0))
    await session.settle()  # a reconciliation after a reconnect may still be applying fills
    await manager.flush()
    reports = _reports(manager, sent)
    working = [r for r in reports if not r.status.is_terminal]
    unsent = _unsent(manager, sent)
    notes = [f"{len(working)} order(s) still working after {timeout:.0f} s"] if working else []
    if unsent:
        notes.append(f"{len(unsent)} slice(s) not sent: slicing stopped (the order events say why)")
    return ExecutionResult(mode, reports, unsent, "; ".join(notes) or None, rejected)


async def _fills_recorded(manager: OrderManager, cids: Sequence[ClientOrderId], timeout: float) -> bool:
    """Wait until every order reported FILLED also has its executions applied (IB may send the status first, and
    a restart may cut the executions until the reconciliation after the reconnect); False on timeout."""

    def short() -> bool:
        return any(m is not None and m.state.status is OrderStatus.FILLED and m.state.filled_quantity < m.state.quantity
                   for m in map(manager.get, cids))  # fmt: skip

    if not short():
        return True
    changed = asyncio.Event()
    remove = manager.add_listener(lambda _m: changed.set())
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while short():
            changed.clear()
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await changed.wait()
        return True
    finally:
        remove()


def _unsent(manager: OrderManager, sent: Sequence[Order]) -> list[Order]:
    """The slices of sliced orders that were never sent."""
    return [child for o in sent for child in manager.slicer.unsent(o.client_order_id)]


def _filled(manager: OrderManager, order: Order) -> bool:
    """True once the order, or every slice of a sliced order, is filled."""
    family = [manager.get(c) for c in manager.slicer.family(order.client_order_id)]
    return all(m is not None and m.state.status is OrderStatus.FILLED for m in family)


def _side(orders: Iterable[Order], *, sell: bool) -> list[Order]:
    return [o for o in orders if o.is_sell is sell]


def _reports(manager: OrderManager, orders: Sequence[Order]) -> list[OrderStatusReport]:
    """One report per order sent: each slice of a sliced order, the order itself otherwise."""
    out = []
    for parent in orders:
        for cid in manager.slicer.family(parent.client_order_id):
            managed = manager.get(cid)
            if managed is not None:
                state = managed.state
                broker_id = state.broker_order_id or BrokerOrderId(0)
                report = OrderStatusReport.of(
                    managed.order or parent, state, broker_id, reason=managed.reason, error_code=managed.error_code
                )
                out.append(report)
    return out
