"""Orders end to end with the unmodified ib_async client: fills, partial fills, resting limits, modify and cancel."""

from __future__ import annotations

import asyncio
from typing import Any

from ib_async import ExecutionFilter, LimitOrder, MarketOrder
from test_gateway_orders_support import (
    CANCELLED,
    ORDERS,
    connect,
    extreme_ahead,
    holding,
    jump,
    quote,
    status,
    stock,
    until,
)


def test_market_order_fills_at_the_ask_with_commissions_and_pushes(running: Any) -> None:
    async def main() -> None:
        async with running(**ORDERS, accounts=("DU1234567",)) as (gw, ib):  # one account: portfolio updates
            aapl = await stock(ib)
            ask = quote(gw).ask
            cash_before = next(v for v in ib.accountValues() if v.tag == "TotalCashValue" and v.currency == "USD")
            reports: list[Any] = []
            ib.commissionReportEvent += lambda trade, fill, report: reports.append(report)
            positions_seen = asyncio.Event()
            ib.positionEvent += lambda position: positions_seen.set()
            trade = ib.placeOrder(aapl, MarketOrder("BUY", 100))
            await asyncio.wait_for(trade.filledEvent, 3)
            assert [entry.status for entry in trade.log if not entry.message] == [
                "PendingSubmit",
                "PreSubmitted",
                "Filled",
            ]
            assert trade.orderStatus.filled == 100
            assert trade.orderStatus.avgFillPrice == ask
            assert trade.order.permId > 0
            assert sum(f.execution.shares for f in trade.fills) == 100
            assert all(f.execution.side == "BOT" and f.execution.price == ask for f in trade.fills)
            await until(lambda: len(reports) == len(trade.fills), what="a commission report per fill")
            assert sum(r.commission for r in reports) == 1.0  # IB fixed: minimum USD 1 for 100 shares
            assert {r.execId for r in reports} == {f.execution.execId for f in trade.fills}
            await asyncio.wait_for(positions_seen.wait(), 2)
            assert [(p.contract.conId, p.position, p.avgCost) for p in ib.positions()] == [(aapl.conId, 100, ask)]
            await until(lambda: [p.position for p in ib.portfolio()] == [100], what="the portfolio push")
            expected_cash = round(float(cash_before.value) - 100 * ask - 1.0, 2)

            def cash_now() -> float:
                return float(next(v for v in ib.accountValues() if v.tag == "TotalCashValue").value)

            await until(lambda: cash_now() == expected_cash, what="the cash push")

    asyncio.run(main())


def test_a_large_order_fills_in_several_executions(running: Any) -> None:
    async def main() -> None:
        async with running(**ORDERS) as (_gw, ib):
            aapl = await stock(ib)
            trade = ib.placeOrder(aapl, MarketOrder("SELL", 2500))
            await asyncio.wait_for(trade.filledEvent, 5)
            shares = [f.execution.shares for f in trade.fills]
            assert len(shares) >= 3, shares
            assert sum(shares) == 2500
            cum = [f.execution.cumQty for f in trade.fills]
            assert cum == sorted(cum)
            assert cum[-1] == 2500
            assert len({f.execution.execId for f in trade.fills}) == len(shares)
            statuses = [entry.status for entry in trade.log]
            assert statuses[:3] == ["PendingSubmit", "PreSubmitted", "PreSubmitted"]  # the first fill
            assert "Submitted" in statuses
            assert statuses[-1] == "Filled"
            await holding(ib, ("AAPL", -2500))

    asyncio.run(main())


def test_a_resting_limit_fills_when_the_replayed_price_reaches_it(running: Any) -> None:
    async def main() -> None:
        async with running(**ORDERS) as (gw, ib):
            aapl = await stock(ib)
            low_tt = extreme_ahead(gw, low=True)
            target = quote(gw, tt=low_tt).ask
            assert target < quote(gw).ask
            trade = ib.placeOrder(aapl, LimitOrder("BUY", 50, target))
            await status(trade, "Submitted")
            assert [entry.status for entry in trade.log] == ["PendingSubmit", "PreSubmitted", "Submitted"]
            await jump(gw, low_tt - 300)
            assert trade.orderStatus.status == "Submitted"
            assert not trade.fills
            await jump(gw, low_tt)
            await status(trade, "Filled")
            assert trade.fills[0].execution.price <= target

    asyncio.run(main())


