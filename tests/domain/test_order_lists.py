from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.identifiers import AccountId, ClientOrderId, StrategyId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_lists import Bracket, OcaGroup, OcaType, OrderList, Oto
from quantdesk.domain.orders import Order, OrderLink, OrderType, TimeInForce
from quantdesk.domain.side import OrderSide
from quantdesk.errors import ValidationError

AAPL, MSFT = Stock("AAPL"), Stock("MSFT")
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def _raises(fn: object, *args: object, **kwargs: object) -> ValidationError:
    assert callable(fn)
    with pytest.raises(ValidationError) as info:
        fn(*args, **kwargs)
    return info.value


def test_oca_types_are_ibs_three() -> None:
    assert [(t.value, t.description) for t in OcaType] == [
        (1, "cancel all remaining orders with block"),
        (2, "proportionally reduce with block"),
        (3, "proportionally reduce, no block"),
    ]


# --- bracket: building and links ----------------------------------------------------------------------------------


def test_bracket_build_links_the_three_orders_the_ib_way() -> None:
    b = Bracket.build(AAPL, BUY, 100, 150, 160, 145)
    entry, tp, sl = b.orders
    assert (entry.order_type, entry.side, entry.limit_price) == (OrderType.LIMIT, BUY, Decimal(150))
    assert (tp.order_type, tp.side, tp.limit_price) == (OrderType.LIMIT, SELL, Decimal(160))
    assert (sl.order_type, sl.side, sl.stop_price) == (OrderType.STOP, SELL, Decimal(145))
    assert entry.quantity == tp.quantity == sl.quantity == Decimal(100)
    assert entry.link == OrderLink(transmit=False)
    assert tp.link.parent_client_order_id == sl.link.parent_client_order_id == entry.client_order_id
    assert tp.link.oca_group == sl.link.oca_group == f"oca-{entry.client_order_id}" == b.oca_group
    assert tp.link.oca_type is sl.link.oca_type is OcaType.REDUCE_WITH_BLOCK is b.oca_type
    assert [o.link.transmit for o in b.orders] == [False, False, True]
    assert (b.instrument, b.side, b.quantity) == (AAPL, BUY, Decimal(100))
    assert isinstance(b, OrderList)


def test_bracket_market_entry_and_sell_side() -> None:
    b = Bracket.build(AAPL, "SELL", 10, None, 140, 155)
    assert b.entry.order_type is OrderType.MARKET
    assert (b.take_profit.side, b.stop_loss.side) == (BUY, BUY)


def test_bracket_stop_entry_stop_limit_and_trailing_exits() -> None:
    b = Bracket.build(AAPL, BUY, 10, 105, 120, 100, entry_type=OrderType.STOP, stop_loss_limit_price="99.50")
    assert (b.entry.order_type, b.entry.stop_price) == (OrderType.STOP, Decimal(105))
    assert (b.stop_loss.order_type, b.stop_loss.limit_price) == (OrderType.STOP_LIMIT, Decimal("99.50"))
    t = Bracket.build(AAPL, BUY, 10, 100, 110, None, stop_loss_trailing_percent=2)
    assert (t.stop_loss.order_type, t.stop_loss.trailing_percent, t.stop_loss.stop_price) == (
        OrderType.TRAILING_STOP,
        Decimal(2),
        None,
    )
    t2 = Bracket.build(AAPL, BUY, 10, 100, 110, 95, stop_loss_trailing_amount=1)
    assert (t2.stop_loss.trailing_amount, t2.stop_loss.stop_price) == (Decimal(1), Decimal(95))


def test_bracket_options_reach_every_order() -> None:
    until = datetime(2030, 1, 2, tzinfo=UTC)
    b = Bracket.build(
        AAPL,
        BUY,
        10,
        100,
        110,
        95,
        tif=TimeInForce.DAY,
        child_tif=TimeInForce.GTD,
        good_till=until,
        outside_rth=True,
        account=AccountId("DU1"),
        strategy_id=StrategyId("s1"),
        oca_group="exit-aapl",
        oca_type=OcaType.CANCEL_WITH_BLOCK,
    )
    assert (b.entry.tif, b.entry.good_till) == (TimeInForce.DAY, None)
    assert [(o.tif, o.good_till) for o in b.orders[1:]] == [(TimeInForce.GTD, until)] * 2
    assert all(o.outside_rth and o.account == AccountId("DU1") for o in b.orders)
    assert {o.link.oca_group for o in b.orders[1:]} == {"exit-aapl"}
    assert b.stop_loss.link.oca_type is OcaType.CANCEL_WITH_BLOCK


