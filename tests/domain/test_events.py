from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from quantdesk.domain import events as ev
from quantdesk.domain.events import (
    EVENT_STATUS,
    OrderAccepted,
    OrderCancelled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderInactive,
    OrderInitialized,
    OrderModified,
    OrderModifyRejected,
    OrderPartiallyFilled,
    OrderPendingCancel,
    OrderPendingReplace,
    OrderRejected,
    OrderSubmitted,
    implied_status,
)
from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import BrokerOrderId, ClientOrderId
from quantdesk.domain.order_state import OrderState, OrderStatus
from quantdesk.errors import ValidationError

TS = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
CID = ClientOrderId("qd-ev-1")


def fill(exec_id: str = "e1", qty: str = "10", cid: ClientOrderId = CID) -> Fill:
    return Fill.of(exec_id, cid, "AAPL.STK.SMART.USD", "BUY", qty, "100", TS)


def test_mapping_from_event_type_to_status() -> None:
    assert EVENT_STATUS[OrderInitialized] is OrderStatus.INITIALIZED
    assert EVENT_STATUS[OrderSubmitted] is OrderStatus.PENDING_SUBMIT
    assert EVENT_STATUS[OrderAccepted] is OrderStatus.SUBMITTED
    assert EVENT_STATUS[OrderRejected] is OrderStatus.REJECTED
    assert EVENT_STATUS[OrderPartiallyFilled] is OrderStatus.PARTIALLY_FILLED
    assert EVENT_STATUS[OrderFilled] is OrderStatus.FILLED
    assert EVENT_STATUS[OrderPendingCancel] is OrderStatus.PENDING_CANCEL
    assert EVENT_STATUS[OrderCancelled] is OrderStatus.CANCELLED
    assert EVENT_STATUS[OrderExpired] is OrderStatus.EXPIRED
    assert EVENT_STATUS[OrderInactive] is OrderStatus.INACTIVE
    assert EVENT_STATUS[OrderPendingReplace] is OrderStatus.PENDING_REPLACE
    assert EVENT_STATUS[OrderModified] is OrderStatus.SUBMITTED
    assert set(EVENT_STATUS.values()) == set(OrderStatus), "every status has an event that implies it"


def test_every_public_event_is_mapped_or_a_refusal() -> None:
    public = {getattr(ev, name) for name in ev.__all__ if isinstance(getattr(ev, name), type)}
    events = {cls for cls in public if issubclass(cls, OrderEvent)}
    refusals = {OrderCancelRejected, OrderModifyRejected}
    bases = {OrderEvent, ev.OrderFillEvent}
    assert events - bases - refusals == set(EVENT_STATUS)


def test_implied_status() -> None:
    assert implied_status(OrderAccepted(client_order_id=CID, ts=TS)) is OrderStatus.SUBMITTED
    assert implied_status(OrderFilled(client_order_id=CID, ts=TS, fill=fill())) is OrderStatus.FILLED
    assert implied_status(OrderCancelRejected(client_order_id=CID, ts=TS, reason="too late", code=161)) is None
    assert implied_status(OrderModifyRejected(client_order_id=CID, ts=TS)) is None


def test_events_drive_an_order_state_through_a_real_flow() -> None:
    broker = BrokerOrderId(order_id=12, perm_id=998877)
    flow: list[OrderEvent] = [
        OrderInitialized(client_order_id=CID, ts=TS),
        OrderSubmitted(client_order_id=CID, ts=TS, broker_order_id=broker),
        OrderAccepted(client_order_id=CID, ts=TS),
        OrderPartiallyFilled(client_order_id=CID, ts=TS, fill=fill("e1", "4")),
        OrderPendingReplace(client_order_id=CID, ts=TS),
        OrderModified(client_order_id=CID, ts=TS, limit_price=Decimal("99.5")),
        OrderPendingCancel(client_order_id=CID, ts=TS),
        OrderPartiallyFilled(client_order_id=CID, ts=TS, fill=fill("e2", "2")),
        OrderCancelled(client_order_id=CID, ts=TS, reason="user", code=202),
    ]
    st = OrderState.new(CID, 10, TS)
    for event in flow:
        if isinstance(event, ev.OrderFillEvent):
            st = st.apply_fill(event.fill)
        else:
            status = implied_status(event)
            assert status is not None
            st = st.apply_status(status, event.ts, broker_order_id=event.broker_order_id)
    assert st.status is OrderStatus.CANCELLED
    assert st.filled_quantity == Decimal(6)
    assert st.broker_order_id == broker


def test_events_are_frozen_keyword_only_and_utc() -> None:
    paris = timezone(timedelta(hours=1))
    e = OrderAccepted(client_order_id=CID, ts=datetime(2024, 3, 1, 15, 30, tzinfo=paris))
    assert e.ts == TS
    assert e.ts.tzinfo is UTC
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.ts = TS  # type: ignore[misc]
    with pytest.raises(TypeError):
        OrderAccepted(CID, TS)  # type: ignore[call-arg]


def test_event_ids_are_unique_unless_given() -> None:
    a = OrderSubmitted(client_order_id=CID, ts=TS)
    b = OrderSubmitted(client_order_id=CID, ts=TS)
    assert a.event_id != b.event_id
    c = OrderSubmitted(client_order_id=CID, ts=TS, event_id="fixed-1")
    assert c == OrderSubmitted(client_order_id=CID, ts=TS, event_id="fixed-1")


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: OrderAccepted(client_order_id=CID, ts=datetime(2024, 3, 1)), "ts"),
        (lambda: OrderAccepted(client_order_id="qd-1", ts=TS), "client_order_id"),  # type: ignore[arg-type]
        (lambda: OrderAccepted(client_order_id=CID, ts=TS, event_id=" "), "event_id"),
        (lambda: OrderRejected(client_order_id=CID, ts=TS), "reason"),
        (lambda: OrderRejected(client_order_id=CID, ts=TS, reason="x", code="201"), "code"),  # type: ignore[arg-type]
        (lambda: OrderCancelled(client_order_id=CID, ts=TS, reason=5), "reason"),  # type: ignore[arg-type]
        (lambda: OrderFilled(client_order_id=CID, ts=TS, fill=fill(cid=ClientOrderId("qd-x"))), "client_order_id"),
        (lambda: OrderFilled(client_order_id=CID, ts=TS, fill="e1"), "fill"),  # type: ignore[arg-type]
        (lambda: OrderModified(client_order_id=CID, ts=TS), "quantity"),
        (lambda: OrderModified(client_order_id=CID, ts=TS, quantity=Decimal(0)), "quantity"),
        (lambda: OrderModified(client_order_id=CID, ts=TS, stop_price=Decimal(-1)), "stop_price"),
    ],
)
def test_event_validation(build: Callable[[], object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        build()
    assert info.value.field == field


def test_rejection_carries_reason_and_code() -> None:
    e = OrderRejected(client_order_id=CID, ts=TS, reason="Order rejected - insufficient margin", code=201)
    assert e.code == 201
    assert "margin" in e.reason


def test_modified_converts_numbers() -> None:
    e = OrderModified(client_order_id=CID, ts=TS, quantity=5, limit_price="101.25")  # type: ignore[arg-type]
    assert e.quantity == Decimal(5)
    assert e.limit_price == Decimal("101.25")
    assert e.stop_price is None
