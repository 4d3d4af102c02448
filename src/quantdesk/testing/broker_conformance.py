"""The broker conformance suite: scenarios every ``Broker`` must pass, in the style of LEAN's ``BrokerageTests``.

Each scenario is ``async def scenario_x(h: BrokerHarness) -> None``; it uses only the ``Broker`` protocol and the
harness (``quantdesk.testing.broker_harness``), asserts with plain ``assert`` and raises ``ScenarioSkipped`` when
the broker or harness lacks what it needs. Every scenario first cancels the working orders of the harness
instrument and closes its position, so a harness may be shared or fresh. Prices are chosen relative to the
current quote, so the scenarios work on any price series; orders meant to rest are GTC (a DAY order could expire
before the market reaches it). Run them all from pytest with::

    @pytest.mark.parametrize("name", sorted(SCENARIOS))
    def test_conformance(name: str) -> None:
        async def main() -> None:
            harness = await make_my_harness()
            await SCENARIOS[name](harness)

        try:
            asyncio.run(main())
        except ScenarioSkipped as exc:
            pytest.skip(str(exc))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import ROUND_CEILING, Decimal
from types import MappingProxyType

from quantdesk.domain.order_lists import Bracket, OcaGroup
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.order_types import OcaType, OrderType, TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.errors import NotFound
from quantdesk.testing.broker_harness import BrokerHarness, ScenarioSkipped
from quantdesk.testing.scenario_run import WORKING, ScenarioRun, check_fills, scenario_run

__all__ = ["SCENARIOS", "Scenario", "run_scenario"]

Scenario = Callable[[BrokerHarness], Awaitable[None]]

BUY, SELL = OrderSide.BUY, OrderSide.SELL
GTC = TimeInForce.GTC
_NEAR = Decimal("0.002")  # 0.2 %: a level the market soon reaches
_FAR_BELOW, _FAR_ABOVE = Decimal("0.5"), Decimal(2)  # levels it does not reach during a scenario


# --- positions ----------------------------------------------------------------------------------------------------


async def scenario_long_from_zero(h: BrokerHarness) -> None:
    """A market buy from flat fills completely and leaves a long position of its quantity."""
    async with scenario_run(h) as run:
        order = run.market(BUY)
        ack = await run.place(order)
        assert ack.status not in (OrderStatus.REJECTED, OrderStatus.CANCELLED), run.tape.describe(order.client_order_id)
        await run.filled(order)
        check_fills(run, order)
        await run.expect_position(run.qty)
        status = await h.broker.order_status(order.client_order_id)
        assert status.status is OrderStatus.FILLED, status
        assert status.filled_quantity == run.qty, status
        assert status.avg_fill_price is not None, status
        assert status.avg_fill_price > 0, status


async def scenario_close_position(h: BrokerHarness) -> None:
    """A sell of the whole long position fills and leaves the account flat."""
    async with scenario_run(h) as run:
        entry = run.market(BUY)
        await run.place(entry)
        await run.filled(entry)
        await run.expect_position(run.qty)
        close = run.market(SELL)
        await run.place(close)
        await run.filled(close)
        check_fills(run, close)
        await run.expect_position(Decimal(0))
        assert run.tape.position(run.account, h.instrument.id) in (None, Decimal(0)), "last position report not flat"


async def scenario_reverse_position(h: BrokerHarness) -> None:
    """A sell of twice the long position goes through zero to a short position of the same size."""
    if not (h.broker.capabilities.short_selling and h.features.short_selling):
        raise ScenarioSkipped("short selling is not supported")
    async with scenario_run(h) as run:
        entry = run.market(BUY)
        await run.place(entry)
        await run.filled(entry)
        reverse = run.market(SELL, run.qty * 2)
        await run.place(reverse)
        await run.filled(reverse)
        check_fills(run, reverse)
        await run.expect_position(-run.qty)


# --- order types --------------------------------------------------------------------------------------------------


async def scenario_limit_rests_then_fills(h: BrokerHarness) -> None:
    """A buy limit below the market rests in the open orders, then fills at or below its limit."""
    async with scenario_run(h) as run:
        order = run.limit(BUY, run.down(await run.price() * (1 - _NEAR)))
        await run.place(order)
        await run.working(order)
        assert order.client_order_id in await run.open_ids(), "a resting limit is missing from open_orders"
        await run.filled(order)
        check_fills(run, order)
        assert order.limit_price is not None
        assert all(f.price <= order.limit_price for f in run.tape.fills(order.client_order_id)), "limit exceeded"
        assert order.client_order_id not in await run.open_ids(), "a filled order is still in open_orders"
        await run.expect_position(run.qty)


async def scenario_stop_triggers(h: BrokerHarness) -> None:
    """A buy stop above the market waits, triggers when the market reaches it and fills at or above the stop."""
    async with scenario_run(h) as run:
        order = run.stop(BUY, run.up(await run.price() * (1 + _NEAR)))
        await run.place(order)
        await run.working(order)
        await run.filled(order)
        check_fills(run, order)
        assert order.stop_price is not None
        assert all(f.price >= order.stop_price for f in run.tape.fills(order.client_order_id)), "filled below stop"
        await run.expect_position(run.qty)


async def scenario_stop_limit_triggers(h: BrokerHarness) -> None:
    """A buy stop-limit triggers at its stop and fills no higher than its limit."""
    async with scenario_run(h) as run:
        stop = run.up(await run.price() * (1 + _NEAR))
        limit = run.up(stop * Decimal("1.02"))
        order = Order.stop_limit(h.instrument, BUY, run.qty, stop, limit, tif=GTC, account=run.account)
        await run.place(order)
        await run.working(order)
        await run.filled(order)
        check_fills(run, order)
        assert all(f.price <= limit for f in run.tape.fills(order.client_order_id)), "stop-limit exceeded its limit"
        await run.expect_position(run.qty)


async def scenario_trailing_stop_follows(h: BrokerHarness) -> None:
    """A 1 % trailing sell stop protecting a long position eventually triggers and flattens it."""
    async with scenario_run(h) as run:
        entry = run.market(BUY)
        await run.place(entry)
        await run.filled(entry)
        trail = Order.trailing_stop(h.instrument, SELL, run.qty, trailing_percent=1, tif=GTC, account=run.account)
        await run.place(trail)
        await run.working(trail)
        await run.filled(trail)
        check_fills(run, trail)
        await run.expect_position(Decimal(0))


async def _auction(h: BrokerHarness, build: Callable[[ScenarioRun], Order]) -> None:
    if not h.features.auctions:
        raise ScenarioSkipped("the harness cannot drive the market through auctions")
    async with scenario_run(h) as run:
        order = build(run)
        await run.place(order)
        await run.filled(order)
        check_fills(run, order)
        await run.expect_position(run.qty)


async def scenario_market_on_close(h: BrokerHarness) -> None:
    """A market-on-close buy fills in the closing auction."""
    await _auction(h, lambda run: Order.market_on_close(h.instrument, BUY, run.qty, account=run.account))


async def scenario_market_on_open(h: BrokerHarness) -> None:
    """A market-on-open buy (MKT, tif OPG) fills in the opening auction."""
    await _auction(h, lambda run: Order.market_on_open(h.instrument, BUY, run.qty, account=run.account))


# --- order lists --------------------------------------------------------------------------------------------------


async def scenario_bracket_stop_loss(h: BrokerHarness) -> None:
    """A bracket's entry fills, its stop-loss fills and its take-profit is cancelled: flat again."""
    async with scenario_run(h) as run:
        price = await run.price()
        bracket = Bracket.build(
            h.instrument, BUY, run.qty, None, run.up(price * 3), run.down(price * (1 - _NEAR)),
            child_tif=GTC, account=run.account,
        )  # fmt: skip
        acks = await h.broker.place_order_list(bracket)
        assert [a.client_order_id for a in acks] == [o.client_order_id for o in bracket.orders], acks
        assert all(a.status is not OrderStatus.REJECTED for a in acks), acks
        entry, take, stop = (o.client_order_id for o in bracket.orders)
        await run.until(
            lambda: run.tape.is_filled(stop, run.qty) and run.tape.status(take) is OrderStatus.CANCELLED,
            "stop-loss fill and take-profit cancel",
        )
        assert run.tape.is_filled(entry, run.qty), run.tape.describe(entry)
        assert run.tape.filled(take) == 0, run.tape.describe(take)
        check_fills(run, bracket.stop_loss)
        await run.expect_position(Decimal(0))


