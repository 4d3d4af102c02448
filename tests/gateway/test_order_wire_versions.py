"""Golden decode at both ends of what the gateway speaks: every order and execution message at 176 and at 178.

Each message is encoded for one server version and read back by ib_async's own ``Decoder`` configured at that
version. Between the two, IB's ``MIN_SERVER_VER_FA_PROFILE_DESUPPORT`` (177) drops ``faProfile`` from
``openOrder`` and ``completedOrder`` and ``MIN_SERVER_VER_PENDING_PRICE_REVISION`` (178) adds
``pendingPriceRevision`` to ``execDetails``; the field counts pin those layouts, the decoded values prove the
fields after them still land where the decoder reads them. ``test_gateway_version_176.py`` checks that a session
gets the layout of the version it agreed.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from ib_async import IB
from ib_async.decoder import Decoder

from quantdesk.gateway.order_replies import (
    commission_report,
    completed_order,
    completed_orders_end,
    exec_details,
    open_order,
    order_status,
)
from quantdesk.gateway.order_wire import WireContract, WireExecution, WireOrder, WireOrderState

VERSIONS = (176, 178)
# fields of a plain order's message: (openOrder, completedOrder, execDetails) per version
LAYOUT = {176: (136, 97, 31), 178: (135, 96, 32)}

AAPL = WireContract(
    con_id=265598, symbol="AAPL", sec_type="STK", exchange="SMART", primary_exchange="NASDAQ", currency="USD",
    local_symbol="AAPL", trading_class="NMS",
)  # fmt: skip
ORDER = WireOrder(
    order_id=21, client_id=3, perm_id=900_000_021, action="SELL", total_quantity=40.0, order_type="LMT",
    lmt_price=187.5, tif="GTC", account="DU1000001", open_close="C", order_ref="qd-v", model_code="M1",
    good_till_date="20250301 16:00:00 US/Eastern", exempt_code=-1, fa_profile="", mid_offset_at_half=0.0125,
)  # fmt: skip
EXECUTION = WireExecution(
    exec_id="0000e215.0001.01.01", time=datetime(2025, 1, 2, 15, 4, 5, tzinfo=UTC), acct_number="DU1000001",
    exchange="ISLAND", side="SLD", shares=40.0, price=187.55, perm_id=900_000_021, client_id=3, cum_qty=40.0,
    avg_price=187.55, order_ref="qd-v", model_code="M1", last_liquidity=2, pending_price_revision=True,
)  # fmt: skip
WHAT_IF = WireOrderState(
    status="PreSubmitted", init_margin_before=1000.0, maint_margin_before=900.0, equity_with_loan_before=50_000.0,
    init_margin_change=1875.25, maint_margin_change=1700.0, equity_with_loan_change=-1.0, init_margin_after=2875.25,
    maint_margin_after=2600.0, equity_with_loan_after=49_999.0, commission=1.0, min_commission=1.0,
    max_commission=1.2, commission_currency="USD", warning_text="margin is estimated",
)  # fmt: skip


def _decoder(version: int) -> tuple[IB, Decoder]:
    ib = IB()
    return ib, Decoder(ib.wrapper, version)


def _trade(ib: IB, order: WireOrder = ORDER) -> Any:
    return ib.wrapper.trades[(order.client_id, order.order_id)]


def _assert_terms(o: Any) -> None:
    """The order's terms, from the head of the message to its last field."""
    assert o.permId == 900_000_021
    assert (o.action, o.totalQuantity, o.orderType, o.lmtPrice, o.tif) == ("SELL", 40.0, "LMT", 187.5, "GTC")
    assert (o.account, o.openClose, o.orderRef) == ("DU1000001", "C", "qd-v")
    assert (o.modelCode, o.goodTillDate) == ("M1", "20250301 16:00:00 US/Eastern"), "the fields after faProfile"
    assert o.midOffsetAtHalf == 0.0125, "the last field lands where the decoder reads it"


@pytest.mark.parametrize("version", VERSIONS)
def test_open_order_at_each_version(version: int) -> None:
    ib, decoder = _decoder(version)
    fields = open_order(AAPL, ORDER, WireOrderState(status="Submitted"), server_version=version)
    assert len(fields) == LAYOUT[version][0]
    decoder.interpret(list(fields))
    trade = _trade(ib)
    _assert_terms(trade.order)
    assert (trade.order.orderId, trade.order.clientId) == (21, 3)
    assert trade.orderStatus.status == "Submitted"
    assert (trade.contract.conId, trade.contract.tradingClass) == (265598, "NMS")


