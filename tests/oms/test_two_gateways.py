"""Two gateways, two accounts, one store (in memory, SQLite, PostgreSQL), several sessions: every fill is recorded
once, no order's filled quantity grows, and reconciliation is clean from the second session on.

Issue #14: the demo's in-process gateway and a standalone one issued the same execIds, and the fills table was keyed
by the execId alone, so one account's MRK fill was dropped as a duplicate of the other's XOM fill; every later
session then reported it ``fill_missing (applied)`` and added its quantity to the order again. Each gateway here
keeps a state file and is restarted for every session, as the CLI's gateways are.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any

from oms_support import Desk

from quantdesk.brokers.ib import IBBroker
from quantdesk.config import Settings
from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.gateway import GatewayConfig, GatewayServer, desk_of
from quantdesk.gateway.clock import NEW_YORK, last_weekday
from quantdesk.oms.reconciliation import ReconciliationReport

D = Decimal
FIRST, SECOND = "DU1234567", "DU7654321"
XOM, MRK, AAPL = Stock("XOM"), Stock("MRK"), Stock("AAPL")


def _open() -> datetime:
    today = datetime.now(NEW_YORK).date()
    return datetime.combine(last_weekday(today - timedelta(days=1)), dtime(10), NEW_YORK)


@contextlib.asynccontextmanager
async def gateway_session(desk: Desk, account: str, state: Path) -> AsyncIterator[tuple[Any, GatewayServer]]:
    """A gateway of one account restarted from its state file, an IB adapter on it and a trading session."""
    config = GatewayConfig(accounts=(account,), speed=0, tick_interval=0.02, start=_open(), state_file=state)
    async with GatewayServer(config) as gw:
        ib = {"port": gw.port, "account": account, "connect_timeout": 3.0, "request_timeout": 5.0}
        broker = IBBroker(Settings.model_validate({"ib": ib}).ib)
        await broker.connect()
        try:
            async with desk.session(broker, account=account, monitor_interval=0.05) as session:
                yield session, gw
        finally:
            await broker.close()


async def buy(session: Any, stock: Stock, quantity: int, account: str) -> Order:
    """A marketable limit buy (at the ask: fills at once), waited for until it is done."""
    ask = (await session.manager.broker.quote(stock)).ask
    order = Order.limit(stock, "BUY", quantity, stock.round_to_tick(ask * D("1.01")), account=account)
    await session.manager.submit(order)
    assert await session.manager.wait_terminal([order.client_order_id], 10)
    await session.manager.flush()
    return order


async def fills_and_intents(desk: Desk) -> tuple[list[tuple[str, str, Decimal]], dict[str, tuple[Decimal, Decimal]]]:
    """The recorded fills as (account, execution id, quantity), and each intent's (quantity, filled quantity)."""
    backend = desk.read()
    fills = [(str(f.account), f.execution_id.value, f.quantity) for f in backend.fills()]
    intents = {}
    for cid, *_ in backend.intents():
        state = (await backend.stores.orders.get_intent(ClientOrderId(cid))).state
        intents[cid] = (state.quantity, state.filled_quantity)
    return fills, intents


def no_fill_breaks(report: ReconciliationReport) -> None:
    assert report.clean, report.to_dict()


def test_two_gateways_and_two_accounts_record_every_fill_once_over_several_sessions(
    desk: Desk, tmp_path: Path, ib_errors: Any
) -> None:
    import asyncio

    state = {FIRST: tmp_path / "first.json", SECOND: tmp_path / "second.json"}
    sent: dict[str, int] = {}
    executions: dict[str, set[str]] = {FIRST: set(), SECOND: set()}

    async def trade(account: str, *orders: tuple[Stock, int]) -> None:
        async with gateway_session(desk, account, state[account]) as (session, gw):
            for stock, quantity in orders:
                order = await buy(session, stock, quantity, account)
                sent[order.client_order_id.value] = quantity
                managed = session.manager.get(order.client_order_id)
                assert managed is not None
                assert managed.state.status is OrderStatus.FILLED
            executions[account] = {e.exec_id for e in desk_of(gw).book.executions}

    async def reconcile_again(account: str) -> ReconciliationReport:
        async with gateway_session(desk, account, state[account]) as (session, _gw):
            return session.reconciliation

    async def main() -> None:
        await trade(FIRST, (XOM, 50))
        await trade(SECOND, (MRK, 80))  # the second gateway's first execId was the first one's
        for _ in range(2):  # later sessions: nothing missing, nothing applied again
            no_fill_breaks(await reconcile_again(SECOND))
            no_fill_breaks(await reconcile_again(FIRST))
        await trade(FIRST, (AAPL, 30))  # the same symbol in both accounts, a different one in each
        await trade(SECOND, (AAPL, 20), (XOM, 10))
        for _ in range(2):
            no_fill_breaks(await reconcile_again(FIRST))
            no_fill_breaks(await reconcile_again(SECOND))

    asyncio.run(main())
    fills, intents = asyncio.run(fills_and_intents(desk))
    keys = [(a, e) for a, e, _ in fills]
    assert len(keys) == len(set(keys))  # each fill once per (account, execution id)
    assert {e for a, e in keys if a == FIRST} == executions[FIRST]  # every gateway execution is recorded
    assert {e for a, e in keys if a == SECOND} == executions[SECOND]
    assert not executions[FIRST] & executions[SECOND]  # the two gateways never issue the same execId
    assert {c: f for c, (_, f) in intents.items()} == {c: D(q) for c, q in sent.items()}  # filled = sent, no growth
    assert sum(q for _, _, q in fills) == sum(sent.values())