async def scenario_oca_pair(h: BrokerHarness) -> None:
    """Of a buy limit below and a buy stop above in one OCA group, one fills and the other is cancelled."""
    async with scenario_run(h) as run:
        price = await run.price()
        group = OcaGroup.of(
            run.limit(BUY, run.down(price * (1 - _NEAR))),
            run.stop(BUY, run.up(price * (1 + _NEAR))),
            oca_type=OcaType.CANCEL_WITH_BLOCK,
        )
        acks = await h.broker.place_order_list(group)
        assert all(a.status is not OrderStatus.REJECTED for a in acks), acks
        ids = [o.client_order_id for o in group.orders]
        done = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED})
        await run.until(lambda: all(run.tape.status(c) in done for c in ids), "one fill and one cancel")
        statuses = sorted(s.value for c in ids if (s := run.tape.status(c)) is not None)
        assert statuses == ["CANCELLED", "FILLED"], [run.tape.describe(c) for c in ids]
        assert sum(run.tape.filled(c) for c in ids) == run.qty, [run.tape.describe(c) for c in ids]
        await run.expect_position(run.qty)


# --- quantities ---------------------------------------------------------------------------------------------------


async def scenario_partial_fills(h: BrokerHarness) -> None:
    """A large order fills in several executions that add up to exactly its quantity."""
    size = h.features.partial_fill_quantity
    if size is None:
        raise ScenarioSkipped("the harness names no order size that fills in parts")
    async with scenario_run(h) as run:
        order = run.market(BUY, size, tif=GTC)
        await run.place(order)
        await run.filled(order)
        fills = run.tape.fills(order.client_order_id)
        assert len(fills) >= 2, f"{size} filled in {len(fills)} execution(s)"
        check_fills(run, order)
        partial = [r for r in run.tape.order_reports(order.client_order_id) if 0 < r.filled_quantity < size]
        assert partial, "no report showed the order partly filled"
        await run.expect_position(size)


