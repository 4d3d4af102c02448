"""Orders across restarts (state file) and the scripted order faults, from Python and from the control command."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from ib_async import LimitOrder, MarketOrder
from test_gateway_orders_support import ORDERS, connect, holding, quote, status, stock, until

from quantdesk.gateway import GatewayServer, desk_of
from quantdesk.gateway.control import execute
from quantdesk.gateway.order_book import GatewayOrder
from quantdesk.gateway.order_state_store import dump, restore
from quantdesk.gateway.order_wire import WireComboLeg, WireCondition, WireContract, WireOrder

DROPPED = (r"Peer closed connection", r"Connection reset by peer", r"Connection lost", r"\[Errno")


async def _working_and_filled(gw: GatewayServer, ib: Any) -> tuple[Any, Any]:
    aapl = await stock(ib)
    resting = ib.placeOrder(aapl, LimitOrder("BUY", 10, round(quote(gw).bid - 1, 2), tif="GTC"))
    filled = ib.placeOrder(aapl, MarketOrder("BUY", 5))
    await status(resting, "Submitted")
    await status(filled, "Filled")
    return resting, filled


def test_restart_keeps_working_orders_and_executions(running: Any, ib_errors: Any, tmp_path: Path) -> None:
    ib_errors.allow(*DROPPED)
    state = tmp_path / "gateway.json"

    async def main() -> None:
        async with running(**ORDERS, state_file=state) as (gw, ib):
            resting, filled = await _working_and_filled(gw, ib)
            await gw.faults.restart()
            await until(lambda: not ib.isConnected(), what="the drop")
            assert state.is_file()
            assert json.loads(state.read_text())["orders"]["orders"]
            again = await connect(gw, 1)
            try:
                [working] = again.openTrades()
                assert (working.order.permId, working.orderStatus.status) == (resting.order.permId, "Submitted")
                assert [f.execution.execId for f in again.fills()] == [f.execution.execId for f in filled.fills]
                working.order.lmtPrice = quote(gw).ask  # the restored order still works: make it fill
                again.placeOrder(working.contract, working.order)
                await status(working, "Filled")
                exec_ids = [f.execution.execId for f in again.fills()]
                assert len(exec_ids) == len(set(exec_ids)) == len(filled.fills) + 1
            finally:
                again.disconnect()

    asyncio.run(main())


def test_stop_and_start_with_the_same_state_file(running: Any, make_config: Any, tmp_path: Path) -> None:
    state = tmp_path / "gateway.json"

    async def main() -> None:
        async with running(**ORDERS, state_file=state) as (gw, ib):
            resting, filled = await _working_and_filled(gw, ib)
            ib.disconnect()
        async with GatewayServer(make_config(**ORDERS, state_file=state)) as gw2:
            ib2 = await connect(gw2, 1)
            try:
                [working] = ib2.openTrades()
                assert working.order.permId == resting.order.permId
                assert working.order.orderId == resting.order.orderId
                assert [f.execution.execId for f in ib2.fills()] == [f.execution.execId for f in filled.fills]
                assert [(p.contract.symbol, p.position) for p in ib2.positions()] == [("AAPL", 5)]
                later = ib2.placeOrder(working.contract, MarketOrder("SELL", 5))
                await status(later, "Filled")
                assert later.order.orderId > resting.order.orderId
                assert later.order.permId > max(resting.order.permId, filled.order.permId)
                assert {t.contract.symbol for t in await ib2.reqCompletedOrdersAsync(False)} == {"AAPL"}
            finally:
                ib2.disconnect()

    asyncio.run(main())


def test_withheld_order_status_leaves_only_the_execution(running: Any) -> None:
    async def main() -> None:
        async with running(**ORDERS) as (gw, ib):
            aapl = await stock(ib)
            gw.faults.arm("withhold_order_status")
            trade = ib.placeOrder(aapl, MarketOrder("BUY", 10))
            await until(lambda: sum(f.execution.shares for f in trade.fills) == 10, what="the execution")
            await asyncio.sleep(0.1)
            assert trade.orderStatus.status == "PendingSubmit"  # no orderStatus ever came
            await holding(ib, ("AAPL", 10))
            normal = ib.placeOrder(aapl, MarketOrder("SELL", 10))
            await status(normal, "Filled")

    asyncio.run(main())


def test_reject_next_order_fault(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 201, reqId \d+: Order rejected - reason:risk desk says no")

    async def main() -> None:
        async with running(**ORDERS) as (gw, ib):
            aapl = await stock(ib)
            gw.faults.arm("reject_next_order", reason="risk desk says no")
            rejected = ib.placeOrder(aapl, MarketOrder("BUY", 1))
            await status(rejected, "Cancelled")
            assert rejected.log[-1].errorCode == 201
            assert json.loads(rejected.advancedError)["rejectReason"] == "risk desk says no"
            accepted = ib.placeOrder(aapl, MarketOrder("BUY", 1))
            await status(accepted, "Filled")

    asyncio.run(main())


def test_control_commands(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 201, reqId \d+: Order rejected - reason:from the console", r"Error 1101", *DROPPED)

    async def main() -> None:
        async with running(**ORDERS) as (gw, ib):
            aapl = await stock(ib)
            codes: list[int] = []
            ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
            assert await execute(gw, "reject-next from the console") == "the next order will be rejected"
            trade = ib.placeOrder(aapl, MarketOrder("BUY", 1))
            await status(trade, "Cancelled")
            assert (await execute(gw, "withhold-status 1")).startswith("orderStatus withheld")
            withheld = ib.placeOrder(aapl, MarketOrder("BUY", 1))
            await until(lambda: bool(withheld.fills), what="the execution")
            assert withheld.orderStatus.status == "PendingSubmit"
            assert await execute(gw, "status") == "clients 1; working orders 0; executions 1"
            assert await execute(gw, "1101 1") == "sent 1101 to 1 client(s)"
            await until(lambda: 1101 in codes, what="1101")
            assert (await execute(gw, "bogus")).startswith("error: unknown command 'bogus'")
            assert (await execute(gw, "delay x")).startswith("error:")
            assert await execute(gw, "drop 1") == "dropped 1 client(s)"
            await until(lambda: not ib.isConnected(), what="the drop")
            stop = asyncio.Event()
            assert await execute(gw, "stop", stop) == "stopping"
            assert stop.is_set()

    asyncio.run(main())


def test_state_round_trip_keeps_every_wire_field(make_config: Any) -> None:
    first = GatewayServer(make_config(speed=0))
    desk = desk_of(first)
    order = WireOrder(
        order_id=7,
        action="BUY",
        total_quantity=3,
        order_type="LMT",
        lmt_price=101.5,
        transmit=False,
        algo_strategy="Adaptive",
        algo_params=(("adaptivePriority", "Normal"),),
        order_misc_options=(("a", "b"),),
        conditions=(WireCondition(cond_type=1, price=100.0, con_id=265598, exch="SMART", trigger_method=0),),
        order_combo_legs=(1.5, None),
        client_id=3,
        perm_id=desk.book.new_perm_id(),
    )
    contract = WireContract(
        con_id=265598, symbol="AAPL", sec_type="STK", exchange="SMART", currency="USD",
        combo_legs=(WireComboLeg(con_id=1, ratio=2, action="BUY", exchange="SMART"),),
    )  # fmt: skip
    held = GatewayOrder(3, 7, order.perm_id or 0, 265598, "DU1000001", contract, order, held=True, engine_offset=1.0)
    desk.book.add(held)
    data = json.loads(json.dumps(dump(desk)))
    second = GatewayServer(make_config(speed=0))
    restore(desk_of(second), data)
    [back] = desk_of(second).book.orders()
    assert dataclasses.asdict(back.order) == dataclasses.asdict(order)
    assert back.contract == contract
    assert (back.key, back.held, back.filled, back.status) == ((3, 7), True, 1.0, "PendingSubmit")
    assert desk_of(second).book.next_perm_id == desk.book.next_perm_id


def _issue(server: GatewayServer, n: int = 50) -> tuple[list[int], list[str]]:
    book = desk_of(server).book
    return [book.new_perm_id() for _ in range(n)], [book.new_exec_id() for _ in range(n)]


def test_two_gateways_and_a_restart_never_issue_the_same_ids(make_config: Any) -> None:
    first, other = GatewayServer(make_config(speed=0)), GatewayServer(make_config(speed=0))
    perms, execs = _issue(first)
    other_perms, other_execs = _issue(other)
    assert not set(perms) & set(other_perms)
    assert not set(execs) & set(other_execs)
    restarted = GatewayServer(make_config(speed=0))
    restore(desk_of(restarted), json.loads(json.dumps(dump(desk_of(first)))))
    later_perms, later_execs = _issue(restarted)
    assert min(later_perms) > max(perms)  # the same instance goes on where it stopped
    assert not set(later_execs) & set(execs)
    assert {e.split(".")[0] for e in execs} == {e.split(".")[0] for e in later_execs}
    assert all(re.fullmatch(r"[0-9a-f]{8}\.[0-9a-f]{8}\.01\.01", e) for e in execs + later_execs)  # IB's shape
