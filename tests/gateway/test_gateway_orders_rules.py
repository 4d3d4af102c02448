"""What TWS refuses and who sees what: rejects (201, 434, 200, 103), what-if previews, several clients, read-only."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from ib_async import Index, LimitOrder, MarketOrder, Stock
from test_gateway_orders_support import ORDERS, connect, quote, status, stock, until


def test_rejects_name_the_reason(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 201, reqId \d+: Order rejected - reason:", r"Error 200, reqId", r"Error 103, reqId")

    async def main() -> None:
        async with running(**ORDERS) as (gw, ib):
            aapl = await stock(ib)
            price = quote(gw).ask
            errors: dict[int, tuple[int, str]] = {}
            ib.errorEvent += lambda req_id, code, msg, contract: errors.setdefault(req_id, (code, msg))
            margin = ib.placeOrder(aapl, MarketOrder("BUY", 20_000))  # 3.6 M of stock on 1 M of equity
            far = ib.placeOrder(aapl, LimitOrder("BUY", 10, round(price * 0.4, 2)))
            tick = ib.placeOrder(aapl, LimitOrder("BUY", 10, round(price - 1, 2) + 0.004))
            unknown = ib.placeOrder(Stock("ZZZZ", "SMART", "USD"), MarketOrder("BUY", 1))
            index = ib.placeOrder(Index("SPX", "CBOE", "USD"), MarketOrder("BUY", 1))
            trades = (margin, far, tick, unknown, index)
            for trade in trades:
                await status(trade, "Cancelled")
            code_of = {t.order.orderId: errors[t.order.orderId][0] for t in trades}
            assert list(code_of.values()) == [201, 201, 201, 200, 201]
            assert "Equity with Loan Value" in errors[margin.order.orderId][1]
            assert json.loads(margin.advancedError)["rejectCode"] == 201
            assert "more than 50% away from the market" in errors[far.order.orderId][1]
            assert "tick" in errors[tick.order.orderId][1]
            assert "cannot be traded" in errors[index.order.orderId][1]
            assert await ib.reqAllOpenOrdersAsync() == []
            assert ib.positions() == []

            done = ib.placeOrder(aapl, MarketOrder("BUY", 1))
            await status(done, "Filled")
            ib.client.placeOrder(done.order.orderId, aapl, MarketOrder("BUY", 1))  # reusing a finished id
            await until(lambda: errors.get(done.order.orderId, (0, ""))[0] == 103, what="error 103")

    asyncio.run(main())


def test_size_zero_is_434_and_ends_the_order(running: Any) -> None:
    async def main() -> None:
        async with running(**ORDERS) as (_gw, ib):
            aapl = await stock(ib)
            trade = ib.placeOrder(aapl, MarketOrder("BUY", 0))
            await status(trade, "Cancelled")
            assert [e.errorCode for e in trade.log if e.errorCode] == [434]

    asyncio.run(main())


def test_what_if_returns_numeric_margins_and_places_nothing(running: Any) -> None:
    async def main() -> None:
        async with running(**ORDERS) as (gw, ib):
            aapl = await stock(ib)
            state = await asyncio.wait_for(ib.whatIfOrderAsync(aapl, MarketOrder("BUY", 100)), 3)
            margins = state.numeric(digits=2)
            price = gw.price_of(aapl.conId)
            assert margins.initMarginChange == round(100 * price * 0.5, 2)
            assert margins.maintMarginChange == round(100 * price * 0.25, 2)
            assert margins.initMarginAfter == pytest.approx(margins.initMarginBefore + margins.initMarginChange)
            assert state.commission == 1.0
            assert state.commissionCurrency == "USD"
            assert await ib.reqAllOpenOrdersAsync() == []
            assert ib.positions() == []

    asyncio.run(main())


def test_client_zero_sees_every_clients_orders_others_only_their_own(running: Any) -> None:
    async def main() -> None:
        async with running(**ORDERS) as (gw, ib):
            master, stranger = await connect(gw, 0), await connect(gw, 2)
            try:
                aapl = await stock(ib)
                order = LimitOrder("BUY", 10, round(quote(gw).bid - 1, 2))
                trade = ib.placeOrder(aapl, order)
                await status(trade, "Submitted")
                await until(lambda: len(master.openTrades()) == 1, what="client 0 to see the order")
                [seen] = master.openTrades()
                assert (seen.order.clientId, seen.order.orderId, seen.order.permId) == (
                    1,
                    order.orderId,
                    trade.order.permId,
                )
                assert stranger.openTrades() == []
                assert [t.order.permId for t in await stranger.reqAllOpenOrdersAsync()] == [trade.order.permId]
                order.lmtPrice = quote(gw).ask  # marketable: fills, and client 0 hears about it
                ib.placeOrder(aapl, order)
                await status(seen, "Filled")
                assert [f.execution.clientId for f in seen.fills] == [1]
                assert [f.execution.permId for f in await master.reqExecutionsAsync()] == [trade.order.permId]
                assert await stranger.reqExecutionsAsync() == []
            finally:
                master.disconnect()
                stranger.disconnect()

    asyncio.run(main())


def test_read_only_sessions_get_321(running: Any, make_config: Any) -> None:
    async def main() -> None:
        config = make_config(**ORDERS, read_only_client_ids=(5,))
        async with running(config, client_id=None) as (gw, _):
            ib = await connect(gw, 5, readonly=True)
            try:
                codes: list[int] = []
                ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
                aapl = await stock(ib)
                trade = ib.placeOrder(aapl, MarketOrder("BUY", 1))
                await until(lambda: codes == [321], what="error 321")
                assert trade.log[-1].errorCode == 321
                assert not trade.fills
                assert await ib.reqExecutionsAsync() == []  # reading is allowed
                assert gw.sessions[5].ready
            finally:
                ib.disconnect()

    asyncio.run(main())
