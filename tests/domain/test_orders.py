from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.identifiers import AccountId, ClientOrderId, StrategyId
from quantdesk.domain.instruments import ContinuousFuture, Crypto, Future, Index, Stock
from quantdesk.domain.orders import OcaType, Order, OrderLink, OrderType, TimeInForce
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import Money
from quantdesk.errors import ValidationError

AAPL = Stock("AAPL")
ES = Future("ES", date(2025, 3, 21), exchange="CME", multiplier=Decimal(50), tick_size=Decimal("0.25"))
LATER = datetime(2030, 1, 2, 21, 0, tzinfo=UTC)
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def _error(**kwargs: Any) -> ValidationError:
    """Build an ``Order`` from ``kwargs`` (instrument, side, quantity defaulted) and return the error it raises."""
    args = {"instrument": AAPL, "side": BUY, "quantity": Decimal(100), **kwargs}
    with pytest.raises(ValidationError) as info:
        Order(**args)
    return info.value


# --- enums --------------------------------------------------------------------------------------------------------


def test_enums_carry_ib_strings() -> None:
    assert [t.value for t in OrderType] == ["MKT", "LMT", "STP", "STP LMT", "TRAIL", "TRAIL LIMIT", "MOC", "LOC"]
    assert [t.value for t in TimeInForce] == ["DAY", "GTC", "IOC", "FOK", "GTD", "OPG"]
    assert [t.value for t in OcaType] == [1, 2, 3]
    assert OcaType.REDUCE_NON_BLOCK.description == "proportionally reduce, no block"
    assert OrderType.parse("stp lmt") is OrderType.STOP_LIMIT
    assert OrderType.parse("trailing_stop") is OrderType.TRAILING_STOP
    assert OrderType.parse("market-on-close") is OrderType.MARKET_ON_CLOSE
    assert TimeInForce.parse("gtc") is TimeInForce.GTC
    assert OcaType.parse(2) is OcaType.REDUCE_WITH_BLOCK
    assert OcaType.parse("cancel_with_block") is OcaType.CANCEL_WITH_BLOCK
    with pytest.raises(ValidationError, match="unknown order type") as info:
        OrderType.parse("STOPLOSS")
    assert info.value.field == "order_type"
    with pytest.raises(ValidationError, match="unknown time in force") as info:
        TimeInForce.parse("WEEK")
    assert info.value.field == "tif"
    with pytest.raises(ValidationError, match="unknown OCA type") as info:
        OcaType.parse(4)
    assert info.value.field == "oca_type"


# --- good paths ---------------------------------------------------------------------------------------------------


def test_factories_build_each_type() -> None:
    assert Order.market(AAPL, "buy", 100).order_type is OrderType.MARKET
    lmt = Order.limit(AAPL, "SELL", 100, 150.25)
    assert (lmt.order_type, lmt.limit_price, lmt.side) == (OrderType.LIMIT, Decimal("150.25"), SELL)
    assert Order.stop(AAPL, BUY, 1, 101).stop_price == Decimal(101)
    sl = Order.stop_limit(AAPL, BUY, 1, stop_price=100, limit_price="100.50")
    assert (sl.stop_price, sl.limit_price) == (Decimal(100), Decimal("100.50"))
    trail = Order.trailing_stop(AAPL, SELL, 1, trailing_percent=2.5, stop_price=95)
    assert (trail.trailing_percent, trail.trailing_amount, trail.stop_price) == (Decimal("2.5"), None, Decimal(95))
    tl = Order.trailing_stop_limit(AAPL, SELL, 1, trailing_amount=1, limit_offset="0.10")
    assert (tl.order_type, tl.trailing_amount, tl.limit_offset) == (
        OrderType.TRAILING_STOP_LIMIT,
        Decimal(1),
        Decimal("0.10"),
    )
    moc = Order.market_on_close(AAPL, SELL, 10)
    assert (moc.order_type, moc.tif) == (OrderType.MARKET_ON_CLOSE, TimeInForce.DAY)
    loc = Order.limit_on_close(AAPL, SELL, 10, 99)
    assert (loc.order_type, loc.limit_price) == (OrderType.LIMIT_ON_CLOSE, Decimal(99))


def test_market_on_open_is_market_with_tif_opg() -> None:
    moo = Order.market_on_open(AAPL, BUY, 10)
    assert (moo.order_type, moo.tif, moo.is_on_open) == (OrderType.MARKET, TimeInForce.OPG, True)
    loo = Order.limit(AAPL, BUY, 10, 100, tif=TimeInForce.OPG)
    assert loo.is_on_open
    assert not Order.market(AAPL, BUY, 10).is_on_open


