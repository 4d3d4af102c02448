"""A synchronous facade over ``IBBroker`` for scripts and Jupyter: its own event loop in a background thread.

``ib_async``'s blocking API runs its coroutines on the caller's loop and, in Jupyter (where a loop already runs in
the main thread), needs ``nest_asyncio``. quantdesk does not patch asyncio. Instead the facade owns a loop in a
daemon thread; every method ``x()`` runs the broker's coroutine ``x`` there with
``asyncio.run_coroutine_threadsafe`` and waits for its result (``ib_async``'s ``reqX``/``reqXAsync`` habit, with
the threads kept apart). It therefore works from plain code, from a notebook cell while the notebook's loop runs,
and from several threads (calls are serialised by the loop).

Callbacks (quotes, bars, reports) run on the facade's thread: keep them short, or hand the data to a queue::

    with SyncIBBroker.from_settings(load_settings()) as ib:
        print(ib.account_summary())
        bars = ib.historical_bars(Stock("AAPL"), BarSize.DAY_1, start, end)

The facade reads (accounts, positions, market data, orders and executions at IB, what-if previews) and sends no
order: orders from scripts go through the OMS and its risk engine like every other order, with
``quantdesk.services.sync_session.SyncTradingSession`` over this facade (which runs on the facade's loop).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from quantdesk.brokers.base import FillReport, OrderStatusReport, PositionReport, ReportListener, WhatIfReport
from quantdesk.brokers.ib.broker import IBBroker
from quantdesk.brokers.ib.chains import OptionChain, RollRule
from quantdesk.brokers.ib.contracts import QualifiedContract
from quantdesk.brokers.ib.historical import BackfillResult
from quantdesk.brokers.ib.market_data import MarketDataType, MarketSnapshot
from quantdesk.brokers.ib.pacing import PacingRules
from quantdesk.config import IBSettings, Settings
from quantdesk.domain.accounts import AccountSnapshot
from quantdesk.domain.identifiers import AccountId, ClientOrderId
from quantdesk.domain.instruments import Future, Instrument
from quantdesk.domain.market import Bar, BarSize, Quote, TradeTick
from quantdesk.domain.orders import Order

__all__ = ["LoopThread", "SyncIBBroker", "SyncSubscription"]

T = TypeVar("T")


class LoopThread:
    """An asyncio event loop running forever in a daemon thread."""

    def __init__(self, name: str = "quantdesk-ib-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()
        self._started.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._started.set()
        try:
            self.loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    @property
    def is_running(self) -> bool:
        """Whether the loop still runs."""
        return self.thread.is_alive() and not self.loop.is_closed()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result (``TimeoutError`` after ``timeout`` seconds)."""
        if threading.current_thread() is self.thread:
            coro.close()
            raise RuntimeError("a synchronous facade method was called from its own loop thread (it would deadlock): "
                               "await the IBBroker coroutine instead")  # fmt: skip
        if not self.is_running:
            coro.close()
            raise RuntimeError("the facade's event loop is stopped: build a new SyncIBBroker")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no result within {timeout} s") from None

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a plain function on the loop thread and return its result."""

        async def wrapper() -> T:
            return fn(*args)

        return self.run(wrapper())

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop (cancelling what still runs) and join the thread."""
        if self.is_running:
            self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is not self.thread:
            self.thread.join(timeout)


class SyncSubscription:
    """A market data subscription seen from synchronous code."""

    def __init__(self, facade: SyncIBBroker, subscription: Any) -> None:
        self._facade = facade
        self._sub = subscription

    @property
    def instrument(self) -> Instrument:
        """What is subscribed."""
        inst: Instrument = self._sub.instrument
        return inst

    @property
    def data_type(self) -> MarketDataType | None:
        """The market data type IB reported for the ticks (None before the first one)."""
        kind: MarketDataType | None = self._sub.data_type
        return kind

    @property
    def active(self) -> bool:
        """False once cancelled."""
        return bool(self._sub.active)

    def cancel(self) -> None:
        """Stop the stream (harmless when repeated)."""
        self._facade._run(self._sub.cancel())


