"""The synchronous facade: from plain code, and from inside a running event loop (as in a Jupyter cell)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from quantdesk.brokers.ib import LoopThread, SyncIBBroker
from quantdesk.domain.identifiers import AccountId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import BarSize, Quote
from quantdesk.gateway import GatewayServer


@pytest.fixture
def gateway_thread(make_gateway_config: Any) -> Iterator[GatewayServer]:
    """A gateway running on its own loop in a background thread (the test's code stays synchronous)."""
    thread = LoopThread("gateway")

    async def start() -> GatewayServer:
        return await GatewayServer(make_gateway_config(speed=120)).start()

    gw = thread.run(start())
    try:
        yield gw
    finally:
        thread.run(gw.stop())
        thread.stop()


def test_plain_code(gateway_thread: GatewayServer, make_settings: Any, tmp_path: Path) -> None:
    with SyncIBBroker(make_settings(gateway_thread.port), data_dir=tmp_path, timeout=10) as ib:
        assert ib.is_connected
        assert ib.managed_accounts() == [AccountId(a) for a in gateway_thread.accounts.ids]
        summary = ib.account_summary()
        assert summary.net_liquidation.amount > 0
        assert ib.positions() == []
        quote = ib.quote(Stock("AAPL"))
        assert quote.bid <= quote.ask
        got: list[Quote] = []
        threads: set[str] = set()

        def on_quote(q: Quote) -> None:
            threads.add(threading.current_thread().name)
            got.append(q)

        sub = ib.subscribe_quotes(Stock("MSFT"), on_quote)
        deadline = datetime.now(UTC) + timedelta(seconds=3)
        while len(got) < 2 and datetime.now(UTC) < deadline:
            threading.Event().wait(0.02)
        assert len(got) >= 2
        assert threads == {"quantdesk-ib-loop"}  # callbacks run on the facade's thread
        sub.cancel()
        assert not sub.active
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        bars = ib.historical_bars(Stock("AAPL"), BarSize.DAY_1, today - timedelta(days=10), today - timedelta(days=3))
        assert bars
        assert ib.connection_report()["connected"]
    assert not ib.loop.is_running()


def test_inside_a_running_event_loop(gateway_thread: GatewayServer, make_settings: Any) -> None:
    """A notebook cell runs while the notebook's loop runs in the same thread: blocking calls must still work."""

    async def cell() -> None:
        ib = SyncIBBroker(make_settings(gateway_thread.port), timeout=10)
        try:
            ib.connect()  # called synchronously from a coroutine, with this thread's loop running
            assert ib.is_connected
            assert ib.quote(Stock("KO")).ask > 0
            accounts = await asyncio.to_thread(ib.managed_accounts)  # and from a worker thread
            assert len(accounts) == 2
        finally:
            ib.close()

    asyncio.run(cell())


def test_calling_the_facade_from_its_own_loop_is_refused() -> None:
    thread = LoopThread()
    try:

        async def inside() -> None:
            async def nothing() -> None:
                return None

            thread.run(nothing())

        with pytest.raises(RuntimeError, match="deadlock"):
            thread.run(inside())
    finally:
        thread.stop()

    async def late() -> None:
        return None

    coro = late()
    with pytest.raises(RuntimeError, match="stopped"):
        thread.run(coro)


def test_the_facade_sends_no_order_a_trading_session_over_it_does(
    gateway_thread: GatewayServer, make_settings: Any, tmp_path: Path
) -> None:
    """Orders from a script or notebook go OMS → risk → broker: the facade has no order-sending method, and a
    ``SyncTradingSession`` over it runs the OMS on the facade's loop, also from inside a running event loop."""
    from quantdesk.config import Settings
    from quantdesk.domain.order_state import OrderStatus
    from quantdesk.domain.orders import Order
    from quantdesk.services.sync_session import SyncTradingSession

    for sending in ("place_order", "place_order_list", "modify_order", "cancel_order", "cancel_all_orders"):
        assert not hasattr(SyncIBBroker, sending)
    ib_settings = make_settings(gateway_thread.port)
    settings = Settings(ib=ib_settings)

    async def cell() -> None:
        with SyncIBBroker(ib_settings, data_dir=tmp_path, timeout=10) as ib:
            account = ib.managed_accounts()[0]
            with SyncTradingSession(settings, ib, account=str(account), timeout=10) as trading:
                order = Order.market(Stock("AAPL"), "BUY", 3, account=account)
                trading.submit(order)
                assert trading.wait([order], 10)
                managed = trading.order(order)
                assert managed is not None
                assert managed.state.status is OrderStatus.FILLED
            held = {p.instrument_id.value: p.quantity for p in ib.positions(account)}
            assert held["AAPL.STK.SMART.USD"] == 3
            assert ib.is_connected  # closing the session leaves the facade's broker connected

    asyncio.run(cell())
