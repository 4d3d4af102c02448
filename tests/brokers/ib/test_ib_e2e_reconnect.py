"""End to end through the gateway: a socket drop while an order works, and a gateway restart with its state file.

The market is frozen (``speed=0``) and moved by setting the gateway's clock, so an order fills exactly when the
test says so: here, while the execution connection is down. Nothing is mocked: ``IBBroker`` and the unmodified
``ib_async`` talk to the gateway over real sockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from quantdesk.brokers.base import BrokerReport, ConnectionState, FillReport, OrderStatusReport, PositionReport
from quantdesk.brokers.ib import IBBroker, ReconnectEvent
from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.order_types import TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.gateway import ContractQuery, GatewayServer, desk_of
from quantdesk.gateway.codec import Request
from quantdesk.gateway.session import Session

AAPL = Stock("AAPL")
FROZEN = {"speed": 0, "tick_interval": 0.02}


async def until(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def count_requests(gw: GatewayServer, msg_id: int) -> Callable[[], int]:
    """Count the requests of one message id the gateway receives (3: placeOrder)."""
    calls = [0]
    inner = gw.handlers.get(msg_id)
    assert inner is not None

    def counting(session: Session, req: Request) -> Any:
        calls[0] += 1
        return inner(session, req)

    gw.handlers.register(msg_id, counting)
    return lambda: calls[0]


def fill_time(gw: GatewayServer, limit: float, *, after: float = 60.0) -> float:
    """The first trading time (minute by minute, after ``after`` seconds) at which the ask reaches ``limit``."""
    spec = gw.catalog.resolve(ContractQuery(symbol="AAPL", sec_type="STK", currency="USD"))
    assert spec is not None
    now = gw.clock.now_tt()
    for minute in range(1, 5 * 390):
        tt = now + after + 60 * minute
        if gw.market.quote(spec, tt).ask <= limit:
            return tt
    raise AssertionError(f"AAPL never trades at {limit} in the next five sessions")


class Tape:
    """Every report the broker emits, in order."""

    def __init__(self) -> None:
        self.reports: list[BrokerReport] = []

    def __call__(self, report: BrokerReport) -> None:
        self.reports.append(report)

    def fills(self, cid: ClientOrderId) -> list[FillReport]:
        return [r for r in self.reports if isinstance(r, FillReport) and r.client_order_id == cid]

    def status(self, cid: ClientOrderId) -> OrderStatus | None:
        found = [r for r in self.reports if isinstance(r, OrderStatusReport) and r.client_order_id == cid]
        return found[-1].status if found else None


def test_a_fill_during_a_socket_drop_is_recovered_once_and_the_order_is_not_sent_again(
    gateway_broker: Any, ib_errors: Any
) -> None:
    ib_errors.allow_drops()

    async def main() -> None:
        # a slow first reconnect attempt leaves the order alone at the gateway for a while
        async with gateway_broker(backoff_base=0.3, **FROZEN) as (gw, broker):
            broker: IBBroker
            placed = count_requests(gw, 3)
            tape = Tape()
            broker.add_listener(tape)
            quote = await broker.quote(AAPL)
            limit = quote.bid - Decimal("0.50")
            order = Order.limit(AAPL, "BUY", 10, limit, tif=TimeInForce.GTC)
            cid = order.client_order_id
            ack = await broker.place_order(order)
            assert ack.status is OrderStatus.SUBMITTED
            assert placed() == 1
            reconciled: list[ReconnectEvent] = []
            broker.on_reconnected(reconciled.append)

            assert gw.faults.drop(broker.settings.client_id_execution) == 1
            gw.clock.set(fill_time(gw, float(limit)))  # the market reaches the limit while we are away
            desk = desk_of(gw)
            [record] = [r for r in desk.book.orders() if r.order.order_ref == cid.value]
            await until(lambda: record.status == "Filled", what="the fill at the gateway")
            assert broker.execution.state is ConnectionState.RECONNECTING  # it filled while we were disconnected
            assert not tape.fills(cid)
            exec_ids = {e.exec_id for e in desk.book.executions if e.perm_id == record.perm_id}
            assert exec_ids

            await until(lambda: bool(reconciled), what="the reconnect")
            await until(lambda: tape.status(cid) is OrderStatus.FILLED, what="the FILLED report")
            await until(lambda: {f.execution_id.value for f in tape.fills(cid)} == exec_ids, what="the fill")
            await asyncio.sleep(0.2)  # anything duplicated would arrive now

            # no duplicate order: one placeOrder ever reached the gateway, one order carries our id
            assert placed() == 1
            assert [r.order.order_ref for r in desk.book.orders()].count(cid.value) == 1
            # the fill reached the listeners exactly once per execution, with IB's commission
            fills = tape.fills(cid)
            assert sorted(f.execution_id.value for f in fills) == sorted(exec_ids), fills
            assert all(f.commission is not None and f.commission.amount > 0 for f in fills), fills
            assert sum(f.quantity for f in fills) == 10
            assert all(f.price <= limit for f in fills)
            status = await broker.order_status(cid)
            assert (status.status, status.filled_quantity) == (OrderStatus.FILLED, Decimal(10))
            listed = [f for f in await broker.executions() if f.client_order_id == cid]
            assert sorted(f.execution_id.value for f in listed) == sorted(exec_ids)
            held = {p.instrument_id: p.quantity for p in await broker.positions()}
            assert held[AAPL.id] == 10
            assert any(isinstance(r, PositionReport) and r.quantity == 10 for r in tape.reports)

    asyncio.run(main())


def test_a_gateway_restart_with_its_state_file_keeps_the_working_order_and_the_position(
    make_gateway_config: Any, make_settings: Any, ib_errors: Any, tmp_path: Path
) -> None:
    ib_errors.allow_drops()
    ib_errors.allow_refused()
    ib_errors.allow(r"Error 202, reqId \d+: Order Canceled")
    state = tmp_path / "gateway.json"

    async def main() -> None:
        config = make_gateway_config(**FROZEN, state_file=state)
        first = await GatewayServer(config).start()
        broker = IBBroker(make_settings(first.port), backoff_base=0.05)
        await broker.connect()
        try:
            tape = Tape()
            broker.add_listener(tape)
            entry = Order.market(AAPL, "BUY", 10)
            await broker.place_order(entry)
            await until(lambda: tape.status(entry.client_order_id) is OrderStatus.FILLED, what="the entry fill")
            bid = (await broker.quote(AAPL)).bid
            resting = Order.limit(AAPL, "BUY", 5, AAPL.round_to_tick(bid * Decimal("0.9")), tif=TimeInForce.GTC)
            cid = resting.client_order_id
            ack = await broker.place_order(resting)
            perm_id = ack.broker_order_id.perm_id
            await until(lambda: tape.status(cid) is OrderStatus.SUBMITTED, what="the working order")
            entry_fills = {f.execution_id for f in tape.fills(entry.client_order_id)}
            reconciled: list[ReconnectEvent] = []
            broker.on_reconnected(reconciled.append)

            # the nightly restart: the gateway saves its state, goes away, and a new process loads it
            await first.stop()
            assert state.is_file()
            await until(lambda: broker.execution.state is ConnectionState.RECONNECTING, what="the drop")
            before = len(tape.reports)
            second = await GatewayServer(make_gateway_config(**FROZEN, state_file=state, port=first.port)).start()
            try:
                await until(lambda: bool(reconciled) and broker.is_connected, 10, "the reconnect")
                assert reconciled[0].socket_reconnected
                # the working order is seen again, under our id and IB's permId, and reported for reconciliation
                [working] = [r for r in await broker.open_orders() if r.client_order_id == cid]
                assert (working.broker_order_id.perm_id, working.status) == (perm_id, OrderStatus.SUBMITTED)
                assert working.limit_price == resting.limit_price
                assert any(isinstance(r, OrderStatusReport) and r.client_order_id == cid for r in tape.reports[before:])
                assert (await broker.order_status(cid)).status is OrderStatus.SUBMITTED
                # the position and the earlier execution survived the restart
                held = {p.instrument_id: p.quantity for p in await broker.positions()}
                assert held[AAPL.id] == 10
                assert entry_fills <= {f.execution_id for f in await broker.executions()}
                assert not [r for r in tape.reports[before:] if isinstance(r, FillReport)]  # nothing twice
                # the restored order still works at the new process, and new orders get fresh ids
                await broker.cancel_order(cid)
                await until(lambda: tape.status(cid) is OrderStatus.CANCELLED, what="the cancel")
                later = Order.market(AAPL, "SELL", 10)
                ack = await broker.place_order(later)
                assert ack.broker_order_id.order_id > working.broker_order_id.order_id
                await until(lambda: tape.status(later.client_order_id) is OrderStatus.FILLED, what="the exit")
                account = second.accounts.get(second.accounts.ids[0])
                assert all(h.quantity == 0 for h in account.holdings.values())
            finally:
                await broker.close()
                await second.stop()
        finally:
            await broker.close()
            await first.stop()

    asyncio.run(main())
