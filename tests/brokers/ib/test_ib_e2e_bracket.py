"""End to end through the gateway: a bracket sent with ``IBBroker.place_order_list`` whose stop-loss fills and
cancels the take-profit, seen both in the broker's reports and in the gateway's own order book."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from quantdesk.brokers.base import BrokerReport, FillReport, OrderStatusReport
from quantdesk.brokers.ib import IBBroker
from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_lists import Bracket
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.order_types import OrderType, TimeInForce
from quantdesk.gateway import ContractQuery, GatewayServer, desk_of

AAPL = Stock("AAPL")


async def until(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def first_time_bid_at_or_below(gw: GatewayServer, price: float) -> float:
    """The first trading time, minute by minute, at which AAPL's bid is at or below ``price``."""
    spec = gw.catalog.resolve(ContractQuery(symbol="AAPL", sec_type="STK", currency="USD"))
    assert spec is not None
    now = gw.clock.now_tt()
    for minute in range(1, 5 * 390):
        if gw.market.quote(spec, now + 60 * minute).bid <= price:
            return now + 60 * minute
    raise AssertionError(f"AAPL's bid never reaches {price} in the next five sessions")


def test_a_bracket_whose_stop_fills_cancels_its_take_profit(gateway_broker: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 202, reqId \d+: Order Canceled - reason:another order of its OCA group filled")

    async def main() -> None:
        async with gateway_broker(speed=0, tick_interval=0.02) as (gw, broker):
            broker: IBBroker
            reports: list[BrokerReport] = []
            broker.add_listener(reports.append)
            errors: list[tuple[int, int, str]] = []
            broker.on_error(lambda e: errors.append((e.req_id, e.code, e.message)))

            def last(cid: ClientOrderId) -> OrderStatusReport | None:
                found = [r for r in reports if isinstance(r, OrderStatusReport) and r.client_order_id == cid]
                return found[-1] if found else None

            def filled(cid: ClientOrderId) -> Decimal:
                fills = {r.execution_id: r for r in reports if isinstance(r, FillReport) and r.client_order_id == cid}
                return sum((f.quantity for f in fills.values()), Decimal(0))

            quote = await broker.quote(AAPL)
            take_price = AAPL.round_to_tick(quote.ask * Decimal("1.03"))
            stop_price = AAPL.round_to_tick(quote.bid * Decimal("0.997"))
            bracket = Bracket.build(AAPL, "BUY", 20, None, take_price, stop_price, child_tif=TimeInForce.GTC)
            entry, take, stop = bracket.orders
            acks = await broker.place_order_list(bracket)
            assert [a.client_order_id for a in acks] == [o.client_order_id for o in bracket.orders]
            assert [a.order_type for a in acks] == [OrderType.MARKET, OrderType.LIMIT, OrderType.STOP]
            await until(lambda: filled(entry.client_order_id) == 20, what="the entry fill")

            # at the gateway: one parent and two children in one implicit OCA group, the exits working
            desk = desk_of(gw)
            book = {r.order.order_ref: r for r in desk.book.orders()}
            parent = book[entry.client_order_id.value]
            exits = [book[take.client_order_id.value], book[stop.client_order_id.value]]
            assert all(r.parent_perm_id == parent.perm_id for r in exits)
            assert exits[0].oca_key == exits[1].oca_key is not None
            await until(lambda: all(r.status == "Submitted" for r in exits), what="working exits")
            assert last(take.client_order_id).status is OrderStatus.SUBMITTED  # type: ignore[union-attr]

            gw.clock.set(first_time_bid_at_or_below(gw, float(stop_price)))  # the market falls to the stop
            await until(
                lambda: (
                    filled(stop.client_order_id) == 20
                    and getattr(last(take.client_order_id), "status", None) is OrderStatus.CANCELLED
                ),
                what="the stop-loss fill and the take-profit cancel",
            )
            assert last(stop.client_order_id).status is OrderStatus.FILLED  # type: ignore[union-attr]
            take_id = acks[1].broker_order_id.order_id
            assert [(c, "OCA group" in m) for i, c, m in errors if i == take_id] == [(202, True)]  # IB says why
            assert filled(take.client_order_id) == 0
            assert [r.status for r in exits] == ["Cancelled", "Filled"]  # the gateway agrees
            assert all(f.price <= stop_price for f in reports if isinstance(f, FillReport)
                       and f.client_order_id == stop.client_order_id)  # fmt: skip
            held = {p.instrument_id: p.quantity for p in await broker.positions()}
            assert held.get(AAPL.id, Decimal(0)) == 0
            assert not await broker.open_orders()

    asyncio.run(main())
