"""IB order events → broker reports: statuses, informational codes that must not cancel, fills and what-if.

The inputs are ``ib_async``'s own data classes (``Trade``, ``OrderStatus``, ``Fill``…) filled the way its wrapper
fills them; nothing is mocked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from ib_async import CommissionReport, Contract, Execution, OrderState, OrderStatus, Trade, TradeLogEntry
from ib_async import Fill as IBFill

from quantdesk.brokers.ib.orders import (
    effective_ib_status,
    fill_report,
    order_status_report,
    status_after_error,
    to_ib_order,
    what_if_report,
)
from quantdesk.domain.fills import Liquidity
from quantdesk.domain.identifiers import ClientOrderId, InstrumentId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_state import OrderStatus as Status
from quantdesk.domain.order_types import OrderType, TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide

AAPL = Stock("AAPL", con_id=265598)
IID = InstrumentId("AAPL.STK.SMART.USD")
T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)


def trade(status: str, *log: tuple[str, str, int], filled: float = 0, remaining: float = 100) -> Trade:
    order = to_ib_order(Order.limit(AAPL, "BUY", 100, "150.5", client_order_id=ClientOrderId("qd-1")), order_id=5)
    order.permId = 9001
    order.clientId = 2
    order.account = "DU1000001"
    entries = [TradeLogEntry(T0, s, m, c) for s, m, c in log]
    return Trade(
        Contract(conId=265598, symbol="AAPL", secType="STK", exchange="SMART", currency="USD"),
        order,
        OrderStatus(orderId=5, status=status, filled=filled, remaining=remaining, avgFillPrice=150.25 if filled else 0),
        [],
        entries,
    )


def test_a_working_order_report() -> None:
    report = order_status_report(trade("Submitted", ("PendingSubmit", "", 0), ("Submitted", "", 0)), IID)
    assert report.status is Status.SUBMITTED
    assert report.client_order_id == ClientOrderId("qd-1")
    assert (report.broker_order_id.order_id, report.broker_order_id.perm_id, report.broker_order_id.client_id) == (
        5, 9001, 2,
    )  # fmt: skip
    assert (report.side, report.order_type, report.quantity, report.limit_price) == (
        OrderSide.BUY, OrderType.LIMIT, Decimal(100), Decimal("150.5"),
    )  # fmt: skip
    assert report.tif is TimeInForce.DAY
    assert report.account is not None
    assert report.account.value == "DU1000001"
    assert report.stop_price is None
    assert report.reason is None


def test_partial_fill_report() -> None:
    report = order_status_report(trade("Submitted", ("Submitted", "", 0), filled=40, remaining=60), IID)
    assert report.status is Status.SUBMITTED
    assert report.filled_quantity == 40
    assert report.remaining == 60
    assert report.avg_fill_price == Decimal("150.25")


def test_a_completed_order_resynchronised_without_progress_takes_it_from_its_executions() -> None:
    # after a reconnect ib_async rebuilds a filled order from completedOrder: status Filled, filled 0
    t = trade("Filled", filled=0, remaining=0)
    t.orderStatus.avgFillPrice = 0.0
    for i, (shares, price) in enumerate(((60, 150.0), (40, 150.5))):
        ex = Execution(execId=f"e{i}", permId=9001, orderId=5, shares=shares, price=price, side="BOT")
        t.fills.append(IBFill(t.contract, ex, CommissionReport(), T0))
    report = order_status_report(t, IID)
    assert (report.status, report.filled_quantity, report.avg_fill_price) == (Status.FILLED, 100, Decimal("150.2"))


def test_informational_10349_never_marks_a_live_order_cancelled() -> None:
    # ib_async sets Cancelled locally for any non-warning code with an order id; 10349 is informational.
    t = trade("Cancelled", ("Submitted", "", 0), ("Cancelled", "Order TIF was set to DAY based on order preset", 10349))
    assert effective_ib_status(t) == "Submitted"
    report = order_status_report(t, IID)
    assert report.status is Status.SUBMITTED
    assert report.error_code == 10349
    assert "TIF was set to DAY" in (report.reason or "")


def test_201_is_a_reject_and_202_a_cancel_ack() -> None:
    rejected = trade("Cancelled", ("PendingSubmit", "", 0), ("Cancelled", "Order rejected - reason:no funds", 201))
    report = order_status_report(rejected, IID)
    assert report.status is Status.REJECTED
    assert report.error_code == 201
    cancelled = trade("Cancelled", ("Submitted", "", 0), ("Cancelled", "Order Canceled - reason:", 202))
    assert order_status_report(cancelled, IID).status is Status.CANCELLED
    assert order_status_report(trade("Filled", ("Filled", "", 0), filled=100, remaining=0), IID).status is (
        Status.FILLED
    )


@pytest.mark.parametrize(
    ("code", "current", "expected"),
    [
        (201, Status.PENDING_SUBMIT, Status.REJECTED),
        (201, Status.SUBMITTED, Status.REJECTED),
        (202, Status.PENDING_CANCEL, Status.CANCELLED),
        (110, Status.PENDING_SUBMIT, Status.REJECTED),
        (110, Status.SUBMITTED, None),  # a refused modification: the order stays live
        (10349, Status.SUBMITTED, None),
        (399, Status.SUBMITTED, None),
        (404, Status.SUBMITTED, None),
        (10148, Status.PENDING_CANCEL, None),
        (2109, Status.SUBMITTED, None),
        (201, Status.FILLED, None),  # terminal stays terminal
    ],
)
def test_status_after_error(code: int, current: Status, expected: Status | None) -> None:
    assert status_after_error(code, current) is expected


def test_fill_report_with_and_without_commission() -> None:
    execution = Execution(execId="0001f4e8.67c5a1b2.01.01", time=T0, acctNumber="DU1000001", exchange="ISLAND",
                          side="BOT", shares=40.0, price=150.25, permId=9001, clientId=2, orderId=5, orderRef="qd-1",
                          lastLiquidity=2)  # fmt: skip
    contract = Contract(conId=265598, symbol="AAPL", secType="STK", currency="USD")
    bare = fill_report(IBFill(contract, execution, CommissionReport(), T0), IID)
    assert bare.commission is None
    assert (bare.side, bare.quantity, bare.price, bare.liquidity) == (OrderSide.BUY, 40, Decimal("150.25"),
                                                                      Liquidity.REMOVED)  # fmt: skip
    assert bare.client_order_id == ClientOrderId("qd-1")
    assert bare.broker_order_id.perm_id == 9001
    done = fill_report(IBFill(contract, execution, CommissionReport(execution.execId, 1.0, "USD"), T0), IID)
    assert done.commission is not None
    assert done.commission.amount == Decimal("1.0")
    fill = done.to_fill(ClientOrderId("qd-1"))
    assert fill.commission.amount == Decimal("1.0")


def test_foreign_order_refs_are_not_ours() -> None:
    t = trade("Submitted", ("Submitted", "", 0))
    t.order.orderRef = "manual order from TWS"
    assert order_status_report(t, IID).client_order_id is None


def test_what_if_report() -> None:
    state = OrderState(status="PreSubmitted", initMarginChange="7500.5", maintMarginChange="3750.25",
                       equityWithLoanAfter="992499.5", commission=1.0, commissionCurrency="USD")  # fmt: skip
    report = what_if_report(state)
    assert (report.init_margin_change, report.maint_margin_change) == (Decimal("7500.5"), Decimal("3750.25"))
    assert report.equity_with_loan_after == Decimal("992499.5")
    assert report.commission is not None
    assert report.commission.amount == 1
    unset = what_if_report(OrderState(initMarginChange="1.7976931348623157E308"))
    assert unset.init_margin_change == 0
    assert unset.commission is None
