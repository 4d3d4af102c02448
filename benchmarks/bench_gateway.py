"""The gateway simulator seen by one unmodified ``ib_async`` client on loopback.

The gateway runs in its own process (as ``quantdesk gateway`` does), so that client and server each have a core.
Measured, each as the median of several runs:

* **connect**: ``IB.connectAsync(raiseSyncErrors=True)`` until the start-up sync is complete (a fresh client id
  each time);
* **market-order round trip**: ``placeOrder`` of a 1-share market order until ``Filled`` arrives, over
  ``ORDERS`` orders (after a warm-up), p50 and p99. ib_async's own throttle (45 requests/s) and the gateway's
  50 messages/s rule are turned off here: they would measure IB's pacing, not the latency;
* **ticks per second**: bid/ask ``tickPrice`` messages applied by the client per second, with the gateway's tick
  flood (``GatewayConfig.tick_flood``) streaming back-to-back (counted from ``pendingTickersEvent``);
* **historical bars per second**: 1-minute TRADES bars over 60 days (about 23,000 bars) per request.

The machines are shared: wall-clock latencies move with the load average printed above the table, so the CPU
time each side spends per order (``/proc`` on Linux) is printed too.

Targets (issue 3): connect < 100 ms, round trip p99 < 10 ms, >= 50,000 ticks/s. Unmodified ib_async decodes about
180,000-230,000 ticks/s on one core (``shared/bench/README.md``).
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ib_async import IB, MarketOrder, Stock

HOST = "127.0.0.1"
CONNECTS = 15
WARMUP = 20
ORDERS = 500
TICK_WINDOWS = 3
TICK_SECONDS = 2.0
BAR_RUNS = 3

_GATEWAY = """
import asyncio, sys
from quantdesk.gateway import GatewayConfig, GatewayServer

async def main() -> None:
    config = GatewayConfig(
        port=0, speed=0, max_messages_per_second=0, historical_pacing=False, tick_flood=True, tick_interval=0.25
    )
    async with GatewayServer(config) as gw:
        print(gw.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux ``/proc``; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _connect(port: int, client_id: int) -> IB:
    ib = IB()
    await ib.connectAsync(HOST, port, clientId=client_id, timeout=10, raiseSyncErrors=True)
    return ib


async def _connect_times(port: int) -> list[float]:
    times = []
    for i in range(CONNECTS):
        started = time.perf_counter()
        ib = await _connect(port, 100 + i)
        times.append(time.perf_counter() - started)
        ib.disconnect()
        await asyncio.sleep(0.02)
    return times


async def _round_trips(ib: IB, contract: Stock) -> list[float]:
    ib.client.MaxRequests = 0  # measure latency, not ib_async's 45 requests/s throttle
    times = []
    for i in range(WARMUP + ORDERS):
        order = MarketOrder("BUY" if i % 2 == 0 else "SELL", 1)
        started = time.perf_counter()
        trade = ib.placeOrder(contract, order)
        await trade.filledEvent
        if i >= WARMUP:
            times.append(time.perf_counter() - started)
    return times


async def _tick_rates(ib: IB, contract: Stock) -> list[float]:
    count = 0

    def on_tickers(tickers: Any) -> None:
        nonlocal count
        count += sum(len(t.ticks) for t in tickers)

    ib.pendingTickersEvent += on_tickers
    ib.reqMktData(contract, "", False, False)
    await asyncio.sleep(0.5)  # the flood starts on the next pump tick
    rates = []
    for _ in range(TICK_WINDOWS):
        count, started = 0, time.perf_counter()
        await asyncio.sleep(TICK_SECONDS)
        rates.append(count / (time.perf_counter() - started))
    ib.cancelMktData(contract)
    ib.pendingTickersEvent -= on_tickers
    return rates


async def _bar_rates(ib: IB, contract: Stock) -> tuple[list[float], int]:
    rates, n = [], 0
    for _ in range(BAR_RUNS):
        started = time.perf_counter()
        bars = await ib.reqHistoricalDataAsync(contract, "", "60 D", "1 min", "TRADES", True, formatDate=1)
        n = len(bars)
        rates.append(n / (time.perf_counter() - started))
    return rates, n


async def _run(port: int, pid: int) -> list[tuple[str, str, str, str]]:
    connects = await _connect_times(port)
    ib = await _connect(port, 1)
    try:
        aapl = Stock("AAPL", "SMART", "USD")
        await ib.qualifyContractsAsync(aapl)
        gateway_cpu, client_cpu = _cpu_seconds(pid), time.process_time()
        trips = await _round_trips(ib, aapl)
        n = WARMUP + ORDERS
        gateway_cpu = (_cpu_seconds(pid) - gateway_cpu) / n * 1000.0
        client_cpu = (time.process_time() - client_cpu) / n * 1000.0
        bars, n_bars = await _bar_rates(ib, aapl)
        ticks = await _tick_rates(ib, aapl)
    finally:
        ib.disconnect()
    ms = 1000.0
    connect_ms = statistics.median(connects) * ms
    p50, p99 = _percentile(trips, 0.5) * ms, _percentile(trips, 0.99) * ms
    tick_rate = statistics.median(ticks)

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    return [
        (f"connect (median of {CONNECTS})", f"{connect_ms:.1f} ms", "< 100 ms", verdict(connect_ms < 100)),
        (f"order round trip p50 ({ORDERS} MKT)", f"{p50:.2f} ms", "", ""),
        (f"order round trip p99 ({ORDERS} MKT)", f"{p99:.2f} ms", "< 10 ms", verdict(p99 < 10)),
        ("  CPU per order: gateway", f"{gateway_cpu:.2f} ms", "", ""),
        ("  CPU per order: ib_async client", f"{client_cpu:.2f} ms", "", ""),
        ("ticks delivered to one client", f"{tick_rate:,.0f} /s", ">= 50,000 /s", verdict(tick_rate >= 50_000)),
        (f"historical 1-min bars ({n_bars:,}/request)", f"{statistics.median(bars):,.0f} /s", "", ""),
    ]


def main() -> None:
    """Start a gateway process, run the client measurements, print a table."""
    proc = subprocess.Popen([sys.executable, "-c", _GATEWAY], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        rows = asyncio.run(_run(port, proc.pid))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    print(f"loopback, gateway in its own process; {os.cpu_count()} cores, load average {load:.1f} at the end")
    width = max(len(r[0]) for r in rows) + 2
    print(f"{'measure':<{width}}{'value':>14}{'target':>15}{'':>8}")
    for name, value, target, verdict in rows:
        print(f"{name:<{width}}{value:>14}{target:>15}{verdict:>8}")


if __name__ == "__main__":
    main()
