"""The kernel on in-memory stores: an order goes OMS → risk → SimulatedBroker with no database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from quantdesk.brokers.simulated import SimulatedBroker
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import Quote
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.oms.memory_stores import MemoryOrderStore
from quantdesk.services.kernel import in_memory_kernel


def test_an_in_memory_kernel_stores_the_intent_before_sending_and_is_idempotent() -> None:
    async def main() -> None:
        broker = SimulatedBroker({"DU1": 1_000_000})
        await broker.connect()
        t0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York
        broker.feed_quote(Quote(Stock("AAPL").id, t0, Decimal("99.99"), Decimal("100.01")))
        kernel = in_memory_kernel(broker)
        await kernel.start()
        order = Order.limit(Stock("AAPL"), OrderSide.BUY, 10, Decimal("97"), account="DU1")
        first = await kernel.manager.submit(order)
        again = await kernel.manager.submit(order)
        assert first is again
        store = kernel.stores.orders
        assert isinstance(store, MemoryOrderStore)
        assert [i.client_order_id for i in store.intents()] == [order.client_order_id]
        assert first.state.status is not OrderStatus.INITIALIZED
        await kernel.close()

    asyncio.run(main())
