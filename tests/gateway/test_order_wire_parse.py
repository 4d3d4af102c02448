"""placeOrder and the other order requests, parsed from the exact fields the unmodified ib_async client sends.

Each case builds ib_async ``Contract``/``Order`` objects, lets ``ib_async.client.Client.placeOrder`` serialise them
(its ``sendMsg`` is swapped for a capture, so the real field formatting of ``Client.send`` runs), parses the fields
with ``parse_place_order`` and checks every ib_async order and contract attribute against the parsed dataclasses.
Which attributes are on the wire, and when, is written down here independently of the parser's own tables.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ib_async import (
    IB,
    Bag,
    ComboLeg,
    Contract,
    DeltaNeutralContract,
    ExecutionFilter,
    Future,
    LimitOrder,
    MarketOrder,
    Option,
    Order,
    SoftDollarTier,
    Stock,
    StopLimitOrder,
    StopOrder,
    TagValue,
)
from ib_async.client import Client
from ib_async.order import (
    ExecutionCondition,
    MarginCondition,
    OrderComboLeg,
    PercentChangeCondition,
    PriceCondition,
    TimeCondition,
    VolumeCondition,
)
from ib_async.util import UNSET_DOUBLE, UNSET_INTEGER

from quantdesk.errors import ValidationError
from quantdesk.gateway.order_requests import (
    CancelOrderRequest,
    ExecutionFilterRequest,
    parse_cancel_order,
    parse_place_order,
    parse_req_all_open_orders,
    parse_req_auto_open_orders,
    parse_req_completed_orders,
    parse_req_executions,
    parse_req_global_cancel,
    parse_req_ids,
    parse_req_open_orders,
)
from quantdesk.gateway.order_wire import MalformedRequest, WireContract, WireOrder

# --------------------------------------------------------------------------------------------------------------
# Capturing what the real client sends


class Capture:
    """An ib_async client that is 'connected' at a chosen server version and records each message's fields."""

    def __init__(self) -> None:
        self.ib = IB()
        self.client: Client = self.ib.client
        self.messages: list[str] = []
        self.client.sendMsg = self.messages.append

    def __enter__(self) -> Capture:
        self.client.connState = Client.CONNECTED
        return self

    def __exit__(self, *_exc: object) -> None:
        self.client.connState = Client.DISCONNECTED

    def fields(self, send: Callable[[Client], None], server_version: int = 178) -> list[str]:
        """Run ``send`` against the client and return the fields of the one message it wrote."""
        self.client._serverVersion = server_version
        self.messages.clear()
        send(self.client)
        assert len(self.messages) == 1
        fields = self.messages[0].split("\0")
        assert fields.pop() == "", "every message ends with a NUL"
        return fields


@pytest.fixture
def capture() -> Iterator[Capture]:
    with Capture() as cap:
        yield cap


def place(cap: Capture, order_id: int, contract: Contract, order: Order, server_version: int = 178) -> list[str]:
    fields = cap.fields(lambda c: c.placeOrder(order_id, contract, order), server_version)
    assert fields[0] == "3"
    return fields[1:]


# --------------------------------------------------------------------------------------------------------------
# What is on the wire, written down independently of the parser


def snake(name: str) -> str:
    return "rule80a" if name == "rule80A" else re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


NEVER_SENT = {
    "orderId",  # checked on its own
    "clientId",
    "permId",
    "basisPoints",
    "basisPointsType",
    "autoCancelDate",
    "filledQuantity",
    "refFuturesConId",
    "shareholder",
    "imbalanceOnly",
    "routeMarketableToBbo",
    "parentPermId",
    "faProfile",  # gone from placeOrder at v177
}
COMPOUND = {"softDollarTier", "conditions", "algoParams", "smartComboRoutingParams", "orderComboLegs"}
COMPOUND |= {"orderMiscOptions"}

DELTA_NEUTRAL = [
    "deltaNeutralConId",
    "deltaNeutralSettlingFirm",
    "deltaNeutralClearingAccount",
    "deltaNeutralClearingIntent",
    "deltaNeutralOpenClose",
    "deltaNeutralShortSale",
    "deltaNeutralShortSaleSlot",
    "deltaNeutralDesignatedLocation",
]
SCALE = [
    "scalePriceAdjustValue",
    "scalePriceAdjustInterval",
    "scaleProfitOffset",
    "scaleAutoReset",
    "scaleInitPosition",
    "scaleInitFillQty",
    "scaleRandomPercent",
]
PEG_BENCH = [
    "referenceContractId",
    "isPeggedChangeAmountDecrease",
    "peggedChangeAmount",
    "referenceChangeAmount",
    "referenceExchangeId",
]