@pytest.mark.parametrize(
    ("tif", "child"),
    [(TimeInForce.GTC, TimeInForce.GTC), (TimeInForce.OPG, TimeInForce.DAY), (TimeInForce.IOC, TimeInForce.DAY)],
)
def test_bracket_children_default_tif(tif: TimeInForce, child: TimeInForce) -> None:
    b = Bracket.build(AAPL, BUY, 10, 100, 110, 95, tif=tif)
    assert (b.entry.tif, b.take_profit.tif, b.stop_loss.tif) == (tif, child, child)


def test_bracket_from_unlinked_orders_is_linked_and_idempotent() -> None:
    entry = Order.limit(AAPL, BUY, 10, 100)
    b = Bracket(entry, Order.limit(AAPL, SELL, 10, 110), Order.stop(AAPL, SELL, 10, 95))
    assert b.entry.client_order_id == entry.client_order_id
    assert b.take_profit.link.parent_client_order_id == entry.client_order_id
    assert Bracket(*b.orders) == b
    custom = Bracket(
        *Bracket.build(AAPL, BUY, 10, 100, 110, 95, oca_group="g", oca_type=OcaType.REDUCE_NON_BLOCK).orders
    )
    assert (custom.oca_group, custom.oca_type) == ("g", OcaType.REDUCE_NON_BLOCK)


# --- bracket: validation ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "field", "fragment"),
    [
        ((BUY, 150, 149, 145), "take_profit.limit_price", "take-profit above the entry"),
        ((BUY, 150, 150, 145), "take_profit.limit_price", "take-profit above the entry"),
        ((BUY, 150, 160, 151), "stop_loss.stop_price", "stop-loss below the entry"),
        ((BUY, 150, 160, 150), "stop_loss.stop_price", "stop-loss below the entry"),
        ((BUY, None, 160, 161), "stop_loss.stop_price", "stop-loss below its take-profit"),
        ((SELL, 150, 151, 155), "take_profit.limit_price", "take-profit below the entry"),
        ((SELL, 150, 140, 149), "stop_loss.stop_price", "stop-loss above the entry"),
        ((SELL, None, 160, 159), "stop_loss.stop_price", "stop-loss above its take-profit"),
        ((BUY, 150, 160, None), "stop_loss.stop_price", "needs stop_price"),
        ((BUY, 150, "160.001", 145), "take_profit.limit_price", "tick grid"),
        ((BUY, "150.001", 160, 145), "entry.limit_price", "tick grid"),
        ((BUY, 150, 160, -1), "stop_loss.stop_price", "greater than zero"),
    ],
)
def test_bracket_price_rules(args: tuple[object, ...], field: str, fragment: str) -> None:
    side, entry, tp, sl = args
    err = _raises(Bracket.build, AAPL, side, 100, entry, tp, sl)
    assert err.field == field
    assert fragment in err.message
    assert err.hint


def test_bracket_build_argument_rules() -> None:
    err = _raises(Bracket.build, AAPL, BUY, 1, 100, 110, 95, entry_type=OrderType.TRAILING_STOP)
    assert err.field == "entry_type"
    err = _raises(Bracket.build, AAPL, BUY, 1, 100, 110, 95, stop_loss_trailing_amount=1, stop_loss_limit_price=94)
    assert err.field == "stop_loss_limit_price"
    err = _raises(Bracket.build, AAPL, BUY, 1, 100, 110, 95, stop_loss_limit_price=96)
    assert err.field == "stop_loss.limit_price"
    assert "stop-limit SELL" in err.message
    assert _raises(Bracket.build, AAPL, BUY, "1.5", 100, 110, 95).field == "entry.quantity"
    assert _raises(Bracket.build, AAPL, BUY, 1, 100, 110, 95, oca_group="a b").field == "oca_group"
    until = datetime(2030, 1, 2, tzinfo=UTC)
    err = _raises(Bracket.build, AAPL, BUY, 1, 100, 110, 95, good_till=until)
    assert err.field == "good_till"
    assert "GTD" in err.message
    gtd = Bracket.build(AAPL, BUY, 1, 100, 110, 95, tif=TimeInForce.GTD, child_tif=TimeInForce.GTC, good_till=until)
    assert [o.good_till for o in gtd.orders] == [until, None, None]


