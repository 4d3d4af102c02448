"""A blocking trading session for scripts and notebooks: orders go OMS → risk → broker, as from every shell.

``SyncIBBroker`` (``brokers/ib/sync_facade.py``) reads accounts, quotes and bars from plain code but sends no
order: an order that skipped the OMS would skip the pre-trade rules, the durable intent, the kill switch and
reconciliation. :class:`SyncTradingSession` opens a :func:`~quantdesk.services.trading.trading_session` on the
facade's own event loop thread (or, for another broker, on a loop thread of its own, connecting the broker on
open and disconnecting it on close) and runs its ``OrderManager``'s coroutines there, waiting for each result::

    with SyncIBBroker.from_settings(settings) as ib, SyncTradingSession(settings, ib) as trading:
        managed = trading.submit(Order.market(Stock("AAPL"), "BUY", 10))
        trading.wait([managed], timeout=30)

The live policy applies (:mod:`.live_policy`): paper unless the config is live, confirmed and ``live=True``, and
a paper session refuses an order for a live account. OMS listeners run on the loop thread: keep them short.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from quantdesk.brokers.base import Broker
from quantdesk.brokers.ib.sync_facade import LoopThread, SyncIBBroker
from quantdesk.config import Settings
from quantdesk.domain.identifiers import AccountId, ClientOrderId, InstrumentId
from quantdesk.domain.order_lists import OrderList
from quantdesk.domain.orders import Order
from quantdesk.services.live_policy import check_account, trading_mode

if TYPE_CHECKING:
    from quantdesk.oms.managed import ManagedOrder
    from quantdesk.oms.reconciliation import ReconciliationReport
    from quantdesk.services.trading import TradingSession

__all__ = ["SyncTradingSession"]

T = TypeVar("T")
OrderRef = Order | ClientOrderId


def _cid(ref: OrderRef | ManagedOrder) -> ClientOrderId:
    """The client order id of an order, a tracked order, or the id itself."""
    if isinstance(ref, ClientOrderId):
        return ref
    return ref.client_order_id


class SyncTradingSession:
    """A trading session driven from synchronous code; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        broker: SyncIBBroker | Broker,
        *,
        account: str | None = None,
        live: bool = False,
        timeout: float | None = None,
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self.mode = trading_mode(settings, live=live)
        if account:
            check_account(settings, self.mode, AccountId(account))
        self._broker: Broker
        if isinstance(broker, SyncIBBroker):  # the facade's broker lives on the facade's loop: run there
            self._thread, self._own_thread, self._broker = broker.loop_thread, False, broker.broker
        else:
            self._thread, self._own_thread, self._broker = LoopThread("quantdesk-session-loop"), True, broker
        self._account = account
        self._session: TradingSession | None = None
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------

    def open(self) -> SyncTradingSession:
        """Open the trading session (migrate, load the active intents, reconcile with the broker)."""
        if self._session is None:
            self._session = self.run(self._start())
        return self

    async def _start(self) -> TradingSession:
        if self._own_thread:  # a broker handed without a facade is the session's: connected here, closed with it
            await self._broker.connect()
        self._stop = asyncio.Event()
        ready: asyncio.Future[TradingSession] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._hold(ready, self._stop))
        return await ready

    async def _hold(self, ready: asyncio.Future[TradingSession], stop: asyncio.Event) -> None:
        """Keep the session open in one task (entered and left in the same task) until :meth:`close`."""
        from quantdesk.services.trading import trading_session

        try:
            async with trading_session(self.settings, self._broker, account=self._account, mode=self.mode) as s:
                ready.set_result(s)
                await stop.wait()
        except BaseException as exc:
            if ready.done():
                raise
            ready.set_exception(exc)

    def close(self) -> None:
        """Close the session (the monitors stop, the journal flushes); the broker stays connected."""
        try:
            if self._task is not None and self._stop is not None:
                stop, task = self._stop, self._task
                self._task = None

                async def finish() -> None:
                    stop.set()
                    try:
                        await task
                    finally:
                        if self._own_thread:
                            await self._broker.disconnect()

                self._thread.run(finish())  # no timeout: the journal's last writes must land
        finally:
            self._session = None
            if self._own_thread:
                self._thread.stop()

    def __enter__(self) -> SyncTradingSession:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the session's loop and wait for it (``TimeoutError`` after the session's ``timeout``)."""
        return self._thread.run(coro, self.timeout)

    @property
    def session(self) -> TradingSession:
        """The async session (use it only on the session's loop)."""
        if self._session is None:
            raise RuntimeError("the trading session is not open: use `with SyncTradingSession(...)` or open()")
        return self._session

    @property
    def reconciliation(self) -> ReconciliationReport:
        """What the start-up reconciliation found."""
        return self.session.reconciliation

    # --- orders ------------------------------------------------------------------------------------------

    def submit(self, order: Order, *, price: Decimal | None = None) -> ManagedOrder:
        """Check (capabilities, pre-trade risk), persist and send one order; returns it as the OMS tracks it."""
        check_account(self.settings, self.mode, order.account)
        return self.run(self.session.manager.submit(order, price=price))

    def submit_list(
        self, order_list: OrderList, *, prices: dict[InstrumentId, Decimal] | None = None
    ) -> list[ManagedOrder]:
        """Check and persist every order of a bracket, OCA group or OTO, then send the list as one unit."""
        for order in order_list.orders:
            check_account(self.settings, self.mode, order.account)
        return self.run(self.session.manager.submit_list(order_list, prices=prices))

    def modify(
        self,
        order: OrderRef,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> ManagedOrder:
        """Change a working order (a larger quantity or a new price passes the risk checks again)."""
        manager = self.session.manager
        return self.run(manager.modify(_cid(order), quantity=quantity, limit_price=limit_price, stop_price=stop_price))

    def cancel(self, order: OrderRef) -> ManagedOrder:
        """Request the cancel of one working order."""
        return self.run(self.session.manager.cancel(_cid(order)))

    def cancel_all(self) -> list[ManagedOrder]:
        """Request the cancel of every working order of the session."""
        return self.run(self.session.manager.cancel_all())

    def wait(self, orders: Iterable[OrderRef | ManagedOrder], timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until every order is terminal; False when one is still working."""
        cids = [_cid(o) for o in orders]
        return self._thread.run(self.session.manager.wait_terminal(cids, timeout))  # bounded by ``timeout``

    # --- what the OMS knows ------------------------------------------------------------------------------

    def order(self, order: OrderRef) -> ManagedOrder | None:
        """The OMS's view of one order (None when it does not track it)."""
        return self._call(lambda: self.session.manager.get(_cid(order)))

    def open_orders(self) -> list[ManagedOrder]:
        """Every order of the session still working."""
        return self._call(self.session.manager.open_orders)

    def pending_by_symbol(self) -> dict[str, Decimal]:
        """Signed quantity still working per symbol."""
        return self._call(self.session.pending_by_symbol)

    def add_listener(self, listener: Callable[[ManagedOrder], None]) -> Callable[[], None]:
        """Call ``listener`` on every change of an order (on the loop thread); returns a remover."""
        return self._call(lambda: self.session.manager.add_listener(listener))

    def _call(self, fn: Callable[[], T]) -> T:
        """Run a plain function on the loop thread, where the OMS's state changes."""

        async def wrapper() -> T:
            return fn()

        return self.run(wrapper())
