"""``IBBroker``: the ``Broker`` protocol at Interactive Brokers, composed of the pieces of this package.

Two connections with the client ids the config sets: ``ib.client_id_data`` carries contracts, market data and
history; ``ib.client_id_execution`` carries orders, executions, accounts and positions. Each has a supervisor that
reconnects with backoff; after a recovery the data side re-subscribes its streams and the execution side
re-emits open orders and executions for reconciliation (the OMS adds its own hook with :meth:`on_reconnected`).

Build it from the settings::

    broker = IBBroker.from_settings(load_settings())
    async with broker:
        print(await broker.account_summary())
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ib_async import Position

from quantdesk.brokers.base import (
    Broker,
    BrokerReport,
    ConnectionReport,
    ConnectionState,
    FillReport,
    OrderStatusReport,
    PositionReport,
    ReportListener,
    WhatIfReport,
)
from quantdesk.brokers.capabilities import BrokerCapabilities
from quantdesk.brokers.ib.accounts import AccountService, unit_cost
from quantdesk.brokers.ib.chains import OptionChain, RollRule, active_contract, futures_chain, option_chains
from quantdesk.brokers.ib.connection import (
    ConnectionConfig,
    ConnectionRole,
    DisconnectInfo,
    IBConnection,
    IBErrorEvent,
)
from quantdesk.brokers.ib.contract_cache import ContractCache
from quantdesk.brokers.ib.contracts import ContractResolver, QualifiedContract
from quantdesk.brokers.ib.historical import BackfillResult, HistoricalDataService
from quantdesk.brokers.ib.market_data import BarSubscription, MarketDataService, MarketSnapshot, QuoteSubscription
from quantdesk.brokers.ib.order_flow import OrderRouter
from quantdesk.brokers.ib.pacing import HistoricalPacer, PacingRules
from quantdesk.brokers.ib.riding import ride_out, wait_connected
from quantdesk.brokers.ib.supervisor import ConnectionSupervisor, ReconnectHook
from quantdesk.config import IBSettings, Settings
from quantdesk.domain.accounts import AccountSnapshot
from quantdesk.domain.identifiers import AccountId, ClientOrderId
from quantdesk.domain.instruments import Future, Instrument
from quantdesk.domain.market import Bar, BarSize, Quote, TradeTick
from quantdesk.domain.order_lists import OrderList
from quantdesk.domain.orders import Order
from quantdesk.errors import BrokerError

__all__ = ["IBBroker"]

log = logging.getLogger(__name__)
Role = Literal["data", "execution"]
_T = TypeVar("_T")


class IBBroker:
    """Interactive Brokers through ``ib_async``; implements ``quantdesk.brokers.base.Broker``."""

    def __init__(
        self,
        settings: IBSettings | None = None,
        *,
        data_dir: Path | str | None = None,
        backoff_base: float = 2.0,
        pacing: PacingRules | None = None,
        capabilities: BrokerCapabilities | None = None,
        bar_source: str = "ib",
    ) -> None:
        s = self.settings = settings or IBSettings()
        self._capabilities = capabilities or BrokerCapabilities()
        self.data = IBConnection(
            ConnectionConfig(s.host, s.port, s.client_id_data, s.connect_timeout, True, s.account, ConnectionRole.DATA)
        )
        self.execution = IBConnection(
            ConnectionConfig(s.host, s.port, s.client_id_execution, s.connect_timeout, s.read_only, s.account,
                             ConnectionRole.EXECUTION)
        )  # fmt: skip
        self.supervisors = {
            role: ConnectionSupervisor(
                conn,
                max_attempts=s.reconnect_max_attempts,
                backoff_base=backoff_base,
                backoff_max=s.reconnect_backoff_max,
                enabled=s.auto_reconnect,
            )
            for role, conn in (("data", self.data), ("execution", self.execution))
        }
        root = Path(data_dir).expanduser() if data_dir is not None else None
        self.contracts = ContractResolver(
            self.data, ContractCache.in_data_dir(root) if root else ContractCache(), timeout=s.request_timeout
        )
        self.market = MarketDataService(self.data, s.market_data_type, timeout=s.request_timeout)
        pacer = HistoricalPacer(pacing)
        self.history = (
            HistoricalDataService.in_data_dir(
                self.data, root, pacer=pacer, timeout=max(s.request_timeout, 60.0), source=bar_source
            )
            if root
            else HistoricalDataService(self.data, pacer=pacer, timeout=max(s.request_timeout, 60.0), source=bar_source)
        )
        self.accounts = AccountService(
            self.execution, self.contracts, default_account=s.account, timeout=s.request_timeout
        )
        self._listeners: list[ReportListener] = []
        self.orders = OrderRouter(
            self.execution, self.contracts, self._emit, capabilities=self._capabilities, read_only=s.read_only,
            ack_timeout=s.request_timeout, default_account=s.account,
        )  # fmt: skip
        self.supervisors["data"].on_reconnected(self.market.on_reconnected)
        self.supervisors["execution"].on_reconnected(self.orders.reconcile)
        self._combined: ConnectionState | None = None
        for conn in (self.data, self.execution):
            conn.on_state(self._on_connection_state)
        self.execution.ib.positionEvent += self._on_position

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> IBBroker:
        """The broker for ``settings.ib``, storing contracts and bars under ``settings.paths.data_dir``."""
        return cls(settings.ib, data_dir=settings.paths.data_dir, **kwargs)

    def __repr__(self) -> str:
        where = f"{self.settings.host}:{self.settings.port}"
        return f"IBBroker({where}, data={self.data.state.value}, execution={self.execution.state.value})"

    # --- connection --------------------------------------------------------------------------------------

    @property
    def capabilities(self) -> BrokerCapabilities:
        """IB's feature table."""
        return self._capabilities

    @property
    def is_connected(self) -> bool:
        """True while both connections are up."""
        return self.data.is_connected and self.execution.is_connected

    async def connect(self) -> None:
        """Connect both client ids (concurrently); on any failure close both and raise the first error.

        Streams kept from before a requested :meth:`disconnect` are requested again.
        """
        results = await asyncio.gather(self.data.connect(), self.execution.connect(), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            await self.disconnect()
            raise errors[0]
        if self.market.subscriptions:
            self.market.resubscribe_all(cancel_first=False)

    async def disconnect(self) -> None:
        """Close both connections (working orders stay at IB); streams are kept for the next connect."""
        await asyncio.gather(self.data.disconnect(), self.execution.disconnect())

    async def close(self) -> None:
        """Stop the supervisors, cancel every stream and disconnect (the end of this broker)."""
        for sup in self.supervisors.values():
            await sup.stop()
        if self.data.is_connected:
            await self.market.cancel_all()
        await self.disconnect()

    async def __aenter__(self) -> IBBroker:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def add_listener(self, listener: ReportListener) -> Callable[[], None]:
        """Receive every report (order status, fill, position, connection state); returns a remover."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def on_reconnected(self, hook: ReconnectHook, role: Role = "execution") -> Callable[[], None]:
        """Run ``hook(event)`` after the ``role`` connection recovers (the OMS reconciles here)."""
        return self.supervisors[role].on_reconnected(hook)

    def _both(self, removers: list[Callable[[], None]]) -> Callable[[], None]:
        def remove() -> None:
            for r in removers:
                r()

        return remove

    def on_error(self, callback: Callable[[IBErrorEvent], None]) -> Callable[[], None]:
        """Receive every IB error message of both connections (classified, with the action taken)."""
        return self._both([self.data.on_error(callback), self.execution.on_error(callback)])

    def on_connected(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` whenever either connection (re)connects."""
        return self._both([self.data.on_connected(callback), self.execution.on_connected(callback)])

    def on_disconnected(self, callback: Callable[[DisconnectInfo], None]) -> Callable[[], None]:
        """Call ``callback(info)`` whenever either connection goes (``info.requested`` when we closed it)."""
        return self._both([self.data.on_disconnected(callback), self.execution.on_disconnected(callback)])

    def connection_report(self) -> dict[str, Any]:
        """State and error statistics of both connections (for health checks and the dashboard)."""
        return {
            "connected": self.is_connected,
            "data": self.data.report(),
            "execution": self.execution.report(),
            "reconnects": {role: sup.reconnects for role, sup in self.supervisors.items()},
        }

    def _emit(self, report: BrokerReport) -> None:
        for listener in list(self._listeners):
            try:
                listener(report)
            except Exception:
                log.exception("broker listener %r failed", listener)

    def _on_connection_state(self, report: ConnectionReport) -> None:
        """One state for both sockets: down while either is down, CONNECTED only once both are up.

        Listeners (the OMS, the kill switch) must not take the data connection coming back for the execution
        connection coming back; a report with an IB code (1100/1101/1102) is passed on as it is.
        """
        states = (self.data.state, self.execution.state)
        if report.state is ConnectionState.CONNECTED and not all(s is ConnectionState.CONNECTED for s in states):
            return
        if report.state is self._combined and report.code is None:
            return
        self._combined = report.state
        self._emit(report)

    def _on_position(self, position: Position) -> None:
        cost, multiplier = unit_cost(position.avgCost, position.contract)
        inst = self.contracts.instrument_for(position.contract)
        self._emit(
            PositionReport(
                account=AccountId(position.account),
                instrument_id=inst.id,
                currency=inst.currency,
                quantity=Decimal(repr(float(position.position))),
                average_cost=cost,
                ts=datetime.now(UTC),
                multiplier=multiplier,
            )
        )

    # --- contracts ---------------------------------------------------------------------------------------

    async def qualify(self, instrument: Instrument) -> QualifiedContract:
        """The instrument with IB's conId and tick (cached in the data directory)."""
        return await self.contracts.qualify(instrument)

    async def lookup(self, symbol: str, *, currency: str | None = None, exchange: str = "SMART") -> Instrument:
        """The one stock a symbol names (currency optional); ``AmbiguousContract`` lists the candidates."""
        return (await self.contracts.lookup(symbol, exchange=exchange, currency=currency)).instrument

    async def option_chains(self, underlying: Instrument) -> list[OptionChain]:
        """Expirations and strikes per exchange and trading class."""
        return await option_chains(self.contracts, underlying)

    async def futures_chain(self, symbol: str, exchange: str, currency: str = "USD") -> list[Future]:
        """The live contracts of a future, nearest first."""
        return await futures_chain(self.contracts, symbol, exchange, currency)

    async def active_future(self, symbol: str, exchange: str, on: date, rule: RollRule | None = None) -> Future:
        """The contract to hold on ``on`` (the roll rule of :mod:`chains`; its default when None)."""
        return active_contract(await self.futures_chain(symbol, exchange), on, rule or RollRule())

    # --- accounts ----------------------------------------------------------------------------------------

    async def managed_accounts(self) -> list[AccountId]:
        """The accounts this login may trade."""
        return self.accounts.managed_accounts()

    async def account_summary(self, account: AccountId | None = None) -> AccountSnapshot:
        """Net liquidation, cash per currency, buying power and margin of one account (the default if None)."""
        return await self._ride("execution", lambda: self.accounts.summary(account), "account summary")

    async def positions(self, account: AccountId | None = None) -> list[PositionReport]:
        """Current positions, of one account or of all when None."""
        return self.accounts.positions(account)

    # --- market data -------------------------------------------------------------------------------------

    async def snapshot(self, instrument: Instrument) -> MarketSnapshot:
        """Quote, last and close, with the market data type IB reported."""

        async def ask() -> MarketSnapshot:
            q = await self.contracts.qualify(instrument)
            return await self.market.snapshot(q.instrument, q.contract)

        return await self._ride("data", ask, f"quote of {instrument.symbol}")

    async def quote(self, instrument: Instrument) -> Quote:
        """A snapshot of the best bid and ask."""
        snap = await self.snapshot(instrument)
        if snap.quote is None:
            raise BrokerError(
                f"IB sent no bid/ask for {instrument} (market data type {snap.data_type.name.lower()})",
                field="instrument",
                value=str(instrument),
                hint="outside trading hours or without a data subscription: set ib.market_data_type to "
                "'delayed_frozen', or use snapshot() for the last price",
            )
        return snap.quote

    async def subscribe_quotes(
        self, instrument: Instrument, on_quote: Callable[[Quote], None], on_trade: Callable[[TradeTick], None] | None
    ) -> QuoteSubscription:
        """Stream quotes (and trades) until cancelled; re-subscribed after reconnects and 1101."""
        q = await self.contracts.qualify(instrument)
        return await self.market.subscribe_quotes(q.instrument, q.contract, on_quote, on_trade)

    async def subscribe_bars(
        self, instrument: Instrument, bar_size: BarSize, on_bar: Callable[[Bar], None], *, what_to_show: str = "TRADES"
    ) -> BarSubscription:
        """Stream completed bars of ``bar_size`` built from IB's 5-second real-time bars."""
        q = await self.contracts.qualify(instrument)
        return await self.market.subscribe_bars(q.instrument, q.contract, bar_size, on_bar, what_to_show=what_to_show)

    async def historical_bars(
        self,
        instrument: Instrument,
        bar_size: BarSize,
        start: datetime,
        end: datetime,
        *,
        what_to_show: str = "TRADES",
        regular_hours_only: bool = True,
    ) -> list[Bar]:
        """Bars whose start lies in ``[start, end)``, oldest first (from the bar store after a backfill)."""

        async def ask() -> list[Bar]:
            q = await self.contracts.qualify(instrument)
            return await self.history.bars(q, bar_size, start, end, what_to_show=what_to_show,
                                           use_rth=regular_hours_only)  # fmt: skip

        return await self._ride("data", ask, f"{bar_size.value} bars of {instrument.symbol}")

    async def backfill(
        self,
        instrument: Instrument,
        bar_size: BarSize,
        start: datetime,
        end: datetime,
        *,
        what_to_show: str = "TRADES",
        on_progress: Callable[[int, int], None] | None = None,
    ) -> BackfillResult:
        """Fill the bar store for ``[start, end)``, requesting only what it lacks (``on_progress(done, total)``
        after each chunk, e.g. :func:`quantdesk.cli.progress.steps`)."""
        q = await self.contracts.qualify(instrument)
        return await self.history.backfill(q, bar_size, start, end, what_to_show=what_to_show, on_progress=on_progress)

    # --- orders ------------------------------------------------------------------------------------------

    async def place_order(self, order: Order) -> OrderStatusReport:
        """Send one order once the execution connection is up (a reconnect under way is waited for); returns IB's
        first acknowledgement. An order cut in flight is not sent again: reconciliation finds out where it is."""
        await wait_connected(self.execution, self.supervisors["execution"], f"sending {order.client_order_id}")
        return await self.orders.place(order)

    async def place_order_list(self, order_list: OrderList) -> list[OrderStatusReport]:
        """Send a bracket, OCA group or OTO as one unit (once the execution connection is up)."""
        first = order_list.orders[0].client_order_id
        await wait_connected(self.execution, self.supervisors["execution"], f"sending the list of {first}")
        return await self.orders.place_list(order_list)

    async def modify_order(
        self,
        client_order_id: ClientOrderId,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> OrderStatusReport:
        """Change a working order's quantity or prices."""
        return await self.orders.modify(
            client_order_id, quantity=quantity, limit_price=limit_price, stop_price=stop_price
        )

    async def cancel_order(self, client_order_id: ClientOrderId) -> None:
        """Request a cancel; the outcome arrives as a report."""
        await self.orders.cancel(client_order_id)

    async def cancel_all_orders(self) -> None:
        """IB's global cancel."""
        await self.orders.cancel_all()

    async def order_status(self, client_order_id: ClientOrderId) -> OrderStatusReport:
        """IB's current view of one of our orders; ``NotFound`` if it never reached IB."""
        return self.orders.status(client_order_id)

    async def open_orders(self) -> list[OrderStatusReport]:
        """Every working order of the login, including ones placed outside quantdesk."""
        return await self.orders.open_orders()

    async def completed_orders(self) -> list[OrderStatusReport]:
        """Orders that ended today as TWS remembers them (``reqCompletedOrders``), ours and others'."""
        return await self.orders.completed_orders()

    async def executions(self, since: datetime | None = None) -> list[FillReport]:
        """Executions since ``since``."""
        return await self.orders.executions(since)

    async def server_time(self) -> datetime:
        """TWS's clock (``reqCurrentTime``); the gateway simulator answers with its simulated time."""

        async def ask() -> datetime:
            async with asyncio.timeout(self.settings.request_timeout):
                return await self.execution.ib.reqCurrentTimeAsync()

        return (await self._ride("execution", ask, "server time")).astimezone(UTC)

    async def what_if(self, order: Order) -> WhatIfReport:
        """Margin and commission the order would cause, without placing it (asked again after a reconnect)."""
        return await self._ride("execution", lambda: self.orders.what_if(order), f"what-if of {order.client_order_id}")

    async def _ride(self, role: Role, request: Callable[[], Awaitable[_T]], what: str) -> _T:
        """``request`` on the ``role`` connection, asked again after a reconnect (see ``riding``)."""
        conn = self.data if role == "data" else self.execution
        return await ride_out(conn, self.supervisors[role], request, what)


if TYPE_CHECKING:  # mypy proves the protocol is implemented

    def _implements_the_protocol(broker: IBBroker) -> Broker:
        return broker
