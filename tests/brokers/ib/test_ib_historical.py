"""Historical bars through the adapter: equal to the gateway's, kept in the bar store, resumable, and paced."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantdesk.brokers.ib.historical import series_key
from quantdesk.brokers.ib.pacing import PacingRules
from quantdesk.data import BarStore
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import BarSize
from quantdesk.errors import BrokerError
from quantdesk.gateway import GatewayServer
from quantdesk.gateway.codec import Request
from quantdesk.gateway.pacing import HistoricalPacer as GatewayPacer
from quantdesk.gateway.session import Session

SCALE = 0.003  # IB's windows at 0.3 %: 15 s → 45 ms, 2 s → 6 ms, 10 min → 1.8 s


def count_requests(gw: GatewayServer, msg_id: int = 20) -> Callable[[], int]:
    """Wrap the gateway's handler of ``msg_id`` to count the requests that reach it."""
    calls = [0]
    inner = gw.handlers.get(msg_id)
    assert inner is not None

    def counting(session: Session, req: Request) -> Any:
        calls[0] += 1
        return inner(session, req)

    gw.handlers.register(msg_id, counting)
    return lambda: calls[0]


def midnight(gw: GatewayServer) -> datetime:
    """00:00 UTC of the gateway's trading day: every daily bar before it is complete."""
    today = gw.clock.now().date()
    return datetime(today.year, today.month, today.day, tzinfo=UTC)


def test_daily_bars_equal_the_gateways_land_in_the_store_and_are_served_from_it(
    gateway_broker: Any, tmp_path: Path
) -> None:
    async def main() -> None:
        async with gateway_broker(tmp_path) as (gw, broker):
            requests = count_requests(gw)
            end = midnight(gw)
            start = end - timedelta(days=30)
            bars = await broker.historical_bars(Stock("AAPL"), BarSize.DAY_1, start, end)
            assert requests() == 1
            assert 18 <= len(bars) <= 23
            assert all(start <= b.ts < end for b in bars)
            q = await broker.qualify(Stock("AAPL"))
            raw = await broker.data.ib.reqHistoricalDataAsync(q.contract, end, "40 D", "1 day", "TRADES", True)
            theirs = {datetime(b.date.year, b.date.month, b.date.day, tzinfo=UTC): b for b in raw}
            for bar in bars:
                ib_bar = theirs[bar.ts]
                assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == tuple(
                    Decimal(repr(float(x))) for x in (ib_bar.open, ib_bar.high, ib_bar.low, ib_bar.close, ib_bar.volume)
                )
            store = BarStore.in_data_dir(tmp_path)
            frame = store.read("AAPL.STK.SMART.USD", BarSize.DAY_1)
            assert len(frame) == len(bars)
            assert store.entry("AAPL.STK.SMART.USD", BarSize.DAY_1).source == "ib"
            calls = requests()
            again = await broker.historical_bars(Stock("AAPL"), BarSize.DAY_1, start, end)
            assert requests() == calls  # no new request reached the gateway
            assert again == bars
            inside = await broker.historical_bars(Stock("AAPL"), BarSize.DAY_1, start + timedelta(days=7), end)
            assert requests() == calls
            assert inside == [b for b in bars if b.ts >= start + timedelta(days=7)]

    asyncio.run(main())


def test_a_long_intraday_range_is_chunked_and_a_backfill_resumes(gateway_broker: Any, tmp_path: Path) -> None:
    async def main() -> None:
        async with gateway_broker(tmp_path) as (gw, broker):
            requests = count_requests(gw)
            end = midnight(gw)
            first = await broker.backfill(
                Stock("MSFT"), BarSize.MIN_1, end - timedelta(days=3), end - timedelta(days=1)
            )
            assert (first.requested, first.skipped) == (2, 0)
            assert requests() == 2
            resumed = await broker.backfill(Stock("MSFT"), BarSize.MIN_1, end - timedelta(days=4), end)
            assert (resumed.requested, resumed.skipped) == (2, 2)  # only the two missing days were asked for
            assert requests() == 4
            bars = await broker.historical_bars(Stock("MSFT"), BarSize.MIN_1, end - timedelta(days=4), end)
            assert requests() == 4
            sessions = {b.ts.date() for b in bars}
            assert all(len([b for b in bars if b.ts.date() == d]) == 390 for d in sessions)  # whole sessions
            assert [b.ts for b in bars] == sorted({b.ts for b in bars})

    asyncio.run(main())