def _peg_best(o: Order) -> bool:
    return o.orderType in ("PEG BEST", "PEGBEST")


def _mid_offsets(o: Order) -> bool:
    return o.orderType in ("PEG MID", "PEGMID") or (_peg_best(o) and o.competeAgainstBestOffset == math.inf)


OnWire = Callable[[Contract, Order], bool]
CONDITIONAL: dict[str, OnWire] = {
    **dict.fromkeys(DELTA_NEUTRAL, lambda c, o: bool(o.deltaNeutralOrderType)),
    **dict.fromkeys(SCALE, lambda c, o: 0 < o.scalePriceIncrement < UNSET_DOUBLE),
    **dict.fromkeys(PEG_BENCH, lambda c, o: o.orderType in ("PEG BENCH", "PEGBENCH")),
    "hedgeParam": lambda c, o: bool(o.hedgeType),
    "conditionsIgnoreRth": lambda c, o: bool(o.conditions),
    "conditionsCancelOrder": lambda c, o: bool(o.conditions),
    "minTradeQty": lambda c, o: c.exchange == "IBKRATS",
    "minCompeteSize": lambda c, o: _peg_best(o),
    "competeAgainstBestOffset": lambda c, o: _peg_best(o),
    "midOffsetAtWhole": lambda c, o: _mid_offsets(o),
    "midOffsetAtHalf": lambda c, o: _mid_offsets(o),
}
WIRE_ORDER_DEFAULTS = {f.name: f.default for f in dataclasses.fields(WireOrder)}


def unset_to_none(value: Any) -> Any:
    if value is None or (isinstance(value, int | float) and value in (UNSET_INTEGER, UNSET_DOUBLE)):
        return None
    return value


def assert_same_order(order_id: int, contract: Contract, order: Order, parsed: tuple[WireContract, WireOrder]) -> None:
    """Every ib_async order and contract attribute placeOrder carries comes back, and the absent ones stay unset."""
    wc, wo = parsed
    assert wo.order_id == order_id
    for f in dataclasses.fields(Order):
        name = f.name
        if name in NEVER_SENT or name in COMPOUND:
            continue
        got = getattr(wo, snake(name))
        on_wire = CONDITIONAL.get(name, lambda c, o: True)(contract, order)
        if not on_wire:
            assert got == WIRE_ORDER_DEFAULTS[snake(name)], name
            continue
        want = unset_to_none(getattr(order, name))
        if isinstance(f.default, bool):
            assert got is bool(want), name
        elif want is None:
            assert got is None, name
        else:
            assert got == want, name
            assert not isinstance(got, str) or isinstance(want, str), name

    assert wo.soft_dollar_tier_name == order.softDollarTier.name
    assert wo.soft_dollar_tier_val == order.softDollarTier.val
    assert wo.order_misc_options == tuple((tv.tag, tv.value) for tv in order.orderMiscOptions)
    algo = order.algoParams if order.algoStrategy else []
    assert wo.algo_params == tuple((tv.tag, tv.value) for tv in algo)
    is_bag = contract.secType == "BAG"
    smart = order.smartComboRoutingParams if is_bag else []
    assert wo.smart_combo_routing_params == tuple((tv.tag, tv.value) for tv in smart)
    legs = order.orderComboLegs if is_bag else []
    assert wo.order_combo_legs == tuple(unset_to_none(leg.price) for leg in legs)
    assert len(wo.conditions) == len(order.conditions)
    for got_cond, want_cond in zip(wo.conditions, order.conditions, strict=True):
        for cf in dataclasses.fields(want_cond):
            assert getattr(got_cond, snake(cf.name)) == getattr(want_cond, cf.name), cf.name

    for name in ("conId", "symbol", "secType", "lastTradeDateOrContractMonth", "strike", "right", "multiplier"):
        assert getattr(wc, snake(name)) == getattr(contract, name), name
    for name in ("exchange", "primaryExchange", "currency", "localSymbol", "tradingClass", "secIdType", "secId"):
        assert getattr(wc, snake(name)) == getattr(contract, name), name
    want_legs = contract.comboLegs if is_bag else []
    assert len(wc.combo_legs) == len(want_legs)
    for got_leg, want_leg in zip(wc.combo_legs, want_legs, strict=True):
        for lf in dataclasses.fields(want_leg):
            assert getattr(got_leg, snake(lf.name)) == getattr(want_leg, lf.name), lf.name
    dnc = contract.deltaNeutralContract
    if dnc is None:
        assert wc.delta_neutral_contract is None
    else:
        assert wc.delta_neutral_contract is not None
        assert (wc.delta_neutral_contract.con_id, wc.delta_neutral_contract.delta) == (dnc.conId, dnc.delta)
        assert wc.delta_neutral_contract.price == dnc.price


