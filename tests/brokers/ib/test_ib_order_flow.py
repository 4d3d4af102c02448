"""Order flow details through the gateway: refusals made here, and modifications that wait for IB's answer."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from quantdesk.brokers.base import BrokerReport
from quantdesk.brokers.capabilities import BrokerCapabilities
from quantdesk.brokers.ib import IBBroker
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_lists import Bracket
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.order_types import OrderType, TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.errors import BrokerError, OrderRejected
from quantdesk.gateway import GatewayServer, desk_of

AAPL = Stock("AAPL")
NO_STOPS = BrokerCapabilities(name="no-stops", order_types=frozenset(OrderType) - {OrderType.STOP})


def test_an_unsupported_order_is_rejected_here_and_never_sent(make_gateway_config: Any, make_settings: Any) -> None:
    async def main() -> None:
        async with (
            GatewayServer(make_gateway_config()) as gw,
            IBBroker(make_settings(gw.port), capabilities=NO_STOPS) as broker,
        ):
            reports: list[BrokerReport] = []
            broker.add_listener(reports.append)
            stop = Order.stop(AAPL, "BUY", 10, 500, tif=TimeInForce.GTC)
            ack = await broker.place_order(stop)
            assert ack.status is OrderStatus.REJECTED
            assert ack.reason is not None
            assert "no-stops does not support stop orders" in ack.reason
            assert reports == [ack]  # the listeners heard it too
            assert await broker.order_status(stop.client_order_id) == ack
            with pytest.raises(BrokerError, match="already sent") as caught:
                await broker.place_order(stop)  # an id is used once, rejected or not
            assert caught.value.code == 103
            # a bracket with one unsupported child is rejected as a whole
            quote = await broker.quote(AAPL)
            bracket = Bracket.build(AAPL, "BUY", 10, None, AAPL.round_to_tick(quote.ask * 2),
                                    AAPL.round_to_tick(quote.bid / 2))  # fmt: skip
            acks = await broker.place_order_list(bracket)
            assert [a.status for a in acks] == [OrderStatus.REJECTED] * 3
            assert not list(desk_of(gw).book.orders())  # nothing reached the gateway

    asyncio.run(main())


def test_a_modification_returns_ibs_answer_and_a_refused_one_raises(gateway_broker: Any) -> None:
    async def main() -> None:
        async with gateway_broker(speed=0) as (gw, broker):
            broker: IBBroker
            bid = (await broker.quote(AAPL)).bid
            low = AAPL.round_to_tick(bid * Decimal("0.9"))
            order = Order.limit(AAPL, "BUY", 10, low, tif=TimeInForce.GTC)
            await broker.place_order(order)
            [record] = desk_of(gw).book.orders()
            lower = AAPL.round_to_tick(bid * Decimal("0.8"))
            moved = await broker.modify_order(order.client_order_id, limit_price=lower, quantity=Decimal(12))
            assert (moved.limit_price, moved.quantity, moved.status) == (lower, 12, OrderStatus.SUBMITTED)
            assert (record.order.lmt_price, record.order.total_quantity) == (float(lower), 12.0)  # IB has it
            far = AAPL.round_to_tick(bid * Decimal("0.1"))  # beyond the gateway's 50 % price check
            with pytest.raises(OrderRejected, match="refused the modification") as caught:
                await broker.modify_order(order.client_order_id, limit_price=far)
            assert caught.value.code == 321
            status = await broker.order_status(order.client_order_id)
            assert (status.status, status.limit_price) == (OrderStatus.SUBMITTED, lower)  # still working as it was

    asyncio.run(main())
