"""The simulated broker's order journal: broker ids, order states as reported, and reports from engine events.

The matching engine decides; this journal *reports*. Every order placed gets a ``BrokerOrderId`` the way IB gives
them (increasing ``order_id``, unique ``perm_id``, also for rejected orders) and an ``OrderState`` that the
journal advances with each engine event through the domain's own transition table, so that every report carries
the status the order had *at that event* (an IOC partly filled and then cancelled on one bar is reported
PARTIALLY_FILLED, then CANCELLED). A fill is booked on its account's ``Ledger`` before it is reported: the
``FillReport``, the order's ``OrderStatusReport`` and the account's ``PositionReport`` follow each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from quantdesk.brokers.base import BrokerReport, FillReport, OrderStatusReport, PositionReport
from quantdesk.brokers.simulated_account import Ledger
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
from quantdesk.domain.identifiers import AccountId, BrokerOrderId, ClientOrderId
from quantdesk.domain.order_state import OrderState, OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.domain.positions import Position
from quantdesk.errors import NotFound
from quantdesk.execution import MatchingEngine

__all__ = ["NOT_CANCELLABLE", "REJECTED_CODE", "OrderJournal", "OrderRecord"]

REJECTED_CODE = 201
"""IB's "order rejected" error code, used for every refusal before an order reaches the engine."""
NOT_CANCELLABLE = 161
"""IB's "cancel attempted when the order is not in a cancellable state"."""

_STATUS_OF: dict[type[OrderEvent], OrderStatus] = {
    OrderAccepted: OrderStatus.SUBMITTED,
    OrderRejected: OrderStatus.REJECTED,
    OrderCancelled: OrderStatus.CANCELLED,
    OrderExpired: OrderStatus.EXPIRED,
}


@dataclass(slots=True)
class OrderRecord:
    """One order at the simulated broker: its terms as placed, its ids, its state as reported, its last reason."""

    order: Order
    broker_order_id: BrokerOrderId
    state: OrderState
    in_engine: bool = False
    reason: str | None = None
    code: int | None = None

    @property
    def client_order_id(self) -> ClientOrderId:
        """Our id of the order."""
        return self.order.client_order_id


class OrderJournal:
    """Every order placed, every execution, and the translation of engine events into reports."""

    def __init__(
        self,
        engine: MatchingEngine,
        ledgers: Mapping[AccountId, Ledger],
        market: MarketData,
        *,
        first_order_id: int,
        first_perm_id: int,
        client_id: int | None,
    ) -> None:
        self._engine = engine
        self._ledgers = ledgers
        self._market = market
        self._next_order_id, self._next_perm_id = first_order_id, first_perm_id
        self._client_id = client_id
        self._records: dict[ClientOrderId, OrderRecord] = {}
        self.executions: list[FillReport] = []

    def __contains__(self, cid: object) -> bool:
        return cid in self._records

    def register(self, order: Order, ts: datetime) -> OrderRecord:
        """Give ``order`` its broker ids and a PENDING_SUBMIT state."""
        ids = BrokerOrderId(self._next_order_id, self._next_perm_id, self._client_id)
        self._next_order_id += 1
        self._next_perm_id += 1
        state = OrderState.new(order.client_order_id, order.quantity, ts).apply_status(OrderStatus.PENDING_SUBMIT, ts)
        record = OrderRecord(order, ids, state)
        self._records[order.client_order_id] = record
        return record

    def get(self, cid: ClientOrderId) -> OrderRecord:
        """The record of ``cid``; ``NotFound`` if it was never placed here."""
        record = self._records.get(cid)
        if record is None:
            raise NotFound(
                f"unknown order {cid}",
                field="client_order_id",
                value=str(cid),
                hint="the order was never placed at this simulated broker",
            )
        return record

    def reject(self, record: OrderRecord, reason: str, ts: datetime) -> OrderStatusReport:
        """Refuse an order before it reaches the engine."""
        record.state = record.state.apply_status(OrderStatus.REJECTED, ts)
        record.reason, record.code = reason, REJECTED_CODE
        return self.report(record, reason=reason, code=REJECTED_CODE)

    def apply(self, events: list[OrderEvent]) -> list[BrokerReport]:
        """The reports ``events`` cause, in order, with fills booked and order states advanced."""
        reports: list[BrokerReport] = []
        for event in events:
            record = self._records[event.client_order_id]
            if isinstance(event, OrderFillEvent):
                reports.extend(self._on_fill(record, event.fill))
            elif isinstance(event, OrderModified):
                if event.quantity is not None:
                    record.state = record.state.apply_modify(event.quantity, event.ts)
                reports.append(self.report(record))
            elif isinstance(event, OrderCancelRejected):
                why = f"cancel refused: {event.reason}"
                reports.append(self.report(record, reason=why, code=event.code or NOT_CANCELLABLE))
            elif type(event) in _STATUS_OF:
                record.state = record.state.apply_status(_STATUS_OF[type(event)], event.ts)
                reason = getattr(event, "reason", "") or None
                code = getattr(event, "code", None)
                if reason is not None:
                    record.reason, record.code = reason, code
                reports.append(self.report(record, reason=reason, code=code))
            # OrderTriggered, OrderActivated: the status does not change, nothing to report
        return reports

    def _on_fill(self, record: OrderRecord, fill: Fill) -> list[BrokerReport]:
        assert fill.account is not None  # the broker gives every order an account before it is submitted
        ledger = self._ledgers[fill.account]
        position = ledger.apply(fill, record.order.instrument)
        record.state = record.state.apply_fill(fill)
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
        return [execution, self.report(record), self.position_report(ledger.account, position, fill.ts)]

    def completed_reports(self) -> list[OrderStatusReport]:
        """The report of every order in a terminal state, in submission order."""
        return [self.report(r, reason=r.reason, code=r.code) for r in self._records.values() if r.state.is_terminal]

    def report(self, record: OrderRecord, *, reason: str | None = None, code: int | None = None) -> OrderStatusReport:
        """The order's report: its current terms (trailing stops where they trail now) and its reported state."""
        state, order = record.state, record.order
        limit, stop = order.limit_price, order.stop_price
        if record.in_engine:
            view = self._engine.view(record.client_order_id)
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
