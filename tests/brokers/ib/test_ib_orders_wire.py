"""Domain orders → ``ib_async`` orders → the exact ``placeOrder`` fields the real client sends → the gateway's parser.

Each case converts a domain order with :func:`to_ib_order` / :func:`to_ib_orders`, lets the unmodified
``ib_async.client.Client.placeOrder`` serialise it at server version 178 (its ``sendMsg`` is swapped for a capture,
so ``Client.send``'s real formatting runs) and parses the fields with the gateway's ``parse_place_order``; the
assertions compare what arrived on the wire with what the domain order said.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from ib_async import IB
from ib_async import Order as IBOrder
from ib_async.client import Client

from quantdesk.brokers.ib.contracts import to_ib_contract
from quantdesk.brokers.ib.orders import to_ib_order, to_ib_orders
from quantdesk.domain.instrument_codes import OptionRight
from quantdesk.domain.instruments import Bond, ForexPair, Future, Instrument, Option, Stock
from quantdesk.domain.order_lists import Bracket, OcaGroup, Oto
from quantdesk.domain.order_types import OcaType, TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.gateway.order_requests import parse_place_order
from quantdesk.gateway.order_wire import WireContract, WireOrder

AAPL = Stock("AAPL", con_id=265598, primary_exchange="NASDAQ")


class Capture:
    """An ib_async client 'connected' at server version 178 that records each message instead of sending it."""

    def __init__(self) -> None:
        self.ib = IB()
        self.client: Client = self.ib.client
        self.messages: list[str] = []
        self.client.sendMsg = self.messages.append
        self.client.connState = Client.CONNECTED
        self.client._serverVersion = 178

    def place(self, order_id: int, instrument: Instrument, ib_order: IBOrder) -> tuple[WireContract, WireOrder]:
        self.messages.clear()
        self.client.placeOrder(order_id, to_ib_contract(instrument), ib_order)
        (message,) = self.messages
        fields = message.split("\0")
        assert fields.pop() == ""
        assert fields[0] == "3"
        return parse_place_order(fields[1:], 178)


@pytest.fixture
def wire() -> Iterator[Capture]:
    cap = Capture()
    yield cap
    cap.client.connState = Client.DISCONNECTED


def send(wire: Capture, order: Order, order_id: int = 7, parent_id: int = 0) -> tuple[WireContract, WireOrder]:
    return wire.place(order_id, order.instrument, to_ib_order(order, order_id=order_id, parent_id=parent_id))


def test_market_order_carries_our_id_as_order_ref(wire: Capture) -> None:
    order = Order.market(AAPL, "BUY", 100)
    contract, o = send(wire, order, order_id=42)
    assert (contract.con_id, contract.symbol, contract.sec_type, contract.exchange) == (265598, "AAPL", "STK", "SMART")
    assert (contract.primary_exchange, contract.currency) == ("NASDAQ", "USD")
    assert (o.order_id, o.action, o.total_quantity, o.order_type, o.tif) == (42, "BUY", 100.0, "MKT", "DAY")
    assert o.order_ref == order.client_order_id.value
    assert o.transmit is True
    assert o.parent_id in (0, None)
    assert o.lmt_price is None
    assert o.aux_price is None
    assert not (o.outside_rth)
    assert not (o.hidden)
    assert not (o.all_or_none)


def test_limit_with_every_flag(wire: Capture) -> None:
    order = Order.limit(AAPL, "SELL", 10, "187.25", tif=TimeInForce.GTC, outside_rth=True, hidden=True,
                        all_or_none=True, discretionary_amount=Decimal("0.10"), account="DU1000002")  # fmt: skip
    _, o = send(wire, order)
    assert (o.action, o.order_type, o.lmt_price, o.tif) == ("SELL", "LMT", 187.25, "GTC")
    assert (o.outside_rth, o.hidden, o.all_or_none) == (True, True, True)
    assert o.discretionary_amt == 0.1
    assert o.account == "DU1000002"


def test_stop_and_stop_limit(wire: Capture) -> None:
    _, stop = send(wire, Order.stop(AAPL, "SELL", 5, 150))
    assert (stop.order_type, stop.aux_price, stop.lmt_price) == ("STP", 150.0, None)
    _, stop_limit = send(wire, Order.stop_limit(AAPL, "BUY", 5, stop_price="200.5", limit_price="201"))
    assert (stop_limit.order_type, stop_limit.aux_price, stop_limit.lmt_price) == ("STP LMT", 200.5, 201.0)


def test_trailing_stops(wire: Capture) -> None:
    _, amount = send(wire, Order.trailing_stop(AAPL, "SELL", 5, trailing_amount="2.5", stop_price=180))
    assert (amount.order_type, amount.aux_price, amount.trailing_percent) == ("TRAIL", 2.5, None)
    assert amount.trail_stop_price == 180.0
    _, percent = send(wire, Order.trailing_stop(AAPL, "SELL", 5, trailing_percent="1.5"))
    assert (percent.order_type, percent.aux_price, percent.trailing_percent) == ("TRAIL", None, 1.5)
    assert percent.trail_stop_price is None
    _, limit = send(wire, Order.trailing_stop_limit(AAPL, "BUY", 5, limit_offset="0.05", trailing_amount=1,
                                                     stop_price=190))  # fmt: skip
    assert (limit.order_type, limit.aux_price, limit.lmt_price_offset, limit.trail_stop_price) == (
        "TRAIL LIMIT", 1.0, 0.05, 190.0,
    )  # fmt: skip
    assert limit.lmt_price is None


def test_time_in_force_gtd_opg_and_auction_orders(wire: Capture) -> None:
    until = datetime(2025, 3, 21, 20, 0, tzinfo=UTC)
    _, gtd = send(wire, Order.limit(AAPL, "BUY", 1, 100, tif=TimeInForce.GTD, good_till=until))
    assert (gtd.tif, gtd.good_till_date) == ("GTD", "20250321 20:00:00 UTC")
    _, moo = send(wire, Order.market_on_open(AAPL, "BUY", 1))
    assert (moo.order_type, moo.tif) == ("MKT", "OPG")
    _, loo = send(wire, Order.limit(AAPL, "BUY", 1, 100, tif=TimeInForce.OPG))
    assert (loo.order_type, loo.tif, loo.lmt_price) == ("LMT", "OPG", 100.0)
    _, moc = send(wire, Order.market_on_close(AAPL, "SELL", 1))
    assert (moc.order_type, moc.tif) == ("MOC", "DAY")
    _, loc = send(wire, Order.limit_on_close(AAPL, "SELL", 1, 99))
    assert (loc.order_type, loc.lmt_price) == ("LOC", 99.0)
    for tif in (TimeInForce.IOC, TimeInForce.FOK):
        _, o = send(wire, Order.limit(AAPL, "BUY", 1, 100, tif=tif))
        assert o.tif == tif.value


def test_bracket_parent_ids_transmit_flags_and_oca(wire: Capture) -> None:
    bracket = Bracket.build(AAPL, "BUY", 100, "150", "160", "145")
    ids = iter(range(100, 200))
    sent = [(order, wire.place(ib.orderId, order.instrument, ib)) for order, ib in to_ib_orders(bracket, ids.__next__)]
    (entry, (_, e)), (tp_order, (_, tp)), (sl_order, (_, sl)) = sent
    assert (e.order_id, tp.order_id, sl.order_id) == (100, 101, 102)
    assert e.parent_id in (0, None)
    assert (tp.parent_id, sl.parent_id) == (100, 100)
    assert (e.transmit, tp.transmit, sl.transmit) == (False, False, True)
    assert (e.order_type, e.lmt_price, tp.order_type, tp.lmt_price, sl.order_type, sl.aux_price) == (
        "LMT", 150.0, "LMT", 160.0, "STP", 145.0,
    )  # fmt: skip
    assert tp.oca_group == sl.oca_group == bracket.oca_group
    assert tp.oca_type == sl.oca_type == OcaType.REDUCE_WITH_BLOCK.value
    assert not e.oca_group
    assert [o.order_ref for o in (e, tp, sl)] == [x.client_order_id.value for x in (entry, tp_order, sl_order)]
    assert (tp.action, sl.action) == ("SELL", "SELL")


def test_oca_group_and_oto(wire: Capture) -> None:
    msft = Stock("MSFT", con_id=272093)
    group = OcaGroup.of(Order.limit(AAPL, "BUY", 1, 100), Order.limit(msft, "BUY", 1, 200), name="either",
                        oca_type=OcaType.CANCEL_WITH_BLOCK)  # fmt: skip
    ids = iter(range(1, 10))
    sent = [wire.place(ib.orderId, order.instrument, ib)[1] for order, ib in to_ib_orders(group, ids.__next__)]
    assert [(o.oca_group, o.oca_type, o.transmit) for o in sent] == [("either", 1, True), ("either", 1, True)]
    oto = Oto.of(Order.limit(AAPL, "BUY", 1, 100), Order.stop(AAPL, "SELL", 1, 90), Order.limit(AAPL, "SELL", 1, 120))
    sent = [wire.place(ib.orderId, order.instrument, ib)[1] for order, ib in to_ib_orders(oto, ids.__next__)]
    assert [o.transmit for o in sent] == [False, False, True]
    assert [o.parent_id or 0 for o in sent] == [0, sent[0].order_id, sent[0].order_id]


def test_contracts_of_other_asset_classes_on_the_wire(wire: Capture) -> None:
    option = Option("AAPL", date(2025, 3, 21), Decimal("152.5"), OptionRight.CALL, con_id=1234)
    contract, _ = send(wire, Order.limit(option, "BUY", 1, "3.5"))
    assert (contract.sec_type, contract.last_trade_date_or_contract_month, contract.strike, contract.right) == (
        "OPT", "20250321", 152.5, "C",
    )  # fmt: skip
    assert contract.multiplier == "100"
    future = Future("ES", date(2025, 3, 21), exchange="CME", multiplier=50, tick_size=Decimal("0.25"))
    contract, o = send(wire, Order.limit(future, "SELL", 2, "5000.25"))
    assert (contract.sec_type, contract.exchange, contract.multiplier, o.lmt_price) == ("FUT", "CME", "50", 5000.25)
    fx = ForexPair("EUR", "USD")
    contract, o = send(wire, Order.market(fx, "BUY", 20000))
    assert (contract.symbol, contract.currency, contract.exchange, contract.sec_type) == (
        "EUR", "USD", "IDEALPRO", "CASH",
    )  # fmt: skip
    assert o.total_quantity == 20000.0
    bond = Bond.from_cusip("037833100")
    contract, _ = send(wire, Order.limit(bond, "BUY", 10, "99.5"))
    assert (contract.sec_type, contract.sec_id_type, contract.sec_id) == ("BOND", "CUSIP", "037833100")
    brk = Stock("BRK.B")
    contract, _ = send(wire, Order.market(brk, "BUY", 1))
    assert contract.symbol == "BRK B"
