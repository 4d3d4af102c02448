"""Changing working orders: modify (through the risk checks again when it adds risk), cancel, cancel everything.

The broker's answer decides: a confirmed modification moves the order by ``ManagedOrder.apply``; a cancel only asks,
and the CANCELLED state arrives as a report (a fill may win the race).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from quantdesk.brokers.base import Broker, BrokerReport
from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.side import OrderSide
from quantdesk.errors import BrokerError, RiskRejected, ValidationError
from quantdesk.oms.book import Book
from quantdesk.oms.managed import ManagedOrder
from quantdesk.oms.order_changes import Modified
from quantdesk.oms.tracking import OrderTracker
from quantdesk.risk.engine import RiskEngine
from quantdesk.risk.kill_switch import KillSwitch

__all__ = ["OrderAmendments"]


class OrderAmendments:
    """Modify and cancel the orders of one broker connection."""

    def __init__(
        self,
        broker: Broker,
        tracker: OrderTracker,
        book: Book,
        *,
        risk: RiskEngine,
        kill_switch: KillSwitch,
        now: Callable[[], datetime],
        on_report: Callable[[BrokerReport], None],
    ) -> None:
        self.broker = broker
        self.tracker = tracker
        self.book = book
        self.risk = risk
        self.kill_switch = kill_switch
        self.now = now
        self.on_report = on_report

    async def modify(
        self,
        client_order_id: ClientOrderId,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> ManagedOrder:
        """Change a working order; a larger quantity or a new price goes through the risk checks again.

        While the broker confirms, the book counts the larger of the old and the new remaining quantity, so orders
        checked meanwhile see whichever may be in force.
        """
        managed = self.tracker.require(client_order_id)
        cid, iid = client_order_id, managed.instrument_id
        asked = {"quantity": quantity, "limit_price": limit_price, "stop_price": stop_price}
        changes: dict[str, Any] = {k: v for k, v in asked.items() if v is not None}
        if managed.order is not None and changes:
            proposed = replace(managed.order, **changes)
            self.book.set_working(cid, iid, Decimal(0))
            try:
                self.risk.check(proposed, self.book.context(proposed, self.now(), self.kill_switch.state))
            except RiskRejected as exc:
                self.book.set_working(cid, iid, managed.signed_remaining)
                self.tracker.event(managed, "modify_rejected", exc.message)
                raise
            new = max(proposed.quantity - managed.state.filled_quantity, Decimal(0))
            signed_new = new if managed.side is OrderSide.BUY else -new
            self.book.set_working(cid, iid, max(managed.signed_remaining, signed_new, key=abs))
        payload = {"quantity": quantity, "limit": limit_price, "stop": stop_price}
        self.tracker.event(managed, "modify_requested", None, payload)
        try:
            report = await self.broker.modify_order(
                cid, quantity=quantity, limit_price=limit_price, stop_price=stop_price
            )
            self.tracker.apply(managed, Modified(report.quantity, report.limit_price, report.stop_price, report.ts))
            self.on_report(report)
        finally:
            self.book.set_working(cid, iid, managed.signed_remaining)
        return managed

    async def cancel(self, client_order_id: ClientOrderId) -> ManagedOrder:
        """Ask the broker to cancel; the CANCELLED state arrives as a report (a fill may win the race)."""
        managed = self.tracker.require(client_order_id)
        if managed.state.is_terminal:
            return managed
        self.tracker.event(managed, "cancel_requested", None)
        await self.broker.cancel_order(client_order_id)
        return managed

    async def cancel_all(self) -> list[ManagedOrder]:
        """Cancel every working order the OMS tracks (the kill switch's halt does this)."""
        working = [m for m in self.tracker.orders() if m.state.is_active]
        for m in working:
            try:
                await self.cancel(m.client_order_id)
            except (BrokerError, ValidationError, ConnectionError) as exc:  # retried after the reconnect
                self.tracker.event(m, "cancel_failed", str(exc))
        return working
