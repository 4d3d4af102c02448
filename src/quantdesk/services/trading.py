"""The trading session: the kernel (OMS, risk engine, kill switch, throttle) on the database's stores, with its
monitors, wired for a broker.

Every order path (``quantdesk rebalance --execute``, the API, strategies) opens a :func:`trading_session` and
submits through its ``OrderManager``: nothing reaches a broker without the pre-trade checks and a durable intent.
On entry the database is migrated (the embedded SQLite default needs no setup), active intents are loaded and the
session **reconciles** with the broker; after every reconnect it reconciles again. A monitor task trips the kill
switch on a disconnect longer than ``risk.disconnect_halt_seconds`` and on the daily-loss and drawdown limits;
a HALTED switch cancels every working order. :func:`session_on_stores` is the same session on stores the caller
owns (``kernel.memory_stores()`` for a backtest or a fast test), with no database and no run record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine

from quantdesk.brokers.base import Broker
from quantdesk.config import Settings
from quantdesk.config.risk_settings import RiskSettings
from quantdesk.domain.identifiers import AccountId
from quantdesk.domain.trading_state import KillSwitchChange, KillSwitchStatus, TradingState
from quantdesk.errors import ValidationError
from quantdesk.oms.manager import OrderManager
from quantdesk.oms.reconciliation import ReconciliationReport, reconcile
from quantdesk.persistence import create_db_engine
from quantdesk.persistence.repositories import KillSwitchRepository, RunRepository, SnapshotRepository
from quantdesk.persistence.revision import shipped_head, stored_revision
from quantdesk.portfolio.holdings import load_target_file
from quantdesk.risk.kill_switch import KillSwitch
from quantdesk.services.kernel import Kernel, Stores, build_kernel, database_stores

__all__ = [
    "CancelResult",
    "TradingSession",
    "cancel_orders",
    "cancel_working_orders",
    "change_kill_switch",
    "daily_returns",
    "kill_switch_history",
    "kill_switch_status",
    "migrated_engine",
    "reconcile_account",
    "reconcile_accounts",
    "session_on_stores",
    "trading_session",
]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TradingSession:
    """An OMS ready to take orders, and what its start-up reconciliation found."""

    manager: OrderManager
    kill_switch: KillSwitch
    engine: Engine | None  # the database's; None on in-memory stores
    kernel: Kernel
    reconciliation: ReconciliationReport
    reconciliations: list[ReconciliationReport] = field(default_factory=list)
    day_start: tuple[date, Decimal] | None = None
    peak: Decimal | None = None
    tasks: set[asyncio.Task[object]] = field(default_factory=set)  # reconciliations and cancels under way

    async def settle(self) -> None:
        """Wait for the reconciliations (after a reconnect) and cancels under way, so the OMS's view is final."""
        while pending := [t for t in self.tasks if not t.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    def pending_by_symbol(self) -> dict[str, Decimal]:
        """Signed quantity still working per symbol (what a new plan must count as already on its way)."""
        out: dict[str, Decimal] = {}
        for m in self.manager.open_orders():
            # an adopted order has no terms, only its instrument id (SYMBOL.SECTYPE.EXCHANGE.CURRENCY)
            symbol = m.order.instrument.symbol if m.order is not None else m.instrument_id.value.split(".")[0]
            out[symbol] = out.get(symbol, Decimal(0)) + m.signed_remaining
        return {k: v for k, v in out.items() if v != 0}


def _chosen_account(settings: Settings, account: str | None) -> AccountId | None:
    """The account asked for, else ib.account, else None (the broker's default)."""
    if account:
        return AccountId(account)
    return AccountId(settings.ib.account) if settings.ib.account else None


def migrated_engine(settings: Settings) -> Engine:
    """The engine for ``database.url``, migrated to the newest schema first (logged when it changes anything)."""
    url = settings.database.url
    engine = create_db_engine(url, echo=settings.database.echo)
    before = stored_revision(engine)
    if before != shipped_head():
        from quantdesk.persistence import commands  # Alembic only when there is something to migrate

        after = commands.upgrade(url)
        engine.dispose()  # connections opened before the migration are not reused
        log.info("database migrated from %s to %s", before or "empty", after)
    return engine


@contextlib.asynccontextmanager
async def trading_session(
    settings: Settings,
    broker: Broker,
    *,
    account: str | None = None,
    mode: str = "paper",
    monitor_interval: float = 1.0,
    account_refresh: float = 30.0,
    target: Mapping[str, Decimal] | None = None,
) -> AsyncIterator[TradingSession]:
    """An OMS on ``broker`` and the configured database; see the module docstring.

    ``target`` (quantity per instrument id) is compared with the broker's positions by the first reconciliation.
    """
    engine = await asyncio.to_thread(migrated_engine, settings)
    stores = database_stores(engine)
    runs = RunRepository(engine)
    run_id = await asyncio.to_thread(runs.start, mode, datetime.now(UTC))
    try:
        async with session_on_stores(
            stores,
            broker,
            settings.risk,
            account=_chosen_account(settings, account),
            run_id=run_id,
            engine=engine,
            monitor_interval=monitor_interval,
            account_refresh=account_refresh,
            target=target,
        ) as session:
            yield session
    finally:
        await asyncio.to_thread(stores.close)  # late risk events (a disconnect after Ctrl-C) are dropped from here
        with contextlib.suppress(Exception):
            await asyncio.to_thread(runs.finish, run_id, datetime.now(UTC))
        engine.dispose()


@contextlib.asynccontextmanager
async def session_on_stores(
    stores: Stores,
    broker: Broker,
    risk: RiskSettings,
    *,
    account: AccountId | None = None,
    run_id: str | None = None,
    engine: Engine | None = None,
    monitor_interval: float = 1.0,
    account_refresh: float = 30.0,
    target: Mapping[str, Decimal] | None = None,
) -> AsyncIterator[TradingSession]:
    """The session of :func:`trading_session` on ``stores`` (the database's, or ``memory_stores()``): the kernel
    started and reconciled, its monitor and kill-switch listener running; the stores stay open afterwards."""
    kernel = build_kernel(broker, stores, risk, run_id=run_id, account=account)
    manager, kill_switch = kernel.manager, kernel.kill_switch
    try:
        await kernel.start()
        first = await reconcile(manager, target=target)
        session = TradingSession(manager, kill_switch, engine, kernel, first, [first])
        tasks = session.tasks

        def on_reconnected() -> None:
            task = asyncio.get_running_loop().create_task(_reconcile_again(session))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        def on_kill_switch(status: KillSwitchStatus) -> None:
            if status.state is TradingState.HALTED:
                log.warning("kill switch HALTED (%s): cancelling every working order", status.reason)
                task = asyncio.get_running_loop().create_task(manager.cancel_all())
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        manager.on_reconnected = on_reconnected
        remove_ks = kill_switch.add_listener(on_kill_switch)
        stop = asyncio.Event()
        monitor = asyncio.create_task(_monitor(session, monitor_interval, account_refresh, account, stop))
        try:
            yield session
        finally:
            stop.set()  # ends the monitor even if a library swallows the cancel below
            monitor.cancel()
            remove_ks()
            with contextlib.suppress(asyncio.CancelledError):
                await monitor
            for task in list(tasks):
                with contextlib.suppress(Exception):
                    await task
            await kernel.close()
    finally:
        with contextlib.suppress(Exception):
            await kernel.close()  # stops listening to the broker even when the start failed


async def _reconcile_again(session: TradingSession) -> None:
    try:
        await session.manager.refresh_book()
        session.reconciliations.append(await reconcile(session.manager))
        if session.kill_switch.state is TradingState.HALTED:  # a halt during the outage could not cancel then
            await session.manager.cancel_all()
    except Exception:
        log.exception("reconciliation after the reconnect failed; it runs again after the next one")


async def _monitor(
    session: TradingSession, interval: float, account_refresh: float, account: AccountId | None, stop: asyncio.Event
) -> None:
    """Disconnect duration, daily loss and drawdown: the kill switch's automatic triggers; until ``stop`` is set."""
    manager, ks = session.manager, session.kill_switch
    loop = asyncio.get_running_loop()
    next_account = next_refresh = loop.time()
    while not stop.is_set():
        now = manager.stamp()  # account snapshots and their UTC day are ours: the local clock, not the venue's
        ks.check_disconnect(datetime.now(UTC))  # the clock of the connection reports, not the broker's
        if loop.time() >= next_refresh:  # a halt set by another process (the CLI) takes effect here
            next_refresh = loop.time() + 5.0
            with contextlib.suppress(Exception):
                ks.refresh()  # on the loop: its listeners schedule tasks
        if loop.time() >= next_account and manager.broker.is_connected:
            next_account = loop.time() + account_refresh
            with contextlib.suppress(Exception):
                await _equity_check(session, account, now)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval):
                await stop.wait()