def _parts() -> tuple[Order, Order, Order]:
    return Order.limit(AAPL, BUY, 10, 100), Order.limit(AAPL, SELL, 10, 110), Order.stop(AAPL, SELL, 10, 95)


def test_bracket_shape_rules() -> None:
    entry, tp, sl = _parts()
    cases = [
        ((Order.trailing_stop(AAPL, BUY, 10, trailing_amount=1), tp, sl), "entry.order_type", "trailing-stop"),
        ((entry, Order.market(AAPL, SELL, 10), sl), "take_profit.order_type", "cannot be a market order"),
        ((entry, tp, Order.limit(AAPL, SELL, 10, 90)), "stop_loss.order_type", "limit"),
        ((entry, Order.limit(MSFT, SELL, 10, 110), sl), "take_profit.instrument", "MSFT"),
        ((entry, Order.limit(AAPL, BUY, 10, 110), sl), "take_profit.side", "must be a SELL"),
        ((entry, tp, Order.stop(AAPL, SELL, 5, 95)), "stop_loss.quantity", "differs"),
        ((entry, tp, Order.stop(AAPL, SELL, 10, 95, account=AccountId("DU9"))), "stop_loss.account", "DU9"),
        (
            (entry, tp, Order.stop(AAPL, SELL, 10, 95, client_order_id=tp.client_order_id)),
            "stop_loss.client_order_id",
            "used by",
        ),
        (("entry", tp, sl), "entry", "must be an Order"),
    ]
    for args, field, fragment in cases:
        err = _raises(Bracket, *args)
        assert err.field == field, (field, err)
        assert fragment in err.message, (fragment, err)


def test_bracket_refuses_orders_linked_elsewhere() -> None:
    entry, tp, sl = _parts()
    other = ClientOrderId("other-1")
    err = _raises(Bracket, entry, tp.with_link(OrderLink(parent_client_order_id=other)), sl)
    assert err.field == "take_profit.link.parent_client_order_id"
    err = _raises(Bracket, entry, tp.with_link(OrderLink(oca_group="g1")), sl.with_link(OrderLink(oca_group="g2")))
    assert err.field == "stop_loss.link.oca_group"
    err = _raises(Bracket, entry, tp, sl.with_link(OrderLink(oca_group="g2")), oca_group="g1")
    assert err.field == "stop_loss.link.oca_group"
    err = _raises(Bracket, entry.with_link(OrderLink(parent_client_order_id=other)), tp, sl)
    assert err.field == "entry.link"


cents = st.integers(min_value=100, max_value=1_000_000).map(lambda c: Decimal(c) / 100)
steps = st.integers(min_value=1, max_value=10_000).map(lambda c: Decimal(c) / 100)


@settings(database=None, max_examples=150)
@given(entry=cents, up=steps, down=steps, buy=st.booleans(), market=st.booleans())
def test_any_well_ordered_bracket_builds(entry: Decimal, up: Decimal, down: Decimal, buy: bool, market: bool) -> None:
    sign = 1 if buy else -1
    tp, sl = entry + sign * up, entry - sign * down
    if tp <= 0 or sl <= 0:
        return
    b = Bracket.build(AAPL, BUY if buy else SELL, 7, None if market else entry, tp, sl)
    assert [o.link.transmit for o in b.orders] == [False, False, True]
    assert b.take_profit.side is b.stop_loss.side is b.side.opposite
    with pytest.raises(ValidationError):  # swapping the exits always breaks the ordering
        Bracket.build(AAPL, BUY if buy else SELL, 7, None if market else entry, sl, tp)


