"""Orders at IB through ``ib_async``: place, modify, cancel, global cancel, what-if, and IB's events as reports.

The conversions live in :mod:`orders`; this module talks to TWS on the execution connection. Every order carries
our ``ClientOrderId`` as ``orderRef``, so a status, an execution or a reconciliation after a restart maps back to
it; ``ib_async`` allocates the order ids (``client.getReqId``), never us. Listeners receive an
``OrderStatusReport`` on every status change, a ``FillReport`` for each execution (again with the commission once
IB's commission report arrives), so a fill that only arrives as an execution still fills the order. After every
reconnect :meth:`OrderRouter.reconcile` re-emits the open orders and the executions ``ib_async`` re-synchronised.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ib_async import CommissionReport, ExecutionFilter, Trade
from ib_async import Fill as IBFill
from ib_async import Order as IBOrder

from quantdesk.brokers.base import BrokerReport, FillReport, OrderStatusReport, WhatIfReport
from quantdesk.brokers.capabilities import BrokerCapabilities
from quantdesk.brokers.ib.connection import IBConnection
from quantdesk.brokers.ib.contracts import ContractResolver
from quantdesk.brokers.ib.orders import (
    client_order_id_of,
    contract_multiplier,
    fill_report,
    order_status_report,
    to_ib_order,
    to_ib_orders,
    what_if_report,
)
from quantdesk.brokers.ib.supervisor import ReconnectEvent
from quantdesk.domain.identifiers import ClientOrderId, InstrumentId
from quantdesk.domain.order_lists import OrderList
from quantdesk.domain.orders import Order
from quantdesk.errors import BrokerError, NotFound, ValidationError

__all__ = ["OrderRouter"]

log = logging.getLogger(__name__)
_UNACKED = frozenset({"", "PendingSubmit", "ApiPending"})


def _acknowledged(trade: Trade) -> bool:
    """IB answered: a status beyond PendingSubmit, a terminal state, or an error."""
    erred = bool(trade.log and trade.log[-1].errorCode)
    return bool(trade.isDone()) or trade.orderStatus.status not in _UNACKED or erred


class OrderRouter:
    """The order side of ``IBBroker``."""

    def __init__(
        self,
        connection: IBConnection,
        resolver: ContractResolver,
        emit: Callable[[BrokerReport], None],
        *,
        capabilities: BrokerCapabilities,
        read_only: bool = False,
        ack_timeout: float = 10.0,
        default_account: str = "",
    ) -> None:
        self.connection = connection
        self.resolver = resolver
        self.emit = emit
        self.capabilities = capabilities
        self.read_only = read_only
        self.ack_timeout = ack_timeout
        self.default_account = default_account.strip().upper()
        self.trades: dict[ClientOrderId, Trade] = {}
        self.orders: dict[ClientOrderId, Order] = {}
        self._seen_fills: set[str] = set()
        ib = connection.ib
        ib.orderStatusEvent += self._on_status
        ib.execDetailsEvent += self._on_exec
        ib.commissionReportEvent += self._on_commission

    # --- reports -----------------------------------------------------------------------------------------

    def _instrument_id(self, trade: Trade) -> InstrumentId:
        cid = client_order_id_of(trade.order.orderRef)
        if cid is not None and cid in self.orders:
            return self.orders[cid].instrument.id
        return self.resolver.instrument_for(trade.contract).id

    def report(self, trade: Trade) -> OrderStatusReport:
        """The status report of one ``ib_async`` trade."""
        return order_status_report(trade, self._instrument_id(trade))

    def _fill(self, trade: Trade, fill: IBFill) -> FillReport:
        return fill_report(fill, self._instrument_id(trade), contract_multiplier(fill.contract))

    def _on_status(self, trade: Trade) -> None:
        try:
            self.emit(self.report(trade))
        except Exception:
            log.exception("cannot report the status of order %s", trade.order.orderId)

    def _on_exec(self, trade: Trade, fill: IBFill) -> None:
        self._seen_fills.add(fill.execution.execId)
        self.emit(self._fill(trade, fill))

    def _on_commission(self, trade: Trade, fill: IBFill, report: CommissionReport) -> None:
        self.emit(self._fill(trade, fill))

    # --- placing -----------------------------------------------------------------------------------------

    def _check(self, order: Order) -> None:
        if self.read_only:
            raise BrokerError(
                f"read-only mode: order {order.client_order_id} was not sent",
                field="ib.read_only",
                value=True,
                hint="set ib.read_only = false (and untick 'Read-Only API' in TWS's API settings) to trade",
            )
        if not self.connection.is_connected:
            raise BrokerError(
                f"not connected to {self.connection.config.address}: order {order.client_order_id} was not sent",
                code=504,
                field="connection",
                hint="wait for the reconnect (the supervisor retries) and send it again",
            )
        self.capabilities.check(order)
        known = self.trades.get(order.client_order_id)
        if known is not None:
            raise BrokerError(
                f"order {order.client_order_id} was already sent (IB order id {known.order.orderId})",
                field="client_order_id",
                value=str(order.client_order_id),
                hint="use modify_order to change it; every new order needs a new client_order_id",
            )

    async def place(self, order: Order) -> OrderStatusReport:
        """Send one order and return IB's first acknowledgement (or PendingSubmit after ``ack_timeout``)."""
        self._check(order)
        qualified = await self.resolver.qualify(order.instrument)
        ib = self.connection.ib
        ib_order = self._with_account(to_ib_order(order, order_id=ib.client.getReqId()))
        self.orders[order.client_order_id] = order
        trade = ib.placeOrder(qualified.contract, ib_order)
        self.trades[order.client_order_id] = trade
        await self._wait_ack([trade])
        return self.report(trade)

    async def place_list(self, order_list: OrderList) -> list[OrderStatusReport]:
        """Send a bracket, OCA group or OTO in order (the last order transmits the lot at IB)."""
        for order in order_list.orders:
            self._check(order)
        qualified = await self.resolver.qualify_many(*(o.instrument for o in order_list.orders))
        ib = self.connection.ib
        trades = []
        for (order, ib_order), q in zip(to_ib_orders(order_list, ib.client.getReqId), qualified, strict=True):
            self.orders[order.client_order_id] = order
            trade = ib.placeOrder(q.contract, self._with_account(ib_order))
            self.trades[order.client_order_id] = trade
            trades.append(trade)
        await self._wait_ack(trades)
        return [self.report(t) for t in trades]

    def _with_account(self, ib_order: IBOrder) -> IBOrder:
        """Orders without an account go to ``ib.account`` when one is configured (else IB's default)."""
        if not ib_order.account and self.default_account:
            ib_order.account = self.default_account
        return ib_order

    def _trade(self, client_order_id: ClientOrderId) -> Trade:
        trade = self.trades.get(client_order_id)
        if trade is None:
            for t in self.connection.ib.trades():
                if t.order.orderRef == client_order_id.value:
                    self.trades[client_order_id] = trade = t
                    break
        if trade is None:
            raise NotFound(
                f"order {client_order_id} is unknown to IB (this session)",
                field="client_order_id",
                value=str(client_order_id),
                hint="it never reached IB, or it was placed by another client id: reconcile with open_orders()",
            )
        return trade

    async def modify(
        self,
        client_order_id: ClientOrderId,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> OrderStatusReport:
        """Change a working order's quantity or prices (IB: the same order id sent again)."""
        trade = self._trade(client_order_id)
        if trade.isDone():
            raise BrokerError(
                f"order {client_order_id} is {trade.orderStatus.status} and cannot be modified",
                field="client_order_id",
                value=str(client_order_id),
                hint="send a new order instead",
            )
        original = self.orders.get(client_order_id)
        ib_order = copy.copy(trade.order)
        if quantity is not None:
            ib_order.totalQuantity = float(quantity)
        for name, value, attr in (("limit_price", limit_price, "lmtPrice"), ("stop_price", stop_price, "auxPrice")):
            if value is None:
                continue
            if original is not None:
                original.instrument.validate_price(value, name)
            setattr(ib_order, attr, float(value))
        if quantity is None and limit_price is None and stop_price is None:
            raise ValidationError(
                "nothing to modify", field="quantity", hint="pass quantity, limit_price or stop_price"
            )
        self.connection.ib.placeOrder(trade.contract, ib_order)
        await self._wait_ack([trade])
        return self.report(trade)

    async def cancel(self, client_order_id: ClientOrderId) -> None:
        """Request a cancel (the outcome arrives as a report; a fill may win the race)."""
        trade = self._trade(client_order_id)
        if not trade.isDone():
            self.connection.ib.cancelOrder(trade.order)

    async def cancel_all(self) -> None:
        """IB's global cancel: every working order of the login."""
        ib: Any = self.connection.ib  # reqGlobalCancel is untyped in ib_async
        ib.reqGlobalCancel()

    def status(self, client_order_id: ClientOrderId) -> OrderStatusReport:
        """The current view of one of our orders."""
        return self.report(self._trade(client_order_id))

    async def open_orders(self) -> list[OrderStatusReport]:
        """Every working order of the login (all client ids)."""
        ib = self.connection.ib
        await asyncio.wait_for(ib.reqAllOpenOrdersAsync(), self.ack_timeout)
        return [self.report(t) for t in ib.openTrades()]

    async def executions(self, since: datetime | None = None) -> list[FillReport]:
        """Executions since ``since`` (IB keeps the current day), for reconciliation."""
        when = "" if since is None else since.astimezone(UTC).strftime("%Y%m%d-%H:%M:%S")
        fills = await asyncio.wait_for(self.connection.ib.reqExecutionsAsync(ExecutionFilter(time=when)), 30)
        out = []
        for f in fills:
            trade = next((t for t in self.connection.ib.trades() if f in t.fills), None)
            iid = self._instrument_id(trade) if trade is not None else self.resolver.instrument_for(f.contract).id
            out.append(fill_report(f, iid, contract_multiplier(f.contract)))
        return out

    async def what_if(self, order: Order) -> WhatIfReport:
        """Margin and commission the order would cause, without placing it."""
        self.capabilities.check(order)
        qualified = await self.resolver.qualify(order.instrument)
        state = await asyncio.wait_for(
            self.connection.ib.whatIfOrderAsync(qualified.contract, to_ib_order(order)), self.ack_timeout
        )
        return what_if_report(state, order.instrument.currency.code)

    async def _wait_ack(self, trades: Sequence[Trade]) -> None:
        done = asyncio.Event()

        def check(*_: object) -> None:
            # every order answered, or one of a list failed (IB then never transmits the rest of it)
            failed = len(trades) > 1 and any(t.log and t.log[-1].errorCode for t in trades)
            if failed or all(_acknowledged(t) for t in trades):
                done.set()

        for t in trades:
            t.statusEvent += check
        try:
            check()
            await asyncio.wait_for(done.wait(), self.ack_timeout)
        except TimeoutError:
            log.warning("no acknowledgement for %d order(s) within %.1f s", len(trades), self.ack_timeout)
        finally:
            for t in trades:
                t.statusEvent -= check

    def reconcile(self, event: ReconnectEvent) -> None:
        """Supervisor hook: re-emit open orders and every execution not reported yet (after a reconnect)."""
        ib = self.connection.ib
        for trade in ib.trades():  # the re-synchronised trades replace the previous session's objects
            cid = client_order_id_of(trade.order.orderRef)
            if cid is not None:
                self.trades[cid] = trade
        for trade in ib.openTrades():
            self._on_status(trade)
        for trade in ib.trades():
            for fill in trade.fills:
                if fill.execution.execId not in self._seen_fills:
                    self._on_exec(trade, fill)