def test_what_to_show_types_are_separate_series(gateway_broker: Any, tmp_path: Path) -> None:
    async def main() -> None:
        async with gateway_broker(tmp_path) as (gw, broker):
            end = midnight(gw)
            start = end - timedelta(days=10)
            series = {}
            for what in ("TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST"):
                series[what] = await broker.historical_bars(Stock("KO"), BarSize.DAY_1, start, end, what_to_show=what)
                assert series[what], what
            assert all(b.volume == 0 for b in series["MIDPOINT"])
            assert series["BID"][0].close < series["ASK"][0].close
            store = BarStore.in_data_dir(tmp_path)
            iid = (await broker.qualify(Stock("KO"))).instrument.id
            assert store.has(series_key(iid, "MIDPOINT"), BarSize.DAY_1)
            assert store.entry(series_key(iid, "ADJUSTED_LAST"), BarSize.DAY_1).adjusted

    asyncio.run(main())


def test_a_burst_of_100_requests_never_breaks_the_pacing_rules(gateway_broker: Any, ib_errors: Any) -> None:
    async def main() -> None:
        rules = PacingRules().scaled(SCALE, margin=0.02)
        async with gateway_broker(pacing=rules) as (gw, broker):
            gw.pacer = GatewayPacer(identical_window=15 * SCALE, same_contract_window=2 * SCALE, same_contract_max=6,
                                    long_window=600 * SCALE, long_max=60)  # fmt: skip
            codes: list[int] = []
            broker.on_error(lambda e: codes.append(e.code))
            symbols = [s.symbol for s in gw.catalog.specs if s.sec_type == "STK" and s.currency == "USD"][:18]
            qualified = await broker.contracts.qualify_many(*(Stock(s) for s in symbols))
            jobs = [(q, f"{60 * k} S") for q in qualified for k in range(1, 6)]  # 90 distinct requests
            jobs += jobs[:10]  # and 10 identical to earlier ones
            assert len(jobs) == 100
            results = await asyncio.gather(
                *(broker.history.fetch(q.contract, q.instrument.id, BarSize.SEC_5, None, d) for q, d in jobs)
            )
            assert 162 not in codes
            assert all(len(r) == int(d.split()[0]) // 5 for r, (_q, d) in zip(results, jobs, strict=True))
            assert broker.history.pacer.waits > 0  # the limiter did hold requests back
            assert broker.history.pacer.granted == 100

    asyncio.run(main())


def test_a_pacing_violation_from_elsewhere_is_waited_out(gateway_broker: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 162, reqId \d+: .*pacing violation")

    async def main() -> None:
        rules = dataclasses.replace(PacingRules().scaled(SCALE, margin=0.02), violation_wait=0.2)
        async with gateway_broker(pacing=rules) as (gw, broker):
            gw.pacer = GatewayPacer(identical_window=0.3, long_window=600 * SCALE)
            q = await broker.qualify(Stock("PG"))
            # another program on the same TWS just sent this very request
            other = await broker.data.ib.reqHistoricalDataAsync(q.contract, "", "60 S", "5 secs", "TRADES", True)
            assert len(other) == 12
            bars = await broker.history.fetch(q.contract, q.instrument.id, BarSize.SEC_5, None, "60 S")
            assert len(bars) == 12
            assert broker.data.stats.by_code[162] >= 1

    asyncio.run(main())


def test_history_errors_name_the_code(gateway_broker: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 162, reqId \d+: .*Time length exceed max")

    async def main() -> None:
        async with gateway_broker(max_history_bars=10) as (_gw, broker):
            q = await broker.qualify(Stock("AAPL"))
            with pytest.raises(BrokerError, match="IB error 162") as caught:
                await broker.history.fetch(q.contract, q.instrument.id, BarSize.SEC_5, None, "3600 S")
            assert caught.value.code == 162

    asyncio.run(main())