def test_defaults_and_options() -> None:
    o = Order.limit(
        AAPL,
        BUY,
        100,
        150,
        tif=TimeInForce.GTC,
        outside_rth=True,
        hidden=True,
        all_or_none=True,
        discretionary_amount=Decimal("0.05"),
        account=AccountId("DU123"),
        strategy_id=StrategyId("sma"),
    )
    assert (o.tif, o.outside_rth, o.hidden, o.all_or_none) == (TimeInForce.GTC, True, True, True)
    assert o.discretionary_amount == Decimal("0.05")
    assert (o.account, o.strategy_id) == (AccountId("DU123"), StrategyId("sma"))
    assert o.link == OrderLink()
    assert o.link.is_standalone
    assert o.client_order_id.value.startswith("qd-")
    assert Order.market(AAPL, BUY, 1).client_order_id != Order.market(AAPL, BUY, 1).client_order_id


def test_loose_values_are_converted() -> None:
    o = Order(AAPL, "sell", "100", order_type="LMT", limit_price=150, tif="gtc", account="DU1", client_order_id="x-1")  # type: ignore[arg-type]
    assert (o.side, o.quantity, o.order_type, o.tif) == (SELL, Decimal(100), OrderType.LIMIT, TimeInForce.GTC)
    assert (o.account, o.client_order_id, o.limit_price) == (AccountId("DU1"), ClientOrderId("x-1"), Decimal(150))


def test_gtd_converts_good_till_to_utc() -> None:
    eastern = timezone(timedelta(hours=-5))
    o = Order.limit(AAPL, BUY, 1, 100, tif=TimeInForce.GTD, good_till=datetime(2030, 1, 2, 16, tzinfo=eastern))
    assert o.good_till == LATER


def test_views() -> None:
    buy, sell = Order.limit(ES, BUY, 2, 5000), Order.market(ES, SELL, 3)
    assert (buy.is_buy, buy.is_sell, buy.signed_quantity) == (True, False, Decimal(2))
    assert (sell.is_buy, sell.is_sell, sell.signed_quantity) == (False, True, Decimal(-3))
    assert buy.notional(5000) == Money.of(500000, "USD")
    assert sell.notional("5000.25") == Money.of("750037.5", "USD")
    assert "BUY 2 ES.FUT.CME.USD.20250321 LMT limit_price=5000 DAY" in str(buy)


def test_fractional_quantity_only_where_allowed() -> None:
    assert Order.market(Crypto("BTC"), BUY, "0.015").quantity == Decimal("0.015")
    err = _error(quantity=Decimal("1.5"))
    assert err.field == "quantity"
    assert "whole units" in err.message


def test_order_is_frozen_and_replace_revalidates() -> None:
    o = Order.limit(AAPL, BUY, 1, 100)
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.quantity = Decimal(2)  # type: ignore[misc]
    with pytest.raises(ValidationError) as info:
        dataclasses.replace(o, limit_price=None)
    assert info.value.field == "limit_price"
    assert dataclasses.replace(o, quantity=Decimal(5)).client_order_id == o.client_order_id


