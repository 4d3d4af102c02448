"""Contingent orders through the engine: brackets, OCA types 1/2/3 with partial fills, OTO, modify and cancel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from quantdesk.domain.events import (
    OrderCancelled,
    OrderCancelRejected,
    OrderEvent,
    OrderModified,
    OrderModifyRejected,
    OrderRejected,
)
from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import Bar
from quantdesk.domain.order_lists import Bracket, OcaGroup, OcaType, Oto
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order, OrderLink, TimeInForce
from quantdesk.execution import MatchingConfig, MatchingEngine, OrderActivated, fills_of

AAPL = Stock("AAPL")
T0 = datetime(2024, 1, 2, tzinfo=UTC)
D = Decimal
GTC = TimeInForce.GTC


def bar(i: int, o: object, h: object, lo: object, c: object, volume: object = 1_000_000) -> Bar:
    return Bar.of(AAPL.id, "1 day", T0 + timedelta(days=i), str(o), str(h), str(lo), str(c), str(volume))


def names(events: list[OrderEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def filled(engine: MatchingEngine, order: Order) -> Decimal:
    return engine.state(order.client_order_id).filled_quantity


def status(engine: MatchingEngine, order: Order) -> OrderStatus:
    return engine.state(order.client_order_id).status


# --- brackets -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("oca_type", "reason"),
    [(OcaType.CANCEL_WITH_BLOCK, "another order filled"), (OcaType.REDUCE_WITH_BLOCK, "is filled")],
)
def test_bracket_parent_fills_then_take_profit_fills_and_the_stop_is_cancelled(oca_type: OcaType, reason: str) -> None:
    engine = MatchingEngine()
    b = Bracket.build(AAPL, "BUY", 100, 100, 110, 95, tif=GTC, oca_type=oca_type)
    assert names(engine.submit_all(b.orders, T0)) == ["OrderAccepted"] * 3
    assert [engine.view(o.client_order_id).active for o in b.orders] == [True, False, False]
    assert engine.on_bar(bar(0, 102, 103, 101, 102)) == []
    # 101 -> 101.5 -> 99: the entry fills at 100 and its children go live
    events = engine.on_bar(bar(1, 101, "101.5", 99, "100.5"))
    assert names(events) == ["OrderFilled", "OrderActivated", "OrderActivated"]
    assert [e.client_order_id for e in events[1:]] == [b.take_profit.client_order_id, b.stop_loss.client_order_id]
    assert isinstance(events[1], OrderActivated)
    assert events[1].parent_client_order_id == b.entry.client_order_id
    # 105 -> 104 -> 111: the take-profit fills at 110, the stop-loss is cancelled
    events = engine.on_bar(bar(2, 105, 111, 104, 110))
    assert names(events) == ["OrderFilled", "OrderCancelled"]
    assert [(f.client_order_id, f.price) for f in fills_of(events)] == [(b.take_profit.client_order_id, D(110))]
    cancelled = events[1]
    assert isinstance(cancelled, OrderCancelled)
    assert cancelled.client_order_id == b.stop_loss.client_order_id
    assert reason in cancelled.reason
    assert engine.open_orders() == []


def test_bracket_children_never_act_before_the_parent_fills() -> None:
    engine = MatchingEngine()
    b = Bracket.build(AAPL, "BUY", 100, 100, 110, 95, tif=GTC)
    engine.submit_all(b.orders, T0)
    assert engine.on_bar(bar(0, 101, 112, "100.5", 105)) == []  # crosses the take-profit, not the entry
    assert engine.on_bar(bar(1, 101, 112, "100.5", 105)) == []
    assert [status(engine, o) for o in b.orders] == [OrderStatus.SUBMITTED] * 3


def test_children_activated_by_a_fill_at_the_open_can_fill_later_in_the_same_bar() -> None:
    engine = MatchingEngine()
    b = Bracket.build(AAPL, "BUY", 100, None, 110, 95, tif=GTC)
    engine.submit_all(b.orders, T0)
    # 100 (entry) -> 101 -> 94: the stop-loss at 95 is reached on the way down
    events = engine.on_bar(bar(0, 100, 101, 94, 96))
    assert names(events) == [
        "OrderFilled",
        "OrderActivated",
        "OrderActivated",
        "OrderTriggered",
        "OrderFilled",
        "OrderCancelled",
    ]
    assert [(f.client_order_id, f.price) for f in fills_of(events)] == [
        (b.entry.client_order_id, D(100)),
        (b.stop_loss.client_order_id, D(95)),
    ]


def test_partial_parent_fill_lets_children_fill_only_the_filled_share() -> None:
    engine = MatchingEngine(MatchingConfig(max_volume_participation=D("0.1")))
    b = Bracket.build(AAPL, "BUY", 100, 100, 110, 95, tif=GTC)
    engine.submit_all(b.orders, T0)
    events = engine.on_bar(bar(0, 100, 101, "99.5", 100, volume=400))  # entry: 40 of 100 at the open
    assert names(events) == ["OrderPartiallyFilled", "OrderActivated", "OrderActivated"]
    # 108 -> 107.5 -> 111: the take-profit may sell 40 (the position), not 100; the stop shrinks to 60
    events = engine.on_bar(bar(1, 108, 111, "107.5", 110, volume=10_000))
    assert [(f.client_order_id, f.quantity) for f in fills_of(events)] == [(b.take_profit.client_order_id, D(40))]
    modified = [e for e in events if isinstance(e, OrderModified)]
    assert [(e.client_order_id, e.quantity) for e in modified] == [(b.stop_loss.client_order_id, D(60))]
    assert engine.state(b.stop_loss.client_order_id).quantity == D(60)
    # the entry completes; nothing exits beyond the position: long 60 now, 60 left on each exit
    events = engine.on_bar(bar(2, 101, 102, 99, 100, volume=10_000))
    assert [(f.client_order_id, f.quantity) for f in fills_of(events)] == [(b.entry.client_order_id, D(60))]
    assert (filled(engine, b.take_profit), engine.state(b.take_profit.client_order_id).remaining) == (D(40), D(60))


def test_cancelling_an_unfilled_parent_cancels_its_children() -> None:
    engine = MatchingEngine()
    b = Bracket.build(AAPL, "BUY", 100, 100, 110, 95, tif=GTC)
    engine.submit_all(b.orders, T0)
    events = engine.cancel(b.entry.client_order_id, T0 + timedelta(hours=1))
    assert [(type(e).__name__, e.client_order_id) for e in events] == [
        ("OrderCancelled", b.entry.client_order_id),
        ("OrderCancelled", b.take_profit.client_order_id),
        ("OrderCancelled", b.stop_loss.client_order_id),
    ]
    assert isinstance(events[1], OrderCancelled)
    assert events[1].reason == f"parent {b.entry.client_order_id} cancelled"


def test_cancelling_a_partly_filled_parent_keeps_its_children_protecting_the_position() -> None:
    engine = MatchingEngine(MatchingConfig(max_volume_participation=D("0.1")))
    b = Bracket.build(AAPL, "BUY", 100, 100, 110, 95, tif=GTC)
    engine.submit_all(b.orders, T0)
    engine.on_bar(bar(0, 100, 101, "99.5", 100, volume=300))  # 30 filled
    assert names(engine.cancel(b.entry.client_order_id, T0 + timedelta(days=1))) == ["OrderCancelled"]
    events = engine.on_bar(bar(1, 96, 97, 94, 95, volume=10_000))  # the stop sells the 30 held
    assert [(f.client_order_id, f.quantity) for f in fills_of(events)] == [(b.stop_loss.client_order_id, D(30))]


def test_a_parent_that_expires_unfilled_takes_its_children_with_it() -> None:
    engine = MatchingEngine()
    b = Bracket.build(AAPL, "BUY", 100, 100, 110, 95)  # DAY
    engine.submit_all(b.orders, T0)
    events = engine.on_bar(bar(0, 102, 103, 101, 102))
    assert names(events) == ["OrderExpired", "OrderCancelled", "OrderCancelled"]


# --- OCA groups ---------------------------------------------------------------------------------------------------


def _pair(oca_type: OcaType) -> tuple[Order, Order]:
    a = Order.limit(AAPL, "SELL", 100, 105, tif=GTC)
    b = Order.limit(AAPL, "SELL", 100, 107, tif=GTC)
    group = OcaGroup.of(a, b, name="pair", oca_type=oca_type)
    return group.orders[0], group.orders[1]


def test_oca_type_1_cancels_the_others_on_a_partial_fill() -> None:
    engine = MatchingEngine(MatchingConfig(max_volume_participation=D("0.1")))
    a, b = _pair(OcaType.CANCEL_WITH_BLOCK)
    engine.submit_all([a, b], T0)
    events = engine.on_bar(bar(0, 104, "105.5", "103.5", 105, volume=300))  # 104 -> 103.5 -> 105.5: A sells 30
    assert names(events) == ["OrderPartiallyFilled", "OrderCancelled"]
    assert status(engine, b) is OrderStatus.CANCELLED
    engine.on_bar(bar(1, 106, 107, 105, 106, volume=10_000))
    assert (filled(engine, a), status(engine, a)) == (D(100), OrderStatus.FILLED)


def test_oca_type_2_reduces_the_others_and_never_overfills() -> None:
    engine = MatchingEngine(MatchingConfig(max_volume_participation=D("0.1")))
    a, b = _pair(OcaType.REDUCE_WITH_BLOCK)
    engine.submit_all([a, b], T0)
    events = engine.on_bar(bar(0, 104, "105.5", "103.5", 105, volume=300))
    assert names(events) == ["OrderPartiallyFilled", "OrderModified"]
    assert engine.state(b.client_order_id).quantity == D(70)
    # both are marketable at 107.5; with block A fills its 70 first and B is left with nothing
    events = engine.on_bar(bar(1, "107.5", 108, 107, "107.5", volume=10_000))
    assert [(f.client_order_id, f.quantity) for f in fills_of(events)] == [(a.client_order_id, D(70))]
    assert status(engine, b) is OrderStatus.CANCELLED
    assert filled(engine, a) + filled(engine, b) == D(100)


def test_oca_type_3_without_block_can_overfill_on_one_data_point() -> None:
    engine = MatchingEngine(MatchingConfig(max_volume_participation=D("0.1")))
    a, b = _pair(OcaType.REDUCE_NON_BLOCK)
    engine.submit_all([a, b], T0)
    events = engine.on_bar(bar(0, 104, "105.5", "103.5", 105, volume=300))
    assert names(events) == ["OrderPartiallyFilled", "OrderModified"]  # reduced once the bar is done
    engine.on_bar(bar(1, "107.5", 108, 107, "107.5", volume=10_000))
    assert (filled(engine, a), filled(engine, b)) == (D(100), D(70))  # 170 sold against a group of 100
    assert engine.open_orders() == []


def test_a_new_member_of_a_filled_oca_group_is_rejected() -> None:
    engine = MatchingEngine()
    a, b = _pair(OcaType.CANCEL_WITH_BLOCK)
    engine.submit_all([a, b], T0)
    engine.on_bar(bar(0, 106, 106, 106, 106))
    late = Order.limit(
        AAPL, "SELL", 100, 120, tif=GTC, link=OrderLink(oca_group="pair", oca_type=OcaType.CANCEL_WITH_BLOCK)
    )
    events = engine.submit(late, T0 + timedelta(days=1))
    assert isinstance(events[0], OrderRejected)
    assert "already filled" in events[0].reason
    other_type = Order.limit(
        AAPL, "SELL", 100, 120, tif=GTC, link=OrderLink(oca_group="pair", oca_type=OcaType.REDUCE_WITH_BLOCK)
    )
    events = engine.submit(other_type, T0 + timedelta(days=1))
    assert isinstance(events[0], OrderRejected)
    assert "type" in events[0].reason


# --- OTO ----------------------------------------------------------------------------------------------------------


def test_oto_child_goes_live_where_its_parent_fills_on_the_bar_path() -> None:
    engine = MatchingEngine()
    oto = Oto.of(Order.limit(AAPL, "BUY", 50, 100, tif=GTC), Order.stop(AAPL, "SELL", 50, 98, tif=GTC))
    parent, child = oto.orders
    engine.submit_all(oto.orders, T0)
    # 101 -> 102 -> 97: the fall fills the parent at 100, then passes the child's stop at 98
    events = engine.on_bar(bar(0, 101, 102, 97, 101))
    assert names(events) == ["OrderFilled", "OrderActivated", "OrderTriggered", "OrderFilled"]
    assert [(f.client_order_id, f.price) for f in fills_of(events)] == [
        (parent.client_order_id, D(100)),
        (child.client_order_id, D(98)),
    ]


def test_oto_child_fills_after_its_parent() -> None:
    engine = MatchingEngine()
    oto = Oto.of(Order.limit(AAPL, "BUY", 50, 100, tif=GTC), Order.stop(AAPL, "SELL", 50, 98, tif=GTC))
    child = oto.orders[1]
    engine.submit_all(oto.orders, T0)
    events = engine.on_bar(bar(0, 103, 104, "99.5", 101))  # 103 -> 104 -> 99.5: the parent fills at 100
    assert names(events) == ["OrderFilled", "OrderActivated"]
    events = engine.on_bar(bar(1, 99, 100, 97, 98))
    assert [(f.client_order_id, f.price) for f in fills_of(events)] == [(child.client_order_id, D(98))]


def test_an_oto_child_on_another_instrument_waits_for_its_own_data() -> None:
    engine = MatchingEngine()
    msft = Stock("MSFT")
    oto = Oto.of(Order.market(AAPL, "BUY", 10, tif=GTC), Order.market(msft, "SELL", 20, tif=GTC))
    child = oto.orders[1]
    engine.submit_all(oto.orders, T0)
    events = engine.on_bar(bar(0, 100, 101, 99, 100))
    assert names(events) == ["OrderFilled", "OrderActivated"]  # the child does not trade at AAPL's prices
    events = engine.on_bar(Bar.of(msft.id, "1 day", T0, "300", "301", "299", "300", "1000"))
    assert [(f.client_order_id, f.instrument_id, f.price) for f in fills_of(events)] == [
        (child.client_order_id, msft.id, D(300))
    ]


def test_child_orders_need_a_known_live_parent() -> None:
    engine = MatchingEngine()
    orphan = Order.limit(AAPL, "SELL", 1, 110, link=OrderLink(parent_client_order_id=ClientOrderId("nobody")))
    events = engine.submit(orphan, T0)
    assert isinstance(events[0], OrderRejected)
    assert "unknown parent" in events[0].reason
    parent = Order.limit(AAPL, "BUY", 1, 100)
    engine.submit(parent, T0)
    engine.cancel(parent.client_order_id, T0)
    late = Order.limit(AAPL, "SELL", 1, 110, link=OrderLink(parent_client_order_id=parent.client_order_id))
    events = engine.submit(late, T0)
    assert isinstance(events[0], OrderRejected)
    assert "CANCELLED" in events[0].reason


# --- modify and cancel --------------------------------------------------------------------------------------------


def test_modify_the_limit_price_of_a_working_order() -> None:
    engine = MatchingEngine()
    order = Order.limit(AAPL, "BUY", 10, 95, tif=GTC)
    engine.submit(order, T0)
    assert engine.on_bar(bar(0, 100, 101, 99, 100)) == []
    events = engine.modify(order.client_order_id, T0 + timedelta(days=1), limit_price=101)
    assert isinstance(events[0], OrderModified)
    assert (events[0].limit_price, events[0].quantity) == (D(101), None)
    assert engine.order(order.client_order_id).limit_price == D(101)
    assert [f.price for f in fills_of(engine.on_bar(bar(1, 100, 101, 99, 100)))] == [D(100)]


def test_modify_quantity_keeps_what_filled() -> None:
    engine = MatchingEngine(MatchingConfig(max_volume_participation=D("0.1")))
    order = Order.market(AAPL, "BUY", 100, tif=GTC)
    engine.submit(order, T0)
    engine.on_bar(bar(0, 50, 51, 49, 50, volume=400))  # 40 filled
    rejected = engine.modify(order.client_order_id, T0 + timedelta(days=1), quantity=30)
    assert isinstance(rejected[0], OrderModifyRejected)
    assert "below the filled" in rejected[0].reason
    assert names(engine.modify(order.client_order_id, T0 + timedelta(days=1), quantity=50)) == ["OrderModified"]
    assert [f.quantity for f in fills_of(engine.on_bar(bar(1, 50, 51, 49, 50, volume=400)))] == [D(10)]
    assert status(engine, order) is OrderStatus.FILLED


def test_modify_down_to_the_filled_quantity_completes_the_order() -> None:
    engine = MatchingEngine(MatchingConfig(max_volume_participation=D("0.1")))
    order = Order.market(AAPL, "BUY", 100, tif=GTC)
    engine.submit(order, T0)
    engine.on_bar(bar(0, 50, 51, 49, 50, volume=400))
    engine.modify(order.client_order_id, T0 + timedelta(days=1), quantity=40)
    assert status(engine, order) is OrderStatus.FILLED
    assert engine.open_orders() == []


def test_modify_refusals() -> None:
    engine = MatchingEngine()
    market = Order.market(AAPL, "BUY", 10, tif=GTC)
    engine.submit(market, T0)
    events = engine.modify(market.client_order_id, T0, limit_price=100)
    assert isinstance(events[0], OrderModifyRejected)
    assert "limit_price" in events[0].reason
    events = engine.modify(market.client_order_id, T0)
    assert isinstance(events[0], OrderModifyRejected)
    engine.on_bar(bar(0, 50, 51, 49, 50))
    events = engine.modify(market.client_order_id, T0 + timedelta(days=1), quantity=20)
    assert isinstance(events[0], OrderModifyRejected)
    assert events[0].reason == "order is already FILLED"
    assert names(engine.modify(ClientOrderId("ghost"), T0, quantity=1)) == ["OrderModifyRejected"]


def test_modify_stop_restarts_a_trailing_stop() -> None:
    engine = MatchingEngine()
    engine.on_bar(bar(0, 100, 100, 100, 100))
    order = Order.trailing_stop(AAPL, "SELL", 10, trailing_amount=2, tif=GTC)
    engine.submit(order, T0 + timedelta(days=1))
    assert engine.view(order.client_order_id).stop == D(98)
    engine.modify(order.client_order_id, T0 + timedelta(days=1), stop_price=90)
    assert engine.view(order.client_order_id).stop == D(90)


def test_modify_the_quantity_of_an_oca_member_rebases_its_share() -> None:
    engine = MatchingEngine(MatchingConfig(max_volume_participation=D("0.1")))
    a, b = _pair(OcaType.REDUCE_WITH_BLOCK)
    engine.submit_all([a, b], T0)
    engine.on_bar(bar(0, 104, "105.5", "103.5", 105, volume=300))  # A sells 30, B reduced to 70
    engine.modify(b.client_order_id, T0 + timedelta(days=1), quantity=50)
    events = engine.on_bar(bar(1, 108, 108, 108, 108, volume=10_000))
    # A (first) sells its 70; the group is done, so B sells nothing and is cancelled
    assert [(f.client_order_id, f.quantity) for f in fills_of(events)] == [(a.client_order_id, D(70))]
    assert status(engine, b) is OrderStatus.CANCELLED


def test_cancel_refusals_carry_ibs_codes() -> None:
    engine = MatchingEngine()
    events = engine.cancel(ClientOrderId("ghost"), T0)
    assert isinstance(events[0], OrderCancelRejected)
    assert (events[0].reason, events[0].code) == ("unknown order", 10147)
    order = Order.market(AAPL, "BUY", 1)
    engine.submit(order, T0)
    engine.on_bar(bar(0, 50, 51, 49, 50))
    events = engine.cancel(order.client_order_id, T0 + timedelta(days=1))
    assert isinstance(events[0], OrderCancelRejected)
    assert events[0].code == 161


def test_duplicate_client_order_id_is_rejected_and_the_original_keeps_working() -> None:
    engine = MatchingEngine()
    order = Order.limit(AAPL, "BUY", 1, 90, tif=GTC)
    engine.submit(order, T0)
    events = engine.submit(order, T0)
    assert isinstance(events[0], OrderRejected)
    assert "duplicate" in events[0].reason
    assert status(engine, order) is OrderStatus.SUBMITTED