@pytest.mark.parametrize("version", VERSIONS)
def test_what_if_at_each_version(version: int) -> None:
    ib, decoder = _decoder(version)
    order = dataclasses.replace(ORDER, what_if=True)

    async def run() -> Any:
        future = ib.wrapper.startReq(order.order_id)
        decoder.interpret(open_order(AAPL, order, WHAT_IF, server_version=version))
        assert future.done(), "the margins reached the decoder as numbers"
        return future.result()

    state = asyncio.run(run())
    assert (float(state.initMarginChange), float(state.equityWithLoanAfter)) == (1875.25, 49_999.0)
    assert (float(state.initMarginBefore), float(state.maintMarginAfter)) == (1000.0, 2600.0)
    assert (state.commission, state.maxCommission, state.commissionCurrency) == (1.0, 1.2, "USD")
    assert (state.warningText, state.status) == ("margin is estimated", "PreSubmitted")


@pytest.mark.parametrize("version", VERSIONS)
def test_order_status_at_each_version(version: int) -> None:
    ib, decoder = _decoder(version)
    decoder.interpret(open_order(AAPL, ORDER, WireOrderState(status="Submitted"), server_version=version))
    fields = order_status(21, "Filled", 40.0, 0.0, 187.55, 900_000_021, 0, 187.55, 3, "", 0.0)
    assert len(fields) == 12, "orderStatus has one layout from 157 to 178"
    decoder.interpret(fields)
    status = _trade(ib).orderStatus
    assert (status.status, status.filled, status.remaining, status.avgFillPrice) == ("Filled", 40.0, 0.0, 187.55)
    assert (status.permId, status.lastFillPrice, status.clientId) == (900_000_021, 187.55, 3)


@pytest.mark.parametrize("version", VERSIONS)
def test_completed_order_at_each_version(version: int) -> None:
    ib, decoder = _decoder(version)
    order = dataclasses.replace(ORDER, filled_quantity=40.0, parent_perm_id=7)
    state = WireOrderState(status="Filled", completed_time="20250102 15:04:05 UTC", completed_status="Filled")
    fields = completed_order(AAPL, order, state, server_version=version)
    assert len(fields) == LAYOUT[version][1]

    async def run() -> Any:
        future = ib.wrapper.startReq("completedOrders")
        decoder.interpret(list(fields))
        decoder.interpret(completed_orders_end())
        return await asyncio.wait_for(future, 1)

    [trade] = asyncio.run(run())
    _assert_terms(trade.order)
    assert (trade.order.filledQuantity, trade.order.parentPermId) == (40.0, 7)
    assert (trade.orderStatus.status, trade.contract.symbol) == ("Filled", "AAPL")


@pytest.mark.parametrize("version", VERSIONS)
def test_exec_details_and_commission_report_at_each_version(version: int) -> None:
    ib, decoder = _decoder(version)
    decoder.interpret(open_order(AAPL, ORDER, WireOrderState(status="Submitted"), server_version=version))
    fields = exec_details(-1, 21, AAPL, EXECUTION, server_version=version)
    assert len(fields) == LAYOUT[version][2]
    assert fields[-1] == ("1" if version >= 178 else "2"), "the last field is the revision flag or lastLiquidity"
    decoder.interpret(fields)
    [fill] = _trade(ib).fills
    ex = fill.execution
    assert (ex.execId, ex.orderId, ex.permId, ex.clientId, ex.side) == (EXECUTION.exec_id, 21, 900_000_021, 3, "SLD")
    assert (ex.shares, ex.price, ex.cumQty, ex.avgPrice) == (40.0, 187.55, 40.0, 187.55)
    assert (ex.orderRef, ex.modelCode, ex.lastLiquidity) == ("qd-v", "M1", 2)
    assert ex.pendingPriceRevision is (version >= 178)
    assert ex.time == datetime(2025, 1, 2, 15, 4, 5, tzinfo=UTC)

    report_fields = commission_report(EXECUTION.exec_id, 1.05, "USD", 12.5)
    assert len(report_fields) == 8, "commissionReport has one layout from 157 to 178"
    decoder.interpret(report_fields)
    report = fill.commissionReport
    assert (report.execId, report.commission, report.currency, report.realizedPNL) == (
        EXECUTION.exec_id,
        1.05,
        "USD",
        12.5,
    )


def test_the_two_layouts_differ_only_where_ib_says() -> None:
    old = open_order(AAPL, dataclasses.replace(ORDER, fa_profile="P"), WHAT_IF, server_version=176)
    new = open_order(AAPL, ORDER, WHAT_IF, server_version=178)
    at = old.index("P")
    assert old[:at] + old[at + 1 :] == new, "176 = 178 plus faProfile after faPercentage"
    assert (
        exec_details(-1, 21, AAPL, EXECUTION, server_version=176)
        == exec_details(-1, 21, AAPL, EXECUTION, server_version=178)[:-1]
    ), "178 appends pendingPriceRevision"
