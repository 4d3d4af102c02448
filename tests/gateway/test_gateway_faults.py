"""Scripted faults seen by the real client: socket drops, 1100/1101/1102, delays, restarts, withheld messages."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from ib_async import IB

from quantdesk.gateway import GatewayServer

HOST = "127.0.0.1"
DROPPED = (r"Peer closed connection", r"Connection reset by peer", r"Connection lost", r"\[Errno")


def test_drop_is_seen_by_the_client_and_fails_pending_requests(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(*DROPPED)

    async def main() -> None:
        async with running(client_id=4) as (gw, ib):
            disconnected = asyncio.Event()
            ib.disconnectedEvent += disconnected.set
            gw.faults.delay(1000)
            pending = asyncio.ensure_future(ib.reqCurrentTimeAsync())
            await asyncio.sleep(0.05)
            assert gw.faults.drop(4) == 1
            await asyncio.wait_for(disconnected.wait(), 2)
            with pytest.raises(ConnectionError):
                await asyncio.wait_for(pending, 1)
            assert not ib.isConnected()
            await asyncio.sleep(0.05)
            assert 4 not in gw.sessions
            gw.faults.delay(0)
            again = IB()
            await again.connectAsync(HOST, gw.port, clientId=4, timeout=2, raiseSyncErrors=True)
            again.disconnect()

    asyncio.run(main())


def test_connectivity_messages_reach_the_error_event(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 110[012], reqId -1: Connectivity between IB and Trader Workstation")

    async def main() -> None:
        async with running() as (gw, ib):
            seen: list[tuple[int, int]] = []
            ib.errorEvent += lambda req_id, code, msg, contract: seen.append((req_id, code))
            resummarised = asyncio.Event()
            ib.accountSummaryEvent += lambda value: resummarised.set()
            assert gw.faults.connectivity_lost() == 1
            assert gw.faults.connectivity_restored(data_lost=True) == 1
            assert gw.faults.connectivity_restored(client_id=1) == 1
            assert gw.faults.connectivity_restored(client_id=99) == 0
            await asyncio.wait_for(resummarised.wait(), 2)  # ib_async re-requests the summary after 1102
            assert seen == [(-1, 1100), (-1, 1101), (-1, 1102)]
            assert ib.isConnected()

    asyncio.run(main())


def test_delayed_replies(running: Any) -> None:
    async def main() -> None:
        async with running(client_id=2) as (gw, ib):
            gw.faults.delay(250, client_id=2)
            t0 = time.perf_counter()
            await ib.reqCurrentTimeAsync()
            assert time.perf_counter() - t0 >= 0.24
            gw.faults.delay(0, client_id=2)
            t0 = time.perf_counter()
            await ib.reqCurrentTimeAsync()
            assert time.perf_counter() - t0 < 0.2

    asyncio.run(main())


def test_restart_drops_everyone_and_comes_back_on_the_same_port(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(*DROPPED, r"API connection failed", r"Make sure API port")

    async def main() -> None:
        async with running(speed=0) as (gw, ib):
            port = gw.port
            gw.accounts.set_position(gw.accounts.ids[0], 265598, 5, 100.0)
            disconnected = asyncio.Event()
            ib.disconnectedEvent += disconnected.set
            restart = asyncio.ensure_future(gw.faults.restart(downtime=0.3))
            await asyncio.wait_for(disconnected.wait(), 2)
            await asyncio.sleep(0.05)
            refused = IB()
            with pytest.raises(ConnectionRefusedError):
                await refused.connectAsync(HOST, port, clientId=1, timeout=1)
            await restart
            assert gw.port == port
            assert gw.is_listening
            back = IB()
            await back.connectAsync(HOST, port, clientId=1, timeout=2, raiseSyncErrors=True)
            assert [(p.contract.conId, p.position) for p in back.positions()] == [(265598, 5.0)]
            back.disconnect()

    asyncio.run(main())


def test_send_filters_withhold_messages_and_armed_faults_fire_once(running: Any) -> None:
    async def main() -> None:
        async with running() as (gw, ib):
            remove = gw.faults.add_send_filter(lambda session, fields: fields[0] != "49")
            with pytest.raises((TimeoutError, asyncio.TimeoutError)):
                await asyncio.wait_for(ib.reqCurrentTimeAsync(), 0.3)
            remove()
            assert await asyncio.wait_for(ib.reqCurrentTimeAsync(), 1)
        gw.faults.arm("reject_next_order", times=2, code=201)
        assert gw.faults.armed("reject_next_order")
        assert gw.faults.consume("reject_next_order") == {"code": 201}
        assert gw.faults.consume("reject_next_order") == {"code": 201}
        assert gw.faults.consume("reject_next_order") is None
        gw.faults.arm("withhold_order_status")
        gw.faults.disarm()
        assert not gw.faults.armed("withhold_order_status")

    asyncio.run(main())


def test_state_file_survives_a_restart_of_the_process(tmp_path: Path, make_config: Any) -> None:
    state = tmp_path / "gateway-state.json"

    async def main() -> None:
        config = make_config(speed=0, state_file=state, cash=50_000.0)
        async with GatewayServer(config) as gw:
            gw.accounts.apply_fill(gw.accounts.ids[0], 272093, 20, 100.0)
            gw.use_order_id(1, 41)
        assert state.is_file()
        async with GatewayServer(config) as gw:
            account = gw.accounts.get(gw.accounts.ids[0])
            assert account.cash == 48_000.0
            assert account.holdings[272093].quantity == 20
            assert gw.next_order_id(1) == 42
            ib = IB()
            await ib.connectAsync(HOST, gw.port, clientId=1, timeout=2, raiseSyncErrors=True)
            assert ib.client._reqIdSeq >= 42
            ib.disconnect()

    asyncio.run(main())