# --- OCA ----------------------------------------------------------------------------------------------------------


def test_oca_group_links_every_order() -> None:
    a, b = Order.limit(AAPL, SELL, 10, 110), Order.limit(MSFT, SELL, 5, 300)
    g = OcaGroup("exit", (a, b), OcaType.REDUCE_NON_BLOCK)
    assert [o.client_order_id for o in g.orders] == [a.client_order_id, b.client_order_id]
    assert all(o.link == OrderLink(oca_group="exit", oca_type=OcaType.REDUCE_NON_BLOCK) for o in g.orders)
    assert isinstance(g, OrderList)
    auto = OcaGroup.of(a, b, Order.market(AAPL, BUY, 1))
    assert len(auto.orders) == 3
    assert auto.name.startswith("oca-")
    assert auto.oca_type is OcaType.CANCEL_WITH_BLOCK
    assert OcaGroup("g", [a, b], 2).oca_type is OcaType.REDUCE_WITH_BLOCK  # type: ignore[arg-type]
    assert OcaGroup(g.name, g.orders, g.oca_type) == g


def test_oca_group_rules() -> None:
    a, b = Order.limit(AAPL, SELL, 10, 110), Order.limit(AAPL, SELL, 10, 111)
    err = _raises(OcaGroup, "g", (a,))
    assert err.field == "orders"
    assert "at least 2" in err.message
    assert _raises(OcaGroup, "", (a, b)).field == "name"
    assert _raises(OcaGroup, "has space", (a, b)).field == "name"
    assert _raises(OcaGroup, "g", (a, a)).field == "orders[1].client_order_id"
    assert _raises(OcaGroup, "g", (a, "b")).field == "orders[1]"
    assert _raises(OcaGroup, "g", (a, b), 7).field == "oca_type"
    err = _raises(OcaGroup, "g", (a, b.with_link(OrderLink(oca_group="other"))))
    assert err.field == "orders[1].link.oca_group"


# --- OTO ----------------------------------------------------------------------------------------------------------


def test_oto_links_children_to_the_parent() -> None:
    parent = Order.limit(AAPL, BUY, 10, 100)
    kids = (Order.limit(AAPL, SELL, 10, 110), Order.stop(AAPL, SELL, 10, 95), Order.market(MSFT, SELL, 3))
    oto = Oto.of(parent, *kids)
    assert oto.orders[0].link == OrderLink(transmit=False)
    assert [o.link.parent_client_order_id for o in oto.children] == [parent.client_order_id] * 3
    assert [o.link.transmit for o in oto.orders] == [False, False, False, True]
    assert isinstance(oto, OrderList)
    assert Oto(oto.parent, oto.children) == oto


def test_oto_keeps_an_oca_group_among_children() -> None:
    parent = Order.limit(AAPL, BUY, 10, 100)
    g = OcaGroup.of(Order.limit(AAPL, SELL, 10, 110), Order.stop(AAPL, SELL, 10, 95), name="exits")
    oto = Oto(parent, g.orders)
    assert {o.link.oca_group for o in oto.children} == {"exits"}


def test_oto_rules() -> None:
    parent = Order.limit(AAPL, BUY, 10, 100)
    child = Order.limit(AAPL, SELL, 10, 110)
    err = _raises(Oto, parent, ())
    assert err.field == "children"
    assert _raises(Oto, parent, (child, child)).field == "children[1].client_order_id"
    assert _raises(Oto, parent, (parent,)).field == "children[0].client_order_id"
    assert _raises(Oto, "p", (child,)).field == "parent"
    lone = parent.with_link(OrderLink(parent_client_order_id=ClientOrderId("x-1")))
    assert _raises(Oto, lone, (child,)).field == "parent.link.parent_client_order_id"
    stray = child.with_link(OrderLink(parent_client_order_id=ClientOrderId("x-1")))
    assert _raises(Oto, parent, (stray,)).field == "children[0].link.parent_client_order_id"
    other_account = Order.limit(AAPL, SELL, 10, 110, account=AccountId("DU2"))
    assert _raises(Oto, parent, (other_account,)).field == "children[0].account"
