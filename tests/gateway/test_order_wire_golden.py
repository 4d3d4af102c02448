"""Golden decode: every order reply is read back by ib_async's own ``Decoder`` at server version 178.

The replies go through ``ib_async.decoder.Decoder(wrapper, 178).interpret`` with the wrapper of a real
``ib_async.IB``, and the ``Trade``/``OrderStatus``/``Fill``/``Execution``/``CommissionReport``/``OrderState`` objects
must carry the values we encoded. ib_async only *logs* a layout mismatch, so an autouse fixture fails any test during
which an ``ib_async`` logger records an ERROR.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from ib_async import (
    IB,
    Bag,
    ComboLeg,
    Contract,
    DeltaNeutralContract,
    LimitOrder,
    Option,
    Order,
    SoftDollarTier,
    Stock,
    TagValue,
)
from ib_async.client import Client
from ib_async.decoder import Decoder
from ib_async.order import OrderComboLeg, PriceCondition, TimeCondition, VolumeCondition
from ib_async.util import UNSET_DOUBLE, UNSET_INTEGER

from quantdesk.errors import ValidationError
from quantdesk.gateway.order_replies import (
    commission_report,
    completed_order,
    completed_orders_end,
    exec_details,
    exec_details_end,
    open_order,
    open_order_end,
    order_status,
)
from quantdesk.gateway.order_requests import parse_place_order
from quantdesk.gateway.order_wire import (
    WireComboLeg,
    WireCondition,
    WireContract,
    WireExecution,
    WireOrder,
    WireOrderState,
)

# --------------------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def ib() -> IB:
    return IB()


@pytest.fixture
def decoder(ib: IB) -> Decoder:
    return Decoder(ib.wrapper, 178)


AAPL = WireContract(
    con_id=265598,
    symbol="AAPL",
    sec_type="STK",
    exchange="SMART",
    primary_exchange="NASDAQ",
    currency="USD",
    local_symbol="AAPL",
    trading_class="NMS",
)
PLAIN = WireOrder(
    order_id=12,
    client_id=7,
    perm_id=1_351_823_328,
    action="BUY",
    total_quantity=100.0,
    order_type="LMT",
    lmt_price=150.25,
    tif="DAY",
    account="DU1234567",
    open_close="O",
    order_ref="qd-0001",
    exempt_code=-1,
    mid_offset_at_half=0.005,
)


def trade_of(ib: IB, order: WireOrder) -> Any:
    return ib.wrapper.trades[(order.client_id, order.order_id)]


# --------------------------------------------------------------------------------------------------------------
# openOrder


def test_open_order_has_135_fields_and_decodes(ib: IB, decoder: Decoder) -> None:
    fields = open_order(AAPL, PLAIN, WireOrderState(status="Submitted"))
    assert len(fields) == 135
    assert fields[0] == "5"
    assert fields[61] == "None", "TWS writes an empty deltaNeutralOrderType as None, so the 8 fields follow"
    decoder.interpret(list(fields))
    trade = trade_of(ib, PLAIN)
    o, c = trade.order, trade.contract
    assert (o.orderId, o.clientId, o.permId) == (12, 7, 1_351_823_328)
    assert (o.action, o.totalQuantity, o.orderType, o.lmtPrice) == ("BUY", 100.0, "LMT", 150.25)
    assert (o.tif, o.account, o.openClose, o.orderRef) == ("DAY", "DU1234567", "O", "qd-0001")
    assert o.midOffsetAtHalf == 0.005, "the last field lands where the decoder reads it"
    assert o.auxPrice == 0.0, "TWS writes unset lmt/aux prices as zero"
    assert (o.trailStopPrice, o.triggerPrice) == (UNSET_DOUBLE, UNSET_DOUBLE)
    assert o.displaySize == UNSET_INTEGER
    assert (c.conId, c.symbol, c.secType, c.exchange, c.currency) == (265598, "AAPL", "STK", "SMART", "USD")
    assert (c.localSymbol, c.tradingClass, c.right) == ("AAPL", "NMS", "?")
    assert trade.orderStatus.status == "Submitted"
    assert ib.client._reqIdSeq == 13, "the client raises its next id past every order id it sees"


def test_open_order_gated_fields(ib: IB) -> None:
    assert len(open_order(AAPL, PLAIN, WireOrderState(status="Submitted"), server_version=176)) == 136
    assert len(open_order(AAPL, PLAIN, WireOrderState(status="Submitted"), server_version=169)) == 131
    fields = open_order(
        AAPL, dataclasses.replace(PLAIN, fa_profile="P"), WireOrderState(status="Submitted"), server_version=176
    )
    Decoder(ib.wrapper, 176).interpret(fields)
    assert trade_of(ib, PLAIN).order.faProfile == "P"


@pytest.mark.parametrize(
    "changes",
    [
        {"scale_price_increment": 0.0, "scale_auto_reset": True},
        {"scale_price_increment": -1.0, "scale_price_adjust_interval": 5},
        {"scale_price_increment": 0.05, "scale_price_adjust_interval": 5, "scale_random_percent": True},
        {"hedge_type": "", "hedge_param": "ignored"},
        {"hedge_type": "F", "hedge_param": "1.5"},
        {"algo_strategy": "Vwap"},
        {"algo_strategy": "", "algo_params": (("ignored", "1"),)},
        {"order_type": "PEG BENCH", "reference_contract_id": 756733, "reference_exchange_id": "ARCA"},
        {"order_type": "PEG MID", "mid_offset_at_whole": 0.02},
    ],
    ids=repr,
)
def test_conditional_sections_stay_aligned(ib: IB, decoder: Decoder, changes: dict[str, Any]) -> None:
    order = dataclasses.replace(PLAIN, **changes)
    state = WireOrderState(status="Submitted")
    decoder.interpret(open_order(AAPL, order, state))
    [completed] = asyncio.run(_completed_orders(ib, decoder, [completed_order(AAPL, order, state)]))
    for decoded in (trade_of(ib, order), completed):
        o = decoded.order
        assert o.midOffsetAtHalf == 0.005, "the last field still lands where the decoder reads it"
        assert (o.orderType, o.hedgeType, o.algoStrategy) == (order.order_type, order.hedge_type, order.algo_strategy)
        increment = order.scale_price_increment
        if increment is not None and increment > 0:
            assert (o.scalePriceAdjustInterval, o.scaleRandomPercent) == (5, True)
        else:
            assert (o.scalePriceAdjustInterval, o.scaleAutoReset) == (UNSET_INTEGER, False)
        assert o.hedgeParam == (order.hedge_param if order.hedge_type else "")
        if order.order_type == "PEG BENCH":
            assert (o.referenceContractId, o.referenceExchangeId) == (756733, "ARCA")


def test_what_if_carries_numeric_margins(ib: IB, decoder: Decoder) -> None:
    async def run() -> Any:
        order = dataclasses.replace(PLAIN, what_if=True)
        state = WireOrderState(
            status="PreSubmitted",
            init_margin_before=1000.0,
            maint_margin_before=900.0,
            equity_with_loan_before=100_000.0,
            init_margin_change=3756.5,
            maint_margin_change=3415.0,
            equity_with_loan_change=-1.25,
            init_margin_after=4756.5,
            maint_margin_after=4315.0,
            equity_with_loan_after=99_998.75,
            commission=1.0,
            min_commission=1.0,
            max_commission=1.5,
            commission_currency="USD",
            warning_text="",
        )
        future = ib.wrapper.startReq(order.order_id)
        decoder.interpret(open_order(AAPL, order, state))
        assert future.done(), "ib_async completes whatIf only when initMarginChange is numeric"
        return future.result()

    state = asyncio.run(run())
    assert float(state.initMarginChange) == 3756.5
    assert float(state.equityWithLoanChange) == -1.25
    assert (float(state.initMarginBefore), float(state.maintMarginAfter)) == (1000.0, 4315.0)
    assert (state.commission, state.minCommission, state.maxCommission) == (1.0, 1.0, 1.5)
    assert (state.commissionCurrency, state.status) == ("USD", "PreSubmitted")


def test_what_if_without_margins_does_not_complete(ib: IB, decoder: Decoder) -> None:
    async def run() -> bool:
        future = ib.wrapper.startReq(PLAIN.order_id)
        decoder.interpret(open_order(AAPL, dataclasses.replace(PLAIN, what_if=True), WireOrderState(status="")))
        return future.done()

    assert asyncio.run(run()) is False


# --------------------------------------------------------------------------------------------------------------
# Full circle: ib_async Order → placeOrder fields → parse → open_order → Decoder → ib_async Order


def _rich() -> tuple[Contract, Order]:
    contract = Option("SPY", "20250321", 500.0, "C", "SMART", "100", "USD", conId=123456, localSymbol="SPY C500")
    contract.deltaNeutralContract = DeltaNeutralContract(conId=756733, delta=0.5, price=501.0)
    order = Order(
        action="BUY",
        totalQuantity=3,
        orderType="VOL",
        volatility=0.3,
        volatilityType=2,
        deltaNeutralOrderType="LMT",
        deltaNeutralAuxPrice=1.5,
        deltaNeutralConId=756733,
        deltaNeutralSettlingFirm="SF",
        deltaNeutralClearingAccount="CA",
        deltaNeutralClearingIntent="IB",
        deltaNeutralOpenClose="O",
        deltaNeutralShortSale=True,
        deltaNeutralShortSaleSlot=1,
        deltaNeutralDesignatedLocation="DL",
        continuousUpdate=True,
        referencePriceType=2,
        scaleInitLevelSize=1,
        scaleSubsLevelSize=1,
        scalePriceIncrement=0.05,
        scalePriceAdjustValue=0.01,
        scalePriceAdjustInterval=30,
        scaleProfitOffset=0.2,
        scaleAutoReset=True,
        scaleInitPosition=0,
        scaleInitFillQty=1,
        scaleRandomPercent=True,
        hedgeType="D",
        hedgeParam="0.5",
        algoStrategy="Adaptive",
        algoParams=[TagValue("adaptivePriority", "Urgent")],
        conditions=[
            PriceCondition(price=499.5, conId=756733, exch="SMART", triggerMethod=2),
            TimeCondition(conjunction="o", isMore=False, time="20250102 15:00:00 UTC"),
            VolumeCondition(volume=5000, conId=756733, exch="SMART"),
        ],
        conditionsIgnoreRth=True,
        conditionsCancelOrder=True,
        ocaGroup="oca",
        ocaType=2,
        orderRef="qd-rich",
        outsideRth=True,
        hidden=True,
        allOrNone=True,
        discretionaryAmt=0.1,
        goodTillDate="20250131 16:00:00 UTC",
        tif="GTD",
        parentId=5,
        trailStopPrice=2.5,
        trailingPercent=1.5,
        softDollarTier=SoftDollarTier("t", "v"),
        cashQty=250.0,
        dontUseAutoPriceForHedge=True,
        isOmsContainer=True,
        discretionaryUpToLimitPrice=True,
        usePriceMgmtAlgo=True,
        duration=60,
        postToAts=1,
        autoCancelParent=True,
        adjustedOrderType="STP",
        triggerPrice=2.0,
        lmtPriceOffset=0.05,
        adjustedStopPrice=1.9,
        adjustedStopLimitPrice=1.85,
        adjustedTrailingAmount=0.1,
        adjustableTrailingUnit=1,
        solicited=True,
        randomizeSize=True,
        randomizePrice=True,
        optOutSmartRouting=True,
        clearingAccount="CLR",
        clearingIntent="Away",
        notHeld=True,
        modelCode="M1",
    )
    return contract, order


def _peg_bench() -> tuple[Contract, Order]:
    order = Order(
        action="SELL",
        totalQuantity=10,
        orderType="PEG BENCH",
        referenceContractId=756733,
        isPeggedChangeAmountDecrease=True,
        peggedChangeAmount=0.5,
        referenceChangeAmount=0.25,
        referenceExchangeId="ARCA",
        transmit=False,
    )
    return Stock("AAPL", "SMART", "USD", conId=265598), order


def _peg_best() -> tuple[Contract, Order]:
    order = Order(
        action="BUY",
        totalQuantity=100,
        orderType="PEG BEST",
        minTradeQty=10,
        minCompeteSize=100,
        competeAgainstBestOffset=math.inf,
        midOffsetAtWhole=0.01,
        midOffsetAtHalf=0.005,
    )
    return Stock("AAPL", "IBKRATS", "USD", conId=265598), order


def _bag() -> tuple[Contract, Order]:
    bag = Bag(symbol="SPY", exchange="SMART", currency="USD", conId=28812380)
    bag.comboLegs = [
        ComboLeg(conId=1001, ratio=1, action="BUY", exchange="SMART"),
        ComboLeg(conId=1002, ratio=2, action="SELL", exchange="SMART", openClose=1, shortSaleSlot=2, exemptCode=4),
    ]
    order = LimitOrder("BUY", 5, 1.25, orderRef="qd-bag")
    order.orderComboLegs = [OrderComboLeg(price=1.0), OrderComboLeg(price=0.5)]
    order.smartComboRoutingParams = [TagValue("NonGuaranteed", "1")]
    return bag, order


NOT_IN_OPEN_ORDER = {
    "transmit",
    "overridePercentageConstraints",
    "scaleTable",
    "activeStartTime",
    "activeStopTime",
    "algoId",
    "orderMiscOptions",
    "extOperator",
    "mifid2DecisionMaker",
    "mifid2DecisionAlgo",
    "mifid2ExecutionTrader",
    "mifid2ExecutionAlgo",
    "advancedErrorOverride",
    "manualOrderTime",
    "basisPoints",
    "basisPointsType",
    "autoCancelDate",
    "filledQuantity",
    "refFuturesConId",
    "shareholder",
    "imbalanceOnly",
    "routeMarketableToBbo",
    "parentPermId",
}
ZERO_WHEN_UNSET = {"totalQuantity", "lmtPrice", "auxPrice", "discretionaryAmt", "cashQty"}
ZERO_WHEN_UNSET |= {"volatilityType", "referencePriceType"}
NONE_WHEN_EMPTY = {"deltaNeutralOrderType", "adjustedOrderType"}


@pytest.mark.parametrize("build", [_rich, _peg_bench, _peg_best, _bag], ids=["rich", "PEG BENCH", "PEG BEST", "BAG"])
def test_full_circle_through_the_real_client(ib: IB, decoder: Decoder, build: Any) -> None:
    contract, order = build()
    sent: list[str] = []
    ib.client.sendMsg = sent.append
    ib.client.connState, ib.client._serverVersion = Client.CONNECTED, 178
    try:
        ib.client.placeOrder(31, contract, order)
    finally:
        ib.client.connState = Client.DISCONNECTED
    wc, wo = parse_place_order(sent[0].split("\0")[1:-1])
    wo = dataclasses.replace(wo, client_id=3, perm_id=99)

    decoder.interpret(open_order(wc, wo, WireOrderState(status="PreSubmitted")))
    got = ib.wrapper.trades[(3, 31)]
    for f in dataclasses.fields(Order):
        name, want = f.name, getattr(order, f.name)
        if name in NOT_IN_OPEN_ORDER or name in ("orderId", "clientId", "permId", "faProfile"):
            continue
        if name in ZERO_WHEN_UNSET and want in (None, UNSET_DOUBLE, UNSET_INTEGER):
            want = 0
        elif name in NONE_WHEN_EMPTY and not want:
            want = "None"
        elif name == "volatility" and want is None:
            want = UNSET_DOUBLE
        assert getattr(got.order, name) == want, name
    assert (got.order.orderId, got.order.clientId, got.order.permId) == (31, 3, 99)
    for name in ("conId", "symbol", "secType", "lastTradeDateOrContractMonth", "strike", "multiplier", "exchange"):
        assert getattr(got.contract, name) == getattr(contract, name), name
    for name in ("currency", "localSymbol", "tradingClass", "comboLegs", "deltaNeutralContract"):
        assert getattr(got.contract, name) == getattr(contract, name), name
    assert got.contract.right == (contract.right or "?")

    done = completed_order(
        wc, dataclasses.replace(wo, filled_quantity=wo.total_quantity), WireOrderState(status="Filled")
    )
    completed = asyncio.run(_completed_orders(ib, decoder, [done]))
    assert completed[0].order.conditions == order.conditions
    assert completed[0].order.algoParams == (order.algoParams if order.algoStrategy else [])
    assert completed[0].contract.comboLegs == contract.comboLegs
    assert completed[0].order.filledQuantity == order.totalQuantity
    assert completed[0].order.midOffsetAtHalf == order.midOffsetAtHalf


# --------------------------------------------------------------------------------------------------------------
# completedOrder


async def _completed_orders(ib: IB, decoder: Decoder, messages: list[list[str]]) -> Any:
    future = ib.wrapper.startReq("completedOrders")
    for fields in messages:
        decoder.interpret(list(fields))
    decoder.interpret(completed_orders_end())
    return await asyncio.wait_for(future, 1)


def test_completed_order_has_96_fields_and_decodes(ib: IB, decoder: Decoder) -> None:
    order = dataclasses.replace(
        PLAIN,
        filled_quantity=100.0,
        parent_perm_id=77,
        auto_cancel_parent=True,
        route_marketable_to_bbo=True,
        shareholder="SH",
    )
    state = WireOrderState(status="Filled", completed_time="20250102 15:04:05 UTC", completed_status="Filled Size: 100")
    fields = completed_order(AAPL, order, state)
    assert len(fields) == 96
    assert completed_orders_end() == ["102"]
    [trade] = asyncio.run(_completed_orders(ib, decoder, [fields]))
    assert (trade.order.permId, trade.order.orderRef, trade.order.action) == (1_351_823_328, "qd-0001", "BUY")
    assert (trade.order.totalQuantity, trade.order.lmtPrice, trade.order.filledQuantity) == (100.0, 150.25, 100.0)
    assert (trade.order.parentPermId, trade.order.shareholder, trade.order.midOffsetAtHalf) == (77, "SH", 0.005)
    assert trade.order.autoCancelParent is True
    assert trade.order.routeMarketableToBbo is True
    assert trade.orderStatus.status == "Filled"
    assert (trade.contract.conId, trade.contract.symbol) == (265598, "AAPL")
    assert ib.wrapper.trades[1_351_823_328] is trade, "a completed order unknown to the client is keyed by permId"


def test_completed_order_with_delta_neutral_type_has_the_4_field_block(ib: IB, decoder: Decoder) -> None:
    order = dataclasses.replace(
        PLAIN, delta_neutral_order_type="LMT", delta_neutral_con_id=5, delta_neutral_short_sale=True
    )
    fields = completed_order(AAPL, order, WireOrderState(status="Cancelled"))
    assert len(fields) == 100
    [trade] = asyncio.run(_completed_orders(ib, decoder, [fields]))
    assert (trade.order.deltaNeutralOrderType, trade.order.deltaNeutralConId) == ("LMT", 5)
    assert trade.order.deltaNeutralShortSale is True
    assert trade.order.midOffsetAtHalf == 0.005


# --------------------------------------------------------------------------------------------------------------
# orderStatus, execDetails, commissionReport and the end markers

EXECUTION = WireExecution(
    exec_id="0000e215.656d0000.01.01",
    time=datetime(2025, 1, 2, 15, 4, 5, tzinfo=UTC),
    acct_number="DU1234567",
    exchange="ISLAND",
    side="BOT",
    shares=60.0,
    price=150.2,
    perm_id=1_351_823_328,
    client_id=7,
    liquidation=0,
    cum_qty=60.0,
    avg_price=150.2,
    order_ref="qd-0001",
    last_liquidity=2,
    pending_price_revision=True,
)


def test_order_status_has_12_fields_and_updates_the_trade(ib: IB, decoder: Decoder) -> None:
    decoder.interpret(open_order(AAPL, PLAIN, WireOrderState(status="PreSubmitted")))
    fields = order_status(12, "Submitted", 60.0, 40.0, 150.2, 1_351_823_328, 0, 150.2, 7, "", 0.0)
    assert len(fields) == 12
    assert fields[:4] == ["3", "12", "Submitted", "60"]
    decoder.interpret(fields)
    status = trade_of(ib, PLAIN).orderStatus
    assert (status.orderId, status.status, status.filled, status.remaining) == (12, "Submitted", 60.0, 40.0)
    assert (status.avgFillPrice, status.permId, status.parentId, status.lastFillPrice) == (
        150.2,
        1_351_823_328,
        0,
        150.2,
    )
    assert (status.clientId, status.whyHeld, status.mktCapPrice) == (7, "", 0.0)
    decoder.interpret(order_status(12, "Filled", 100, 0, 150.25, 1_351_823_328, 0, 150.3, 7, "locate", 151.5))
    status = trade_of(ib, PLAIN).orderStatus
    assert (status.status, status.filled, status.remaining, status.whyHeld, status.mktCapPrice) == (
        "Filled",
        100.0,
        0.0,
        "locate",
        151.5,
    )


def test_live_fill_and_commission_report(ib: IB, decoder: Decoder) -> None:
    decoder.interpret(open_order(AAPL, PLAIN, WireOrderState(status="Submitted")))
    fields = exec_details(-1, 12, AAPL, EXECUTION)
    assert len(fields) == 32
    assert fields[15] == "20250102 15:04:05 UTC"
    decoder.interpret(fields)
    [fill] = trade_of(ib, PLAIN).fills
    ex, c = fill.execution, fill.contract
    assert (ex.execId, ex.orderId, ex.permId, ex.clientId) == (EXECUTION.exec_id, 12, 1_351_823_328, 7)
    assert ex.time == datetime(2025, 1, 2, 15, 4, 5, tzinfo=UTC)
    assert ex.time.utcoffset() is not None
    assert (ex.acctNumber, ex.exchange, ex.side, ex.shares, ex.price) == ("DU1234567", "ISLAND", "BOT", 60.0, 150.2)
    assert (ex.cumQty, ex.avgPrice, ex.orderRef, ex.lastLiquidity) == (60.0, 150.2, "qd-0001", 2)
    assert (ex.liquidation, ex.evMultiplier, ex.pendingPriceRevision) == (0, 0.0, True)
    assert (c.conId, c.symbol, c.exchange) == (265598, "AAPL", "SMART")

    fields = commission_report(EXECUTION.exec_id, 1.02, "USD")
    assert fields == [
        "59",
        "1",
        EXECUTION.exec_id,
        "1.02",
        "USD",
        "1.7976931348623157E308",
        "1.7976931348623157E308",
        "",
    ]
    decoder.interpret(fields)
    report = fill.commissionReport
    assert (report.execId, report.commission, report.currency) == (EXECUTION.exec_id, 1.02, "USD")
    assert (report.realizedPNL, report.yield_, report.yieldRedemptionDate) == (0.0, 0.0, 0)

    decoder.interpret(commission_report(EXECUTION.exec_id, 2.5, "USD", -12.75, 0.04, 20301231))
    assert (report.commission, report.realizedPNL, report.yield_, report.yieldRedemptionDate) == (
        2.5,
        -12.75,
        0.04,
        20301231,
    )


def test_exec_details_answers_req_executions(ib: IB, decoder: Decoder) -> None:
    option = WireContract(
        con_id=123,
        symbol="SPY",
        sec_type="OPT",
        last_trade_date_or_contract_month="20250321",
        strike=500.5,
        right="C",
        multiplier="100",
        exchange="CBOE",
        currency="USD",
        local_symbol="SPY   250321C00500500",
        trading_class="SPY",
    )
    sold = dataclasses.replace(EXECUTION, exec_id="e2", side="SLD", ev_multiplier=0.5, ev_rule="aussie", order_ref="")

    async def run() -> Any:
        future = ib.wrapper.startReq(9)
        decoder.interpret(exec_details(9, 12, AAPL, EXECUTION))
        decoder.interpret(exec_details(9, 0, option, sold))
        end = exec_details_end(9)
        assert end == ["55", "1", "9"]
        decoder.interpret(end)
        return await asyncio.wait_for(future, 1)

    first, second = asyncio.run(run())
    assert first.execution.execId == EXECUTION.exec_id
    assert (second.execution.side, second.execution.evMultiplier, second.execution.evRule) == ("SLD", 0.5, "aussie")
    assert (second.contract.strike, second.contract.right, second.contract.multiplier) == (500.5, "C", "100")
    assert second.contract.lastTradeDateOrContractMonth == "20250321"
    assert second.time == datetime(2025, 1, 2, 15, 4, 5, tzinfo=UTC), "a requested fill keeps its own time"
    assert len(exec_details(9, 12, AAPL, EXECUTION, server_version=177)) == 31


def test_open_order_end_completes_req_open_orders(ib: IB, decoder: Decoder) -> None:
    async def run() -> Any:
        future = ib.wrapper.startReq("openOrders")
        decoder.interpret(open_order(AAPL, PLAIN, WireOrderState(status="Submitted")))
        assert open_order_end() == ["53", "1"]
        decoder.interpret(open_order_end())
        return await asyncio.wait_for(future, 1)

    [trade] = asyncio.run(run())
    assert trade.order.orderRef == "qd-0001"


# --------------------------------------------------------------------------------------------------------------
# Guards: what must not be sent, and proof that the error trap catches a broken layout


def test_encoders_refuse_what_the_client_cannot_read() -> None:
    with pytest.raises(ValidationError, match="BOT or SLD"):
        exec_details(-1, 1, AAPL, dataclasses.replace(EXECUTION, side="BUY"))
    with pytest.raises(ValidationError, match="timezone"):
        exec_details(-1, 1, AAPL, dataclasses.replace(EXECUTION, time=datetime(2025, 1, 2, 15, 4, 5)))
    with pytest.raises(ValidationError, match="NaN"):
        order_status(1, "Submitted", math.nan, 0, 0, 1, 0, 0, 1)
    with pytest.raises(ValidationError, match="NUL"):
        open_order(AAPL, dataclasses.replace(PLAIN, order_ref="a\0b"), WireOrderState(status="Submitted"))
    with pytest.raises(ValidationError, match="condition"):
        open_order(
            AAPL, dataclasses.replace(PLAIN, conditions=(WireCondition(cond_type=2),)), WireOrderState(status="")
        )


def test_no_field_is_written_as_python_text() -> None:
    rich = dataclasses.replace(
        PLAIN,
        conditions=(WireCondition(cond_type=1, price=1.5, con_id=1, exch="SMART", trigger_method=0),),
        compete_against_best_offset=math.inf,
    )
    bag = dataclasses.replace(
        AAPL, sec_type="BAG", combo_legs=(WireComboLeg(con_id=1, ratio=1, action="BUY", exchange="SMART"),)
    )
    for fields in (
        open_order(bag, rich, WireOrderState(status="Submitted")),
        completed_order(bag, rich, WireOrderState(status="Filled")),
        exec_details(-1, 1, AAPL, EXECUTION),
    ):
        assert not {"True", "False", "nan", "inf", "Infinite"} & set(fields)
        assert all(isinstance(f, str) for f in fields)
        assert [i for i, f in enumerate(fields) if f == "None"] == ([61, 128] if fields[0] == "5" else [])
    assert "Infinity" in open_order(AAPL, rich, WireOrderState(status="Submitted"))


def test_the_error_trap_sees_a_broken_layout(ib_errors: Any, decoder: Decoder) -> None:
    fields = open_order(AAPL, PLAIN, WireOrderState(status="Submitted"))
    decoder.interpret(fields[:100])
    assert any(r.name == "ib_async.Decoder" for r in ib_errors.records)
    ib_errors.records.clear()
