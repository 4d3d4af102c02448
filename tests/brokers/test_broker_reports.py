from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from quantdesk.brokers.base import FillReport, OrderStatusReport, order_status_reports_by_perm_id
from quantdesk.domain.identifiers import AccountId, BrokerOrderId, ClientOrderId, ExecutionId, InstrumentId
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.order_types import OrderType
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import Money
from quantdesk.errors import ValidationError

TS = datetime(2024, 5, 1, 14, 0, tzinfo=UTC)
AAPL = InstrumentId("AAPL.STK.SMART.USD")


def _status(perm_id: int, filled: str = "0", status: OrderStatus = OrderStatus.SUBMITTED) -> OrderStatusReport:
    return OrderStatusReport(
        broker_order_id=BrokerOrderId(7, perm_id),
        client_order_id=ClientOrderId("qd-1"),
        account=AccountId("DU1234567"),
        instrument_id=AAPL,
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        quantity=Decimal(100),
        filled_quantity=Decimal(filled),
        status=status,
        ts=TS,
    )


def test_remaining_is_zero_once_terminal() -> None:
    assert _status(1, "40").remaining == Decimal(60)
    assert _status(1, "40", OrderStatus.CANCELLED).remaining == 0


def test_overfilled_report_is_refused() -> None:
    with pytest.raises(ValidationError, match="exceeds") as info:
        _status(1, "101")
    assert info.value.field == "filled_quantity"


def test_reports_index_by_perm_id_and_skip_unknown() -> None:
    index = order_status_reports_by_perm_id([_status(11), _status(0), _status(12)])
    assert sorted(index) == [11, 12]


def test_fill_report_becomes_a_domain_fill() -> None:
    report = FillReport(
        execution_id=ExecutionId("0001f4e8.6653.01.01"),
        broker_order_id=BrokerOrderId(7, 11),
        client_order_id=None,
        account=AccountId("DU1234567"),
        instrument_id=AAPL,
        side=OrderSide.SELL,
        quantity=Decimal(50),
        price=Decimal("187.25"),
        ts=TS,
        commission=Money.of("1.00"),
    )
    fill = report.to_fill(ClientOrderId("adopted-7"))
    assert fill.client_order_id == ClientOrderId("adopted-7")
    assert fill.notional == Decimal("9362.50")
    assert fill.commission == Money.of("1.00")
    no_commission = FillReport(
        execution_id=ExecutionId("x"),
        broker_order_id=BrokerOrderId(7, 11),
        client_order_id=ClientOrderId("qd-1"),
        account=None,
        instrument_id=AAPL,
        side=OrderSide.BUY,
        quantity=Decimal(1),
        price=Decimal(1),
        ts=TS,
    )
    assert no_commission.to_fill(ClientOrderId("qd-1")).commission.amount == 0
