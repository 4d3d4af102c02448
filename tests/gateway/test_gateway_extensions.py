"""The hooks extensions plug into (handler table, extensions, pump hooks) and the default order handlers."""

from __future__ import annotations

import asyncio
from typing import Any

from ib_async import IB, LimitOrder, Stock

from quantdesk.gateway import ORDER_MESSAGE_IDS, ClientSession, GatewayServer, Request, Session
from quantdesk.gateway.codec import ProtocolError


def test_order_handlers_are_installed_by_default(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 10147")

    async def main() -> None:
        async with running(speed=0) as (gw, ib):
            assert set(ORDER_MESSAGE_IDS) <= set(gw.handlers.message_ids)
            codes: list[int] = []
            ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
            ib.client.cancelOrder(12345)
            await asyncio.sleep(0.05)
            assert codes == [10147]
            assert await asyncio.wait_for(ib.reqAllOpenOrdersAsync(), 1) == []
            assert await asyncio.wait_for(ib.reqCompletedOrdersAsync(False), 1) == []
            assert await asyncio.wait_for(ib.reqExecutionsAsync(), 1) == []

    asyncio.run(main())


def test_an_extension_takes_over_a_message_and_gets_pump_ticks(running: Any, make_config: Any,
                                                                ib_errors: Any) -> None:  # fmt: skip
    ib_errors.allow(r"Error 201, reqId \d+: Order rejected - reason:seen by the extension")
    seen: list[tuple[int | None, int]] = []
    ticks: list[float] = []
    replaced: list[object] = []

    def install(server: GatewayServer) -> None:
        def place_order(session: ClientSession, req: Request) -> None:
            order_id = req.read_int()
            seen.append((session.client_id, order_id))
            server.venue.use_order_id(session.client_id or 0, order_id)
            session.error(order_id, 201, "Order rejected - reason:seen by the extension")

        replaced.append(server.handlers.register(3, place_order))
        server.add_pump_hook(ticks.append)

    async def main() -> None:
        async with GatewayServer(make_config(speed=0), extensions=[install]) as gw:
            ib = IB()
            await ib.connectAsync("127.0.0.1", gw.port, clientId=2, timeout=2, raiseSyncErrors=True)
            aapl = Stock("AAPL", "SMART", "USD")
            await ib.qualifyContractsAsync(aapl)
            trade = ib.placeOrder(aapl, LimitOrder("BUY", 1, 100.0))
            await asyncio.wait_for(trade.cancelledEvent, 2)
            assert seen == [(2, trade.order.orderId)]
            assert gw.next_order_id(2) == trade.order.orderId + 1
            await asyncio.sleep(0.12)
            assert ticks
            assert ticks[-1] == gw.clock.now_tt()
            ib.disconnect()
        assert callable(replaced[0])

    asyncio.run(main())


def test_malformed_and_failing_requests_get_320_and_321(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 320, reqId -1: Error reading request", r"Error 321, reqId -1")

    def broken(session: Session, req: Request) -> None:
        raise RuntimeError("boom")

    def strict(session: Session, req: Request) -> None:
        raise ProtocolError("field 3 is not a number")

    async def main() -> None:
        async with running(speed=0) as (gw, ib):
            gw.handlers.register(200, broken)
            gw.handlers.register(201, strict)
            codes: list[int] = []
            ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
            ib.client.send(201, 1)
            ib.client.send(200, 1)
            ib.client.send(9, 8, "not-a-number")
            ib.client.send(777, 1)  # unknown message ids are ignored, as by TWS
            await asyncio.sleep(0.1)
            assert codes == [320, 321, 320]
            assert await ib.reqCurrentTimeAsync()

    asyncio.run(main())
