"""Disconnects, end to end: the OMS of a trading session on ``IBBroker`` and an in-process gateway, on SQLite and
PostgreSQL.

* Working orders survive a dropped execution socket; the ones that fill at the gateway while we are away are
  recovered after the supervisor's reconnect: reconciliation runs again, every order ends in its broker state in
  memory and in ``order_intents``, every gateway execution is in ``fills`` exactly once and the ledger positions
  equal the gateway's.
* A disconnect longer than ``risk.disconnect_halt_seconds`` trips the kill switch to HALTED, records a risk event
  and cancels the working orders; a short one does not. The halt refuses new orders and survives a new session.

The gateway's market is frozen (``speed=0``) and moved by setting its clock, so orders fill exactly when the test
says so: here, while the execution socket is down, and the supervisor's first reconnect attempt waits
``backoff_base`` seconds, so the outage lasts as long as the test needs. The gateway's clock starts at 10:00 New
York on the weekday *before* today, so the OMS's broker clock (``manager.now()``) is always behind the local
clock; see ``test_the_monitor_halts_while_the_broker_is_still_disconnected`` for why that matters.

The last section keeps the tests of bugs found on the way (clock mix-up, lost events, uncancelled orders after a
halt during an outage, finished orders re-adopted, the data connection taken for the execution connection).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from quantdesk.brokers.base import ConnectionState
from quantdesk.brokers.ib import IBBroker
from quantdesk.config import Settings
from quantdesk.domain.identifiers import AccountId, ClientOrderId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.order_types import TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.domain.trading_state import TradingState
from quantdesk.errors import RiskRejected
from quantdesk.gateway import ContractQuery, GatewayConfig, GatewayServer, desk_of
from quantdesk.gateway.clock import NEW_YORK, last_weekday
from quantdesk.persistence import create_db_engine
from quantdesk.persistence.models import FillRow, OrderIntentRow, RiskEventRow
from quantdesk.persistence.repositories import net_positions as ledger_positions
from quantdesk.services.trading import TradingSession, trading_session

D = Decimal
ACCOUNT = "DU1000001"
ACCT = AccountId(ACCOUNT)
AAPL = Stock("AAPL")
MONITOR = 0.05  # the session's monitor checks the disconnect every 50 ms


# --- helpers -----------------------------------------------------------------------------------------------------


def previous_weekday_open() -> datetime:
    """10:00 New York on the weekday before today: a gateway start always behind the local clock."""
    today = datetime.now(NEW_YORK).date()
    return datetime.combine(last_weekday(today - timedelta(days=1)), dtime(10), NEW_YORK)


def settings_for(url: str, port: int, **risk: Any) -> Settings:
    ib = {"port": port, "account": ACCOUNT, "connect_timeout": 3.0, "request_timeout": 5.0,
          "reconnect_max_attempts": 20}  # fmt: skip
    return Settings.model_validate({"database": {"url": url}, "ib": ib, "risk": risk})


@contextlib.asynccontextmanager
async def desk(
    url: str, *, backoff_base: float, start: datetime | None = None, **risk: Any
) -> AsyncIterator[tuple[GatewayServer, IBBroker, Settings]]:
    """A frozen gateway with one paper account, an ``IBBroker`` connected to it and the settings for both."""
    config = GatewayConfig(accounts=(ACCOUNT,), speed=0, tick_interval=0.02, start=start or previous_weekday_open())
    async with GatewayServer(config) as gw:
        settings = settings_for(url, gw.port, **risk)
        broker = IBBroker(settings.ib, backoff_base=backoff_base)
        await broker.connect()
        try:
            yield gw, broker, settings
        finally:
            await broker.close()


@contextlib.asynccontextmanager
async def session_on(
    url: str, *, backoff_base: float, start: datetime | None = None, **risk: Any
) -> AsyncIterator[tuple[GatewayServer, IBBroker, TradingSession]]:
    """``desk`` with a trading session on the broker, its monitor checking every ``MONITOR`` seconds."""
    async with (
        desk(url, backoff_base=backoff_base, start=start, **risk) as (gw, broker, settings),
        trading_session(settings, broker, account=ACCOUNT, monitor_interval=MONITOR) as session,
    ):
        yield gw, broker, session


async def until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def fill_time(gw: GatewayServer, limit: Decimal, *, after: float = 60.0) -> float:
    """The first trading time (minute by minute, after ``after`` seconds) at which AAPL's ask reaches ``limit``."""
    tt = gw.clock.now_tt() + after
    for _ in range(5 * 390):
        tt += 60
        if ask_at(gw, tt) <= limit:
            return tt
    raise AssertionError(f"AAPL never trades at {limit} in the next five sessions")