# --- validation: one rule per case --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"order_type": OrderType.LIMIT}, "limit_price", "a limit order needs limit_price"),
        ({"limit_price": Decimal(100)}, "limit_price", "a market order takes no limit_price"),
        ({"stop_price": Decimal(100)}, "stop_price", "a market order takes no stop_price"),
        ({"order_type": OrderType.STOP}, "stop_price", "a stop order needs stop_price"),
        ({"order_type": OrderType.STOP, "stop_price": 1, "limit_price": 1}, "limit_price", "takes no limit_price"),
        ({"order_type": OrderType.STOP_LIMIT, "limit_price": 100}, "stop_price", "needs stop_price"),
        ({"order_type": OrderType.STOP_LIMIT, "stop_price": 100}, "limit_price", "needs limit_price"),
        ({"order_type": OrderType.LIMIT, "limit_price": 0}, "limit_price", "greater than zero"),
        ({"order_type": OrderType.LIMIT, "limit_price": -5}, "limit_price", "greater than zero"),
        ({"order_type": OrderType.LIMIT, "limit_price": float("nan")}, "limit_price", "finite"),
        ({"order_type": OrderType.LIMIT, "limit_price": "100.001"}, "limit_price", "tick grid"),
        ({"order_type": OrderType.STOP, "stop_price": "99.999"}, "stop_price", "tick grid"),
        ({"order_type": OrderType.TRAILING_STOP}, "trailing_amount", "got neither"),
        (
            {"order_type": OrderType.TRAILING_STOP, "trailing_amount": 1, "trailing_percent": 1},
            "trailing_percent",
            "got both",
        ),
        ({"order_type": OrderType.TRAILING_STOP, "trailing_percent": 0}, "trailing_percent", "greater than zero"),
        ({"order_type": OrderType.TRAILING_STOP, "trailing_percent": 100}, "trailing_percent", "(0, 100)"),
        ({"order_type": OrderType.TRAILING_STOP, "trailing_amount": "0.005"}, "trailing_amount", "tick grid"),
        ({"order_type": OrderType.TRAILING_STOP, "trailing_amount": -1}, "trailing_amount", "greater than zero"),
        ({"order_type": OrderType.TRAILING_STOP, "trailing_amount": 1, "limit_price": 1}, "limit_price", "takes no"),
        ({"order_type": OrderType.TRAILING_STOP, "trailing_amount": 1, "limit_offset": 1}, "limit_offset", "takes no"),
        ({"order_type": OrderType.TRAILING_STOP_LIMIT, "trailing_amount": 1}, "limit_offset", "needs limit_offset"),
        (
            {"order_type": OrderType.TRAILING_STOP_LIMIT, "trailing_amount": 1, "limit_offset": -1},
            "limit_offset",
            "negative",
        ),
        (
            {"order_type": OrderType.TRAILING_STOP_LIMIT, "trailing_amount": 1, "limit_offset": "0.001"},
            "limit_offset",
            "tick grid",
        ),
        ({"trailing_amount": 1}, "trailing_amount", "a market order takes no trailing_amount"),
        ({"order_type": OrderType.MARKET_ON_CLOSE, "limit_price": 1}, "limit_price", "market-on-close order takes no"),
        ({"order_type": OrderType.LIMIT_ON_CLOSE}, "limit_price", "limit-on-close order needs limit_price"),
        ({"tif": TimeInForce.GTD}, "good_till", "a GTD order needs good_till"),
        ({"good_till": LATER}, "good_till", "only applies to tif GTD"),
        ({"tif": TimeInForce.GTD, "good_till": datetime(2030, 1, 2)}, "good_till", "timezone-aware"),
        ({"order_type": OrderType.STOP, "stop_price": 1, "tif": TimeInForce.OPG}, "tif", "OPG"),
        ({"order_type": OrderType.MARKET_ON_CLOSE, "tif": TimeInForce.GTC}, "tif", "must be tif DAY"),
        ({"order_type": OrderType.LIMIT_ON_CLOSE, "limit_price": 1, "tif": TimeInForce.IOC}, "tif", "must be tif DAY"),
        ({"order_type": OrderType.MARKET_ON_CLOSE, "tif": TimeInForce.OPG}, "tif", "OPG"),
        ({"hidden": True}, "hidden", "only a limit order can be hidden"),
        ({"order_type": OrderType.STOP, "stop_price": 1, "hidden": True}, "hidden", "only a limit order"),
        ({"discretionary_amount": Decimal("0.1")}, "discretionary_amount", "only a limit order"),
        (
            {"order_type": OrderType.LIMIT, "limit_price": 1, "discretionary_amount": 0},
            "discretionary_amount",
            "greater than zero",
        ),
        ({"order_type": OrderType.MARKET_ON_CLOSE, "outside_rth": True}, "outside_rth", "auction"),
        ({"tif": TimeInForce.OPG, "outside_rth": True}, "outside_rth", "auction"),
        ({"outside_rth": "yes"}, "outside_rth", "True or False"),
        ({"quantity": Decimal(-5)}, "quantity", "greater than zero"),
        ({"quantity": Decimal(0)}, "quantity", "greater than zero"),
        ({"quantity": float("nan")}, "quantity", "finite"),
        ({"quantity": Decimal("NaN")}, "quantity", "finite"),
        ({"side": "HOLD"}, "side", "unknown side"),
        ({"order_type": "PEG"}, "order_type", "unknown order type"),
        ({"instrument": "AAPL"}, "instrument", "must be an Instrument"),
        ({"instrument": Index("SPX", exchange="CBOE")}, "instrument", "cannot be traded"),
        (
            {"instrument": ContinuousFuture("ES", exchange="CME", multiplier=Decimal(50))},
            "instrument",
            "cannot be traded",
        ),
        ({"link": "parent"}, "link", "must be an OrderLink"),
    ],
)
def test_invalid_orders_name_the_field(kwargs: dict[str, Any], field: str, fragment: str) -> None:
    err = _error(**kwargs)
    assert err.field == field
    assert fragment in err.message
    assert err.hint


