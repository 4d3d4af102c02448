"""Whose clock stamps what: our own actions carry the local wall clock (UTC), the venue's times stay the venue's.

The gateway simulator runs its own clock, which can run days ahead of ours (a fast replay). Here it starts at 10:00
New York two weekdays or more after today and stands still, so the market order fills at that future instant. The
intent we create, the events we log and the snapshots we take must still read "now" on our clock, bracketed by two
readings of ``datetime.now(UTC)`` taken around the run; the execution keeps the venue's (future) time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import Any

from sqlalchemy import select

from quantdesk.brokers.ib import IBBroker
from quantdesk.config import Settings
from quantdesk.domain.identifiers import AccountId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.gateway import GatewayConfig, GatewayServer
from quantdesk.gateway.clock import NEW_YORK
from quantdesk.persistence import create_db_engine
from quantdesk.persistence.models import AccountSnapshotRow, FillRow, OrderEventRow, OrderIntentRow
from quantdesk.services.trading import TradingSession, trading_session

ACCOUNT = "DU1000001"
AAPL = Stock("AAPL")


def open_days_ahead(days: int) -> datetime:
    """10:00 New York on the first weekday at least ``days`` days after today."""
    day = datetime.now(NEW_YORK).date() + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, dtime(10), NEW_YORK)


@contextlib.asynccontextmanager
async def session_ahead(url: str, start: datetime) -> AsyncIterator[TradingSession]:
    """A trading session on ``IBBroker`` connected to a frozen gateway whose clock reads ``start``."""
    config = GatewayConfig(accounts=(ACCOUNT,), speed=0, tick_interval=0.02, start=start)
    async with GatewayServer(config) as gw:
        ib = {"port": gw.port, "account": ACCOUNT, "connect_timeout": 3.0, "request_timeout": 5.0}
        settings = Settings.model_validate({"database": {"url": url}, "ib": ib})
        async with IBBroker(settings.ib) as broker, trading_session(settings, broker, account=ACCOUNT) as session:
            yield session


def rows(url: str, table: Any) -> list[Any]:
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(table)).mappings())
    finally:
        engine.dispose()


def test_a_gateway_clock_ahead_of_ours_stores_our_actions_at_our_time_and_executions_at_the_venues(
    db_url: str,
) -> None:
    start = open_days_ahead(2)

    async def main() -> None:
        async with session_ahead(db_url, start) as session:
            assert session.manager.now() > datetime.now(UTC) + timedelta(days=1)  # the venue's clock is ahead
            order = Order.market(AAPL, "BUY", 10, account=AccountId(ACCOUNT))
            await session.manager.submit(order)
            assert await session.manager.wait_terminal([order.client_order_id], 10.0)
            managed = session.manager.get(order.client_order_id)
            assert managed is not None
            assert managed.state.status is OrderStatus.FILLED
            await session.manager.flush()

    before = datetime.now(UTC)
    asyncio.run(main())
    after = datetime.now(UTC)

    [intent] = rows(db_url, OrderIntentRow.__table__)
    assert before <= intent["created_at"] <= after, (before, intent["created_at"], after)
    events = rows(db_url, OrderEventRow.__table__)
    assert events
    assert all(before <= e["ts"] <= after for e in events), [(e["kind"], e["ts"]) for e in events]
    snapshots = rows(db_url, AccountSnapshotRow.__table__)
    assert snapshots
    assert all(before <= s["ts"] <= after for s in snapshots), [s["ts"] for s in snapshots]
    [fill] = rows(db_url, FillRow.__table__)
    assert fill["ts"] >= start.astimezone(UTC)  # the venue's execution time, as reported
    assert before <= fill["recorded_at"] <= after  # when we recorded it