def ask_at(gw: GatewayServer, tt: float) -> Decimal:
    spec = gw.catalog.resolve(ContractQuery(symbol="AAPL", sec_type="STK", currency="USD"))
    assert spec is not None
    return D(str(gw.market.quote(spec, tt).ask))


def gateway_status(gw: GatewayServer, cid: ClientOrderId) -> str:
    """The gateway's own status of the order carrying our id (its ``orderRef``)."""
    [record] = [r for r in desk_of(gw).book.orders() if r.order.order_ref == cid.value]
    return str(record.status)


def rows(url: str, table: Any) -> list[Any]:
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(table)).mappings())
    finally:
        engine.dispose()


def status_of(session: TradingSession, cid: ClientOrderId) -> OrderStatus:
    managed = session.manager.get(cid)
    assert managed is not None, cid
    return managed.state.status


async def resting_buy(session: TradingSession, broker: IBBroker, below: Decimal, quantity: int = 10) -> Order:
    """A GTC buy ``below`` under the bid, submitted through the OMS and acknowledged by the gateway."""
    bid = (await broker.quote(AAPL)).bid
    order = Order.limit(AAPL, "BUY", quantity, AAPL.round_to_tick(bid - below), tif=TimeInForce.GTC, account=ACCT)
    managed = await session.manager.submit(order)
    assert managed.state.status is OrderStatus.SUBMITTED, managed.state
    return order


async def drop_execution(gw: GatewayServer, broker: IBBroker) -> None:
    """Cut the execution socket without a goodbye and wait until the adapter noticed."""
    assert gw.faults.drop(broker.settings.client_id_execution) == 1
    await until(lambda: broker.execution.state is ConnectionState.RECONNECTING, what="the drop to be noticed")


# --- fills during the outage -------------------------------------------------------------------------------------