async def _equity_check(session: TradingSession, account: AccountId | None, now: datetime) -> None:
    summary = await session.manager.broker.account_summary(account)
    nlv = summary.net_liquidation.amount
    book = session.manager.book
    book.set_net_liquidation(nlv)
    book.set_exchange_rates(summary.base_currency.code, {c.code: r for c, r in summary.exchange_rates.items()})
    acct = str(summary.account)
    equity = session.kernel.stores.equity
    await equity.record_equity(now, acct, summary.base_currency.code, nlv, initial_margin=summary.initial_margin.amount,
                               maintenance_margin=summary.maintenance_margin.amount)  # fmt: skip
    if session.day_start is None or session.day_start[0] != now.date():
        first = await equity.day_start_equity(acct, now.date())
        peak = await equity.peak_equity(acct)
        session.day_start = (now.date(), first if first is not None else nlv)
        session.peak = max(peak or nlv, session.peak or nlv)
        # Once a day: the PSR of the account's daily returns (the kill switch needs risk.psr_min_observations).
        returns = await equity.daily_returns(acct)
        session.kill_switch.on_returns(returns, ts=now)
    session.peak = max(session.peak or nlv, nlv)
    session.kill_switch.on_equity(now, nlv, day_start=session.day_start[1], peak=session.peak)


