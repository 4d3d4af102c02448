"""Connecting to the gateway over a real socket: fast, specific failures, state, events and error statistics."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from quantdesk.brokers.base import Broker, ConnectionReport, ConnectionState
from quantdesk.brokers.ib import ConnectionConfig, ConnectionRole, IBBroker, IBConnection
from quantdesk.brokers.ib.error_codes import ErrorClass
from quantdesk.domain.instruments import Stock
from quantdesk.domain.orders import Order
from quantdesk.errors import BrokerError, ConnectionLost
from quantdesk.gateway import GatewayServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connect_and_disconnect_as_a_context_manager(make_gateway_config: Any, make_settings: Any) -> None:
    async def main() -> None:
        async with GatewayServer(make_gateway_config()) as gw:
            conn = IBConnection(ConnectionConfig(port=gw.port, client_id=11, timeout=3))
            states: list[ConnectionState] = []
            conn.on_state(lambda r: states.append(r.state))
            connected: list[bool] = []
            conn.on_connected(lambda: connected.append(True))
            async with conn:
                assert conn.is_connected
                assert conn.state is ConnectionState.CONNECTED
                assert 11 in gw.sessions
                assert conn.ib.managedAccounts() == list(gw.accounts.ids)
            assert not conn.is_connected
            assert states == [ConnectionState.CONNECTING, ConnectionState.CONNECTED, ConnectionState.DISCONNECTED]
            assert connected == [True]
            await asyncio.sleep(0.05)
            assert 11 not in gw.sessions
            report = conn.report()
            assert report["connect_count"] == 1
            assert report["errors"]["by_code"] == {"2104": 1, "2106": 1, "2158": 1}  # the farm notices
            assert report["errors"]["by_class"] == {"info": 3}

    asyncio.run(main())


def test_nothing_listening_fails_at_once_with_the_fix(ib_errors: Any) -> None:
    ib_errors.allow_refused()

    async def main() -> None:
        port = _free_port()
        conn = IBConnection(ConnectionConfig(port=port, client_id=1, timeout=5))
        t0 = time.perf_counter()
        with pytest.raises(ConnectionLost) as caught:
            await conn.connect()
        assert time.perf_counter() - t0 < 1.0
        text = str(caught.value)
        assert f"nothing is listening on 127.0.0.1:{port}" in text
        assert "Enable ActiveX and Socket Clients" in text
        assert "TWS 7497 paper/7496 live, Gateway 4002/4001" in text
        assert caught.value.field == "ib.port"
        assert conn.state is ConnectionState.DISCONNECTED

    asyncio.run(main())


def test_duplicate_client_id_fails_in_under_a_second_naming_326(ib_errors: Any, make_gateway_config: Any) -> None:
    ib_errors.allow(r"Error 326", r"already in use")
    ib_errors.allow_refused()
    ib_errors.allow_drops()

    async def main() -> None:
        async with GatewayServer(make_gateway_config()) as gw:
            first = IBConnection(ConnectionConfig(port=gw.port, client_id=7, timeout=5))
            await first.connect()
            second = IBConnection(ConnectionConfig(port=gw.port, client_id=7, timeout=5, role=ConnectionRole.DATA))
            t0 = time.perf_counter()
            with pytest.raises(BrokerError) as caught:
                await second.connect()
            assert time.perf_counter() - t0 < 1.0
            assert caught.value.code == 326
            assert "326" in str(caught.value)
            assert "client id 7 is already in use" in str(caught.value)
            assert caught.value.field == "ib.client_id_data"
            assert not second.is_connected
            assert second.stats.by_code[326] == 1
            assert second.stats.by_class[ErrorClass.CLIENT] == 1
            assert first.is_connected  # the first connection is untouched
            await first.disconnect()
            await second.connect()  # the id is free again
            assert second.is_connected
            await second.disconnect()

    asyncio.run(main())


def test_broker_uses_separate_client_ids_and_reports_state(make_gateway_config: Any, make_settings: Any) -> None:
    async def main() -> None:
        async with GatewayServer(make_gateway_config()) as gw:
            broker = IBBroker(make_settings(gw.port, client_id_data=21, client_id_execution=22))
            reports: list[Any] = []
            broker.add_listener(reports.append)
            assert isinstance(broker, Broker)
            async with broker:
                assert broker.is_connected
                assert sorted(gw.sessions) == [21, 22]
                report = broker.connection_report()
                assert report["data"]["client_id"] == 21
                assert report["execution"]["role"] == "execution"
                assert report["connected"]
            assert not broker.is_connected
            states = [r.state for r in reports if isinstance(r, ConnectionReport)]
            assert states.count(ConnectionState.CONNECTED) == 1  # one state for both sockets: up once both are
            assert states[-1] is ConnectionState.DISCONNECTED

    asyncio.run(main())


def test_a_failed_broker_connect_closes_the_other_connection(
    ib_errors: Any, make_gateway_config: Any, make_settings: Any
) -> None:
    ib_errors.allow(r"Error 326", r"already in use")
    ib_errors.allow_refused()
    ib_errors.allow_drops()

    async def main() -> None:
        async with GatewayServer(make_gateway_config()) as gw:
            holder = IBConnection(ConnectionConfig(port=gw.port, client_id=32, timeout=3))
            await holder.connect()
            broker = IBBroker(make_settings(gw.port, client_id_data=31, client_id_execution=32))
            with pytest.raises(BrokerError) as caught:
                await broker.connect()
            assert caught.value.code == 326
            assert caught.value.field == "ib.client_id_execution"
            assert not broker.data.is_connected
            await asyncio.sleep(0.05)
            assert 31 not in gw.sessions
            await holder.disconnect()
            await broker.close()

    asyncio.run(main())


def test_errors_are_classified_counted_and_forwarded(
    ib_errors: Any, make_gateway_config: Any, make_settings: Any
) -> None:
    ib_errors.allow(r"Error 110[012], reqId -1", r"Error 200, reqId")

    async def main() -> None:
        async with GatewayServer(make_gateway_config()) as gw:
            broker = IBBroker(make_settings(gw.port))
            await broker.connect()
            seen: list[int] = []
            broker.on_error(lambda e: seen.append(e.code))
            gw.faults.connectivity_lost(client_id=broker.settings.client_id_data)
            await asyncio.sleep(0.1)
            assert broker.data.state is ConnectionState.RECONNECTING
            gw.faults.connectivity_restored(client_id=broker.settings.client_id_data)
            await asyncio.sleep(0.1)
            assert broker.data.state is ConnectionState.CONNECTED
            assert seen == [1100, 1102]
            stats = broker.data.stats.snapshot()
            assert stats["by_class"]["connectivity"] == 2
            assert "Connectivity between IB" in stats["last_message"]["1100"]
            await broker.close()

    asyncio.run(main())


async def _server(on_client: Any) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


def test_a_refused_handshake_fails_at_once(ib_errors: Any) -> None:
    """TWS accepts the socket and closes it (untrusted IP, too many clients): no waiting for the timeout."""
    ib_errors.allow_refused()
    ib_errors.allow_drops()

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(4)  # b"API\0"
        writer.close()

    async def main() -> None:
        server, port = await _server(refuse)
        async with server:
            conn = IBConnection(ConnectionConfig(port=port, client_id=3, timeout=5))
            t0 = time.perf_counter()
            with pytest.raises(ConnectionLost, match="closed the connection during the API handshake") as caught:
                await conn.connect()
            assert time.perf_counter() - t0 < 1.0
            assert "Trusted IPs" in (caught.value.hint or "")

    asyncio.run(main())


def test_a_silent_port_times_out_with_the_accept_dialog_hint(ib_errors: Any) -> None:
    """Something listens but never answers the handshake (TWS waiting on its 'accept connection' dialog)."""
    ib_errors.allow_refused()
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    async def main() -> None:
        server, port = await _server(hold)
        async with server:
            conn = IBConnection(ConnectionConfig(port=port, client_id=3, timeout=0.3))
            with pytest.raises(ConnectionLost, match="no API handshake") as caught:
                await conn.connect()
            assert caught.value.field == "ib.connect_timeout"
            assert "accept incoming connection" in (caught.value.hint or "")
            for w in held:
                w.close()

    asyncio.run(main())


def test_read_only_mode_refuses_orders_locally(make_gateway_config: Any, make_settings: Any) -> None:
    async def main() -> None:
        async with GatewayServer(make_gateway_config()) as gw:
            placed = [0]
            inner = gw.handlers.get(3)
            assert inner is not None

            def counting(session: Any, req: Any) -> Any:
                placed[0] += 1
                return inner(session, req)

            gw.handlers.register(3, counting)
            async with IBBroker(make_settings(gw.port, read_only=True)) as broker:
                assert broker.execution.config.readonly
                with pytest.raises(BrokerError, match="read-only mode") as caught:
                    await broker.place_order(Order.limit(Stock("AAPL"), "BUY", 1, 100))
                assert caught.value.field == "ib.read_only"
                assert placed[0] == 0  # nothing reached the gateway
                assert (await broker.account_summary()).net_liquidation.amount > 0  # reading still works

    asyncio.run(main())


def test_broker_level_connection_events(make_gateway_config: Any, make_settings: Any) -> None:
    async def main() -> None:
        async with GatewayServer(make_gateway_config()) as gw:
            broker = IBBroker(make_settings(gw.port))
            connected: list[bool] = []
            gone: list[bool] = []
            broker.on_connected(lambda: connected.append(True))
            broker.on_disconnected(lambda info: gone.append(info.requested))
            await broker.connect()
            await broker.close()
            assert connected == [True, True]
            assert gone == [True, True]

    asyncio.run(main())