# --------------------------------------------------------------------------------------------------------------
# The catalogue: every order type and feature

AAPL = Stock("AAPL", "SMART", "USD", primaryExchange="NASDAQ", conId=265598)
SPY = Stock("SPY", "ARCA", "USD", conId=756733, localSymbol="SPY", tradingClass="SPY")


def _trail_amount() -> Order:
    return Order(action="SELL", totalQuantity=100, orderType="TRAIL", auxPrice=1.25, trailStopPrice=148.75)


def _trail_limit() -> Order:
    return Order(
        action="SELL",
        totalQuantity=100,
        orderType="TRAIL LIMIT",
        trailStopPrice=149.0,
        lmtPriceOffset=0.1,
        auxPrice=1.0,
    )


def _conditions() -> Order:
    order = LimitOrder("BUY", 10, 101.5)
    order.conditions = [
        PriceCondition(isMore=True, price=100.5, conId=265598, exch="SMART", triggerMethod=2),
        TimeCondition(conjunction="o", isMore=False, time="20250101 15:30:00 UTC"),
        MarginCondition(isMore=False, percent=30),
        ExecutionCondition(secType="STK", exch="SMART", symbol="MSFT"),
        VolumeCondition(isMore=True, volume=100_000, conId=265598, exch="SMART"),
        PercentChangeCondition(isMore=False, changePercent=-2.5, conId=265598, exch="SMART"),
    ]
    order.conditionsIgnoreRth = True
    order.conditionsCancelOrder = True
    return order


def _delta_neutral() -> Order:
    return Order(
        action="BUY",
        totalQuantity=1,
        orderType="VOL",
        volatility=0.32,
        volatilityType=2,
        continuousUpdate=True,
        referencePriceType=1,
        deltaNeutralOrderType="LMT",
        deltaNeutralAuxPrice=1.5,
        deltaNeutralConId=265598,
        deltaNeutralSettlingFirm="FIRM",
        deltaNeutralClearingAccount="CLR1",
        deltaNeutralClearingIntent="IB",
        deltaNeutralOpenClose="O",
        deltaNeutralShortSale=True,
        deltaNeutralShortSaleSlot=2,
        deltaNeutralDesignatedLocation="LOC",
    )


def _scale() -> Order:
    return LimitOrder(
        "BUY",
        1000,
        99.0,
        scaleInitLevelSize=200,
        scaleSubsLevelSize=100,
        scalePriceIncrement=0.05,
        scalePriceAdjustValue=0.01,
        scalePriceAdjustInterval=60,
        scaleProfitOffset=0.5,
        scaleAutoReset=True,
        scaleInitPosition=0,
        scaleInitFillQty=0,
        scaleRandomPercent=True,
        scaleTable="table",
        activeStartTime="20250102 09:30:00 UTC",
        activeStopTime="20250102 16:00:00 UTC",
    )


def _bag() -> tuple[Contract, Order]:
    bag = Bag(symbol="SPY", exchange="SMART", currency="USD")
    bag.comboLegs = [
        ComboLeg(conId=1001, ratio=1, action="BUY", exchange="SMART"),
        ComboLeg(conId=1002, ratio=2, action="SELL", exchange="SMART", openClose=1, shortSaleSlot=1, exemptCode=3),
    ]
    bag.deltaNeutralContract = DeltaNeutralContract(conId=756733, delta=0.45, price=500.25)
    order = LimitOrder("BUY", 5, 1.25)
    order.orderComboLegs = [OrderComboLeg(price=1.0), OrderComboLeg()]
    order.smartComboRoutingParams = [TagValue("NonGuaranteed", "1")]
    return bag, order


