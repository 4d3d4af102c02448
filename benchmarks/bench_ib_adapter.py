"""The IB adapter's overhead: ``IBBroker.place_order`` → FILLED (seen by a listener) against raw ``ib_async``.

One gateway runs in its own process (as ``quantdesk gateway`` does), with a frozen market so that every market order
fills at once at the same quote. In one client process and one event loop, a raw ``ib_async.IB`` (client id 1) and
an ``IBBroker`` (client ids 2 and 3) send ``ORDERS`` one-share market orders each, alternating order by order so
that both share the machine's noise, buying and selling in turn so that the positions stay flat:

* **raw ib_async**: ``ib.placeOrder(contract, MarketOrder)`` until ``trade.filledEvent``;
* **IBBroker**: ``await broker.place_order(Order.market(...))`` (which waits for IB's acknowledgement) until a
  broker listener receives the order's FILLED ``OrderStatusReport``.

Both clients get the same connection settings: ``ib_async``'s 45 requests/s throttle is turned off on both (it would
measure IB's pacing, not the latency), as is the gateway's 50 messages/s rule. p50 and p99 over the orders after a
warm-up; the overhead is the ratio IBBroker / raw. Target (issue 4): at most 1.20 at p50 and at p99.

``python benchmarks/bench_ib_adapter.py --profile`` also prints where the client's time goes (cProfile, IBBroker
orders only).
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import math
import os
import pstats
import subprocess
import sys
import time
from decimal import Decimal

from ib_async import IB, MarketOrder
from ib_async import Stock as IBStock

from quantdesk.brokers.base import BrokerReport, OrderStatusReport
from quantdesk.brokers.ib import IBBroker
from quantdesk.config import IBSettings
from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order

HOST = "127.0.0.1"
WARMUP = 30
ORDERS = 500
TARGET = 1.20

_GATEWAY = """
import asyncio, sys
from quantdesk.gateway import GatewayConfig, GatewayServer

async def main() -> None:
    config = GatewayConfig(port=0, speed=0, max_messages_per_second=0, historical_pacing=False, tick_interval=0.25)
    async with GatewayServer(config) as gw:
        print(gw.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class FilledWaiter:
    """A broker listener that resolves a future when the awaited order is reported FILLED."""

    def __init__(self) -> None:
        self.waiting: dict[ClientOrderId, asyncio.Future[None]] = {}

    def __call__(self, report: BrokerReport) -> None:
        if isinstance(report, OrderStatusReport) and report.status is OrderStatus.FILLED:
            future = self.waiting.get(report.client_order_id)  # type: ignore[arg-type]
            if future is not None and not future.done():
                future.set_result(None)

    def expect(self, cid: ClientOrderId) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting[cid] = future
        return future


async def _raw_order(ib: IB, contract: IBStock, side: str) -> float:
    started = time.perf_counter()
    trade = ib.placeOrder(contract, MarketOrder(side, 1))
    if not trade.isDone():
        await trade.filledEvent
    return time.perf_counter() - started


async def _broker_order(broker: IBBroker, waiter: FilledWaiter, stock: Stock, side: str) -> float:
    order = Order.market(stock, side, Decimal(1))
    filled = waiter.expect(order.client_order_id)
    started = time.perf_counter()
    await broker.place_order(order)
    await filled
    elapsed = time.perf_counter() - started
    del waiter.waiting[order.client_order_id]
    return elapsed


async def _run(port: int, profile: cProfile.Profile | None) -> tuple[list[float], list[float]]:
    ib = IB()
    await ib.connectAsync(HOST, port, clientId=1, timeout=10, raiseSyncErrors=True)
    broker = IBBroker(IBSettings(port=port, client_id_data=2, client_id_execution=3, request_timeout=10))
    await broker.connect()
    try:
        for client in (ib.client, broker.execution.ib.client, broker.data.ib.client):
            client.MaxRequests = 0  # no ib_async throttle on either side
        raw_contract = IBStock("AAPL", "SMART", "USD")
        await ib.qualifyContractsAsync(raw_contract)
        stock = Stock("AAPL")
        await broker.qualify(stock)
        waiter = FilledWaiter()
        broker.add_listener(waiter)
        raw: list[float] = []
        ours: list[float] = []
        for i in range(WARMUP + ORDERS):
            side = "BUY" if i % 2 == 0 else "SELL"
            first_raw = i % 4 < 2  # alternate who goes first, too
            for who in ("raw", "ours") if first_raw else ("ours", "raw"):
                if who == "raw":
                    t = await _raw_order(ib, raw_contract, side)
                    if i >= WARMUP:
                        raw.append(t)
                else:
                    if profile is not None and i >= WARMUP:
                        profile.enable()
                    t = await _broker_order(broker, waiter, stock, side)
                    if profile is not None:
                        profile.disable()
                    if i >= WARMUP:
                        ours.append(t)
        return raw, ours
    finally:
        ib.disconnect()
        await broker.close()


def measure(profile: cProfile.Profile | None = None) -> tuple[list[float], list[float]]:
    """Start a gateway process and return the raw and the IBBroker latencies in seconds."""
    proc = subprocess.Popen([sys.executable, "-c", _GATEWAY], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        return asyncio.run(_run(port, profile))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def table(raw: list[float], ours: list[float]) -> list[tuple[str, str, str, str, str]]:
    """Rows: percentile, raw ms, IBBroker ms, ratio, verdict."""
    rows = []
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        a, b = _percentile(raw, q) * 1000, _percentile(ours, q) * 1000
        ratio = b / a
        verdict = "" if name == "p90" else ("met" if ratio <= TARGET else "MISSED")
        rows.append((name, f"{a:.2f} ms", f"{b:.2f} ms", f"{ratio:.2f}", verdict))
    return rows


def main(argv: list[str] | None = None) -> None:
    """Measure, print a table (and a profile with ``--profile``)."""
    args = sys.argv[1:] if argv is None else argv
    profile = cProfile.Profile() if "--profile" in args else None
    raw, ours = measure(profile)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    print(f"{ORDERS} one-share market orders each, alternating, after {WARMUP} warm-up; gateway in its own process;")
    print(f"{os.cpu_count()} cores, load average {load:.1f} at the end; target IBBroker/raw <= {TARGET:.2f}")
    print(f"{'':<6}{'raw ib_async':>14}{'IBBroker':>12}{'ratio':>8}{'':>8}")
    for name, a, b, ratio, verdict in table(raw, ours):
        print(f"{name:<6}{a:>14}{b:>12}{ratio:>8}{verdict:>8}")
    if profile is not None:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue())


if __name__ == "__main__":
    main()
