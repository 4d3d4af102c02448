"""The simulated broker's reports: the venue's engine events translated into ``Broker`` reports.

The venue (:mod:`quantdesk.execution.venue`) decides and keeps the order records; this journal *reports*. Every
order's ``VenueOrder`` state advances with each engine event through the domain's own transition table, so every
report carries the status the order had *at that event* (an IOC partly filled and then cancelled on one bar is
reported PARTIALLY_FILLED, then CANCELLED). A fill is booked on its account's ``Ledger`` before it is reported:
the ``FillReport``, the order's ``OrderStatusReport`` and the account's ``PositionReport`` follow each other.
"""

from __future__ import annotations

from datetime import datetime

from quantdesk.brokers.base import BrokerReport, FillReport, OrderStatusReport, PositionReport, WhatIfReport
from quantdesk.brokers.simulated_market import MarketData
from quantdesk.domain.events import (
    OrderAccepted,
    OrderCancelled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFillEvent,
    OrderModified,
    OrderRejected,
)
from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import AccountId
from quantdesk.domain.positions import Position
from quantdesk.domain.values import ZERO
from quantdesk.execution.ledger import Accounts
from quantdesk.execution.margin import MarginCheck
from quantdesk.execution.venue import REJECTED_CODE, SimulatedVenue, VenueOrder

__all__ = ["NOT_CANCELLABLE", "REJECTED_CODE", "OrderJournal", "what_if_report"]

NOT_CANCELLABLE = 161
"""IB's "cancel attempted when the order is not in a cancellable state"."""

_STATUS_EVENTS = (OrderAccepted, OrderRejected, OrderCancelled, OrderExpired)


class OrderJournal:
    """Every execution reported, and the translation of the venue's engine events into reports."""

    def __init__(self, venue: SimulatedVenue[Accounts], market: MarketData) -> None:
        self._venue = venue
        self._market = market
        self.executions: list[FillReport] = []

    def reject(self, record: VenueOrder, reason: str, ts: datetime) -> OrderStatusReport:
        """Refuse an order before it reaches the engine."""
        self._venue.reject(record, reason, ts)
        return self.report(record, reason=reason, code=REJECTED_CODE)

    def apply(self, events: list[OrderEvent]) -> list[BrokerReport]:
        """The reports ``events`` cause, in order, with fills booked and order states advanced."""
        reports: list[BrokerReport] = []
        for event in events:
            record = self._venue.orders[event.client_order_id]
            if isinstance(event, OrderFillEvent):
                reports.extend(self._on_fill(record, event.fill))
            elif isinstance(event, OrderModified):
                self._venue.advance(record, event)
                reports.append(self.report(record))
            elif isinstance(event, OrderCancelRejected):
                why = f"cancel refused: {event.reason}"
                reports.append(self.report(record, reason=why, code=event.code or NOT_CANCELLABLE))
            elif isinstance(event, _STATUS_EVENTS):
                self._venue.advance(record, event)
                reason = getattr(event, "reason", "") or None
                reports.append(self.report(record, reason=reason, code=getattr(event, "code", None)))
            # OrderTriggered, OrderActivated: the status does not change, nothing to report
        return reports

    def _on_fill(self, record: VenueOrder, fill: Fill) -> list[BrokerReport]:
        position = self._venue.book(record, fill)
        assert fill.account is not None
        execution = FillReport(
            execution_id=fill.execution_id,
            broker_order_id=record.broker_order_id,
            client_order_id=fill.client_order_id,
            account=fill.account,
            instrument_id=fill.instrument_id,
            side=fill.side,
            quantity=fill.quantity,
            price=fill.price,
            ts=fill.ts,
            currency=fill.currency,
            commission=fill.commission,
            multiplier=fill.multiplier,
            liquidity=fill.liquidity,
        )
        self.executions.append(execution)
        return [execution, self.report(record), self.position_report(fill.account, position, fill.ts)]

    def completed_reports(self) -> list[OrderStatusReport]:
        """The report of every order in a terminal state, in submission order."""
        records = self._venue.orders.values()
        return [self.report(r, reason=r.reason, code=r.code) for r in records if r.state.is_terminal]

    def report(self, record: VenueOrder, *, reason: str | None = None, code: int | None = None) -> OrderStatusReport:
        """The order's report: its current terms (trailing stops where they trail now) and its reported state."""
        state, order = record.state, record.order
        limit, stop = order.limit_price, order.stop_price
        if record.in_engine:
            view = self._venue.engine.view(record.client_order_id)
            order, stop = view.order, view.stop
            limit = view.limit if view.limit is not None else order.limit_price
        return OrderStatusReport.of(
            order, state, record.broker_order_id, limit_price=limit, stop_price=stop, reason=reason, error_code=code
        )

    def position_report(self, account: AccountId, position: Position, ts: datetime) -> PositionReport:
        """A ``PositionReport`` of ``position``, marked at the instrument's last price."""
        return PositionReport(
            account=account,
            instrument_id=position.instrument_id,
            quantity=position.quantity,
            average_cost=position.average_cost,
            ts=ts,
            multiplier=position.multiplier,
            market_price=self._market.price(position.instrument_id),
            currency=position.currency,
        )


def what_if_report(check: MarginCheck | str) -> WhatIfReport:
    """The ``WhatIfReport`` of the venue's check (a string: why the order cannot be assessed or is refused)."""
    if isinstance(check, str):
        return WhatIfReport(
            init_margin_change=ZERO,
            maint_margin_change=ZERO,
            equity_with_loan_after=None,
            commission=None,
            warning=check,
        )
    return WhatIfReport(
        init_margin_change=check.init_change,
        maint_margin_change=check.maint_change,
        equity_with_loan_after=check.after.net_liquidation,
        commission=check.commission,
        warning=check.refusal,
    )