def test_working_orders_survive_a_dropped_socket_and_fills_during_the_outage_converge(
    db_url: str, ib_errors: Any
) -> None:
    ib_errors.allow_drops()

    async def main() -> None:
        # the first reconnect attempt waits a second: the fills happen while the socket is down
        async with session_on(db_url, backoff_base=1.0, disconnect_halt_seconds=30) as (gw, broker, session):
            filling = [await resting_buy(session, broker, D(below), qty)
                       for below, qty in (("0.30", 10), ("0.50", 20), ("0.70", 30))]  # fmt: skip
            working = await resting_buy(session, broker, D("5.00"), 5)  # far below: it keeps working
            cids = [o.client_order_id for o in filling]
            target = fill_time(gw, min(o.limit_price for o in filling if o.limit_price is not None))
            assert working.limit_price is not None
            assert ask_at(gw, target) > working.limit_price  # the far order stays out of reach
            reconciled = len(session.reconciliations)

            await drop_execution(gw, broker)
            gw.clock.set(target)  # the market reaches the three limits while we are away
            await until(lambda: all(gateway_status(gw, c) == "Filled" for c in cids), what="the gateway's fills")
            assert broker.execution.state is ConnectionState.RECONNECTING  # they filled while disconnected
            assert [status_of(session, c) for c in cids] == [OrderStatus.SUBMITTED] * 3  # the OMS saw nothing
            gateway_execs = {e.exec_id for e in desk_of(gw).book.executions}
            assert gateway_execs

            await until(lambda: len(session.reconciliations) > reconciled, what="the reconciliation")
            assert await session.manager.wait_terminal(cids, 10), [status_of(session, c) for c in cids]
            assert [status_of(session, c) for c in cids] == [OrderStatus.FILLED] * 3
            assert status_of(session, working.client_order_id) is OrderStatus.SUBMITTED
            assert session.reconciliations[-1].count("position_mismatch") == 0, session.reconciliations[-1]
            at_gateway = {p.instrument_id: p.quantity for p in await broker.positions(ACCT) if p.quantity}
            assert session.manager.book.positions == at_gateway  # the OMS's own view: each fill counted once
            assert session.kill_switch.state is TradingState.ACTIVE  # 1 s away is well under 30 s
            await session.manager.flush()

            # the database agrees with the gateway
            intents = {r["client_order_id"]: r["status"] for r in rows(db_url, OrderIntentRow.__table__)}
            assert intents == {**{c.value: "FILLED" for c in cids}, working.client_order_id.value: "SUBMITTED"}
            executions = await broker.executions()
            assert {f.execution_id.value for f in executions} == gateway_execs
            recorded = [r["execution_id"] for r in rows(db_url, FillRow.__table__)]
            assert sorted(recorded) == sorted(gateway_execs)  # every execution, each exactly once
            engine = create_db_engine(db_url)
            try:
                ledger = ledger_positions(engine, ACCOUNT)
            finally:
                engine.dispose()
            assert ledger == {str(k): v for k, v in at_gateway.items()} == {AAPL.id.value: D(60)}
            # nothing was sent twice, and the working order still works at the gateway
            refs = [r.order.order_ref for r in desk_of(gw).book.orders()]
            assert sorted(refs) == sorted(o.client_order_id.value for o in [*filling, working])
            assert gateway_status(gw, working.client_order_id) == "Submitted"

    asyncio.run(main())


# --- the disconnect rule of the kill switch ----------------------------------------------------------------------


def test_a_disconnect_shorter_than_the_threshold_does_not_trip_the_kill_switch(db_url: str, ib_errors: Any) -> None:
    ib_errors.allow_drops()

    async def main() -> None:
        async with session_on(db_url, backoff_base=0.05, disconnect_halt_seconds=3) as (gw, broker, session):
            order = await resting_buy(session, broker, D("5.00"))
            reconciled = len(session.reconciliations)
            await drop_execution(gw, broker)
            await until(lambda: len(session.reconciliations) > reconciled, what="the reconnect")
            assert session.kill_switch.disconnected_since is None
            await asyncio.sleep(10 * MONITOR)  # the monitor runs a few more times
            assert session.kill_switch.state is TradingState.ACTIVE
            assert status_of(session, order.client_order_id) is OrderStatus.SUBMITTED
            assert gateway_status(gw, order.client_order_id) == "Submitted"
            await session.manager.flush()
        assert not [e for e in rows(db_url, RiskEventRow.__table__) if e["action"] == "halted"]

    asyncio.run(main())


async def halt_by_disconnect(gw: GatewayServer, broker: IBBroker, session: TradingSession) -> None:
    """Drop the execution socket for about three seconds (the threshold is one) and wait for the halt."""
    await drop_execution(gw, broker)
    await until(lambda: session.kill_switch.state is TradingState.HALTED, what="the halt")
    await until(lambda: broker.is_connected, what="the reconnect")


