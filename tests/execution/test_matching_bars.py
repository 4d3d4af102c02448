"""The fill model against bars: every order type, gaps, both intrabar path orders, auctions, caps, slippage, fees.

Every expected price is worked out by hand from the documented path: open, then the nearer of high/low, then the
other, then close.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from quantdesk.domain.events import OrderEvent, OrderExpired, OrderFilled, OrderPartiallyFilled
from quantdesk.domain.fills import Liquidity
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import Bar
from quantdesk.domain.order_lists import OcaGroup, OcaType
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order, OrderType, TimeInForce
from quantdesk.domain.side import OrderSide
from quantdesk.errors import DataError
from quantdesk.execution import (
    FixedBps,
    FixedHours,
    IbFixed,
    IbTiered,
    MatchingConfig,
    MatchingEngine,
    OrderTriggered,
    bar_path,
    fills_of,
)

AAPL, MSFT = Stock("AAPL"), Stock("MSFT")
T0 = datetime(2024, 1, 2, tzinfo=UTC)
ONE_DAY = timedelta(days=1)
D = Decimal


def day(i: int) -> datetime:
    return T0 + i * ONE_DAY


def bar(i: int, o: object, h: object, lo: object, c: object, volume: object = 1_000_000, inst: Stock = AAPL) -> Bar:
    return Bar.of(inst.id, "1 day", day(i), str(o), str(h), str(lo), str(c), str(volume))


def fills(events: list[OrderEvent]) -> list[tuple[Decimal, Decimal]]:
    return [(f.quantity, f.price) for f in fills_of(events)]


def names(events: list[OrderEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def gtc(order_factory: object, *args: object, **kwargs: object) -> Order:
    assert callable(order_factory)
    order = order_factory(*args, tif=TimeInForce.GTC, **kwargs)
    assert isinstance(order, Order)
    return order


# --- market and limit -------------------------------------------------------------------------------------------


def test_market_order_fills_at_the_open_of_the_first_bar_and_is_stamped_at_its_end() -> None:
    engine = MatchingEngine()
    order = Order.market(AAPL, "BUY", 100)
    assert names(engine.submit(order, T0)) == ["OrderAccepted"]
    events = engine.on_bar(bar(0, 50, 52, 49, 51))
    assert names(events) == ["OrderFilled"]
    fill = fills_of(events)[0]
    assert (fill.quantity, fill.price, fill.ts, fill.liquidity) == (D(100), D(50), day(1), Liquidity.REMOVED)
    assert engine.state(order.client_order_id).status is OrderStatus.FILLED
    assert engine.open_orders() == []


def test_an_order_never_meets_a_bar_that_started_before_it_was_submitted() -> None:
    engine = MatchingEngine()
    order = gtc(Order.market, AAPL, "BUY", 10)
    engine.submit(order, day(1) + timedelta(hours=1))
    assert engine.on_bar(bar(1, 50, 52, 49, 51)) == []
    assert fills(engine.on_bar(bar(2, 53, 54, 52, 53))) == [(D(10), D(53))]


def test_buy_limit_touched_intrabar_fills_at_the_limit_as_a_resting_order() -> None:
    engine = MatchingEngine()
    engine.submit(gtc(Order.limit, AAPL, "BUY", 100, 100), T0)
    # 102 -> 103 (nearer) -> 99 -> 101: the fall from 103 to 99 passes 100
    events = engine.on_bar(bar(0, 102, 103, 99, 101))
    assert fills(events) == [(D(100), D(100))]
    assert fills_of(events)[0].liquidity is Liquidity.ADDED


def test_buy_limit_below_a_gapped_open_fills_at_the_open_price_improvement() -> None:
    engine = MatchingEngine()
    engine.submit(gtc(Order.limit, AAPL, "BUY", 100, 100), T0)
    assert fills(engine.on_bar(bar(0, 97, 99, 96, 98))) == [(D(100), D(97))]


def test_limit_not_reached_keeps_working() -> None:
    engine = MatchingEngine()
    order = gtc(Order.limit, AAPL, "BUY", 100, 100)
    engine.submit(order, T0)
    assert engine.on_bar(bar(0, 102, 104, "100.01", 103)) == []
    assert engine.state(order.client_order_id).status is OrderStatus.SUBMITTED
    assert [v.order.client_order_id for v in engine.open_orders()] == [order.client_order_id]


@pytest.mark.parametrize(
    ("bar_prices", "expected"),
    [
        ((102, 106, 101, 104), D(105)),  # 102 -> 101 -> 106: the rise passes 105
        ((107, 108, 104, 105), D(107)),  # gap above the limit: fills at the open
    ],
)
def test_sell_limit_intrabar_and_gap(bar_prices: tuple[int, int, int, int], expected: Decimal) -> None:
    engine = MatchingEngine()
    engine.submit(gtc(Order.limit, AAPL, "SELL", 100, 105), T0)
    assert fills(engine.on_bar(bar(0, *bar_prices))) == [(D(100), expected)]


# --- stops ------------------------------------------------------------------------------------------------------


def test_buy_stop_gapped_through_fills_at_the_open() -> None:
    engine = MatchingEngine()
    engine.submit(gtc(Order.stop, AAPL, "BUY", 100, 100), T0)
    events = engine.on_bar(bar(0, 103, 105, 102, 104))
    assert names(events) == ["OrderTriggered", "OrderFilled"]
    trig = events[0]
    assert isinstance(trig, OrderTriggered)
    assert (trig.trigger_price, trig.limit_price) == (D(103), None)
    assert fills(events) == [(D(100), D(103))]


@pytest.mark.parametrize(
    ("side", "stop", "bar_prices", "expected"),
    [
        ("BUY", 100, (98, 101, 97, 100), D(100)),  # 98 -> 97 -> 101 passes 100
        ("SELL", 95, (97, 98, 94, 96), D(95)),  # 97 -> 98 -> 94 passes 95
        ("SELL", 95, (93, 96, 92, 94), D(93)),  # gap below the stop
    ],
)
def test_stops_trigger_where_the_path_crosses_them(
    side: str, stop: int, bar_prices: tuple[int, int, int, int], expected: Decimal
) -> None:
    engine = MatchingEngine()
    engine.submit(gtc(Order.stop, AAPL, side, 10, stop), T0)
    assert fills(engine.on_bar(bar(0, *bar_prices))) == [(D(10), expected)]


def test_stop_not_reached_does_not_trigger() -> None:
    engine = MatchingEngine()
    order = gtc(Order.stop, AAPL, "BUY", 10, 100)
    engine.submit(order, T0)
    assert engine.on_bar(bar(0, 98, "99.99", 97, 99)) == []
    assert engine.view(order.client_order_id).triggered is False


def test_stop_limit_triggers_and_fills_at_the_stop_within_its_limit() -> None:
    engine = MatchingEngine()
    engine.submit(gtc(Order.stop_limit, AAPL, "BUY", 10, 100, 101), T0)
    # 99 -> 98.5 (nearer) -> 102: triggers at 100, a limit of 101 is marketable there
    events = engine.on_bar(bar(0, 99, 102, "98.5", 101))
    assert names(events) == ["OrderTriggered", "OrderFilled"]
    assert fills(events) == [(D(10), D(100))]


def test_stop_limit_triggered_by_a_gap_above_its_limit_does_not_fill_until_the_limit_trades() -> None:
    engine = MatchingEngine()
    order = gtc(Order.stop_limit, AAPL, "BUY", 10, 100, 101)
    engine.submit(order, T0)
    events = engine.on_bar(bar(0, 103, 104, "102.5", "103.5"))
    assert names(events) == ["OrderTriggered"]
    view = engine.view(order.client_order_id)
    assert (view.triggered, view.limit, view.state.status) == (True, D(101), OrderStatus.SUBMITTED)
    # next bar 102 -> 102.5 -> 100.5: the limit 101 is reached on the way down
    events = engine.on_bar(bar(1, 102, "102.5", "100.5", "101.5"))
    assert fills(events) == [(D(10), D(101))]
    assert fills_of(events)[0].liquidity is Liquidity.ADDED


# --- the intrabar path ------------------------------------------------------------------------------------------


def test_bar_path_visits_the_nearer_extreme_first_and_breaks_ties_away_from_the_close() -> None:
    assert bar_path(bar(0, 100, 110, 88, 95)) == (D(100), D(110), D(88), D(95))
    assert bar_path(bar(0, 100, 112, 90, 105)) == (D(100), D(90), D(112), D(105))
    assert bar_path(bar(0, 100, 105, 95, 98)) == (D(100), D(105), D(95), D(98))
    assert bar_path(bar(0, 100, 105, 95, 102)) == (D(100), D(95), D(105), D(102))
    assert bar_path(bar(0, 100, 105, 95, 100)) == (D(100), D(105), D(95), D(100))


@pytest.mark.parametrize(
    ("bar_prices", "winner", "price"),
    [
        ((100, 110, 88, 95), "take_profit", D(110)),  # high is nearer: the limit at 110 fills first
        ((100, 112, 90, 105), "stop", D(90)),  # low is nearer: the stop at 90 fills first
    ],
)
def test_path_order_decides_which_exit_of_an_oca_pair_fills(
    bar_prices: tuple[int, int, int, int], winner: str, price: Decimal
) -> None:
    engine = MatchingEngine()
    take_profit = gtc(Order.limit, AAPL, "SELL", 100, 110)
    stop = gtc(Order.stop, AAPL, "SELL", 100, 90)
    group = OcaGroup.of(take_profit, stop, name="exit", oca_type=OcaType.CANCEL_WITH_BLOCK)
    engine.submit_all(group.orders, T0)
    events = engine.on_bar(bar(0, *bar_prices))
    filled = fills_of(events)
    assert [(f.client_order_id, f.price) for f in filled] == [
        (group.orders[0 if winner == "take_profit" else 1].client_order_id, price)
    ]
    loser = group.orders[1 if winner == "take_profit" else 0]
    assert engine.state(loser.client_order_id).status is OrderStatus.CANCELLED


# --- trailing stops ---------------------------------------------------------------------------------------------


def test_trailing_sell_stop_ratchets_with_the_high_and_fills_at_its_stop() -> None:
    engine = MatchingEngine()
    engine.on_bar(bar(0, 100, 100, 100, 100))  # last price 100
    order = Order.trailing_stop(AAPL, "SELL", 10, trailing_amount=2, tif=TimeInForce.GTC)
    engine.submit(order, day(1))
    assert engine.view(order.client_order_id).stop == D(98)
    # 101 -> 100.5 -> 105 -> 104: the stop follows the high to 103 and is not reached
    assert engine.on_bar(bar(1, 101, 105, "100.5", 104)) == []
    assert engine.view(order.client_order_id).stop == D(103)
    # 104 -> 104.5 -> 102: the high of 105 still sets the stop at 103, which the fall passes
    events = engine.on_bar(bar(2, 104, "104.5", 102, "102.5"))
    assert names(events) == ["OrderTriggered", "OrderFilled"]
    assert fills(events) == [(D(10), D(103))]


def test_trailing_buy_stop_follows_the_low() -> None:
    engine = MatchingEngine()
    engine.on_bar(bar(0, 100, 100, 100, 100))
    order = Order.trailing_stop(AAPL, "BUY", 10, trailing_amount=2, tif=TimeInForce.GTC)
    engine.submit(order, day(1))
    assert engine.view(order.client_order_id).stop == D(102)
    # 99 (stop 101) -> 97 (stop 99) -> 101.5: the rise passes 99
    assert fills(engine.on_bar(bar(1, 99, "101.5", 97, 101))) == [(D(10), D(99))]


def test_trailing_percent_rounds_the_stop_away_from_the_market() -> None:
    engine = MatchingEngine()
    engine.on_bar(bar(0, "105.55", "105.55", "105.55", "105.55"))
    sell = Order.trailing_stop(AAPL, "SELL", 10, trailing_percent=10, tif=TimeInForce.GTC)
    buy = Order.trailing_stop(AAPL, "BUY", 10, trailing_percent=10, tif=TimeInForce.GTC)
    engine.submit_all([sell, buy], day(1))
    assert engine.view(sell.client_order_id).stop == D("94.99")  # 94.995 rounded down
    assert engine.view(buy.client_order_id).stop == D("116.11")  # 116.105 rounded up


def test_trailing_stop_starts_from_its_stop_price_and_then_trails() -> None:
    engine = MatchingEngine()
    order = Order.trailing_stop(AAPL, "BUY", 10, trailing_amount=3, stop_price=110, tif=TimeInForce.GTC)
    engine.submit(order, T0)
    assert engine.view(order.client_order_id).stop == D(110)
    # tie, close above open -> low first: 100 (stop 103) -> 99 (stop 102) -> 101 -> 100.5
    assert engine.on_bar(bar(0, 100, 101, 99, "100.5")) == []
    assert engine.view(order.client_order_id).stop == D(102)


def test_trailing_stop_limit_sets_its_limit_from_the_stop_when_triggered() -> None:
    engine = MatchingEngine()
    engine.on_bar(bar(0, 100, 100, 100, 100))
    order = Order.trailing_stop_limit(AAPL, "SELL", 10, trailing_amount=1, limit_offset="0.5", tif=TimeInForce.GTC)
    engine.submit(order, day(1))
    # gap to 97 triggers (stop 99, limit 98.5, not marketable at 97); 97 -> 96 -> 99.2 reaches 98.5
    events = engine.on_bar(bar(1, 97, "99.2", 96, 98))
    assert names(events) == ["OrderTriggered", "OrderFilled"]
    trig = events[0]
    assert isinstance(trig, OrderTriggered)
    assert (trig.trigger_price, trig.limit_price) == (D(97), D("98.5"))
    assert fills(events) == [(D(10), D("98.5"))]


# --- auctions ---------------------------------------------------------------------------------------------------

HOURS = FixedHours(time(14, 30), time(21, 0))


def half_hour(ts: datetime, o: object, h: object, lo: object, c: object, volume: object = 1000) -> Bar:
    return Bar.of(AAPL.id, "30 mins", ts, str(o), str(h), str(lo), str(c), str(volume))


def test_market_on_close_fills_at_the_close_of_the_bar_that_ends_the_session() -> None:
    engine = MatchingEngine(calendar=HOURS)
    order = Order.market_on_close(AAPL, "BUY", 10)
    engine.submit(order, T0.replace(hour=15))
    assert engine.on_bar(half_hour(T0.replace(hour=20), 100, 101, 99, 100)) == []
    events = engine.on_bar(half_hour(T0.replace(hour=20, minute=30), 100, 102, 99, 101))
    assert fills(events) == [(D(10), D(101))]
    assert fills_of(events)[0].liquidity is None


def test_limit_on_close_not_met_expires_at_the_close() -> None:
    engine = MatchingEngine(calendar=HOURS)
    order = Order.limit_on_close(AAPL, "BUY", 10, 99)
    engine.submit(order, T0.replace(hour=15))
    events = engine.on_bar(half_hour(T0.replace(hour=20, minute=30), 100, 102, 98, 101))
    assert names(events) == ["OrderExpired"]
    assert isinstance(events[0], OrderExpired)
    assert events[0].ts == T0.replace(hour=21)
    assert "closing auction" in events[0].reason


def test_on_close_orders_fill_at_a_daily_bars_close() -> None:
    engine = MatchingEngine()
    engine.submit(Order.market_on_close(AAPL, "SELL", 10), T0)
    assert fills(engine.on_bar(bar(0, 100, 102, 99, 101))) == [(D(10), D(101))]


def test_market_on_open_fills_at_the_open_of_the_next_session() -> None:
    engine = MatchingEngine()
    before = Order.market_on_open(AAPL, "BUY", 10)
    during = Order.market_on_open(AAPL, "BUY", 5)
    engine.submit(before, T0 - timedelta(hours=1))  # next open: T0
    engine.submit(during, T0 + timedelta(hours=1))  # the open has passed: next open is day 1
    assert engine.view(during.client_order_id).auction_at == day(1)
    assert fills(engine.on_bar(bar(0, 100, 102, 99, 101))) == [(D(10), D(100))]
    assert fills(engine.on_bar(bar(1, 103, 104, 102, 103))) == [(D(5), D(103))]


def test_limit_on_open_not_met_expires_at_the_open() -> None:
    engine = MatchingEngine()
    order = Order(AAPL, OrderSide.BUY, D(10), order_type=OrderType.LIMIT, limit_price=D(99), tif=TimeInForce.OPG)
    engine.submit(order, T0 - timedelta(hours=1))
    events = engine.on_bar(bar(0, 100, 102, 98, 101))  # the path later trades 99: irrelevant for LOO
    assert names(events) == ["OrderExpired"]
    assert events[0].ts == T0


# --- quantities -------------------------------------------------------------------------------------------------


def test_volume_participation_caps_each_bar_and_the_rest_keeps_working() -> None:
    engine = MatchingEngine(MatchingConfig(max_volume_participation=D("0.1")))
    order = gtc(Order.market, AAPL, "BUY", 120)
    engine.submit(order, T0)
    first = engine.on_bar(bar(0, 50, 51, 49, 50, volume=500))
    assert names(first) == ["OrderPartiallyFilled"]
    assert fills(first) == [(D(50), D(50))]
    assert engine.state(order.client_order_id).status is OrderStatus.PARTIALLY_FILLED
    assert fills(engine.on_bar(bar(1, 52, 53, 51, 52, volume=500))) == [(D(50), D(52))]
    last = engine.on_bar(bar(2, 54, 55, 53, 54, volume=500))
    assert fills(last) == [(D(20), D(54))]
    assert isinstance(last[0], OrderFilled)
    state = engine.state(order.client_order_id)
    assert (state.filled_quantity, state.avg_fill_price) == (D(120), (50 * 50 + 50 * 52 + 20 * 54) / D(120))


def test_volume_cap_is_shared_by_the_orders_of_the_instrument() -> None:
    engine = MatchingEngine(MatchingConfig(max_volume_participation=D("0.1")))
    a, b = gtc(Order.market, AAPL, "BUY", 40), gtc(Order.market, AAPL, "SELL", 40)
    engine.submit_all([a, b], T0)
    events = engine.on_bar(bar(0, 50, 51, 49, 50, volume=500))
    assert [(f.client_order_id, f.quantity) for f in fills_of(events)] == [
        (a.client_order_id, D(40)),
        (b.client_order_id, D(10)),
    ]


def test_capped_quantity_rounds_down_to_the_lot() -> None:
    engine = MatchingEngine(MatchingConfig(max_volume_participation=D("0.1")))
    engine.submit(gtc(Order.market, AAPL, "BUY", 100), T0)
    assert fills(engine.on_bar(bar(0, 50, 51, 49, 50, volume=125))) == [(D(12), D(50))]
    frac = Stock("FRAC", lot_size=D("0.1"), allows_fractional=True)
    engine = MatchingEngine(MatchingConfig(max_volume_participation=D("0.01")))
    engine.submit(gtc(Order.market, frac, "BUY", 100), T0)
    assert fills(engine.on_bar(bar(0, 50, 51, 49, 50, volume=1234, inst=frac))) == [(D("12.3"), D(50))]


def test_all_or_none_waits_until_it_can_fill_in_full() -> None:
    engine = MatchingEngine(MatchingConfig(max_volume_participation=D("0.1")))
    order = Order.limit(AAPL, "BUY", 100, 60, tif=TimeInForce.GTC, all_or_none=True)
    engine.submit(order, T0)
    assert engine.on_bar(bar(0, 50, 51, 49, 50, volume=500)) == []
    assert fills(engine.on_bar(bar(1, 50, 51, 49, 50, volume=2000))) == [(D(100), D(50))]


# --- slippage and fees ------------------------------------------------------------------------------------------


def test_fixed_bps_slippage_is_adverse_and_never_beyond_a_limit() -> None:
    engine = MatchingEngine(MatchingConfig(slippage=FixedBps.of(10)))
    engine.submit_all(
        [
            gtc(Order.market, AAPL, "BUY", 1),
            gtc(Order.market, AAPL, "SELL", 1),
            gtc(Order.limit, AAPL, "BUY", 1, 100),
        ],
        T0,
    )
    # open 100: market buy 100.1, market sell 99.9, the limit at 100 would slip to 100.1 but is clamped to 100
    assert [p for _, p in fills(engine.on_bar(bar(0, 100, 101, 99, 100)))] == [D("100.1"), D("99.9"), D(100)]
    engine.submit(gtc(Order.limit, AAPL, "BUY", 1, 100), day(1))
    assert fills(engine.on_bar(bar(1, 97, 98, 96, 97))) == [(D(1), D("97.097"))]


def test_commission_of_an_order_filled_in_pieces_pays_the_minimum_once() -> None:
    engine = MatchingEngine(MatchingConfig(max_volume_participation=D("0.1"), fees=IbFixed()))
    engine.submit(gtc(Order.market, AAPL, "BUY", 300), T0)
    paid = [fills_of(engine.on_bar(bar(i, 20, 21, 19, 20, volume=1000)))[0].commission.amount for i in range(3)]
    assert paid == [D("1.00"), D("0.00"), D("0.50")]  # cumulative 1.00, 1.00 (minimum), 1.50


def test_tiered_commission_rate_follows_the_volume_traded_earlier_in_the_month() -> None:
    engine = MatchingEngine(MatchingConfig(fees=IbTiered.commission_only()))
    engine.submit(Order.market(AAPL, "BUY", 300_000), T0)
    first = fills_of(engine.on_bar(bar(0, 10, 11, 9, 10)))[0]
    engine.submit(Order.market(AAPL, "SELL", 1_000), day(1))
    second = fills_of(engine.on_bar(bar(1, 10, 11, 9, 10)))[0]
    assert (first.commission.amount, second.commission.amount) == (D("1050.00"), D("2.00"))  # 0.0035, then 0.0020


# --- regular trading hours, time order, other instruments --------------------------------------------------------


def test_rth_only_orders_skip_bars_outside_regular_hours() -> None:
    engine = MatchingEngine(calendar=HOURS)
    inside = gtc(Order.limit, AAPL, "BUY", 10, 100)
    outside = Order.limit(AAPL, "BUY", 10, 100, tif=TimeInForce.GTC, outside_rth=True)
    engine.submit_all([inside, outside], T0.replace(hour=12))
    events = engine.on_bar(half_hour(T0.replace(hour=13), 99, 100, 98, 99))
    assert [f.client_order_id for f in fills_of(events)] == [outside.client_order_id]
    events = engine.on_bar(half_hour(T0.replace(hour=14, minute=30), 99, 100, 98, 99))
    assert [f.client_order_id for f in fills_of(events)] == [inside.client_order_id]


def test_data_going_back_in_time_is_refused() -> None:
    engine = MatchingEngine()
    engine.on_bar(bar(1, 50, 51, 49, 50))
    with pytest.raises(DataError) as info:
        engine.on_bar(bar(0, 50, 51, 49, 50))
    assert info.value.field == "ts"


def test_a_bar_only_touches_the_orders_of_its_instrument() -> None:
    engine = MatchingEngine()
    aapl, msft = gtc(Order.market, AAPL, "BUY", 1), gtc(Order.market, MSFT, "BUY", 1)
    engine.submit_all([aapl, msft], T0)
    events = engine.on_bar(bar(0, 50, 51, 49, 50, inst=MSFT))
    assert [f.client_order_id for f in fills_of(events)] == [msft.client_order_id]
    assert isinstance(events[0], OrderFilled)
    assert not isinstance(events[0], OrderPartiallyFilled)
    assert engine.state(aapl.client_order_id).status is OrderStatus.SUBMITTED
