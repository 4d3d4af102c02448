"""Requests that ride out a TWS restart: wait for the supervisor's reconnect, then ask again.

TWS and IB Gateway restart every night. A read (contract details, history, a quote, a what-if, positions) cut by a
dropped socket is safe to ask again, so :func:`ride_out` waits for the reconnect (within ``ib.reconnect_*``) and
repeats it. An order is never sent twice: :func:`wait_connected` only holds an order back until the connection is
up; an order cut in flight is left to reconciliation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from quantdesk.brokers.base import ConnectionReport, ConnectionState
from quantdesk.brokers.ib.connection import IBConnection
from quantdesk.brokers.ib.supervisor import ConnectionSupervisor
from quantdesk.errors import ConnectionLost

__all__ = ["ride_out", "wait_connected"]

_T = TypeVar("_T")


def _budget(connection: IBConnection, supervisor: ConnectionSupervisor) -> float:
    """How long the supervisor may take to reconnect: every backoff delay and every connect timeout."""
    return sum(supervisor.delays) + connection.config.timeout * supervisor.max_attempts + 1.0


def _lost(connection: IBConnection, what: str, why: str) -> ConnectionLost:
    return ConnectionLost(
        f"{what}: the connection to {connection.config.address} is down ({why})",
        field="ib.reconnect_max_attempts",
        value=connection.config.address,
        hint="start TWS / IB Gateway again (or wait for its restart) and run the command again; "
        "raise ib.reconnect_max_attempts or ib.reconnect_backoff_max to wait longer",
    )


async def wait_connected(connection: IBConnection, supervisor: ConnectionSupervisor, what: str) -> None:
    """Return once ``connection`` is up; while the supervisor reconnects, wait for it; raise ``ConnectionLost``
    naming ``what`` when it is disabled or gives up."""
    if connection.is_connected and connection.state is ConnectionState.CONNECTED:
        return
    if not supervisor.enabled:
        raise _lost(connection, what, "ib.auto_reconnect is off")
    loop = asyncio.get_running_loop()
    settled: asyncio.Future[bool] = loop.create_future()

    def on_state(report: ConnectionReport) -> None:
        if settled.done():
            return
        if report.state is ConnectionState.CONNECTED and connection.is_connected:
            settled.set_result(True)
        elif report.state is ConnectionState.DISCONNECTED and not supervisor.is_reconnecting:
            settled.set_result(False)

    def on_gave_up(_error: BaseException | None) -> None:
        if not settled.done():
            settled.set_result(False)

    removers = [connection.on_state(on_state), supervisor.on_gave_up(on_gave_up)]
    try:
        if connection.is_connected and connection.state is ConnectionState.CONNECTED:
            return
        try:
            async with asyncio.timeout(_budget(connection, supervisor)):
                up = await asyncio.shield(settled)
        except TimeoutError:
            up = False
        if not up:
            raise _lost(connection, what, f"no reconnect after {supervisor.max_attempts} attempt(s)")
    finally:
        for remove in removers:
            remove()


async def ride_out(
    connection: IBConnection, supervisor: ConnectionSupervisor, request: Callable[[], Awaitable[_T]], what: str
) -> _T:
    """Run the idempotent ``request``; when a dropped socket cuts it, wait for the reconnect and run it again."""
    tries = 0
    while True:
        await wait_connected(connection, supervisor, what)
        try:
            return await request()
        except (ConnectionError, ConnectionLost):
            tries += 1
            if tries > supervisor.max_attempts:
                raise
            await asyncio.sleep(0)  # let the disconnect reach the supervisor before looking at the state
            if connection.is_connected and connection.state is ConnectionState.CONNECTED:
                raise  # the connection is fine: this error is not a restart