def test_negative_quantity_hint_points_at_the_side() -> None:
    assert "side" in (_error(quantity=Decimal(-1)).hint or "")


def test_off_tick_price_is_refused_with_the_nearest_prices() -> None:
    err = _error(instrument=ES, order_type=OrderType.LIMIT, limit_price=Decimal("5000.10"))
    assert err.hint == "use 5000.00 or 5000.25 (nearest: 5000.00)"
    assert "tick size 0.25" in err.message


@pytest.mark.parametrize(
    ("side", "stop", "limit", "message"),
    [
        (BUY, 100, 99, "stop-limit BUY needs limit_price >= stop_price, got limit 99 < stop 100"),
        (SELL, 100, 101, "stop-limit SELL needs limit_price <= stop_price, got limit 101 > stop 100"),
    ],
)
def test_stop_limit_on_the_wrong_side(side: OrderSide, stop: int, limit: int, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        Order.stop_limit(AAPL, side, 1, stop, limit)
    assert info.value.field == "limit_price"
    assert info.value.message == message


def test_stop_limit_with_limit_equal_to_stop_is_fine() -> None:
    assert Order.stop_limit(AAPL, BUY, 1, 100, 100).limit_price == Decimal(100)
    assert Order.stop_limit(AAPL, SELL, 1, 100, 100).limit_price == Decimal(100)


def test_trailing_limit_offset_may_be_zero() -> None:
    assert Order.trailing_stop_limit(AAPL, SELL, 1, trailing_amount=1, limit_offset=0).limit_offset == 0


# --- links --------------------------------------------------------------------------------------------------------


def test_order_link_rules() -> None:
    link = OrderLink(oca_group="g1")
    assert link.oca_type is OcaType.CANCEL_WITH_BLOCK
    assert not link.is_standalone
    assert OrderLink(parent_client_order_id="p-1").parent_client_order_id == ClientOrderId("p-1")  # type: ignore[arg-type]
    assert OrderLink(oca_group="g", oca_type=3).oca_type is OcaType.REDUCE_NON_BLOCK  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="without an oca_group") as info:
        OrderLink(oca_type=OcaType.REDUCE_WITH_BLOCK)
    assert info.value.field == "oca_type"
    with pytest.raises(ValidationError, match="OCA group name") as info:
        OrderLink(oca_group="two words")
    assert info.value.field == "oca_group"
    with pytest.raises(ValidationError) as info:
        OrderLink(transmit=1)  # type: ignore[arg-type]
    assert info.value.field == "transmit"


def test_order_cannot_be_its_own_parent() -> None:
    oid = ClientOrderId("me-1")
    err = _error(client_order_id=oid, link=OrderLink(parent_client_order_id=oid))
    assert err.field == "link.parent_client_order_id"
    assert "itself" in err.message


def test_with_link_keeps_the_id() -> None:
    o = Order.limit(AAPL, BUY, 1, 100)
    linked = o.with_link(OrderLink(ClientOrderId("p-1"), transmit=False))
    assert linked.client_order_id == o.client_order_id
    assert linked.link.transmit is False
    assert o.link.transmit is True


# --- properties ---------------------------------------------------------------------------------------------------

cents = st.integers(min_value=1, max_value=10_000_000).map(lambda c: Decimal(c) / 100)


@settings(database=None, max_examples=200)
@given(stop=cents, gap=st.integers(min_value=0, max_value=10_000).map(lambda c: Decimal(c) / 100), buy=st.booleans())
def test_any_stop_limit_on_the_right_side_builds(stop: Decimal, gap: Decimal, buy: bool) -> None:
    limit = stop + gap if buy else stop - gap
    side = BUY if buy else SELL
    if limit <= 0:
        return
    o = Order.stop_limit(AAPL, side, 1, stop, limit)
    assert (o.stop_price, o.limit_price) == (stop, limit)
    if gap > 0:
        with pytest.raises(ValidationError) as info:
            Order.stop_limit(AAPL, side.opposite, 1, stop, limit)
        assert info.value.field == "limit_price"


@settings(database=None, max_examples=100)
@given(qty=st.integers(min_value=1, max_value=10**9), buy=st.booleans())
def test_signed_quantity_and_notional(qty: int, buy: bool) -> None:
    o = Order.market(ES, BUY if buy else SELL, qty)
    assert o.signed_quantity == (qty if buy else -qty)
    assert o.notional(4000).amount == Decimal(qty) * 4000 * 50
