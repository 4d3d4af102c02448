"""The kernel: the one composition root that wires broker, stores, risk engine, kill switch, throttle and OMS for
every mode.

Paper and live use the database's stores (:func:`database_stores`, through ``trading_session``); a backtest or a
fast test uses the in-memory ones (:func:`memory_stores`, :func:`in_memory_kernel`) with a simulated broker and a
simulated clock. The wiring is the same, built once, in dependency order: the stores first, then the kill switch
and the risk engine (which report to the risk-event store), then the OMS over them. Nothing is wired back later,
so there is no construction cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from quantdesk.brokers.base import Broker
from quantdesk.config.risk_settings import RiskSettings
from quantdesk.domain.identifiers import AccountId
from quantdesk.oms.manager import OrderManager
from quantdesk.oms.memory_stores import MemoryOrderStore
from quantdesk.oms.stores import OrderStore
from quantdesk.persistence.journal import Journal
from quantdesk.persistence.repositories import KillSwitchRepository
from quantdesk.persistence.stores import SqlEquityStore, SqlOrderStore, SqlRiskEventStore
from quantdesk.risk.engine import RiskEngine
from quantdesk.risk.events import RiskEvent
from quantdesk.risk.kill_switch import KillSwitch
from quantdesk.risk.memory_stores import MemoryEquityStore, MemoryKillSwitchStore, MemoryRiskEventStore
from quantdesk.risk.stores import EquityStore, KillSwitchStore, RiskEventStore
from quantdesk.risk.throttle import OrderRateLimiter

__all__ = ["Kernel", "Stores", "build_kernel", "database_stores", "in_memory_kernel", "memory_stores"]


def _nothing() -> None:
    return None


@dataclass(frozen=True, slots=True)
class Stores:
    """What the OMS and risk keep, behind their ports; ``closer`` stops what writes them (the database's journal)."""

    orders: OrderStore
    kill_switch: KillSwitchStore
    risk_events: RiskEventStore
    equity: EquityStore
    closer: Callable[[], None] = field(default=_nothing)

    def close(self) -> None:
        """Commit what is queued and stop writing (in memory: refuse order writes, drop risk events)."""
        self.closer()


def database_stores(engine: Engine) -> Stores:
    """The stores of a paper or live session: one journal (grouped commits) and the repositories on ``engine``."""
    journal = Journal(engine)
    return Stores(
        SqlOrderStore(journal),
        KillSwitchRepository(engine),
        SqlRiskEventStore(journal),
        SqlEquityStore(journal),
        closer=journal.close,
    )


def memory_stores(kill_switch: KillSwitchStore | None = None) -> Stores:
    """Stores in memory, with the database's rules (a backtest needs no database); closing them refuses further
    order writes and drops later risk events, as closing the database's journal does."""
    orders, events = MemoryOrderStore(), MemoryRiskEventStore()

    def close() -> None:
        orders.close()
        events.close()

    return Stores(orders, kill_switch or MemoryKillSwitchStore(), events, MemoryEquityStore(), closer=close)


@dataclass(frozen=True, slots=True)
class Kernel:
    """One OMS → risk → broker wiring and the parts it was built from."""

    broker: Broker
    stores: Stores
    risk: RiskEngine
    kill_switch: KillSwitch
    rate_limiter: OrderRateLimiter | None
    manager: OrderManager

    async def start(self) -> None:
        """Start the OMS: load the active intents, listen to the broker, take its clock, positions and account."""
        await self.manager.start()

    async def close(self) -> None:
        """Stop the OMS (slicing, listening) and wait for every write queued so far; the stores stay open."""
        await self.manager.close()


def build_kernel(
    broker: Broker,
    stores: Stores,
    settings: RiskSettings,
    *,
    run_id: str | None = None,
    account: AccountId | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Kernel:
    """Wire the OMS for ``broker`` on ``stores`` with the risk ``settings``; ``clock`` (the local wall clock by
    default) is what the OMS and the kill switch stamp with (a backtest passes its simulated clock)."""
    events = stores.risk_events

    def on_switch_event(event: RiskEvent) -> None:
        if event.rule != "kill_switch":  # a change itself is kept by the kill-switch store's history already
            events.record(event)

    kill_switch = (
        KillSwitch(stores.kill_switch, settings, on_event=on_switch_event)
        if clock is None
        else KillSwitch(stores.kill_switch, settings, on_event=on_switch_event, clock=clock)
    )
    risk = RiskEngine(settings, on_event=events.record)
    limiter = OrderRateLimiter(settings.max_orders_per_second) if settings.rule_enabled("order_rate") else None
    manager = OrderManager(
        broker,
        stores.orders,
        risk=risk,
        kill_switch=kill_switch,
        rate_limiter=limiter,
        run_id=run_id,
        account=account,
        clock=clock,
    )
    return Kernel(broker, stores, risk, kill_switch, limiter, manager)


def in_memory_kernel(
    broker: Broker,
    settings: RiskSettings | None = None,
    *,
    account: AccountId | None = None,
    clock: Callable[[], datetime] | None = None,
    run_id: str | None = None,
) -> Kernel:
    """A kernel on in-memory stores: what a backtest (a ``SimulatedBroker`` and a simulated clock) runs on."""
    return build_kernel(
        broker, memory_stores(), settings or RiskSettings(), run_id=run_id, account=account, clock=clock
    )
