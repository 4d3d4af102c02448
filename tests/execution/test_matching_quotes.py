"""The fill model against quotes and trade ticks: sides, limits, stop triggers, displayed size, spread slippage."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from quantdesk.domain.events import OrderCancelled, OrderEvent, OrderExpired
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import Quote, TradeTick
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order, OrderType, TimeInForce
from quantdesk.domain.side import OrderSide
from quantdesk.execution import (
    AuctionKind,
    FixedHours,
    MatchingConfig,
    MatchingEngine,
    OrderTriggered,
    SpreadShare,
    TriggerMethod,
    fills_of,
)

AAPL = Stock("AAPL")
T0 = datetime(2024, 1, 2, 15, tzinfo=UTC)
D = Decimal


def quote(sec: int, bid: object, ask: object, bid_size: object = 0, ask_size: object = 0) -> Quote:
    ts = T0 + timedelta(seconds=sec)
    return Quote(AAPL.id, ts, D(str(bid)), D(str(ask)), D(str(bid_size)), D(str(ask_size)))


def trade(sec: int, price: object, size: object = 100) -> TradeTick:
    return TradeTick(AAPL.id, T0 + timedelta(seconds=sec), D(str(price)), D(str(size)))


def fills(events: list[OrderEvent]) -> list[tuple[Decimal, Decimal]]:
    return [(f.quantity, f.price) for f in fills_of(events)]


def names(events: list[OrderEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def gtc(kind: str, side: str, quantity: int, *prices: object, **kwargs: object) -> Order:
    factory = getattr(Order, kind)
    order = factory(AAPL, side, quantity, *prices, tif=TimeInForce.GTC, **kwargs)
    assert isinstance(order, Order)
    return order


def test_market_orders_buy_at_the_ask_and_sell_at_the_bid() -> None:
    engine = MatchingEngine()
    engine.submit_all([gtc("market", "BUY", 10), gtc("market", "SELL", 10)], T0)
    events = engine.on_quote(quote(1, "99.9", "100.1"))
    assert fills(events) == [(D(10), D("100.1")), (D(10), D("99.9"))]
    assert all(f.ts == T0 + timedelta(seconds=1) for f in fills_of(events))


def test_buy_limit_fills_only_when_the_ask_is_at_or_below_it_and_at_the_ask() -> None:
    engine = MatchingEngine()
    engine.submit(gtc("limit", "BUY", 10, 100), T0)
    assert engine.on_quote(quote(1, 100, "100.2")) == []
    assert fills(engine.on_quote(quote(2, "99.8", "99.95"))) == [(D(10), D("99.95"))]


def test_sell_limit_fills_only_when_the_bid_is_at_or_above_it_and_at_the_bid() -> None:
    engine = MatchingEngine()
    engine.submit(gtc("limit", "SELL", 10, 100), T0)
    assert engine.on_quote(quote(1, "99.99", "100.1")) == []
    assert fills(engine.on_quote(quote(2, "100.05", "100.2"))) == [(D(10), D("100.05"))]


def test_stops_trigger_on_the_ask_and_bid_of_quotes_by_default() -> None:
    engine = MatchingEngine()
    buy, sell = gtc("stop", "BUY", 10, 101), gtc("stop", "SELL", 10, 99)
    engine.submit_all([buy, sell], T0)
    assert engine.on_quote(quote(1, "99.1", "100.9")) == []
    events = engine.on_quote(quote(2, "100.95", "101.05"))
    assert names(events) == ["OrderTriggered", "OrderFilled"]
    assert fills(events) == [(D(10), D("101.05"))]
    assert fills(engine.on_quote(quote(3, "98.9", "99.2"))) == [(D(10), D("98.9"))]


def test_stops_trigger_on_trade_ticks_by_default_and_fill_at_the_trade() -> None:
    engine = MatchingEngine()
    engine.submit(gtc("stop", "BUY", 10, 101), T0)
    assert engine.on_trade(trade(1, "100.99")) == []
    assert fills(engine.on_trade(trade(2, "101.2"))) == [(D(10), D("101.2"))]


def test_last_trigger_ignores_quotes_then_fills_on_the_trade() -> None:
    engine = MatchingEngine(MatchingConfig(trigger=TriggerMethod.LAST))
    order = gtc("stop", "BUY", 10, 101)
    engine.submit(order, T0)
    assert engine.on_quote(quote(1, 102, "102.1")) == []
    assert engine.view(order.client_order_id).triggered is False
    assert fills(engine.on_trade(trade(2, "101.5"))) == [(D(10), D("101.5"))]


def test_a_stop_triggered_on_a_trade_but_capped_fills_the_rest_on_the_next_quote() -> None:
    engine = MatchingEngine(MatchingConfig(trigger=TriggerMethod.LAST, respect_trade_size=True))
    order = gtc("stop", "BUY", 10, 101)
    engine.submit(order, T0)
    assert fills(engine.on_trade(trade(1, "101.5", size=4))) == [(D(4), D("101.5"))]
    assert fills(engine.on_quote(quote(2, "101.4", "101.6"))) == [(D(6), D("101.6"))]


def test_bid_ask_trigger_ignores_trade_ticks() -> None:
    engine = MatchingEngine(MatchingConfig(trigger=TriggerMethod.BID_ASK))
    engine.submit(gtc("stop", "BUY", 10, 101), T0)
    assert engine.on_trade(trade(1, 102)) == []
    assert fills(engine.on_quote(quote(2, 101, "101.1"))) == [(D(10), D("101.1"))]


def test_mid_trigger_uses_the_midpoint_and_fills_at_the_ask() -> None:
    engine = MatchingEngine(MatchingConfig(trigger=TriggerMethod.MID))
    engine.submit(gtc("stop", "BUY", 10, 101), T0)
    assert engine.on_quote(quote(1, "100.6", "101.3")) == []  # mid 100.95
    events = engine.on_quote(quote(2, "100.8", "101.4"))  # mid 101.1
    trig = events[0]
    assert isinstance(trig, OrderTriggered)
    assert trig.trigger_price == D("101.1")
    assert fills(events) == [(D(10), D("101.4"))]


def test_displayed_size_caps_fills_per_side_and_is_shared() -> None:
    engine = MatchingEngine(MatchingConfig(respect_quote_size=True))
    a, b = gtc("market", "BUY", 20), gtc("market", "BUY", 20)
    sell = gtc("market", "SELL", 50)
    engine.submit_all([a, b, sell], T0)
    events = engine.on_quote(quote(1, "99.9", "100.1", bid_size=100, ask_size=30))
    assert [(f.client_order_id, f.quantity) for f in fills_of(events)] == [
        (a.client_order_id, D(20)),
        (b.client_order_id, D(10)),
        (sell.client_order_id, D(50)),
    ]
    assert fills(engine.on_quote(quote(2, "99.9", "100.1", ask_size=5))) == [(D(5), D("100.1"))]
    assert engine.state(b.client_order_id).status is OrderStatus.PARTIALLY_FILLED


def test_spread_share_slippage_is_adverse_and_clamped_to_the_limit() -> None:
    engine = MatchingEngine(MatchingConfig(slippage=SpreadShare(D("0.5"))))
    engine.submit_all([gtc("market", "BUY", 1), gtc("market", "SELL", 1), gtc("limit", "BUY", 1, "100.15")], T0)
    # spread 0.2: buy 100.1 + 0.1, sell 99.9 - 0.1, the limit would pay 100.2 but stops at 100.15
    assert [p for _, p in fills(engine.on_quote(quote(1, "99.9", "100.1")))] == [D("100.2"), D("99.8"), D("100.15")]


def test_trailing_sell_stop_trails_the_bid() -> None:
    engine = MatchingEngine()
    order = Order.trailing_stop(AAPL, "SELL", 10, trailing_amount="0.5", tif=TimeInForce.GTC)
    engine.submit(order, T0)
    assert engine.on_quote(quote(1, 100, "100.1")) == []
    assert engine.view(order.client_order_id).stop == D("99.5")
    assert engine.on_quote(quote(2, 101, "101.1")) == []
    assert engine.view(order.client_order_id).stop == D("100.5")
    assert fills(engine.on_quote(quote(3, "100.4", "100.5"))) == [(D(10), D("100.4"))]


def test_trade_ticks_fill_market_and_marketable_limit_orders_at_the_trade_price() -> None:
    engine = MatchingEngine()
    engine.submit_all([gtc("market", "BUY", 1), gtc("limit", "BUY", 1, 100), gtc("limit", "SELL", 1, 100)], T0)
    assert fills(engine.on_trade(trade(1, "99.5"))) == [(D(1), D("99.5")), (D(1), D("99.5"))]


def test_ioc_fills_what_the_first_quote_shows_and_cancels_the_rest() -> None:
    engine = MatchingEngine(MatchingConfig(respect_quote_size=True))
    order = Order.market(AAPL, "BUY", 10, tif=TimeInForce.IOC)
    engine.submit(order, T0)
    events = engine.on_quote(quote(1, "99.9", "100.1", ask_size=4))
    assert names(events) == ["OrderPartiallyFilled", "OrderCancelled"]
    state = engine.state(order.client_order_id)
    assert (state.status, state.filled_quantity) == (OrderStatus.CANCELLED, D(4))


HOURS = FixedHours(time(14, 30), time(21, 0))
OPEN, CLOSE = T0.replace(hour=14, minute=30), T0.replace(hour=21)


def test_opening_auction_on_tick_data_fills_opg_orders_and_expires_the_rest() -> None:
    engine = MatchingEngine(calendar=HOURS)
    moo = Order.market_on_open(AAPL, "BUY", 10)
    loo = Order(AAPL, OrderSide.BUY, D(10), order_type=OrderType.LIMIT, limit_price=D(99), tif=TimeInForce.OPG)
    engine.submit_all([moo, loo], T0.replace(hour=13))
    pre_open = Quote(AAPL.id, OPEN - timedelta(minutes=1), D(100), D("100.2"))
    assert engine.on_quote(pre_open) == []
    events = engine.on_auction(AAPL.id, AuctionKind.OPEN, "100.5", OPEN)
    assert names(events) == ["OrderFilled", "OrderExpired"]
    assert fills(events) == [(D(10), D("100.5"))]
    assert engine.state(loo.client_order_id).status is OrderStatus.EXPIRED


def test_opg_order_expires_on_the_first_data_after_the_open_without_an_auction_print() -> None:
    engine = MatchingEngine(calendar=HOURS)
    moo = Order.market_on_open(AAPL, "BUY", 10)
    engine.submit(moo, T0.replace(hour=13))
    events = engine.on_quote(Quote(AAPL.id, OPEN + timedelta(seconds=1), D(100), D("100.2")))
    assert names(events) == ["OrderExpired"]
    assert events[0].ts == OPEN


def test_closing_auction_fills_moc_expires_unmet_loc_and_day_orders() -> None:
    engine = MatchingEngine(calendar=HOURS)
    moc, loc = Order.market_on_close(AAPL, "SELL", 10), Order.limit_on_close(AAPL, "SELL", 10, 102)
    day_limit = Order.limit(AAPL, "BUY", 10, 90)
    engine.submit_all([moc, loc, day_limit], T0)
    events = engine.on_auction(AAPL.id, AuctionKind.CLOSE, 101, CLOSE)
    assert names(events) == ["OrderFilled", "OrderExpired", "OrderExpired"]
    assert fills(events) == [(D(10), D(101))]
    expired = [e for e in events if isinstance(e, OrderExpired)]
    assert [e.client_order_id for e in expired] == [loc.client_order_id, day_limit.client_order_id]
    assert all(e.ts == CLOSE for e in expired)


@pytest.mark.parametrize("kind", ["IOC", "FOK"])
def test_immediate_orders_that_cannot_fill_on_the_first_quote_are_cancelled(kind: str) -> None:
    engine = MatchingEngine()
    order = Order.limit(AAPL, "BUY", 10, 100, tif=TimeInForce.parse(kind))
    engine.submit(order, T0)
    events = engine.on_quote(quote(1, "100.3", "100.5"))
    assert names(events) == ["OrderCancelled"]
    assert isinstance(events[0], OrderCancelled)
    assert kind in events[0].reason
    assert engine.on_quote(quote(2, "99", "99.5")) == []