def test_a_disconnect_longer_than_the_threshold_halts_records_an_event_and_cancels_working_orders(
    db_url: str, ib_errors: Any
) -> None:
    ib_errors.allow_drops()
    ib_errors.allow(r"Error 202, reqId \d+: Order Canceled")

    async def main() -> None:
        async with session_on(db_url, backoff_base=3.0, disconnect_halt_seconds=1) as (gw, broker, session):
            order = await resting_buy(session, broker, D("5.00"))
            await halt_by_disconnect(gw, broker, session)
            status = session.kill_switch.status
            assert (status.changed_by, status.reason.startswith("disconnect:")) == ("risk", True), status
            assert await session.manager.wait_terminal([order.client_order_id], 10)
            assert status_of(session, order.client_order_id) is OrderStatus.CANCELLED
            await until(lambda: gateway_status(gw, order.client_order_id) == "Cancelled", what="the cancel")
            await session.manager.flush()
        events = rows(db_url, RiskEventRow.__table__)
        halts = [e for e in events if (e["rule"], e["action"]) == ("kill_switch", "halted")]
        assert len(halts) == 1, halts
        assert "disconnect: broker disconnected for" in halts[0]["message"]
        intents = {r["client_order_id"]: r["status"] for r in rows(db_url, OrderIntentRow.__table__)}
        assert intents == {order.client_order_id.value: "CANCELLED"}

    asyncio.run(main())


def test_after_a_disconnect_halt_new_orders_are_refused_and_the_halt_survives_a_new_session(
    db_url: str, ib_errors: Any
) -> None:
    ib_errors.allow_drops()

    async def main() -> None:
        async with desk(db_url, backoff_base=3.0, disconnect_halt_seconds=1) as (gw, broker, settings):
            bid = (await broker.quote(AAPL)).bid
            refused = Order.limit(AAPL, "BUY", 1, AAPL.round_to_tick(bid - D(1)), account=ACCT)
            async with trading_session(settings, broker, account=ACCOUNT, monitor_interval=MONITOR) as session:
                await halt_by_disconnect(gw, broker, session)
                with pytest.raises(RiskRejected, match="HALTED"):
                    await session.manager.submit(refused)
            async with trading_session(settings, broker, account=ACCOUNT, monitor_interval=MONITOR) as session:
                assert session.kill_switch.state is TradingState.HALTED
                assert session.kill_switch.status.reason.startswith("disconnect:")
                again = Order.limit(AAPL, "BUY", 1, AAPL.round_to_tick(bid - D(1)), account=ACCT)
                with pytest.raises(RiskRejected, match="HALTED"):
                    await session.manager.submit(again)
                await session.manager.flush()
            assert not list(desk_of(gw).book.orders())  # nothing reached the gateway
        intents = {r["client_order_id"]: r["status"] for r in rows(db_url, OrderIntentRow.__table__)}
        assert intents == {refused.client_order_id.value: "REJECTED", again.client_order_id.value: "REJECTED"}

    asyncio.run(main())


# --- regressions: bugs these tests found, fixed since -------------------------------------------------------------


def next_weekday_open() -> datetime:
    """10:00 New York on the weekday after today: a gateway start always ahead of the local clock."""
    day = datetime.now(NEW_YORK).date() + timedelta(days=1)
    while day.weekday() > 4:
        day += timedelta(days=1)
    return datetime.combine(day, dtime(10), NEW_YORK)


def test_the_monitor_halts_while_the_broker_is_still_disconnected(db_url: str, ib_errors: Any) -> None:
    ib_errors.allow_drops()
    ib_errors.allow(r"Error 202, reqId \d+: Order Canceled")

    async def main() -> None:
        async with session_on(db_url, backoff_base=2.5, disconnect_halt_seconds=1) as (gw, broker, session):
            when_halted: list[ConnectionState] = []
            session.kill_switch.add_listener(lambda status: when_halted.append(broker.execution.state))
            await halt_by_disconnect(gw, broker, session)
            assert when_halted[0] is ConnectionState.RECONNECTING

    asyncio.run(main())


def test_a_short_disconnect_does_not_halt_when_the_broker_clock_is_ahead(db_url: str, ib_errors: Any) -> None:
    ib_errors.allow_drops()

    async def main() -> None:
        ahead = next_weekday_open()
        # half a second away: the monitor runs about ten times before the reconnect, well under the 3 s threshold
        async with session_on(db_url, backoff_base=0.5, start=ahead, disconnect_halt_seconds=3) as (gw, broker, qd):
            session = qd
            reconciled = len(session.reconciliations)
            await drop_execution(gw, broker)
            await until(lambda: len(session.reconciliations) > reconciled, what="the reconnect")
            await asyncio.sleep(10 * MONITOR)
            assert session.kill_switch.state is TradingState.ACTIVE, session.kill_switch.status.reason

    asyncio.run(main())