def _everything_else() -> Order:
    """The tail: adjusted order, soft dollars, MiFID, misc options, hedge and the v158..v169 fields."""
    return LimitOrder(
        "SELL",
        7.5,
        12.34,
        account="DU1234567",
        modelCode="MODEL",
        hedgeType="D",
        hedgeParam="0.5",
        adjustedOrderType="STP",
        triggerPrice=11.0,
        adjustedStopPrice=10.5,
        adjustedStopLimitPrice=10.4,
        adjustedTrailingAmount=0.3,
        adjustableTrailingUnit=1,
        extOperator="ext",
        softDollarTier=SoftDollarTier("tier", "val"),
        cashQty=1000.0,
        mifid2DecisionMaker="dm",
        mifid2DecisionAlgo="da",
        mifid2ExecutionTrader="et",
        mifid2ExecutionAlgo="ea",
        dontUseAutoPriceForHedge=True,
        isOmsContainer=True,
        discretionaryUpToLimitPrice=True,
        usePriceMgmtAlgo=True,
        duration=30,
        postToAts=1,
        autoCancelParent=True,
        advancedErrorOverride="8229,",
        manualOrderTime="20250102 10:00:00",
        orderMiscOptions=[TagValue("a", "1"), TagValue("b", "x=y")],
        optOutSmartRouting=True,
        clearingAccount="CA",
        clearingIntent="Away",
        notHeld=True,
        solicited=True,
        randomizeSize=True,
        randomizePrice=True,
        algoId="algo-7",
        rule80A="A",
        settlingFirm="SF",
        designatedLocation="DL",
        shortSaleSlot=2,
        exemptCode=5,
        openClose="C",
        origin=1,
        blockOrder=True,
        sweepToFill=True,
        displaySize=50,
        triggerMethod=7,
        minQty=10,
        percentOffset=0.02,
        startingPrice=12.0,
        stockRefPrice=12.1,
        delta=0.5,
        stockRangeLower=11.0,
        stockRangeUpper=13.0,
        overridePercentageConstraints=True,
        auctionStrategy=2,
        goodAfterTime="20250102 09:31:00 UTC",
        faGroup="G",
        faMethod="EqualQuantity",
        faPercentage="50",
    )


