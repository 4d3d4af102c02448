"""``order_codec``: every order type, TIF, flag and link, every instrument kind, round-trips exactly through JSON."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from quantdesk.domain.identifiers import AccountId, ClientOrderId, StrategyId
from quantdesk.domain.instruments import (
    Bond,
    Cfd,
    ContinuousFuture,
    Crypto,
    ForexPair,
    Future,
    Index,
    Instrument,
    Option,
    OptionRight,
    SecIdType,
    Stock,
    Warrant,
)
from quantdesk.domain.order_lists import Bracket
from quantdesk.domain.order_types import OcaType, OrderLink, OrderType, TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.errors import ValidationError
from quantdesk.persistence import order_codec
from quantdesk.persistence.order_codec import (
    INSTRUMENT_CLASSES,
    instrument_from_dict,
    instrument_to_dict,
    order_from_dict,
    order_from_json,
    order_json,
    order_to_dict,
)

D = Decimal
EXPIRY = date(2025, 3, 21)

EVERY_INSTRUMENT: list[Instrument] = [
    Stock("AAPL"),
    Stock("BRK.B", primary_exchange="NYSE", con_id=72063691, description="Berkshire B"),
    Stock("SAP", currency="EUR", exchange="IBIS", tick_size=D("0.001"), lot_size=D("0.0001"), allows_fractional=True),
    Option("AAPL", EXPIRY, D("152.5"), OptionRight.CALL),
    Option("SPX", EXPIRY, D("5000"), OptionRight.PUT, trading_class="SPXW", exchange="CBOE", tick_size=D("0.05")),
    Future("ES", EXPIRY, exchange="CME", multiplier=D(50), tick_size=D("0.25"), trading_class="ES"),
    ContinuousFuture("ES", exchange="CME", multiplier=D(50)),
    ForexPair("EUR", "USD"),
    ForexPair("GBP", "JPY", tick_size=D("0.005")),
    Bond.from_cusip("037833100"),
    Bond("AAPL", sec_id_type=SecIdType.ISIN, sec_id="US0378331005"),
    Cfd("IBUS500"),
    Index("SPX", exchange="CBOE"),
    Warrant("DTE", EXPIRY, D("20.00"), OptionRight.CALL, currency="EUR", exchange="FWB", multiplier=D("0.1")),
    Crypto("BTC", tick_size=D("0.25")),
]


def _roundtrip(order: Order) -> Order:
    text = order_json(order)
    back = order_from_json(text)
    assert back == order
    assert order_json(back) == text  # exact: decimals keep their digits, times their precision
    assert order_to_dict(order_from_dict(json.loads(text))) == order_to_dict(order)
    return back


@pytest.mark.parametrize("instrument", EVERY_INSTRUMENT, ids=lambda i: str(i))
def test_every_instrument_kind_round_trips(instrument: Instrument) -> None:
    data = json.loads(json.dumps(instrument_to_dict(instrument)))
    back = instrument_from_dict(data)
    assert type(back) is type(instrument)
    assert back == instrument
    assert back.id == instrument.id
    assert instrument_to_dict(back) == data


def test_every_instrument_field_has_a_decoder() -> None:
    for cls in INSTRUMENT_CLASSES.values():
        assert {f.name for f in fields(cls) if f.init} <= set(order_codec._INSTRUMENT_FIELDS), cls.__name__
    assert len(INSTRUMENT_CLASSES) == 10


@pytest.mark.parametrize("instrument", [i for i in EVERY_INSTRUMENT if i.is_tradable], ids=lambda i: str(i))
def test_an_order_in_every_tradable_instrument_round_trips(instrument: Instrument) -> None:
    qty = instrument.lot_size * 3
    _roundtrip(Order.limit(instrument, "BUY", qty, instrument.tick_size * 401, account="DU1", strategy_id="s-1"))


def test_example_orders_of_every_type_tif_and_flag() -> None:
    aapl = Stock("AAPL")
    gtd = datetime(2025, 3, 7, 21, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-5)))
    orders = [
        Order.market(aapl, "BUY", 100),
        Order.market_on_open(aapl, "SELL", 5),
        Order.limit(aapl, "BUY", 10, D("187.25"), tif=TimeInForce.GTD, good_till=gtd, outside_rth=True),
        Order.limit(aapl, "SELL", 10, D("190.10"), hidden=True, discretionary_amount=D("0.05"), all_or_none=True),
        Order.limit(aapl, "BUY", 10, D("187.00"), tif=TimeInForce.OPG),
        Order.stop(aapl, "SELL", 10, D("180"), tif=TimeInForce.GTC),
        Order.stop_limit(aapl, "BUY", 10, D("190"), D("190.50"), tif=TimeInForce.IOC),
        Order.trailing_stop(aapl, "SELL", 10, trailing_amount=D("1.50"), stop_price=D("185"), tif=TimeInForce.FOK),
        Order.trailing_stop(aapl, "SELL", 10, trailing_percent=D("2.5")),
        Order.trailing_stop_limit(aapl, "SELL", 10, limit_offset=D("0.10"), trailing_percent=D("1")),
        Order.market_on_close(aapl, "BUY", 1),
        Order.limit_on_close(aapl, "SELL", 1, D("189.99")),
        Order.limit(
            aapl,
            "SELL",
            10,
            D("200"),
            client_order_id=ClientOrderId("qd-child"),
            link=OrderLink(ClientOrderId("qd-parent"), "oca-1", OcaType.REDUCE_NON_BLOCK, transmit=False),
        ),
    ]
    for order in orders:
        _roundtrip(order)
    assert _roundtrip(orders[2]).good_till == gtd  # stored in UTC, the same instant


def test_a_bracket_round_trips_with_its_links() -> None:
    bracket = Bracket.build(Stock("AAPL"), "BUY", 100, D("187.25"), D("195"), D("180"))
    for order in bracket.orders:
        assert _roundtrip(order).link == order.link


def test_json_is_compact_sorted_and_decimals_are_strings() -> None:
    order = Order.limit(Stock("AAPL"), "BUY", D("100"), D("187.250"), client_order_id=ClientOrderId("qd-1"))
    text = order_json(order)
    assert " " not in text.replace("quantdesk", "")
    assert list(json.loads(text)) == sorted(json.loads(text))
    data = order_to_dict(order)
    assert data["limit_price"] == "187.250"
    assert data["quantity"] == "100"
    assert data["instrument"]["kind"] == "STK"
    assert data["version"] == order_codec.FORMAT_VERSION


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(version=99), "version"),
        (lambda d: d.update(extra=1), "order"),
        (lambda d: d["instrument"].update(kind="XYZ"), "instrument.kind"),
        (lambda d: d["instrument"].update(colour="red"), "instrument"),
        (lambda d: d.update(quantity=100), "quantity"),
        (lambda d: d.update(quantity="lots"), "quantity"),
        (lambda d: d.update(side="HOLD"), "side"),
        (lambda d: d.update(hidden="yes"), "hidden"),
        (lambda d: d.update(good_till="soon"), "good_till"),
        (lambda d: d["instrument"].update(expiry="2025-02-30"), "instrument.expiry"),
    ],
)
def test_bad_documents_are_refused_naming_the_field(change: Any, field: str) -> None:
    order = Order.limit(
        Option("AAPL", EXPIRY, D(150), "C"), "BUY", 1, D("2.50"), tif="GTD", good_till=datetime.now(UTC)
    )
    data = order_to_dict(order)
    change(data)
    with pytest.raises(ValidationError) as info:
        order_from_dict(data)
    assert info.value.field == field


def test_not_json_is_refused() -> None:
    with pytest.raises(ValidationError, match="not JSON"):
        order_from_json("{not json")
    with pytest.raises(ValidationError, match="JSON object"):
        order_from_json("[1]")


# --- property: any valid order round-trips ---------------------------------------------------------------------------

TICKS = [D("0.01"), D("0.25"), D("0.0001"), D("0.005"), D("1"), D("0.05")]
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CHF"]
symbols = st.from_regex(r"\A[A-Z][A-Z0-9]{0,4}(\.[A-Z])?\Z")
maybe_text = st.none() | st.text(min_size=1, max_size=20)
con_ids = st.none() | st.integers(min_value=1, max_value=2**31 - 1)
expiries = st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 12, 31))
multipliers = st.sampled_from([D("1"), D("50"), D("100"), D("0.1"), D("12.5"), D("1000")])


@st.composite
def common(draw: st.DrawFn) -> dict[str, Any]:
    fractional = draw(st.booleans())
    return {
        "currency": draw(st.sampled_from(CURRENCIES)),
        "tick_size": draw(st.sampled_from(TICKS)),
        "lot_size": draw(st.sampled_from([D("0.0001"), D("0.5")]))
        if fractional
        else draw(st.sampled_from([D(1), D(100)])),
        "allows_fractional": fractional,
        "con_id": draw(con_ids),
        "description": draw(maybe_text),
        "primary_exchange": draw(st.none() | st.sampled_from(["NASDAQ", "NYSE", "ARCA"])),
    }


@st.composite
def instruments(draw: st.DrawFn) -> Instrument:
    kw = draw(common())
    kind = draw(st.sampled_from(["stk", "opt", "war", "fut", "cash", "bond", "cfd", "crypto"]))
    symbol = draw(symbols)
    if kind == "stk":
        return Stock(symbol, exchange=draw(st.sampled_from(["SMART", "IBIS", "LSE"])), **kw)
    if kind in ("opt", "war"):
        cls = Option if kind == "opt" else Warrant
        strike = D(draw(st.integers(min_value=1, max_value=10**6))) / D(draw(st.sampled_from([1, 2, 10, 100])))
        tc = draw(st.none() | st.sampled_from(["SPXW", "AAPL"]))
        return cls(
            symbol, draw(expiries), strike, draw(st.sampled_from(OptionRight)), trading_class=tc,
            multiplier=draw(multipliers), **kw,
        )  # fmt: skip
    if kind == "fut":
        tc = draw(st.none() | st.sampled_from(["ES", "FDXM"]))
        return Future(symbol, draw(expiries), exchange="CME", multiplier=draw(multipliers), trading_class=tc, **kw)
    if kind == "cash":
        base, quote = draw(st.lists(st.sampled_from(CURRENCIES), min_size=2, max_size=2, unique=True))
        kw.update(currency=quote, allows_fractional=True, lot_size=D("0.01"))
        return ForexPair(base, **kw)
    if kind == "bond":
        named = draw(st.sampled_from([{}, {"sec_id_type": SecIdType.CUSIP, "sec_id": "037833100"}]))
        return Bond(symbol, **named, **kw)
    if kind == "cfd":
        return Cfd(symbol, **kw)
    kw.update(allows_fractional=True, lot_size=D("0.00000001"))
    return Crypto(symbol, **kw)


def _ticks(draw: st.DrawFn, inst: Instrument, low: int = 1) -> Decimal:
    return inst.tick_size * draw(st.integers(min_value=low, max_value=10**6))


@st.composite
def orders(draw: st.DrawFn) -> Order:
    inst = draw(instruments())
    side = draw(st.sampled_from(OrderSide))
    kind = draw(st.sampled_from(OrderType))
    kw: dict[str, Any] = {"order_type": kind}
    if kind in (OrderType.LIMIT, OrderType.LIMIT_ON_CLOSE):
        kw["limit_price"] = _ticks(draw, inst)
    elif kind is OrderType.STOP:
        kw["stop_price"] = _ticks(draw, inst)
    elif kind is OrderType.STOP_LIMIT:
        stop, gap = _ticks(draw, inst), _ticks(draw, inst, 0) % (inst.tick_size * 50)
        kw.update(stop_price=stop, limit_price=stop + gap if side is OrderSide.BUY else stop)
    elif kind.is_trailing:
        if draw(st.booleans()):
            kw["trailing_amount"] = _ticks(draw, inst)
        else:
            kw["trailing_percent"] = D(draw(st.integers(min_value=1, max_value=9999))) / 100
        if draw(st.booleans()):
            kw["stop_price"] = _ticks(draw, inst)
        if kind is OrderType.TRAILING_STOP_LIMIT:
            kw["limit_offset"] = _ticks(draw, inst, 0)
    auction = kind in (OrderType.MARKET_ON_CLOSE, OrderType.LIMIT_ON_CLOSE)
    tifs = [TimeInForce.DAY] if auction else [t for t in TimeInForce if t is not TimeInForce.OPG]
    if kind in (OrderType.MARKET, OrderType.LIMIT):
        tifs.append(TimeInForce.OPG)
    tif = draw(st.sampled_from(tifs))
    kw["tif"] = tif
    if tif is TimeInForce.GTD:
        offset = timezone(timedelta(minutes=draw(st.integers(min_value=-12 * 60, max_value=14 * 60))))
        kw["good_till"] = draw(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1))).replace(
            tzinfo=offset
        )
    kw["outside_rth"] = draw(st.booleans()) and not auction and tif is not TimeInForce.OPG
    if kind is OrderType.LIMIT:
        kw["hidden"] = draw(st.booleans())
        if draw(st.booleans()):
            kw["discretionary_amount"] = _ticks(draw, inst)
    kw["all_or_none"] = draw(st.booleans())
    kw["account"] = draw(st.none() | st.sampled_from([AccountId("DU1234567"), AccountId("U7654321")]))
    kw["strategy_id"] = draw(st.none() | st.just(StrategyId("momentum-1")))
    kw["client_order_id"] = ClientOrderId(f"qd-{draw(st.integers(min_value=0, max_value=10**9))}")
    group = draw(st.none() | st.sampled_from(["oca-a", "exit_aapl"]))
    kw["link"] = OrderLink(
        parent_client_order_id=draw(st.none() | st.just(ClientOrderId("parent-1"))),
        oca_group=group,
        oca_type=None if group is None else draw(st.sampled_from(OcaType)),
        transmit=draw(st.booleans()),
    )
    qty = inst.lot_size * draw(st.integers(min_value=1, max_value=10**5))
    try:
        return Order(inst, side, qty, **kw)
    except ValidationError:
        assume(False)
        raise


@settings(max_examples=400, deadline=None)
@given(orders())
def test_any_valid_order_round_trips_exactly(order: Order) -> None:
    _roundtrip(order)


@settings(max_examples=200, deadline=None)
@given(instruments())
def test_any_instrument_round_trips_exactly(instrument: Instrument) -> None:
    data = json.loads(json.dumps(instrument_to_dict(instrument)))
    assert instrument_from_dict(data) == instrument
    assert instrument_to_dict(instrument_from_dict(data)) == data


def _plain_json(order: Order) -> str:
    return json.dumps(order_codec.order_to_dict(order), separators=(",", ":"), sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(orders())
def test_order_json_is_the_plain_sorted_dump_of_order_to_dict(order: Order) -> None:
    assert order_json(order) == _plain_json(order)
    assert order_json(order) == _plain_json(order)  # again, from the instrument text remembered


def test_equal_instruments_spelled_differently_keep_their_own_text() -> None:
    coarse, fine = Stock("AAPL", tick_size=Decimal("0.01")), Stock("AAPL", tick_size=Decimal("0.010"))
    assert coarse == fine
    a = Order.limit(coarse, "BUY", 1, Decimal("1.00"), client_order_id=ClientOrderId("codec-a"))
    b = Order.limit(fine, "BUY", 1, Decimal("1.00"), client_order_id=ClientOrderId("codec-b"))
    assert order_json(a) == _plain_json(a)
    assert order_json(b) == _plain_json(b)
    assert '"tick_size":"0.010"' in order_json(b)


def test_a_text_field_that_looks_like_the_instrument_key_stays_text() -> None:
    stock = Stock("AAPL", description='"instrument":null, "account":"x"')
    order = Order.limit(stock, "BUY", 1, Decimal(1), client_order_id=ClientOrderId("codec-sneaky"))
    assert order_json(order) == _plain_json(order)
    assert order_from_json(order_json(order)) == order