def daily_returns(engine: Engine, account: str) -> list[float]:
    """Day-over-day returns of the account's net liquidation (the first snapshot of each UTC day), oldest first."""
    return SnapshotRepository(engine).daily_returns(account)


# --- what the CLI and the API call -------------------------------------------------------------------------------


def kill_switch_status(settings: Settings) -> KillSwitchStatus:
    """The stored trading state."""
    engine = migrated_engine(settings)
    try:
        return KillSwitchRepository(engine).get()
    finally:
        engine.dispose()


def kill_switch_history(settings: Settings, limit: int | None = 20) -> list[KillSwitchChange]:
    """The kill switch's changes (by hand and by its triggers), oldest first; ``limit`` keeps the newest."""
    engine = migrated_engine(settings)
    try:
        return KillSwitchRepository(engine).history(limit)
    finally:
        engine.dispose()


def change_kill_switch(settings: Settings, action: str, reason: str, *, by: str = "user") -> KillSwitchStatus:
    """``halt``, ``reduce`` or ``resume`` the stored trading state (a running session picks it up within seconds)."""
    if action not in ("halt", "reduce", "resume"):
        raise ValueError(f"unknown kill-switch action {action!r}")
    engine = migrated_engine(settings)
    try:
        switch = KillSwitch(KillSwitchRepository(engine), settings.risk)
        status: KillSwitchStatus = getattr(switch, action)(reason, by=by)
        return status
    finally:
        engine.dispose()