def test_the_disconnect_rule_records_its_own_risk_events(db_url: str, ib_errors: Any) -> None:
    ib_errors.allow_drops()

    async def main() -> None:
        async with session_on(db_url, backoff_base=0.05, disconnect_halt_seconds=3) as (gw, broker, session):
            reconciled = len(session.reconciliations)
            await drop_execution(gw, broker)
            await until(lambda: len(session.reconciliations) > reconciled, what="the reconnect")
            await session.manager.flush()
        events = [(e["rule"], e["action"]) for e in rows(db_url, RiskEventRow.__table__)]
        assert events.count(("disconnect", "warned")) == 2, events  # the drop, then the reconnect

    asyncio.run(main())


def test_a_halt_during_the_outage_cancels_the_working_orders_once_reconnected(db_url: str, ib_errors: Any) -> None:
    ib_errors.allow_drops()
    ib_errors.allow(r"Error 202, reqId \d+: Order Canceled")

    async def main() -> None:
        async with session_on(db_url, backoff_base=1.0) as (gw, broker, session):
            order = await resting_buy(session, broker, D("5.00"))
            await drop_execution(gw, broker)
            session.kill_switch.halt("test: the disconnect rule, or a person, halts during the outage")
            await until(lambda: broker.is_connected, what="the reconnect")
            await until(lambda: gateway_status(gw, order.client_order_id) == "Cancelled", 3, "the cancel")
            assert await session.manager.wait_terminal([order.client_order_id], 3)

    asyncio.run(main())


def test_a_new_session_after_the_fills_neither_adopts_our_orders_nor_double_counts_the_position(
    db_url: str, ib_errors: Any
) -> None:
    async def main() -> None:
        async with desk(db_url, backoff_base=0.05) as (_gw, broker, settings):
            ask = (await broker.quote(AAPL)).ask
            order = Order.limit(AAPL, "BUY", 10, ask, account=ACCT)  # marketable: fills at once
            async with trading_session(settings, broker, account=ACCOUNT, monitor_interval=MONITOR) as session:
                await session.manager.submit(order)
                assert await session.manager.wait_terminal([order.client_order_id], 10)
            async with trading_session(settings, broker, account=ACCOUNT, monitor_interval=MONITOR) as session:
                held = {p.instrument_id: p.quantity for p in await broker.positions(ACCT) if p.quantity}
                assert held == {AAPL.id: D(10)}
                assert session.manager.book.positions == held  # fails: 20
                assert session.reconciliation.clean, session.reconciliation.to_dict()

    asyncio.run(main())


def test_an_execution_outage_outlasting_the_data_outage_still_halts_and_reconciles(db_url: str, ib_errors: Any) -> None:
    from ib_async import IB

    ib_errors.allow_drops()
    ib_errors.allow_refused()
    ib_errors.allow(r"Error 326", r"Error 202, reqId \d+: Order Canceled")

    async def main() -> None:
        async with session_on(db_url, backoff_base=0.05, disconnect_halt_seconds=1) as (gw, broker, session):
            reconciled = len(session.reconciliations)
            assert gw.faults.drop() == 2  # both sockets, as a TWS restart does
            await until(lambda: broker.execution.state is ConnectionState.RECONNECTING, what="the drop")
            # another client takes the execution client id: every reconnect attempt gets error 326 meanwhile
            squatter = IB()
            await squatter.connectAsync("127.0.0.1", gw.port, clientId=broker.settings.client_id_execution)
            try:
                await until(lambda: broker.data.is_connected, what="the data connection")
                await until(lambda: session.kill_switch.state is TradingState.HALTED, 2.5, "the halt")
            finally:
                squatter.disconnect()
            await until(lambda: broker.execution.is_connected, what="the execution connection")
            await until(lambda: len(session.reconciliations) > reconciled, 5, "a reconciliation")

    asyncio.run(main())