# --- cancel, modify, reject ---------------------------------------------------------------------------------------


async def scenario_cancel_order(h: BrokerHarness) -> None:
    """A working limit is cancelled: CANCELLED, nothing filled, gone from the open orders."""
    async with scenario_run(h) as run:
        order = run.limit(BUY, run.down(await run.price() * _FAR_BELOW))
        cid = order.client_order_id
        await run.place(order)
        await run.working(order)
        await h.broker.cancel_order(cid)
        await run.status(cid, frozenset({OrderStatus.CANCELLED}))
        assert run.tape.filled(cid) == 0, run.tape.describe(cid)
        assert cid not in await run.open_ids(), f"{cid} is still in open_orders after its cancel"
        assert (await h.broker.order_status(cid)).status is OrderStatus.CANCELLED
        await run.expect_position(Decimal(0))


async def scenario_completed_orders(h: BrokerHarness) -> None:
    """Filled and cancelled orders show in ``completed_orders`` with their final status; working ones do not."""
    async with scenario_run(h) as run:
        filled = run.market(BUY)
        await run.place(filled)
        await run.filled(filled)
        resting = run.limit(BUY, run.down(await run.price() * _FAR_BELOW))
        await run.place(resting)
        await run.working(resting)
        done = {r.client_order_id: r for r in await h.broker.completed_orders()}
        assert resting.client_order_id not in done, "a working order is listed as completed"
        await h.broker.cancel_order(resting.client_order_id)
        await run.status(resting.client_order_id, frozenset({OrderStatus.CANCELLED}))
        done = {r.client_order_id: r for r in await h.broker.completed_orders()}
        assert done.get(filled.client_order_id) is not None, "a filled order is missing from completed_orders"
        assert done[filled.client_order_id].status is OrderStatus.FILLED
        assert done[filled.client_order_id].filled_quantity == filled.quantity
        assert done.get(resting.client_order_id) is not None, "a cancelled order is missing from completed_orders"
        assert done[resting.client_order_id].status is OrderStatus.CANCELLED
        when = await h.broker.server_time()
        assert when.tzinfo is not None, "server_time must be aware"


async def scenario_modify_order(h: BrokerHarness) -> None:
    """A resting limit moved above the market fills at or below its new limit."""
    async with scenario_run(h) as run:
        price = await run.price()
        old, new = run.down(price * _FAR_BELOW), run.up(price * Decimal("1.02"))
        order = run.limit(BUY, old)
        cid = order.client_order_id
        await run.place(order)
        await run.working(order)
        report = await h.broker.modify_order(cid, limit_price=new)
        assert report.client_order_id == cid, report
        assert report.limit_price == new, report
        await run.filled(order)
        prices = [f.price for f in run.tape.fills(cid)]
        assert all(old < p <= new for p in prices), f"fills {prices} outside ({old}, {new}]"
        await run.expect_position(run.qty)


