"""``SyncTradingSession``: orders from plain synchronous code go through the OMS, its risk engine and the database,
and the live policy applies to them as to every shell."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from quantdesk.brokers.simulated import SimulatedBroker
from quantdesk.config import Settings
from quantdesk.domain.identifiers import AccountId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import Quote
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.errors import ConfigError, RiskRejected
from quantdesk.oms import ManagedOrder
from quantdesk.persistence import create_db_engine
from quantdesk.persistence.repositories import OrderIntentRepository
from quantdesk.services.sync_session import SyncTradingSession

ACCOUNT = "DU1234567"
AAPL = Stock("AAPL")
D = Decimal
T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)  # a Monday, the market open
TICKS = itertools.count(1)  # the simulated clock moves one second per quote fed


def feed(trading: SyncTradingSession, broker: SimulatedBroker, mid: Decimal) -> None:
    """A quote for AAPL, fed on the session's loop (where the broker runs)."""

    async def quote() -> None:
        broker.feed_quote(Quote(AAPL.id, T0 + timedelta(seconds=next(TICKS)), mid - D("0.01"), mid + D("0.01")))

    trading.run(quote())


def test_script_orders_go_through_the_oms_risk_and_the_database() -> None:
    settings = Settings()
    broker = SimulatedBroker({ACCOUNT: 100_000}, start=T0)
    seen: list[tuple[str, str]] = []

    def listener(order: ManagedOrder) -> None:
        seen.append((threading.current_thread().name, order.state.status.value))

    with SyncTradingSession(settings, broker, account=ACCOUNT, timeout=10) as trading:
        feed(trading, broker, D("100.00"))
        assert trading.reconciliation is not None
        trading.add_listener(listener)
        buy = Order.market(AAPL, "BUY", 10, account=AccountId(ACCOUNT))
        managed = trading.submit(buy)
        assert managed.client_order_id == buy.client_order_id
        feed(trading, broker, D("100.00"))
        assert trading.wait([buy], 5)
        tracked = trading.order(buy)
        assert tracked is not None
        assert tracked.state.status is OrderStatus.FILLED
        assert tracked.state.filled_quantity == 10
        with pytest.raises(RiskRejected):  # 2,000 × 100 is above risk.max_order_notional: refused before sending
            trading.submit(Order.market(AAPL, "BUY", 2000, account=AccountId(ACCOUNT)))
        limit = Order.limit(AAPL, "BUY", 5, D("98.00"), account=AccountId(ACCOUNT))
        trading.submit(limit)
        assert [m.client_order_id for m in trading.open_orders()] == [limit.client_order_id]
        assert trading.pending_by_symbol() == {"AAPL": D(5)}
        trading.cancel(limit)
        assert trading.wait([limit], 5)
        assert trading.open_orders() == []
        fills = trading.run(broker.executions())
    assert not trading._thread.is_running  # its own loop thread stops with it
    assert {name for name, _ in seen} == {"quantdesk-session-loop"}
    assert "FILLED" in {status for _, status in seen}
    intents = OrderIntentRepository(create_db_engine(settings.database.url))
    stored = intents.get(buy.client_order_id)
    assert stored is not None  # the intent was stored before the order left
    assert intents.get(limit.client_order_id) is not None
    assert [f.quantity for f in fills] == [D(10)]  # the refused order never reached the broker


def test_the_live_policy_applies_to_script_orders() -> None:
    with pytest.raises(ConfigError, match="--live"):  # live=True with a paper configuration
        SyncTradingSession(Settings(), SimulatedBroker({ACCOUNT: 1000}), live=True)
    with pytest.raises(ConfigError, match="live account"):
        SyncTradingSession(Settings(), SimulatedBroker({"U7654321": 1000}), account="U7654321")
    broker = SimulatedBroker({ACCOUNT: 100_000})
    with (
        SyncTradingSession(Settings(), broker, timeout=10) as trading,
        pytest.raises(ConfigError, match="live account"),
    ):
        trading.submit(Order.market(AAPL, "BUY", 1, account=AccountId("U7654321")))


def test_a_closed_session_refuses_orders() -> None:
    trading = SyncTradingSession(Settings(), SimulatedBroker({ACCOUNT: 1000}), timeout=10)
    with pytest.raises(RuntimeError, match="not open"):
        trading.submit(Order.market(AAPL, "BUY", 1))
    trading.close()