async def cancel_working_orders(settings: Settings, broker: Broker) -> list[str]:
    """Cancel every working order at ``broker``: ours through the OMS, then the login's others (IB global cancel)."""
    async with trading_session(settings, broker) as session:
        cancelled = await session.manager.cancel_all()
        await broker.cancel_all_orders()
        return [m.client_order_id.value for m in cancelled]


@dataclass(frozen=True, slots=True)
class CancelResult:
    """What ``cancel_orders`` did: per order asked for, its id and how it stands; and what matched nothing."""

    cancelled: list[tuple[str, str]]  # (client order id, status after the cancel: CANCELLED, or still pending)
    finished: list[tuple[str, str]]  # orders that had ended already (id, status): nothing to cancel
    unknown: list[str]  # what matched no order


async def cancel_orders(
    settings: Settings,
    broker: Broker,
    order: str | None = None,
    *,
    account: str | None = None,
    wait: float = 10.0,
) -> CancelResult:
    """Cancel one order (our ClientOrderId, as ``quantdesk orders`` shows it, or IB's perm id) or, with ``order``
    None, every working order the OMS tracks (ours and those reconciliation adopted); through a trading session,
    waiting up to ``wait`` seconds for the broker's confirmations."""
    from quantdesk.domain.identifiers import ClientOrderId

    async with trading_session(settings, broker, account=account) as session:
        manager = session.manager
        if order is None:
            targets = [m for m in manager.open_orders() if m.state.is_active]
            finished: list[tuple[str, str]] = []
            unknown: list[str] = []
        else:
            text = order.strip()
            perm = int(text) if text.isdigit() else 0
            cid = None if perm else ClientOrderId(text)
            managed = manager.find(cid, perm) or await manager.load(cid, perm)
            targets = [managed] if managed is not None and managed.state.is_active else []
            finished = [(managed.client_order_id.value, managed.state.status.value)] if managed and not targets else []
            unknown = [] if managed is not None else [text]
        for m in targets:
            await manager.cancel(m.client_order_id)
        await manager.wait_terminal([m.client_order_id for m in targets], wait)
        await manager.flush()
        cancelled = [(m.client_order_id.value, m.state.status.value) for m in targets]
        return CancelResult(cancelled, finished, unknown)


async def reconcile_account(
    settings: Settings, broker: Broker, account: str | None = None, target_file: Path | None = None
) -> ReconciliationReport:
    """Open a session (which reconciles on start) and return what it found; with ``target_file`` (a positions
    file, see ``load_target_file``) the broker's positions are also compared with the target's."""
    target = None
    if target_file is not None:
        chosen = _chosen_account(settings, account)
        held = [p.instrument_id for p in await broker.positions(chosen)]
        summary = await broker.account_summary(chosen)
        loaded = load_target_file(target_file, held, currency=summary.base_currency.code, option="--target")
        target = {iid.value: qty for iid, qty in loaded.items()}
    async with trading_session(settings, broker, account=account, target=target) as session:
        return session.reconciliation


async def reconcile_accounts(
    settings: Settings, broker: Broker, account: str | None = None, target_file: Path | None = None
) -> list[ReconciliationReport]:
    """Reconcile ``account`` (else ``ib.account``); without either, every account of the login, each on its own:
    one account is never compared with the database summed over several."""
    if _chosen_account(settings, account) is not None:
        return [await reconcile_account(settings, broker, account, target_file)]
    accounts = [a.value for a in await broker.managed_accounts()]
    if len(accounts) > 1 and target_file is not None:
        raise ValidationError(
            f"the login has {len(accounts)} accounts ({', '.join(accounts)}) and a target is for one",
            field="--account",
            value=None,
            hint=f"name the account of the target, e.g. --account {accounts[0]}",
        )
    if not accounts:
        return [await reconcile_account(settings, broker, None, target_file)]
    return [await reconcile_account(settings, broker, a, target_file) for a in accounts]
