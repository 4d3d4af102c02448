"""Executing a rebalance plan through the OMS and its risk engine: sells, then buys, and what came of it.

``execute_plan`` sends a plan's orders through a trading session's ``OrderManager`` (pre-trade risk, a durable
intent, then the broker); ``ExecutionResult`` says what happened and classifies it (``outcome``: done, refused,
partial, working, stopped), which each shell maps to its own signal (the CLI's exit codes). ``ExecutionProgress``
is readable while a run goes on and after it was interrupted. Paper by default: ``live_policy.order_mode`` decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from quantdesk.brokers.base import Broker, OrderStatusReport
from quantdesk.config import Mode, Settings
from quantdesk.domain.identifiers import BrokerOrderId, ClientOrderId
from quantdesk.domain.instruments import Instrument
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.domain.targets import RebalancePlan
from quantdesk.errors import ConnectionLost, RiskRejected
from quantdesk.portfolio.rebalance import plan_to_orders, symbol_of
from quantdesk.services.live_policy import order_mode

if TYPE_CHECKING:
    from quantdesk.oms.manager import OrderManager
    from quantdesk.services.trading import TradingSession

__all__ = ["ExecutionProgress", "ExecutionResult", "Outcome", "execute_plan"]

log = logging.getLogger(__name__)

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

    Paper by default: ``live_policy.order_mode(settings, confirm_live, plan.account)`` decides, and a paper-mode
    plan for a live account (not ``D…``) is refused. Every order is checked by the pre-trade rules and persisted as
    an intent before it is sent (``session``, or a trading session opened here on ``broker``); an order a rule
    refuses is listed in ``rejected`` with the rule's message and the others go on. An order above the participation cap
    (the ADV learned from the broker's daily bars) goes out in timed slices, each reported on its own. Each group
    waits up to ``timeout`` seconds, plus the time its slices need, for terminal states; orders still working then
    stay at the broker and the buys are held back (``skipped``).
    ``poll_interval`` is kept for compatibility: the OMS is event driven.

    A broker that goes away for longer than the ``ib`` reconnect settings allow stops the run: the result is
    ``stopped`` and says which orders were sent and which not (none is ever sent twice). ``progress`` is filled in
    as the run goes, for a status line and for a report after an interrupt.
    """
    cfg = settings or Settings()
    mode = order_mode(cfg, confirm_live, plan.account)
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