async def _expect_rejected(run: ScenarioRun, order: Order) -> None:
    cid = order.client_order_id
    await run.place(order)
    await run.status(cid, frozenset({OrderStatus.REJECTED}))
    last = run.tape.last(cid)
    assert last is not None, f"no report for {cid}"
    assert last.reason, f"rejection without a reason: {last}"
    assert run.tape.filled(cid) == 0, run.tape.describe(cid)
    assert cid not in await run.open_ids(), f"rejected order {cid} is in open_orders"
    await run.expect_position(Decimal(0))


async def scenario_reject_insufficient_buying_power(h: BrokerHarness) -> None:
    """An order far beyond the buying power is REJECTED with a reason and changes nothing."""
    if not h.features.buying_power_rejects:
        raise ScenarioSkipped("the venue does not refuse orders beyond the buying power")
    async with scenario_run(h) as run:
        summary = await h.broker.account_summary(run.account)
        notional = (summary.buying_power.amount + summary.net_liquidation.amount) * 2
        lot = h.instrument.lot_size
        quantity = ((notional / await run.price()) / lot).to_integral_value(ROUND_CEILING) * lot + lot
        await _expect_rejected(run, run.market(BUY, quantity))


def _unsupported(run: ScenarioRun, price: Decimal) -> Order | None:
    """An order using a feature ``broker.capabilities`` lacks, or None."""
    caps, inst, qty, acct = run.h.broker.capabilities, run.h.instrument, run.qty, run.account
    low, high = run.down(price * _FAR_BELOW), run.up(price * _FAR_ABOVE)
    builders: dict[OrderType, Callable[[], Order]] = {
        OrderType.LIMIT: lambda: run.limit(BUY, low),
        OrderType.STOP: lambda: run.stop(BUY, high),
        OrderType.STOP_LIMIT: lambda: Order.stop_limit(inst, BUY, qty, high, high, tif=GTC, account=acct),
        OrderType.TRAILING_STOP: lambda: Order.trailing_stop(
            inst, BUY, qty, trailing_percent=50, tif=GTC, account=acct
        ),
        OrderType.TRAILING_STOP_LIMIT: lambda: Order.trailing_stop_limit(
            inst, BUY, qty, trailing_percent=50, limit_offset=inst.tick_size, tif=GTC, account=acct
        ),
        OrderType.MARKET_ON_CLOSE: lambda: Order.market_on_close(inst, BUY, qty, account=acct),
        OrderType.LIMIT_ON_CLOSE: lambda: Order.limit_on_close(inst, BUY, qty, low, account=acct),
    }
    for kind, build in builders.items():
        if kind not in caps.order_types:
            return build()
    for tif in (TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.OPG):
        if tif not in caps.time_in_force:
            return Order.limit(inst, BUY, qty, low, tif=tif, account=acct)
    if not caps.hidden:
        return Order.limit(inst, BUY, qty, low, tif=GTC, hidden=True, account=acct)
    if not caps.short_selling:
        return run.market(SELL)
    return None


async def scenario_reject_unsupported(h: BrokerHarness) -> None:
    """An order using a feature the capability table lacks is REJECTED with a reason and changes nothing."""
    async with scenario_run(h) as run:
        order = _unsupported(run, await run.price())
        if order is None:
            raise ScenarioSkipped(f"{h.broker.capabilities.name} supports every feature this scenario can use")
        await _expect_rejected(run, order)


async def scenario_cancel_all_orders(h: BrokerHarness) -> None:
    """The global cancel cancels every working order."""
    async with scenario_run(h) as run:
        price = await run.price()
        orders = [run.limit(BUY, run.down(price * _FAR_BELOW)), run.stop(BUY, run.up(price * _FAR_ABOVE))]
        for order in orders:
            await run.place(order)
        await run.working(*orders)
        await h.broker.cancel_all_orders()
        for order in orders:
            await run.status(order.client_order_id, frozenset({OrderStatus.CANCELLED}))
        assert not {o.client_order_id for o in orders} & await run.open_ids(), "cancelled orders still open"


