"""Two gateways, two accounts, one database, several sessions: every fill is recorded once, no order's filled
quantity grows, and reconciliation is clean from the second session on.

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

from sqlalchemy import select

from quantdesk.brokers.ib import IBBroker
from quantdesk.config import Settings
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.gateway import GatewayConfig, GatewayServer, desk_of
from quantdesk.gateway.clock import NEW_YORK, last_weekday
from quantdesk.oms.reconciliation import ReconciliationReport
from quantdesk.persistence import create_db_engine
from quantdesk.persistence.models import FillRow, OrderIntentRow
from quantdesk.services.trading import trading_session

D = Decimal
FIRST, SECOND = "DU1234567", "DU7654321"
XOM, MRK, AAPL = Stock("XOM"), Stock("MRK"), Stock("AAPL")


def _open() -> datetime:
    today = datetime.now(NEW_YORK).date()
    return datetime.combine(last_weekday(today - timedelta(days=1)), dtime(10), NEW_YORK)


@contextlib.asynccontextmanager
async def gateway_session(url: str, account: str, state: Path) -> AsyncIterator[tuple[Any, GatewayServer]]:
    """A gateway of one account restarted from its state file, an IB adapter on it and a trading session."""
    config = GatewayConfig(accounts=(account,), speed=0, tick_interval=0.02, start=_open(), state_file=state)
    async with GatewayServer(config) as gw:
        ib = {"port": gw.port, "account": account, "connect_timeout": 3.0, "request_timeout": 5.0}
        settings = Settings.model_validate({"database": {"url": url}, "ib": ib})
        broker = IBBroker(settings.ib)
        await broker.connect()
        try:
            async with trading_session(settings, broker, account=account, monitor_interval=0.05) as session:
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


def fills_and_intents(url: str) -> tuple[list[tuple[str, str, Decimal]], dict[str, tuple[Decimal, Decimal]]]:
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            fills = [(a, e, D(q)) for a, e, q in conn.execute(
                select(FillRow.account_id, FillRow.execution_id, FillRow.quantity))]  # fmt: skip
            intents = {
                c: (D(q), D(f))
                for c, q, f in conn.execute(
                    select(OrderIntentRow.client_order_id, OrderIntentRow.quantity, OrderIntentRow.filled_quantity)
                )
            }
    finally:
        engine.dispose()
    return fills, intents


def no_fill_breaks(report: ReconciliationReport) -> None:
    assert report.clean, report.to_dict()


def test_two_gateways_and_two_accounts_record_every_fill_once_over_several_sessions(
    db_url: str, tmp_path: Path, ib_errors: Any
) -> None:
    import asyncio

    state = {FIRST: tmp_path / "first.json", SECOND: tmp_path / "second.json"}
    sent: dict[str, int] = {}
    executions: dict[str, set[str]] = {FIRST: set(), SECOND: set()}

    async def trade(account: str, *orders: tuple[Stock, int]) -> None:
        async with gateway_session(db_url, account, state[account]) as (session, gw):
            for stock, quantity in orders:
                order = await buy(session, stock, quantity, account)
                sent[order.client_order_id.value] = quantity
                managed = session.manager.get(order.client_order_id)
                assert managed is not None
                assert managed.state.status is OrderStatus.FILLED
            executions[account] = {e.exec_id for e in desk_of(gw).book.executions}

    async def reconcile_again(account: str) -> ReconciliationReport:
        async with gateway_session(db_url, account, state[account]) as (session, _gw):
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
    fills, intents = fills_and_intents(db_url)
    keys = [(a, e) for a, e, _ in fills]
    assert len(keys) == len(set(keys))  # each fill once per (account, execution id)
    assert {e for a, e in keys if a == FIRST} == executions[FIRST]  # every gateway execution is recorded
    assert {e for a, e in keys if a == SECOND} == executions[SECOND]
    assert not executions[FIRST] & executions[SECOND]  # the two gateways never issue the same execId
    assert {c: f for c, (_, f) in intents.items()} == {c: D(q) for c, q in sent.items()}  # filled = sent, no growth
    assert sum(q for _, _, q in fills) == sum(sent.values())
