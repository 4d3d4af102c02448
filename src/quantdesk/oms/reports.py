"""Broker reports into the OMS: statuses and fills move tracked orders, positions move the book, connection
reports go to the kill switch; plus what reconciliation does to orders (adopt one placed elsewhere, mark one the
broker cannot report on).

A report for an order the OMS does not track is kept in ``unknown_reports`` (reconciliation adopts or loads it). A
fill is applied once per execution id; a repeated one only adds its commission. Nothing here raises into the
broker: :meth:`ReportHandler.on_report` logs what it cannot apply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from quantdesk.brokers.base import (
    BrokerReport,
    ConnectionReport,
    ConnectionState,
    FillReport,
    OrderStatusReport,
    PositionReport,
)
from quantdesk.domain.fills import CommissionReport
from quantdesk.domain.identifiers import AccountId, ClientOrderId
from quantdesk.domain.order_state import OrderState, OrderStatus
from quantdesk.oms.book import Book
from quantdesk.oms.fault_points import crash_point
from quantdesk.oms.managed import ManagedOrder
from quantdesk.oms.order_changes import FillReported, Marked, StatusReported
from quantdesk.oms.store_ops import AdoptIntent, RecordCommission, RecordFill
from quantdesk.oms.tracking import OrderTracker
from quantdesk.risk.kill_switch import KillSwitch

__all__ = ["ReportHandler"]

log = logging.getLogger(__name__)


class ReportHandler:
    """Applies one broker connection's reports to the tracked orders and the book."""

    def __init__(
        self,
        tracker: OrderTracker,
        book: Book,
        kill_switch: KillSwitch,
        *,
        account: AccountId | None,
        run_id: str | None,
        stamp: Callable[[], datetime],
    ) -> None:
        self.tracker = tracker
        self.book = book
        self.kill_switch = kill_switch
        self.account = account
        self.run_id = run_id
        self.stamp = stamp
        self.unknown_reports: list[BrokerReport] = []
        self.on_reconnected: Callable[[], None] | None = None
        self._was_disconnected = False

    def on_report(self, report: BrokerReport) -> None:
        """Apply one broker report (the broker listener); never raises."""
        try:
            if isinstance(report, OrderStatusReport):
                self.apply_status(report)
            elif isinstance(report, FillReport):
                self.apply_fill(report)
            elif isinstance(report, ConnectionReport):
                self._on_connection(report)
            elif isinstance(report, PositionReport) and (self.account is None or report.account == self.account):
                currency = report.currency.code if report.currency is not None else None
                self.book.set_position(report.instrument_id, report.quantity, currency=currency)
        except Exception:
            log.exception("cannot apply broker report %r", report)

    def apply_status(self, report: OrderStatusReport) -> bool:
        """Move a tracked order to the reported status; returns False for an order the OMS does not track."""
        managed = self.tracker.find(report.client_order_id, report.broker_order_id.perm_id)
        if managed is None:
            self.unknown_reports.append(report)
            return False
        change = StatusReported(report.status, report.ts, report.broker_order_id, report.reason, report.error_code)
        self.tracker.apply(managed, change)
        return True

    def apply_fill(self, report: FillReport) -> bool:
        """Record an execution once; returns True when it was new."""
        managed = self.tracker.find(report.client_order_id, report.broker_order_id.perm_id)
        if managed is None:
            self.unknown_reports.append(report)
            return False
        fill = report.to_fill(managed.client_order_id)
        if fill.execution_id in managed.state.execution_ids:
            if report.commission is not None:
                commission = CommissionReport(fill.execution_id, report.commission)
                self.tracker.write(RecordCommission(commission, fill.account))
            return False
        applied = self.tracker.change(managed, FillReported(fill))  # a late fill or an overfill is forced, noted
        self.tracker.write(RecordFill(fill, self.stamp(), perm_id=report.broker_order_id.perm_id or None))
        self.book.apply_fill(fill)
        self.tracker.commit(managed, applied)
        crash_point("after_fill")
        return True

    def _on_connection(self, report: ConnectionReport) -> None:
        self.kill_switch.on_connection(report)
        if report.state in (ConnectionState.DISCONNECTED, ConnectionState.RECONNECTING):
            self._was_disconnected = True
        elif report.state is ConnectionState.CONNECTED and self._was_disconnected:
            self._was_disconnected = False
            if self.on_reconnected is not None:
                self.on_reconnected()

    # --- adoption and marking (used by reconciliation) --------------------------------------------------------

    def adopt(self, report: OrderStatusReport) -> ManagedOrder:
        """Track an order placed outside quantdesk (by hand in TWS, or by a lost run) under its orderRef or permId."""
        perm = report.broker_order_id.perm_id
        cid = report.client_order_id or ClientOrderId(f"ext-{perm}")
        state = OrderState(cid, report.quantity, report.ts, OrderStatus.PENDING_SUBMIT, report.broker_order_id)
        managed = self.tracker.track(ManagedOrder(cid, report.instrument_id, report.side, state, source="adopted"))
        self.tracker.write(AdoptIntent(report, cid, self.stamp(), run_id=self.run_id))
        self.apply_status(replace(report, client_order_id=cid, filled_quantity=Decimal(0)))
        return managed

    def mark(self, managed: ManagedOrder, status: OrderStatus, reason: str) -> None:
        """Force a terminal status the broker cannot report (an order that never reached it, or vanished)."""
        self.tracker.apply(managed, Marked(status, reason, self.stamp()))