# --- queries ------------------------------------------------------------------------------------------------------


async def scenario_executions_since(h: BrokerHarness) -> None:
    """``executions`` lists every fill exactly once, and ``since`` leaves out the earlier ones."""
    async with scenario_run(h) as run:
        first = run.market(BUY)
        await run.place(first)
        await run.filled(first)
        await h.drive_market(1)
        second = run.market(BUY)
        await run.place(second)
        await run.filled(second)
        mine = {f.execution_id: f for o in (first, second) for f in run.tape.fills(o.client_order_id)}
        listed = await h.broker.executions()
        ids = [r.execution_id for r in listed]
        assert len(ids) == len(set(ids)), "an execution is listed twice"
        assert set(mine) <= set(ids), f"missing executions: {set(mine) - set(ids)}"
        for order in (first, second):
            total = sum(r.quantity for r in listed if r.client_order_id == order.client_order_id)
            assert total == order.quantity, f"executions of {order.client_order_id} add up to {total}"
        cut = min(f.ts for f in run.tape.fills(second.client_order_id))
        later = await h.broker.executions(cut)
        assert all(r.ts >= cut for r in later), "executions(since) returned an earlier execution"
        assert {f.execution_id for f in run.tape.fills(second.client_order_id)} <= {r.execution_id for r in later}
        if max(f.ts for f in run.tape.fills(first.client_order_id)) < cut:
            assert not {f.execution_id for f in run.tape.fills(first.client_order_id)} & {r.execution_id for r in later}


async def scenario_open_orders(h: BrokerHarness) -> None:
    """``open_orders`` shows exactly the working orders, with their terms, as they are placed and cancelled."""
    async with scenario_run(h) as run:
        price = await run.price()
        low, high = run.limit(BUY, run.down(price * _FAR_BELOW)), run.stop(BUY, run.up(price * _FAR_ABOVE))
        for order in (low, high):
            await run.place(order)
        await run.working(low, high)
        shown = {r.client_order_id: r for r in await h.broker.open_orders()}
        for order in (low, high):
            r = shown.get(order.client_order_id)
            assert r is not None, f"{order} missing from open_orders"
            assert (r.side, r.quantity, r.order_type, r.status in WORKING) == (
                order.side,
                order.quantity,
                order.order_type,
                True,
            ), r
        assert shown[low.client_order_id].limit_price == low.limit_price
        assert shown[high.client_order_id].stop_price == high.stop_price
        for gone, kept in ((low, high), (high, None)):
            await h.broker.cancel_order(gone.client_order_id)
            await run.status(gone.client_order_id, frozenset({OrderStatus.CANCELLED}))
            open_now = await run.open_ids()
            assert gone.client_order_id not in open_now, f"{gone} still open after its cancel"
            assert kept is None or kept.client_order_id in open_now, f"{kept} vanished from open_orders"


SCENARIOS: Mapping[str, Scenario] = MappingProxyType(
    {
        "long_from_zero": scenario_long_from_zero,
        "close_position": scenario_close_position,
        "reverse_position": scenario_reverse_position,
        "limit_rests_then_fills": scenario_limit_rests_then_fills,
        "stop_triggers": scenario_stop_triggers,
        "stop_limit_triggers": scenario_stop_limit_triggers,
        "trailing_stop_follows": scenario_trailing_stop_follows,
        "market_on_close": scenario_market_on_close,
        "market_on_open": scenario_market_on_open,
        "bracket_stop_loss": scenario_bracket_stop_loss,
        "oca_pair": scenario_oca_pair,
        "partial_fills": scenario_partial_fills,
        "cancel_order": scenario_cancel_order,
        "modify_order": scenario_modify_order,
        "reject_insufficient_buying_power": scenario_reject_insufficient_buying_power,
        "reject_unsupported": scenario_reject_unsupported,
        "cancel_all_orders": scenario_cancel_all_orders,
        "executions_since": scenario_executions_since,
        "open_orders": scenario_open_orders,
        "completed_orders": scenario_completed_orders,
    }
)
"""Every scenario by name, in a sensible running order."""


async def run_scenario(harness: BrokerHarness, name: str) -> None:
    """Run one scenario by name; ``NotFound`` lists the names."""
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise NotFound(
            f"no conformance scenario named {name!r}", field="name", value=name, hint="one of " + ", ".join(SCENARIOS)
        )
    await scenario(harness)