def test_modify_by_resending_the_order_id(running: Any) -> None:
    async def main() -> None:
        async with running(**ORDERS) as (gw, ib):
            aapl = await stock(ib)
            q = quote(gw)
            order = LimitOrder("BUY", 10, round(q.bid - 1.0, 2))
            trade = ib.placeOrder(aapl, order)
            await status(trade, "Submitted")
            order.lmtPrice = round(q.bid - 0.5, 2)
            ib.placeOrder(aapl, order)  # a new price leaves the status unchanged: ib_async logs "Modified"
            await until(lambda: trade.log[-1].message == "Modified", what="the modification")
            order.totalQuantity = 20
            ib.placeOrder(aapl, order)
            await until(lambda: trade.orderStatus.remaining == 20, what="the new quantity")
            [listed] = await ib.reqAllOpenOrdersAsync()
            assert (listed.order.totalQuantity, listed.order.lmtPrice) == (20, round(q.bid - 0.5, 2))
            order.lmtPrice = round(q.ask + 0.05, 2)  # now marketable: fills at the ask
            ib.placeOrder(aapl, order)
            await asyncio.wait_for(trade.filledEvent, 2)
            assert trade.orderStatus.avgFillPrice == q.ask

    asyncio.run(main())


def test_cancel_unknown_and_finished_orders(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(CANCELLED, r"Error 10147", r"Error 10148")

    async def main() -> None:
        async with running(**ORDERS) as (gw, ib):
            aapl = await stock(ib)
            codes: list[tuple[int, int]] = []
            ib.errorEvent += lambda req_id, code, msg, contract: codes.append((req_id, code))
            trade = ib.placeOrder(aapl, LimitOrder("BUY", 10, round(quote(gw).bid - 1, 2)))
            await status(trade, "Submitted")
            ib.cancelOrder(trade.order)
            await asyncio.wait_for(trade.cancelledEvent, 2)
            await until(lambda: (trade.order.orderId, 202) in codes, what="error 202")
            ib.client.cancelOrder(999_999, "")
            ib.client.cancelOrder(trade.order.orderId, "")
            await until(lambda: len(codes) == 3, what="10147 and 10148")
            assert codes[1:] == [(999_999, 10147), (trade.order.orderId, 10148)]
            assert [c.orderStatus.status for c in await ib.reqCompletedOrdersAsync(False)] == ["Cancelled"]

    asyncio.run(main())


def test_global_cancel_reaches_every_client(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(CANCELLED)

    async def main() -> None:
        async with running(**ORDERS) as (gw, ib):
            other = await connect(gw, 2)
            try:
                aapl, msft = await stock(ib), await stock(other, "MSFT")
                mine = ib.placeOrder(aapl, LimitOrder("BUY", 5, round(quote(gw).bid - 2, 2)))
                theirs = other.placeOrder(msft, LimitOrder("SELL", 5, round(quote(gw, "MSFT").ask + 2, 2)))
                await until(lambda: theirs.orderStatus.status == mine.orderStatus.status == "Submitted")
                ib.reqGlobalCancel()
                await asyncio.wait_for(asyncio.gather(mine.cancelledEvent, theirs.cancelledEvent), 2)
                assert await ib.reqAllOpenOrdersAsync() == []
            finally:
                other.disconnect()

    asyncio.run(main())


def test_executions_filter_and_completed_orders(running: Any) -> None:
    async def main() -> None:
        async with running(**ORDERS) as (_gw, ib):
            aapl, msft = await stock(ib), await stock(ib, "MSFT")
            buy = ib.placeOrder(aapl, MarketOrder("BUY", 10))
            sell = ib.placeOrder(msft, MarketOrder("SELL", 10))
            await asyncio.wait_for(asyncio.gather(buy.filledEvent, sell.filledEvent), 3)
            fills = await ib.reqExecutionsAsync()
            assert sorted(f.contract.symbol for f in fills) == ["AAPL", "MSFT"]
            assert all(f.commissionReport.commission > 0 for f in ib.fills())
            only = await ib.reqExecutionsAsync(ExecutionFilter(symbol="MSFT", side="SELL"))
            assert [(f.contract.symbol, f.execution.side) for f in only] == [("MSFT", "SLD")]
            assert await ib.reqExecutionsAsync(ExecutionFilter(clientId=7)) == []
            done = await ib.reqCompletedOrdersAsync(False)
            assert sorted(t.contract.symbol for t in done) == ["AAPL", "MSFT"]
            assert {t.orderStatus.status for t in done} == {"Filled"}

    asyncio.run(main())