Case = tuple[Contract, Order]
CASES: dict[str, Callable[[], Case]] = {
    "MKT": lambda: (AAPL, MarketOrder("BUY", 100)),
    "LMT": lambda: (AAPL, LimitOrder("BUY", 100, 150.5)),
    "STP": lambda: (AAPL, StopOrder("SELL", 100, 140.0)),
    "STP LMT": lambda: (AAPL, StopLimitOrder("SELL", 100, 139.5, 140.0)),
    "TRAIL amount": lambda: (AAPL, _trail_amount()),
    "TRAIL percent": lambda: (AAPL, Order(action="SELL", totalQuantity=100, orderType="TRAIL", trailingPercent=2.5)),
    "TRAIL LIMIT": lambda: (AAPL, _trail_limit()),
    "MOC": lambda: (AAPL, Order(action="SELL", totalQuantity=100, orderType="MOC")),
    "LOC": lambda: (AAPL, Order(action="BUY", totalQuantity=100, orderType="LOC", lmtPrice=150.0)),
    "MKT OPG": lambda: (AAPL, MarketOrder("BUY", 100, tif="OPG")),
    "LMT GTD": lambda: (AAPL, LimitOrder("BUY", 100, 150.0, tif="GTD", goodTillDate="20250131 16:00:00 UTC")),
    "outsideRth": lambda: (AAPL, LimitOrder("BUY", 100, 150.0, outsideRth=True, tif="GTC")),
    "hidden": lambda: (SPY, LimitOrder("BUY", 100, 500.0, hidden=True)),
    "discretionaryAmt": lambda: (AAPL, LimitOrder("BUY", 100, 150.0, discretionaryAmt=0.25)),
    "allOrNone": lambda: (AAPL, LimitOrder("BUY", 100, 150.0, allOrNone=True)),
    "OCA 1": lambda: (AAPL, LimitOrder("BUY", 100, 150.0, ocaGroup="oca-1", ocaType=1)),
    "OCA 2": lambda: (AAPL, StopOrder("SELL", 100, 140.0, ocaGroup="oca-2", ocaType=2)),
    "OCA 3": lambda: (AAPL, LimitOrder("SELL", 100, 160.0, ocaGroup="oca-3", ocaType=3)),
    "bracket parent": lambda: (AAPL, LimitOrder("BUY", 100, 150.0, transmit=False, orderRef="qd-1")),
    "bracket take profit": lambda: (AAPL, LimitOrder("SELL", 100, 160.0, parentId=41, transmit=False)),
    "bracket stop loss": lambda: (AAPL, StopOrder("SELL", 100, 140.0, parentId=41, transmit=True)),
    "algo": lambda: (
        AAPL,
        MarketOrder(
            "BUY", 100, algoStrategy="Adaptive", algoParams=[TagValue("adaptivePriority", "Normal")], algoId="x"
        ),
    ),
    "algo without params": lambda: (AAPL, MarketOrder("BUY", 100, algoStrategy="Vwap")),
    "conditions": lambda: (AAPL, _conditions()),
    "delta neutral": lambda: (Option("SPY", "20250321", 500.0, "C", "SMART", "100", "USD"), _delta_neutral()),
    "scale": lambda: (AAPL, _scale()),
    "scale increment zero": lambda: (AAPL, LimitOrder("BUY", 10, 99.0, scalePriceIncrement=0.0, scaleAutoReset=True)),
    "scale increment negative": lambda: (AAPL, LimitOrder("BUY", 10, 99.0, scalePriceIncrement=-1.0)),
    "whatIf": lambda: (AAPL, LimitOrder("BUY", 100, 150.0, whatIf=True)),
    "BAG combo": _bag,
    "orderRef": lambda: (AAPL, MarketOrder("BUY", 100, orderRef="qd:0001:ünïcode, with spaces")),
    "everything else": lambda: (AAPL, _everything_else()),
    "PEG BENCH": lambda: (
        AAPL,
        Order(
            action="BUY",
            totalQuantity=100,
            orderType="PEG BENCH",
            referenceContractId=756733,
            isPeggedChangeAmountDecrease=True,
            peggedChangeAmount=0.5,
            referenceChangeAmount=0.25,
            referenceExchangeId="ARCA",
        ),
    ),
    "PEG BEST up to mid": lambda: (
        Stock("AAPL", "IBKRATS", "USD"),
        Order(
            action="BUY",
            totalQuantity=100,
            orderType="PEG BEST",
            lmtPrice=150.0,
            minTradeQty=10,
            minCompeteSize=100,
            competeAgainstBestOffset=math.inf,
            midOffsetAtWhole=0.01,
            midOffsetAtHalf=0.005,
        ),
    ),
    "PEG BEST offset": lambda: (
        Stock("AAPL", "IBKRATS", "USD"),
        Order(action="BUY", totalQuantity=100, orderType="PEG BEST", minCompeteSize=5, competeAgainstBestOffset=0.02),
    ),
    "PEG MID": lambda: (
        Stock("AAPL", "IBKRATS", "USD"),
        Order(action="SELL", totalQuantity=100, orderType="PEG MID", midOffsetAtWhole=0.02, midOffsetAtHalf=0.01),
    ),
    "future": lambda: (Future("ES", "202503", "CME", multiplier="50", currency="USD"), LimitOrder("BUY", 1, 5000.25)),
    "ISIN": lambda: (Contract(secIdType="ISIN", secId="US0378331005", exchange="SMART"), MarketOrder("BUY", 1)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_place_order_round_trips_every_field(capture: Capture, name: str) -> None:
    contract, order = CASES[name]()
    fields = place(capture, 42, contract, order)
    assert_same_order(42, contract, order, parse_place_order(fields))


@pytest.mark.parametrize("server_version", [157, 158, 160, 162, 166, 169, 170, 176, 177])
@pytest.mark.parametrize("name", ["LMT", "everything else", "PEG BEST up to mid", "BAG combo"])
def test_place_order_follows_the_version_gates(capture: Capture, name: str, server_version: int) -> None:
    contract, order = CASES[name]()
    order.faProfile = "profile"
    fields = place(capture, 42, contract, order, server_version)
    wc, wo = parse_place_order(fields, server_version)
    assert wo.fa_profile == ("profile" if server_version < 177 else "")
    assert (wo.order_ref, wo.lmt_price, wc.symbol) == (order.orderRef, unset_to_none(order.lmtPrice), contract.symbol)
    assert wo.use_price_mgmt_algo is order.usePriceMgmtAlgo
    gated = {
        "duration": 158,
        "postToAts": 160,
        "autoCancelParent": 162,
        "advancedErrorOverride": 166,
        "manualOrderTime": 169,
        "minTradeQty": 170,
        "midOffsetAtHalf": 170,
    }
    for field, version in gated.items():
        on_wire = server_version >= version and CONDITIONAL.get(field, lambda c, o: True)(contract, order)
        want = unset_to_none(getattr(order, field)) if on_wire else WIRE_ORDER_DEFAULTS[snake(field)]
        assert getattr(wo, snake(field)) == want, field


def test_plain_limit_order_has_the_documented_layout(capture: Capture) -> None:
    fields = ["3", *place(capture, 5, AAPL, LimitOrder("BUY", 100, 150.5, whatIf=True))]
    assert len(fields) == 114
    assert fields[84] == "1", "whatIf sits at index 84 of the plain layout"
    _, order = parse_place_order(fields[1:])
    assert order.what_if is True
    assert order.volatility is None, "the client clears volatility for non-VOL orders"


def test_parsed_values_have_wire_types(capture: Capture) -> None:
    contract, order = parse_place_order(place(capture, 7, *CASES["everything else"]()))
    assert isinstance(order.total_quantity, float)
    assert order.total_quantity == 7.5
    assert isinstance(order.display_size, int)
    assert isinstance(contract.strike, float)
    assert order.lmt_price == 12.34
    assert order.aux_price is None
    assert order.min_qty == 10
    assert order.volatility_type is None
    assert order.use_price_mgmt_algo is True
    assert order.order_misc_options == (("a", "1"), ("b", "x=y"))


# --------------------------------------------------------------------------------------------------------------
# Property: the simple fields round-trip exactly

TEXT = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=30)
PRICE = st.one_of(st.just(UNSET_DOUBLE), st.floats(min_value=-1e9, max_value=1e9, allow_nan=False))
_CAPTURE = Capture()


@settings(max_examples=300, deadline=None)
@given(
    order_id=st.integers(min_value=1, max_value=2**31 - 2),
    action=st.sampled_from(["BUY", "SELL", "SSHORT"]),
    quantity=st.floats(min_value=0, max_value=1e12, allow_nan=False),
    order_type=st.sampled_from(["MKT", "LMT", "STP", "STP LMT", "TRAIL", "MOC", "LOC", "MIT", "REL"]),
    lmt_price=PRICE,
    aux_price=PRICE,
    tif=st.sampled_from(["", "DAY", "GTC", "IOC", "FOK", "OPG", "GTD"]),
    flags=st.tuples(*[st.booleans()] * 6),
    order_ref=TEXT,
    account=TEXT,
    oca_group=TEXT,
    oca_type=st.integers(min_value=0, max_value=3),
    parent_id=st.integers(min_value=0, max_value=2**31 - 2),
    display_size=st.integers(min_value=0, max_value=2**31 - 1),
    min_qty=st.one_of(st.just(UNSET_INTEGER), st.integers(min_value=0, max_value=10**6)),
    good_till_date=TEXT,
)
def test_simple_fields_round_trip(
    order_id: int,
    action: str,
    quantity: float,
    order_type: str,
    lmt_price: float,
    aux_price: float,
    tif: str,
    flags: tuple[bool, bool, bool, bool, bool, bool],
    order_ref: str,
    account: str,
    oca_group: str,
    oca_type: int,
    parent_id: int,
    display_size: int,
    min_qty: int,
    good_till_date: str,
) -> None:
    transmit, outside_rth, hidden, all_or_none, sweep, block = flags
    order = Order(
        action=action,
        totalQuantity=quantity,
        orderType=order_type,
        lmtPrice=lmt_price,
        auxPrice=aux_price,
        tif=tif,
        transmit=transmit,
        outsideRth=outside_rth,
        hidden=hidden,
        allOrNone=all_or_none,
        sweepToFill=sweep,
        blockOrder=block,
        orderRef=order_ref,
        account=account,
        ocaGroup=oca_group,
        ocaType=oca_type,
        parentId=parent_id,
        displaySize=display_size,
        minQty=min_qty,
        goodTillDate=good_till_date,
    )
    with _CAPTURE as cap:
        fields = place(cap, order_id, SPY, order)
    _, wo = parse_place_order(fields)
    assert (wo.order_id, wo.action, wo.order_type, wo.tif) == (order_id, action, order_type, tif)
    assert wo.total_quantity == quantity
    assert wo.lmt_price == unset_to_none(lmt_price)
    assert wo.aux_price == unset_to_none(aux_price)
    assert (wo.transmit, wo.outside_rth, wo.hidden, wo.all_or_none, wo.sweep_to_fill, wo.block_order) == flags
    assert (wo.order_ref, wo.account, wo.oca_group, wo.good_till_date) == (
        order_ref,
        account,
        oca_group,
        good_till_date,
    )
    assert (wo.oca_type, wo.parent_id) == (oca_type, parent_id)
    assert wo.display_size == unset_to_none(display_size)
    assert wo.min_qty == unset_to_none(min_qty)


# --------------------------------------------------------------------------------------------------------------
# Malformed messages: ValidationError naming the field and its index, as TWS answers with error 320


def test_a_missing_field_is_reported(capture: Capture) -> None:
    fields = place(capture, 9, AAPL, LimitOrder("BUY", 100, 150.5))
    with pytest.raises(MalformedRequest, match="ended early") as info:
        parse_place_order(fields[:-1])
    assert isinstance(info.value, ValidationError)
    assert info.value.request_id == 9
    assert info.value.index == 113
    assert info.value.field == "manualOrderTime[113]"


def test_a_field_too_many_is_reported(capture: Capture) -> None:
    fields = place(capture, 9, AAPL, LimitOrder("BUY", 100, 150.5))
    with pytest.raises(MalformedRequest, match="1 unexpected trailing") as info:
        parse_place_order([*fields, ""])
    assert info.value.index == 114


@pytest.mark.parametrize(
    ("index", "text", "field"),
    [
        (19, "abc", "lmtPrice[19]"),
        (19, "nan", "lmtPrice[19]"),
        (19, "1e999", "lmtPrice[19]"),
        (17, "1_000", "totalQuantity[17]"),
        (2, "x", "conId[2]"),
        (25, "1.5", "origin[25]"),
        (27, "yes", "transmit[27]"),
        (28, "2147483648", "parentId[28]"),
        (28, "9" * 5000, "parentId[28]"),
        (1, "", "orderId[1]"),
    ],
)
def test_a_bad_value_names_field_and_index(capture: Capture, index: int, text: str, field: str) -> None:
    fields = ["3", *place(capture, 9, AAPL, LimitOrder("BUY", 100, 150.5))]
    fields[index] = text
    with pytest.raises(MalformedRequest) as info:
        parse_place_order(fields[1:])
    assert info.value.field == field
    assert info.value.index == index
    assert info.value.value == text


def test_bad_counts_and_condition_types_are_refused(capture: Capture) -> None:
    bag, order = _bag()
    fields = place(capture, 9, bag, order)
    legs_at = 34  # the combo leg count follows orderId, C12, secIdType, secId and the 19 head fields
    assert fields[legs_at] == "2"
    with pytest.raises(MalformedRequest, match="bad count"):
        parse_place_order([*fields[:legs_at], "99999999", *fields[legs_at + 1 :]])
    with pytest.raises(MalformedRequest, match="bad count"):
        parse_place_order([*fields[:legs_at], "-1", *fields[legs_at + 1 :]])

    order = LimitOrder("BUY", 1, 1.0, conditions=[TimeCondition(time="20250101 10:00:00 UTC")])
    fields = place(capture, 9, AAPL, order)
    assert fields[88:90] == ["1", "3"], "one condition of type 3 (time) after the plain layout's 88 fields"
    fields[89] = "2"
    with pytest.raises(MalformedRequest, match="unknown condition type"):
        parse_place_order(fields)


def test_infinite_offset_is_read_as_infinity(capture: Capture) -> None:
    contract, order = CASES["PEG BEST up to mid"]()
    fields = place(capture, 9, contract, order)
    assert "Infinite" in fields
    _, wo = parse_place_order(fields)
    assert wo.compete_against_best_offset == math.inf
    assert (wo.mid_offset_at_whole, wo.mid_offset_at_half, wo.min_trade_qty) == (0.01, 0.005, 10)


# --------------------------------------------------------------------------------------------------------------
# The small order requests


def test_cancel_order(capture: Capture) -> None:
    fields = capture.fields(lambda c: c.cancelOrder(17, "20250102 10:00:00"))
    assert fields[0] == "4"
    assert parse_cancel_order(fields[1:]) == CancelOrderRequest(
        order_id=17, manual_cancel_order_time="20250102 10:00:00"
    )
    old = capture.fields(lambda c: c.cancelOrder(17), server_version=168)
    assert parse_cancel_order(old[1:], 168) == CancelOrderRequest(order_id=17)
    with pytest.raises(MalformedRequest):
        parse_cancel_order(old[1:])


def test_req_executions(capture: Capture) -> None:
    filt = ExecutionFilter(clientId=3, acctCode="DU1", time="20250102 09:30:00 UTC", symbol="AAPL", side="BUY")
    filt.secType, filt.exchange = "STK", "SMART"
    fields = capture.fields(lambda c: c.reqExecutions(102, filt))
    assert fields[:2] == ["7", "3"]
    request = parse_req_executions(fields[1:])
    assert request == ExecutionFilterRequest(
        req_id=102,
        client_id=3,
        acct_code="DU1",
        time="20250102 09:30:00 UTC",
        symbol="AAPL",
        sec_type="STK",
        exchange="SMART",
        side="BUY",
    )
    fill = {
        "client_id": 3,
        "account": "DU1",
        "symbol": "aapl",
        "sec_type": "STK",
        "exchange": "SMART",
        "side": "BOT",
        "time": datetime(2025, 1, 2, 9, 30, tzinfo=UTC),
    }
    assert request.matches(**fill)
    assert not request.matches(**{**fill, "side": "SLD"})
    assert not request.matches(**{**fill, "client_id": 4})
    assert not request.matches(**{**fill, "time": datetime(2025, 1, 2, 9, 29, 59, tzinfo=UTC)})

    everything = parse_req_executions(capture.fields(lambda c: c.reqExecutions(3, ExecutionFilter()))[1:])
    assert everything == ExecutionFilterRequest(req_id=3)
    assert everything.matches(**{**fill, "client_id": 99, "account": "X", "side": "SLD"})
    assert ExecutionFilterRequest(req_id=1, time="20250102-04:30:00 US/Eastern").since == datetime(
        2025, 1, 2, 9, 30, tzinfo=UTC
    )

    bad = capture.fields(lambda c: c.reqExecutions(5, ExecutionFilter(time="yesterday")))
    with pytest.raises(MalformedRequest, match="time") as info:
        parse_req_executions(bad[1:])
    assert info.value.index == 5
    assert info.value.request_id == 5


def test_the_requests_without_payload(capture: Capture) -> None:
    for send, parse, msg_id in [
        (lambda c: c.reqOpenOrders(), parse_req_open_orders, "5"),
        (lambda c: c.reqAllOpenOrders(), parse_req_all_open_orders, "16"),
        (lambda c: c.reqGlobalCancel(), parse_req_global_cancel, "58"),
    ]:
        fields = capture.fields(send)
        assert fields[0] == msg_id
        assert parse(fields[1:]) is None
        with pytest.raises(MalformedRequest):
            parse([*fields[1:], "x"])
        with pytest.raises(MalformedRequest):
            parse([])


def test_req_ids_auto_open_orders_and_completed_orders(capture: Capture) -> None:
    fields = capture.fields(lambda c: c.reqIds(1))
    assert fields[0] == "8"
    assert parse_req_ids(fields[1:]) == 1
    fields = capture.fields(lambda c: c.reqAutoOpenOrders(True))
    assert fields[0] == "15"
    assert parse_req_auto_open_orders(fields[1:]) is True
    assert parse_req_auto_open_orders(capture.fields(lambda c: c.reqAutoOpenOrders(False))[1:]) is False
    fields = capture.fields(lambda c: c.reqCompletedOrders(False))
    assert fields == ["99", "0"], "reqCompletedOrders has no version field"
    assert parse_req_completed_orders(fields[1:]) is False
    assert parse_req_completed_orders(capture.fields(lambda c: c.reqCompletedOrders(True))[1:]) is True
    with pytest.raises(MalformedRequest):
        parse_req_ids(["1"])
