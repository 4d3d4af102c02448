"""Reconciliation applies a fill only when it records it as new: two simulators issuing the same execution ids for
two accounts on one store (in memory, SQLite, PostgreSQL), and a fill that happened while quantdesk was away, over
several sessions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from oms_support import Desk

from quantdesk.brokers.simulated import SimulatedBroker
from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import Quote
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide

D = Decimal
FIRST, SECOND = "DU1234567", "DU7654321"
XOM, MRK = Stock("XOM"), Stock("MRK")
T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York


class Venue:
    """A simulated broker of one account and its quotes (each broker's execution ids start at ``sim-ex-1``)."""

    def __init__(self, account: str) -> None:
        self.broker, self.ts, self.account = SimulatedBroker({account: 1_000_000}), T0, account

    def tick(self, stock: Stock, mid: Decimal) -> None:
        self.ts += timedelta(seconds=1)
        self.broker.feed_quote(Quote(stock.id, self.ts, mid - D("0.01"), mid + D("0.01")))


async def stored(desk: Desk) -> tuple[list[tuple[str, str]], dict[str, Decimal]]:
    """The recorded fills as (account, execution id), and each intent's filled quantity."""
    backend = desk.read()
    fills = [(str(f.account), f.execution_id.value) for f in backend.fills()]
    filled = {}
    for cid, *_ in backend.intents():
        filled[cid] = (await backend.stores.orders.get_intent(ClientOrderId(cid))).state.filled_quantity
    return fills, filled


def test_a_fill_applied_by_reconciliation_is_recorded_and_never_applied_again(desk: Desk) -> None:
    first, second = Venue(FIRST), Venue(SECOND)

    async def main() -> None:
        for venue, stock in ((first, XOM), (second, MRK)):
            await venue.broker.connect()
            venue.tick(stock, D(100))
        async with desk.session(first.broker, account=FIRST) as session:
            xom = Order.market(XOM, OrderSide.BUY, 50, account=FIRST)
            await session.manager.submit(xom, price=D(100))
            first.tick(XOM, D(100))
            assert await session.manager.wait_terminal([xom.client_order_id], 5)
        async with desk.session(second.broker, account=SECOND) as session:
            mrk = Order.limit(MRK, OrderSide.BUY, 80, D("99.5"), account=SECOND)
            await session.manager.submit(mrk)
        second.tick(MRK, D(99))  # fills while quantdesk is away, with the execution id of the XOM fill
        theirs, ours = await first.broker.executions(), await second.broker.executions()
        assert [f.execution_id for f in ours] == [f.execution_id for f in theirs]  # two simulators, the same ids
        async with desk.session(second.broker, account=SECOND) as session:
            recon = session.reconciliation
            assert [(b.kind, b.resolution, b.account) for b in recon.breaks] == [("fill_missing", "applied", SECOND)]
            managed = session.manager.get(mrk.client_order_id)
            assert managed is not None
            assert (managed.state.status, managed.state.filled_quantity) == (OrderStatus.FILLED, D(80))
        for _ in range(3):  # the applied fill is recorded: later sessions find nothing and count nothing again
            async with desk.session(second.broker, account=SECOND) as session:
                assert session.reconciliation.clean, session.reconciliation.to_dict()
            async with desk.session(first.broker, account=FIRST) as session:
                assert session.reconciliation.clean, session.reconciliation.to_dict()
        fills, filled = await stored(desk)
        assert sorted(fills) == sorted({(FIRST, fills[0][1]), (SECOND, fills[0][1])})  # one id, two accounts
        assert filled == {xom.client_order_id.value: D(50), mrk.client_order_id.value: D(80)}

    asyncio.run(main())