class SyncIBBroker:
    """``IBBroker`` with blocking methods; see the module docstring."""

    def __init__(
        self,
        settings: IBSettings | None = None,
        *,
        data_dir: Path | str | None = None,
        backoff_base: float = 2.0,
        pacing: PacingRules | None = None,
        timeout: float | None = None,
    ) -> None:
        self.timeout = timeout
        self._thread = LoopThread()

        async def build() -> IBBroker:  # ib_async objects are made on the loop that will run them
            return IBBroker(settings, data_dir=data_dir, backoff_base=backoff_base, pacing=pacing)

        try:
            self._broker = self._thread.run(build())
        except BaseException:
            self._thread.stop()
            raise

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> SyncIBBroker:
        """The facade for ``settings.ib`` with contracts and bars under ``settings.paths.data_dir``."""
        return cls(settings.ib, data_dir=settings.paths.data_dir, **kwargs)

    @property
    def broker(self) -> IBBroker:
        """The async broker (use it only from the facade's loop: ``facade.loop``)."""
        return self._broker

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The facade's event loop."""
        return self._thread.loop

    @property
    def loop_thread(self) -> LoopThread:
        """The thread running the facade's loop (a trading session over this broker runs its OMS there)."""
        return self._thread

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._thread.run(coro, self.timeout)

    # --- lifecycle ---------------------------------------------------------------------------------------

    def connect(self) -> None:
        """Connect both client ids."""
        self._run(self._broker.connect())

    def disconnect(self) -> None:
        """Disconnect (the loop keeps running; connect again at will)."""
        self._run(self._broker.disconnect())

    def close(self) -> None:
        """Close the broker and stop the loop thread."""
        if self._thread.is_running:
            try:
                self._run(self._broker.close())
            finally:
                self._thread.stop()

    def __enter__(self) -> SyncIBBroker:
        self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def is_connected(self) -> bool:
        """True while both connections are up."""
        return self._thread.call(lambda: self._broker.is_connected)

    def connection_report(self) -> dict[str, Any]:
        """State and error statistics of both connections."""
        return self._thread.call(self._broker.connection_report)

    def add_listener(self, listener: ReportListener) -> Callable[[], None]:
        """Receive every report (called on the facade's thread); returns a remover."""
        return self._thread.call(self._broker.add_listener, listener)

    # --- contracts and accounts --------------------------------------------------------------------------

    def qualify(self, instrument: Instrument) -> QualifiedContract:
        """The instrument with IB's conId and tick."""
        return self._run(self._broker.qualify(instrument))

    def lookup(self, symbol: str, *, currency: str | None = None, exchange: str = "SMART") -> Instrument:
        """The one stock a symbol names."""
        return self._run(self._broker.lookup(symbol, currency=currency, exchange=exchange))

    def option_chains(self, underlying: Instrument) -> list[OptionChain]:
        """Expirations and strikes per exchange and trading class."""
        return self._run(self._broker.option_chains(underlying))

    def futures_chain(self, symbol: str, exchange: str, currency: str = "USD") -> list[Future]:
        """The live contracts of a future, nearest first."""
        return self._run(self._broker.futures_chain(symbol, exchange, currency))

    def active_future(self, symbol: str, exchange: str, on: date, rule: RollRule | None = None) -> Future:
        """The contract to hold on ``on``."""
        return self._run(self._broker.active_future(symbol, exchange, on, rule))

    def managed_accounts(self) -> list[AccountId]:
        """The accounts this login may trade."""
        return self._run(self._broker.managed_accounts())

    def account_summary(self, account: AccountId | None = None) -> AccountSnapshot:
        """One account's summary."""
        return self._run(self._broker.account_summary(account))

    def positions(self, account: AccountId | None = None) -> list[PositionReport]:
        """Current positions."""
        return self._run(self._broker.positions(account))

    # --- market data -------------------------------------------------------------------------------------

    def quote(self, instrument: Instrument) -> Quote:
        """A snapshot of the best bid and ask."""
        return self._run(self._broker.quote(instrument))

    def snapshot(self, instrument: Instrument) -> MarketSnapshot:
        """Quote, last, close and the reported market data type."""
        return self._run(self._broker.snapshot(instrument))

    def subscribe_quotes(
        self,
        instrument: Instrument,
        on_quote: Callable[[Quote], None],
        on_trade: Callable[[TradeTick], None] | None = None,
    ) -> SyncSubscription:
        """Stream quotes (callbacks on the facade's thread) until ``cancel()``."""
        return SyncSubscription(self, self._run(self._broker.subscribe_quotes(instrument, on_quote, on_trade)))

    def subscribe_bars(
        self, instrument: Instrument, bar_size: BarSize, on_bar: Callable[[Bar], None], *, what_to_show: str = "TRADES"
    ) -> SyncSubscription:
        """Stream completed bars (callbacks on the facade's thread) until ``cancel()``."""
        sub = self._run(self._broker.subscribe_bars(instrument, bar_size, on_bar, what_to_show=what_to_show))
        return SyncSubscription(self, sub)

    def historical_bars(
        self,
        instrument: Instrument,
        bar_size: BarSize,
        start: datetime,
        end: datetime,
        *,
        what_to_show: str = "TRADES",
        regular_hours_only: bool = True,
    ) -> list[Bar]:
        """Bars starting in ``[start, end)``, from the bar store after a backfill."""
        return self._run(
            self._broker.historical_bars(
                instrument, bar_size, start, end, what_to_show=what_to_show, regular_hours_only=regular_hours_only
            )
        )

    def backfill(self, instrument: Instrument, bar_size: BarSize, start: datetime, end: datetime) -> BackfillResult:
        """Fill the bar store for ``[start, end)``."""
        return self._run(self._broker.backfill(instrument, bar_size, start, end))

    # --- orders (reads only: orders are sent through the OMS, quantdesk.services.sync_session) ---------------

    def order_status(self, client_order_id: ClientOrderId) -> OrderStatusReport:
        """IB's view of one of our orders."""
        return self._run(self._broker.order_status(client_order_id))

    def open_orders(self) -> list[OrderStatusReport]:
        """Every working order of the login."""
        return self._run(self._broker.open_orders())

    def completed_orders(self) -> list[OrderStatusReport]:
        """Orders that ended today."""
        return self._run(self._broker.completed_orders())

    def executions(self, since: datetime | None = None) -> list[FillReport]:
        """Executions since ``since``."""
        return self._run(self._broker.executions(since))

    def server_time(self) -> datetime:
        """TWS's clock."""
        return self._run(self._broker.server_time())

    def what_if(self, order: Order) -> WhatIfReport:
        """Margin and commission preview."""
        return self._run(self._broker.what_if(order))
