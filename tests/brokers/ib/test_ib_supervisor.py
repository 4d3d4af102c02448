"""The supervisor against real faults: socket drops, 1101/1102, a gateway restart, giving up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from quantdesk.brokers.base import ConnectionReport, ConnectionState
from quantdesk.brokers.ib import ReconnectEvent, backoff_delays
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import Bar, BarSize, Quote
from quantdesk.gateway import GatewayServer
from quantdesk.gateway.codec import Request
from quantdesk.gateway.session import Session


async def _until(predicate: Any, timeout: float = 3.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


def count_requests(gw: GatewayServer, msg_id: int) -> Callable[[], int]:
    calls = [0]
    inner = gw.handlers.get(msg_id)
    assert inner is not None

    def counting(session: Session, req: Request) -> Any:
        calls[0] += 1
        return inner(session, req)

    gw.handlers.register(msg_id, counting)
    return lambda: calls[0]


def test_the_backoff_schedule() -> None:
    assert backoff_delays(7) == [2, 4, 8, 16, 32, 32, 32]
    assert backoff_delays(4, base=2, cap=10) == [2, 4, 8, 10]
    assert backoff_delays(3, base=0.05) == [0.05, 0.1, 0.2]


def test_a_dropped_socket_is_reconnected_and_streams_resume(gateway_broker: Any, ib_errors: Any) -> None:
    ib_errors.allow_drops()

    async def main() -> None:
        async with gateway_broker(speed=240) as (gw, broker):
            data_id = broker.settings.client_id_data
            quotes: list[Quote] = []
            minutes: list[Bar] = []
            await broker.subscribe_quotes(Stock("AAPL"), quotes.append, None)
            await broker.subscribe_bars(Stock("MSFT"), BarSize.SEC_30, minutes.append)
            await _until(lambda: quotes and minutes)
            reports: list[ConnectionReport] = []
            broker.add_listener(lambda r: isinstance(r, ConnectionReport) and reports.append(r))
            events: list[ReconnectEvent] = []
            broker.on_reconnected(events.append, role="data")
            assert gw.faults.drop(data_id) == 1
            await _until(lambda: broker.data.state is ConnectionState.RECONNECTING, 1)
            seen_quotes, seen_bars = len(quotes), len(minutes)
            await _until(lambda: bool(events))
            (event,) = events
            assert event.data_lost
            assert event.socket_reconnected
            assert event.attempts == 1
            assert broker.supervisors["data"].attempt_log[0] == (0.05, "attempt 1 connected")
            assert broker.data.state is ConnectionState.CONNECTED
            assert broker.execution.is_connected  # the other client id never noticed
            await _until(lambda: len(quotes) > seen_quotes + 2 and len(minutes) > seen_bars + 1)  # streams resumed
            assert [r.state for r in reports] == [
                ConnectionState.DISCONNECTED, ConnectionState.RECONNECTING, ConnectionState.CONNECTED,
            ]  # fmt: skip
            assert all(s.starts == 2 for s in broker.market.subscriptions)

    asyncio.run(main())


def test_1101_resubscribes_and_1102_does_not(gateway_broker: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 110[012], reqId -1", r"Error 300, reqId")

    async def main() -> None:
        async with gateway_broker(speed=60) as (gw, broker):
            data_id = broker.settings.client_id_data
            requests = count_requests(gw, 1)
            quotes: list[Quote] = []
            await broker.subscribe_quotes(Stock("AAPL"), quotes.append, None)
            await broker.subscribe_quotes(Stock("KO"), quotes.append, None)
            await _until(lambda: len(quotes) >= 2)
            assert requests() == 2
            gw.faults.connectivity_lost(data_id)
            await _until(lambda: broker.data.state is ConnectionState.RECONNECTING, 1)
            gw.faults.connectivity_restored(data_id, data_lost=False)  # 1102: data maintained
            await _until(lambda: broker.data.state is ConnectionState.CONNECTED, 1)
            await asyncio.sleep(0.1)
            assert requests() == 2
            assert broker.market.resubscribe_count == 0
            gw.faults.connectivity_lost(data_id)
            gw.faults.connectivity_restored(data_id, data_lost=True)  # 1101: data lost, resubscribe
            await _until(lambda: requests() == 4, 1)
            assert broker.market.resubscribe_count == 1
            assert gw.lines.in_use == 2  # cancelled, then requested again: no line leaked
            before = len(quotes)
            await _until(lambda: len(quotes) > before)
            assert broker.supervisors["data"].reconnects == 0  # the socket never went

    asyncio.run(main())


def test_a_gateway_restart_is_survived_with_backoff(gateway_broker: Any, ib_errors: Any) -> None:
    ib_errors.allow_drops()
    ib_errors.allow_refused()

    async def main() -> None:
        async with gateway_broker(speed=120) as (gw, broker):
            quotes: list[Quote] = []
            await broker.subscribe_quotes(Stock("AAPL"), quotes.append, None)
            await _until(lambda: bool(quotes))
            reconciled: list[ReconnectEvent] = []
            broker.on_reconnected(reconciled.append)  # the OMS hook on the execution connection
            await gw.faults.restart(downtime=0.3)
            await _until(lambda: broker.is_connected and bool(reconciled), 5)
            log = broker.supervisors["data"].attempt_log
            assert [d for d, _ in log] == backoff_delays(len(log), base=0.05)
            assert "failed" in log[0][1]  # the first attempts hit the closed port
            assert log[-1][1].endswith("connected")
            assert reconciled[0].downtime >= 0.3
            before = len(quotes)
            await _until(lambda: len(quotes) > before)
            assert broker.connection_report()["reconnects"] == {"data": 1, "execution": 1}

    asyncio.run(main())


def test_the_supervisor_gives_up_after_max_attempts(gateway_broker: Any, ib_errors: Any) -> None:
    ib_errors.allow_drops()
    ib_errors.allow_refused()

    async def main() -> None:
        async with gateway_broker(settings={"reconnect_max_attempts": 3}, backoff_base=0.01) as (gw, broker):
            gave_up: list[BaseException | None] = []
            broker.supervisors["data"].on_gave_up(gave_up.append)
            outage = asyncio.ensure_future(gw.faults.restart(downtime=2.0))
            await _until(lambda: bool(gave_up), 2)
            assert broker.data.state is ConnectionState.DISCONNECTED
            assert broker.data.last_report is not None
            assert "gave up reconnecting" in broker.data.last_report.message
            assert "nothing is listening" in str(gave_up[0])
            assert len(broker.supervisors["data"].attempt_log) == 3
            outage.cancel()

    asyncio.run(main())


def test_a_requested_disconnect_is_not_reconnected(gateway_broker: Any) -> None:
    async def main() -> None:
        async with gateway_broker() as (_gw, broker):
            await broker.disconnect()
            await asyncio.sleep(0.2)
            assert not broker.is_connected
            assert not broker.supervisors["data"].is_reconnecting
            await broker.connect()
            assert broker.is_connected

    asyncio.run(main())


def test_streams_survive_a_requested_disconnect_and_connect(gateway_broker: Any) -> None:
    async def main() -> None:
        async with gateway_broker(speed=120) as (_gw, broker):
            quotes: list[Quote] = []
            await broker.subscribe_quotes(Stock("AAPL"), quotes.append, None)
            await _until(lambda: bool(quotes))
            await broker.disconnect()
            await broker.connect()
            seen = len(quotes)
            await _until(lambda: len(quotes) > seen)

    asyncio.run(main())
