"""Orders at IB through ``ib_async``: place, modify, cancel, global cancel, what-if, and IB's events as reports.

The conversions live in :mod:`orders`; this module talks to TWS on the execution connection. Every order carries
our ``ClientOrderId`` as ``orderRef``, so a status, an execution or a reconciliation after a restart maps back to
it; ``ib_async`` allocates the order ids (``client.getReqId``), never us. Listeners receive an
``OrderStatusReport`` on every status change, a ``FillReport`` for each execution (again with the commission once
IB's commission report arrives), so a fill that only arrives as an execution still fills the order. After every
reconnect :meth:`OrderRouter.reconcile` emits the executions that happened while we were away (each once), the
status of every order of ours that moved meanwhile, and the open orders again. An order the capability table refuses
is never sent: it is reported REJECTED with the reason (a list is refused as a whole).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
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
from quantdesk.brokers.ib.error_codes import ErrorAction, classify
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
from quantdesk.domain.identifiers import AccountId, BrokerOrderId, ClientOrderId, InstrumentId
from quantdesk.domain.order_lists import OrderList
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.errors import BrokerError, NotFound, OrderRejected, ValidationError

__all__ = ["OrderRouter"]

log = logging.getLogger(__name__)
_UNACKED = frozenset({"", "PendingSubmit", "ApiPending"})
_HARMLESS = frozenset({ErrorAction.IGNORE, ErrorAction.LOG, ErrorAction.KEEP_ORDER_LIVE})


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
        self.rejected: dict[ClientOrderId, OrderStatusReport] = {}  # refused here, never sent
        self._iids: dict[ClientOrderId, InstrumentId] = {}
        self._sent_fills: set[tuple[str, bool]] = set()  # (execId, with commission) already emitted
        self._last_status: dict[ClientOrderId, tuple[OrderStatus, Decimal]] = {}
        self._ids: dict[ClientOrderId, BrokerOrderId] = {}  # IB's ids, kept when a re-sync forgets the order id
        self._emitted: dict[ClientOrderId, tuple[Trade, int, OrderStatusReport]] = {}  # last status report sent
        ib = connection.ib
        ib.orderStatusEvent += self._on_status
        ib.execDetailsEvent += self._on_exec
        ib.commissionReportEvent += self._on_commission

    # --- reports -----------------------------------------------------------------------------------------

    def _instrument_id(self, trade: Trade) -> InstrumentId:
        cid = client_order_id_of(trade.order.orderRef)
        order = self.orders.get(cid) if cid is not None else None
        if order is None:
            return self.resolver.instrument_for(trade.contract).id
        iid = self._iids.get(order.client_order_id)
        if iid is None:  # an instrument's id is built on every access: once per order is enough
            iid = self._iids[order.client_order_id] = order.instrument.id
        return iid

    def report(self, trade: Trade) -> OrderStatusReport:
        """The status report of one ``ib_async`` trade.

        A trade re-synchronised after a reconnect as a *completed* order has no order id: the one IB gave it in
        this session is kept.
        """
        report = order_status_report(trade, self._instrument_id(trade))
        cid, ids = report.client_order_id, report.broker_order_id
        if cid is None:
            return report
        known = self._ids.get(cid)
        if ids.order_id:
            self._ids[cid] = ids
        elif known is not None:
            report = replace(report, broker_order_id=replace(known, perm_id=ids.perm_id or known.perm_id))
        return report

    def _fill(self, trade: Trade, fill: IBFill) -> FillReport:
        return fill_report(fill, self._instrument_id(trade), contract_multiplier(fill.contract))

    def _on_status(self, trade: Trade) -> None:
        try:
            report = self.report(trade)
        except Exception:
            log.exception("cannot report the status of order %s", trade.order.orderId)
            return
        if report.client_order_id is not None:
            self._last_status[report.client_order_id] = (report.status, report.filled_quantity)
            self._emitted[report.client_order_id] = (trade, len(trade.log), report)
        self.emit(report)

    def _acknowledgement(self, order: Order, trade: Trade) -> OrderStatusReport:
        """What ``place`` returns: the status report just emitted when nothing happened since, else a new one."""
        last = self._emitted.get(order.client_order_id)
        if last is not None and last[0] is trade and last[1] == len(trade.log):
            return last[2]
        return self.report(trade)

    def _emit_fill(self, trade: Trade, fill: IBFill) -> None:
        """Emit an execution once, and once more when its commission arrives; never again after a re-sync."""
        exec_id = fill.execution.execId
        key = (exec_id, bool(fill.commissionReport.execId))
        if key in self._sent_fills or (exec_id, True) in self._sent_fills:
            return
        self._sent_fills.add(key)
        self.emit(self._fill(trade, fill))

    def _on_exec(self, trade: Trade, fill: IBFill) -> None:
        self._emit_fill(trade, fill)

    def _on_commission(self, trade: Trade, fill: IBFill, report: CommissionReport) -> None:
        self._emit_fill(trade, fill)

    # --- placing -----------------------------------------------------------------------------------------

    def _check(self, order: Order) -> None:
        """Raise for what the caller must fix before any order can go: read-only, no connection, a reused id."""
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
        known = self.trades.get(order.client_order_id)
        if known is not None or order.client_order_id in self.rejected:
            where = f" (IB order id {known.order.orderId})" if known is not None else " (and rejected)"
            raise BrokerError(
                f"order {order.client_order_id} was already sent{where}",
                code=103,
                field="client_order_id",
                value=str(order.client_order_id),
                hint="use modify_order to change it; every new order needs a new client_order_id",
            )

    def _unsupported(self, orders: Sequence[Order]) -> BrokerError | None:
        """The capability table's refusal of the first order it does not support, or None."""
        for order in orders:
            try:
                self.capabilities.check(order)
            except BrokerError as exc:
                return exc
        return None

    def _reject_locally(self, orders: Sequence[Order], refusal: BrokerError) -> list[OrderStatusReport]:
        """REJECTED reports (emitted, and kept for ``status``) for orders refused before they were sent."""
        reports = []
        for order in orders:
            account = order.account or (AccountId(self.default_account) if self.default_account else None)
            report = OrderStatusReport(
                broker_order_id=BrokerOrderId(0),
                client_order_id=order.client_order_id,
                account=account,
                instrument_id=order.instrument.id,
                side=order.side,
                order_type=order.order_type,
                quantity=order.quantity,
                filled_quantity=Decimal(0),
                status=OrderStatus.REJECTED,
                ts=datetime.now(UTC),
                limit_price=order.limit_price,
                stop_price=order.stop_price,
                tif=order.tif,
                reason=str(refusal),
            )
            self.rejected[order.client_order_id] = report
            self.orders[order.client_order_id] = order
            self.emit(report)
            reports.append(report)
        return reports

    async def place(self, order: Order) -> OrderStatusReport:
        """Send one order and return IB's first acknowledgement (or PendingSubmit after ``ack_timeout``).

        An order the capability table refuses is not sent: it is reported REJECTED with the reason at once.
        """
        self._check(order)
        refusal = self._unsupported([order])
        if refusal is not None:
            return self._reject_locally([order], refusal)[0]
        qualified = await self.resolver.qualify(order.instrument)
        ib = self.connection.ib
        ib_order = self._with_account(to_ib_order(order, order_id=ib.client.getReqId()))
        self.orders[order.client_order_id] = order
        trade = ib.placeOrder(qualified.contract, ib_order)
        self.trades[order.client_order_id] = trade
        await self._wait_ack([trade])
        return self._acknowledgement(order, trade)

    async def place_list(self, order_list: OrderList) -> list[OrderStatusReport]:
        """Send a bracket, OCA group or OTO in order (the last order transmits the lot at IB); all or nothing."""
        for order in order_list.orders:
            self._check(order)
        refusal = self._unsupported(order_list.orders)
        if refusal is not None:
            return self._reject_locally(order_list.orders, refusal)
        qualified = await self.resolver.qualify_many(*(o.instrument for o in order_list.orders))
        ib = self.connection.ib
        trades = []
        for (order, ib_order), q in zip(to_ib_orders(order_list, ib.client.getReqId), qualified, strict=True):
            self.orders[order.client_order_id] = order
            trade = ib.placeOrder(q.contract, self._with_account(ib_order))
            self.trades[order.client_order_id] = trade
            trades.append(trade)
        await self._wait_ack(trades)
        return [self._acknowledgement(o, t) for o, t in zip(order_list.orders, trades, strict=True)]

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
        await self._send_modification(trade, ib_order)
        return self.report(trade)

    async def _send_modification(self, trade: Trade, ib_order: IBOrder) -> None:
        """Send the changed order and wait for IB's answer to *it* (an ``openOrder`` echo, an end, or an error).

        The trade is acknowledged already, so waiting for any status would return before IB applied the change;
        ``OrderRejected`` when IB refuses the modification (the order keeps working as it was).
        """
        ib = self.connection.ib
        done = asyncio.Event()
        refused: list[tuple[int, str]] = []

        def on_open(t: Trade) -> None:
            if t is trade:
                done.set()

        def on_status(t: Trade) -> None:
            if t.isDone() or (t.log and t.log[-1].message == "Modified"):
                done.set()

        def on_error(req_id: int, code: int, message: str, _contract: object) -> None:
            if req_id == trade.order.orderId and classify(code, message).action not in _HARMLESS:
                refused.append((code, message))
                done.set()

        ib.openOrderEvent += on_open
        ib.errorEvent += on_error
        trade.statusEvent += on_status
        try:
            ib.placeOrder(trade.contract, ib_order)
            async with asyncio.timeout(self.ack_timeout):
                await done.wait()
        except TimeoutError:
            log.warning("no answer to the modification of order %s within %.1f s", ib_order.orderId, self.ack_timeout)
        finally:
            ib.openOrderEvent -= on_open
            ib.errorEvent -= on_error
            trade.statusEvent -= on_status
        if refused:
            code, message = refused[0]
            cid = client_order_id_of(trade.order.orderRef)
            raise OrderRejected(
                f"IB refused the modification of order {cid}: {message} (code {code})",
                code=code,
                field="client_order_id",
                value=str(cid),
                hint="the order keeps working with its previous terms; check the new quantity and prices",
            )

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
        """The current view of one of our orders (also of one refused here before it was sent)."""
        rejected = self.rejected.get(client_order_id)
        return rejected if rejected is not None else self.report(self._trade(client_order_id))

    async def open_orders(self) -> list[OrderStatusReport]:
        """Every working order of the login (all client ids)."""
        ib = self.connection.ib
        async with asyncio.timeout(self.ack_timeout):
            await ib.reqAllOpenOrdersAsync()
        return [self.report(t) for t in ib.openTrades()]

    async def completed_orders(self) -> list[OrderStatusReport]:
        """Every order that ended today, of all clients (``reqCompletedOrders(apiOnly=False)``)."""
        async with asyncio.timeout(self.ack_timeout):
            trades = await self.connection.ib.reqCompletedOrdersAsync(False)
        return [self.report(t) for t in trades]

    async def executions(self, since: datetime | None = None) -> list[FillReport]:
        """Executions since ``since`` (IB keeps the current day), for reconciliation."""
        when = "" if since is None else since.astimezone(UTC).strftime("%Y%m%d-%H:%M:%S")
        async with asyncio.timeout(30):
            fills = await self.connection.ib.reqExecutionsAsync(ExecutionFilter(time=when))
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
        async with asyncio.timeout(self.ack_timeout):
            state = await self.connection.ib.whatIfOrderAsync(qualified.contract, to_ib_order(order))
        return what_if_report(state, order.instrument.currency.code)

    async def _wait_ack(self, trades: Sequence[Trade]) -> None:
        """Until IB answered every order, one of a list failed (IB then never transmits the rest of it), or
        ``ack_timeout``; a plain future and a timer, no task: this sits on every order's path."""

        def answered() -> bool:
            failed = len(trades) > 1 and any(t.log and t.log[-1].errorCode for t in trades)
            return failed or all(_acknowledged(t) for t in trades)

        if answered():
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()

        def check(*_: object) -> None:
            if not done.done() and answered():
                done.set_result(True)

        def expire() -> None:
            if not done.done():
                done.set_result(False)

        def gone(_info: object) -> None:  # the socket went: no answer will come on it, reconciliation finds out
            if not done.done():
                done.set_result(False)

        timer = loop.call_later(self.ack_timeout, expire)
        stop_listening = self.connection.on_disconnected(gone)
        for t in trades:
            t.statusEvent += check
        try:
            if not await done:
                log.warning("no acknowledgement for %d order(s) (waited at most %.1f s, or the connection went)",
                            len(trades), self.ack_timeout)  # fmt: skip
        finally:
            timer.cancel()
            stop_listening()
            for t in trades:
                t.statusEvent -= check

    def reconcile(self, event: ReconnectEvent) -> None:
        """Supervisor hook after a reconnect: report what changed while we were away.

        ``ib_async`` re-synchronised open orders, completed orders and the day's executions into new trade objects.
        Every execution not emitted yet is emitted (with its commission when IB sent it), each of our orders whose
        status or filled quantity moved meanwhile (filled or cancelled while disconnected) is reported, and every
        open order is reported again for reconciliation.
        """
        ib = self.connection.ib
        resynced = ib.trades()
        for trade in resynced:  # the re-synchronised trades replace the previous session's objects
            cid = client_order_id_of(trade.order.orderRef)
            if cid is not None:
                self.trades[cid] = trade
        for trade in resynced:
            for fill in trade.fills:
                self._emit_fill(trade, fill)
        open_ids = {id(t) for t in ib.openTrades()}
        for trade in resynced:
            cid = client_order_id_of(trade.order.orderRef)
            if id(trade) in open_ids:
                self._on_status(trade)
            elif cid is not None and cid in self.orders:
                report = self.report(trade)
                if (report.status, report.filled_quantity) != self._last_status.get(cid):
                    self._on_status(trade)
