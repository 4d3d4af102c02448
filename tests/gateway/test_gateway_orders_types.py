"""Every order type and order list of the domain through the gateway: stops, trailing stops, auctions, time in
force, brackets, OCA groups and one-triggers-other."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from ib_async import LimitOrder, MarketOrder, Order, StopLimitOrder, StopOrder
from test_gateway_orders_support import (
    CANCELLED,
    ORDERS,
    extreme_ahead,
    holding,
    jump,
    next_session,
    quote,
    spec_of,
    status,
    stock,
    until,
)

from quantdesk.gateway import SESSION_SECONDS


def _trail(action: str, qty: float, *, amount: float | None = None, percent: float | None = None) -> Order:
    order = Order(action=action, totalQuantity=qty, orderType="TRAIL")
    if amount is not None:
        order.auxPrice = amount
    if percent is not None:
        order.trailingPercent = percent
    return order


def test_stops_and_trailing_stops_trigger_when_the_price_falls(running: Any) -> None:
    async def main() -> None:
        async with running(**ORDERS) as (gw, ib):
            aapl = await stock(ib)
            low_tt = extreme_ahead(gw, low=True)
            now, low = quote(gw), quote(gw, tt=low_tt)
            drop = now.bid - low.bid
            assert drop > 0.3
            amount = round(drop / 3, 2)
            stop_level = round(low.bid + 0.02, 2)
            trail_limit = _trail("SELL", 10, amount=amount)
            trail_limit.orderType, trail_limit.lmtPriceOffset = "TRAIL LIMIT", round(drop, 2)
            orders = {
                "STP": StopOrder("SELL", 10, stop_level),
                "STP LMT": StopLimitOrder("SELL", 10, round(low.bid - 0.5, 2), stop_level),
                "TRAIL amount": _trail("SELL", 10, amount=amount),
                "TRAIL percent": _trail("SELL", 10, percent=round(100 * amount / now.bid, 3)),
                "TRAIL LIMIT": trail_limit,
            }
            trades = {name: ib.placeOrder(aapl, order) for name, order in orders.items()}
            for trade in trades.values():
                await status(trade, "Submitted")
            await asyncio.sleep(0.1)  # several pumps at the current price: nothing triggers
            assert all(not t.fills for t in trades.values())
            await jump(gw, low_tt)
            for name, trade in trades.items():
                await status(trade, "Filled")
                price = trade.fills[0].execution.price
                assert low.bid <= price <= stop_level or name.startswith("TRAIL"), (name, price)
                assert price < now.bid - amount + 0.01, (name, price)
            await holding(ib, ("AAPL", -50))

    asyncio.run(main())


def test_auctions_and_time_in_force(running: Any) -> None:
    async def main() -> None:
        async with running(**ORDERS) as (gw, ib):
            aapl = await stock(ib)
            spec, q = spec_of(gw), quote(gw)
            row, _ = gw.calendar.split(gw.clock.now_tt())
            close_px = round(float(gw.market.session_path(spec, row)[-1]), 2)
            open_px = round(float(gw.market.session_path(spec, row + 1)[0]), 2)
            moo = MarketOrder("BUY", 10, tif="OPG")
            loc = LimitOrder("BUY", 10, round(max(close_px, q.ask) + 1, 2))
            loc.orderType = "LOC"
            gtd = LimitOrder("BUY", 10, round(q.bid - 3, 2), tif="GTD", outsideRth=True)
            expiry = gw.clock.now() + timedelta(minutes=10)
            gtd.goodTillDate = f"{expiry:%Y%m%d %H:%M:%S} US/Eastern"
            trades = {
                "MOC": ib.placeOrder(aapl, Order(action="SELL", totalQuantity=10, orderType="MOC")),
                "LOC": ib.placeOrder(aapl, loc),
                "OPG": ib.placeOrder(aapl, moo),
                "DAY": ib.placeOrder(aapl, LimitOrder("BUY", 10, round(q.bid - 3, 2))),
                "GTD": ib.placeOrder(aapl, gtd),
                "GTC": ib.placeOrder(aapl, LimitOrder("BUY", 10, round(q.bid - 3, 2), tif="GTC")),
            }
            for trade in trades.values():
                await status(trade, "Submitted")
            listed = {t.order.orderId: t.order for t in await ib.reqAllOpenOrdersAsync()}
            assert listed[trades["GTD"].order.orderId].outsideRth
            await jump(gw, gw.clock.now_tt() + 20 * 60)
            await status(trades["GTD"], "Cancelled")
            assert all(t.orderStatus.status == "Submitted" for n, t in trades.items() if n != "GTD")
            await jump(gw, next_session(gw))
            for name in ("MOC", "LOC", "OPG"):
                await status(trades[name], "Filled")
            assert trades["MOC"].fills[0].execution.price == close_px
            assert trades["LOC"].fills[0].execution.price == close_px
            assert trades["OPG"].fills[0].execution.price == open_px
            assert f"{trades['MOC'].fills[0].execution.time.astimezone(gw.clock.now().tzinfo):%H:%M}" == "16:00"
            await status(trades["DAY"], "Cancelled")
            assert trades["GTC"].orderStatus.status == "Submitted"

    asyncio.run(main())


def test_bracket_children_wait_for_the_parent_and_the_stop_cancels_the_target(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(CANCELLED)

    async def main() -> None:
        async with running(**ORDERS) as (gw, ib):
            aapl = await stock(ib)
            low_tt = extreme_ahead(gw, low=True)
            q, low = quote(gw), quote(gw, tt=low_tt)
            held = ib.bracketOrder("BUY", 10, round(q.bid - 2, 2), round(q.ask + 5, 2), round(q.bid - 4, 2))
            parent = ib.placeOrder(aapl, held[0])
            await asyncio.sleep(0.1)
            assert parent.orderStatus.status == "PendingSubmit"  # transmit=0: TWS holds it
            waiting = [parent] + [ib.placeOrder(aapl, o) for o in held[1:]]
            await status(waiting[0], "Submitted")
            await until(lambda: [t.orderStatus.status for t in waiting[1:]] == ["PreSubmitted"] * 2, what="held")
            assert waiting[1].orderStatus.whyHeld == "child"
            ib.cancelOrder(waiting[0].order)
            for trade in waiting:
                await status(trade, "Cancelled")

            entry, take, stop = ib.bracketOrder("BUY", 10, round(q.ask + 0.05, 2), round(q.ask + 5, 2), low.bid + 0.02)
            trades = [ib.placeOrder(aapl, o) for o in (entry, take, stop)]
            await status(trades[0], "Filled")
            await until(lambda: [t.orderStatus.status for t in trades[1:]] == ["Submitted"] * 2, what="live")
            await jump(gw, low_tt)
            await status(trades[2], "Filled")
            await status(trades[1], "Cancelled")
            await holding(ib)  # flat again

    asyncio.run(main())


def test_oca_group_and_one_triggers_other(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(CANCELLED)

    async def main() -> None:
        async with running(**ORDERS) as (gw, ib):
            aapl, msft = await stock(ib), await stock(ib, "MSFT")
            qa, qm = quote(gw), quote(gw, "MSFT")
            pair = ib.oneCancelsAll(
                [LimitOrder("BUY", 10, round(qm.bid - 1, 2)), LimitOrder("BUY", 10, qa.ask)], "pair-1", 1
            )
            resting = ib.placeOrder(msft, pair[0])
            await status(resting, "Submitted")
            filling = ib.placeOrder(aapl, pair[1])
            await status(filling, "Filled")
            await status(resting, "Cancelled")

            low_tt = extreme_ahead(gw, low=True)
            parent = LimitOrder("BUY", 10, quote(gw, tt=low_tt).ask, transmit=False)
            parent_trade = ib.placeOrder(aapl, parent)
            child = MarketOrder("BUY", 7, parentId=parent.orderId)  # same side: an OTO child, not an exit
            child_trade = ib.placeOrder(msft, child)
            await status(parent_trade, "Submitted")
            await asyncio.sleep(0.1)
            assert child_trade.orderStatus.status == "PreSubmitted"
            assert not child_trade.fills
            await jump(gw, low_tt)
            await status(parent_trade, "Filled")
            await status(child_trade, "Filled")
            await holding(ib, ("AAPL", 20), ("MSFT", 7))

    asyncio.run(main())


def test_session_seconds_constant_matches_the_replay() -> None:
    assert SESSION_SECONDS == 23_400
