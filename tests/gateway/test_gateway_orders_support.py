"""Helpers shared by the order tests (no tests here): contracts, waiting, and moving the simulated market.

The order tests run the gateway with a frozen clock (``speed=0``) and move it explicitly with :func:`jump`, so that a
resting order fills exactly when the replayed price path says it should, on any machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np
from ib_async import IB, Stock

from quantdesk.gateway import SESSION_SECONDS, ContractQuery, ContractSpec, GatewayServer
from quantdesk.gateway.market_data import Quote

HOST = "127.0.0.1"
ORDERS = {"speed": 0, "tick_interval": 0.03}
CANCELLED = r"Error 202, reqId \d+: Order Canceled"


async def until(predicate: Callable[[], Any], timeout: float = 3.0, what: str = "condition") -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def status(trade: Any, wanted: str, timeout: float = 3.0) -> None:
    """Wait until an ib_async trade reaches ``wanted`` (events may have fired before the caller waits)."""
    await until(lambda: trade.orderStatus.status == wanted, timeout, f"status {wanted}")


async def holding(ib: IB, *expected: tuple[str, float], timeout: float = 3.0) -> None:
    """Wait until the client's non-zero positions are ``expected`` (symbol, quantity) pairs, in any order.

    The gateway pushes account changes a moment after the order replies that caused them."""

    def current() -> list[tuple[str, float]]:
        return sorted((p.contract.symbol, p.position) for p in ib.positions() if p.position)

    await until(lambda: current() == sorted(expected), timeout, f"positions {sorted(expected)}, have {current()}")


async def connect(gw: GatewayServer, client_id: int, **kwargs: Any) -> IB:
    """A second (third, …) client on the same gateway."""
    ib = IB()
    await ib.connectAsync(HOST, gw.port, clientId=client_id, timeout=5, raiseSyncErrors=True, **kwargs)
    return ib


async def stock(ib: IB, symbol: str = "AAPL") -> Stock:
    """A qualified SMART stock."""
    contract = Stock(symbol, "SMART", "USD")
    await ib.qualifyContractsAsync(contract)
    return contract


def spec_of(gw: GatewayServer, symbol: str = "AAPL") -> ContractSpec:
    """The catalogue contract of a US stock."""
    spec = gw.catalog.resolve(ContractQuery(symbol=symbol, sec_type="STK", currency="USD"))
    assert spec is not None
    return spec


def quote(gw: GatewayServer, symbol: str = "AAPL", tt: float | None = None) -> Quote:
    """The gateway's quote of a stock now (or at trading time ``tt``)."""
    return gw.market.quote(spec_of(gw, symbol), gw.clock.now_tt() if tt is None else tt)


def extreme_ahead(gw: GatewayServer, symbol: str = "AAPL", *, low: bool, after: float = 120.0) -> float:
    """The trading time, later in today's session, at which the price path reaches its low (or high)."""
    now = gw.clock.now_tt()
    row, secs = gw.calendar.split(now)
    path = gw.market.session_path(spec_of(gw, symbol), row)
    start = int(secs + after)
    window = path[start : SESSION_SECONDS - 60]
    offset = int(np.argmin(window) if low else np.argmax(window))
    return float(row * SESSION_SECONDS + start + offset)


def next_session(gw: GatewayServer, seconds: float = 60.0) -> float:
    """A trading time ``seconds`` into the next session."""
    row, _ = gw.calendar.split(gw.clock.now_tt())
    return float((row + 1) * SESSION_SECONDS + seconds)


async def jump(gw: GatewayServer, tt: float) -> None:
    """Move the frozen clock to ``tt`` and let the pump match at least once."""
    gw.clock.set(tt)
    await asyncio.sleep(gw.config.tick_interval * 3)
