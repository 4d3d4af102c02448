"""End to end: historical bars, keepUpToDate, real-time bars and head timestamps through ``ib_async``."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from typing import Any

import pytest
from ib_async import Forex, Stock

from quantdesk.gateway.clock import NEW_YORK
from quantdesk.gateway.sample import load_sample_closes

REPLAY = dt.date(2020, 3, 20)
KNOWN = dt.date(2020, 3, 16)


def test_daily_bars_are_the_samples_closes(running: Any) -> None:
    async def main() -> None:
        async with running(speed=0, replay_from=REPLAY) as (gw, ib):
            sample = load_sample_closes()
            aapl = Stock("AAPL", "SMART", "USD")
            await ib.qualifyContractsAsync(aapl)
            bars = await ib.reqHistoricalDataAsync(aapl, "", "10 D", "1 day", "TRADES", True)
            assert len(bars) == 10
            by_date = {b.date: b for b in bars}
            row = sample.row_of(KNOWN)
            day = gw.calendar.date_of(row)
            bar = by_date[day]
            closes = sample.column("AAPL")
            assert (bar.open, bar.close, bar.volume) == (closes[row - 1], closes[row], 20_000_000)
            assert (bar.high, bar.low) == (max(closes[row - 1], closes[row]), min(closes[row - 1], closes[row]))
            for b in bars[:-1]:
                r = gw.calendar.row_of_date(b.date)
                assert b.close == closes[r]
            assert bars[-1].date == gw.calendar.date_of(sample.row_of(REPLAY))  # today's partial bar
            assert bars[-1].volume < 20_000_000

    asyncio.run(main())


def test_intraday_bars_are_consistent_with_the_daily_bar(running: Any) -> None:
    async def main() -> None:
        async with running(speed=0, replay_from=REPLAY) as (gw, ib):
            msft = Stock("MSFT", "SMART", "USD")
            await ib.qualifyContractsAsync(msft)
            day = gw.calendar.date_of(load_sample_closes().row_of(KNOWN))
            close = dt.datetime.combine(day, dt.time(16, 0), NEW_YORK)
            (daily,) = [b for b in await ib.reqHistoricalDataAsync(msft, close, "3 D", "1 day", "TRADES", True)
                        if b.date == day]  # fmt: skip
            minutes = await ib.reqHistoricalDataAsync(msft, close, "1 D", "1 min", "TRADES", True)
            assert len(minutes) == 390
            assert minutes[0].date == dt.datetime.combine(day, dt.time(9, 30), NEW_YORK)
            assert minutes[-1].date == dt.datetime.combine(day, dt.time(15, 59), NEW_YORK)
            assert (minutes[0].open, minutes[-1].close) == (daily.open, daily.close)
            assert max(b.high for b in minutes) == daily.high
            assert min(b.low for b in minutes) == daily.low
            assert sum(b.volume for b in minutes) == daily.volume
            fives = await ib.reqHistoricalDataAsync(msft, close, "3600 S", "5 secs", "TRADES", True, formatDate=2)
            assert len(fives) == 720
            assert fives[0].date == dt.datetime.combine(day, dt.time(15, 0), NEW_YORK).astimezone(dt.UTC)
            assert fives[-1].close == daily.close
            assert all(daily.low <= b.low <= b.high <= daily.high for b in fives)
            mids = await ib.reqHistoricalDataAsync(msft, close, "1800 S", "1 min", "MIDPOINT", True)
            assert [b.close for b in mids] == [b.close for b in minutes[-30:]]
            assert all(b.volume == -1 for b in mids)

    asyncio.run(main())


def test_keep_up_to_date_and_real_time_bars(running: Any) -> None:
    async def main() -> None:
        async with running(speed=60) as (gw, ib):
            aapl = Stock("AAPL", "SMART", "USD")
            await ib.qualifyContractsAsync(aapl)
            bars = await ib.reqHistoricalDataAsync(aapl, "", "300 S", "5 secs", "TRADES", True, keepUpToDate=True)
            initial = len(bars)
            assert initial > 0
            new_bars = asyncio.Event()
            bars.updateEvent += lambda b, has_new: has_new and new_bars.set()
            await asyncio.wait_for(new_bars.wait(), 2)
            assert len(bars) > initial
            assert all(a.date < b.date for a, b in itertools.pairwise(bars))
            assert bars[-1].volume >= 0
            rt = ib.reqRealTimeBars(aapl, 5, "MIDPOINT", False)
            arrived = asyncio.Event()
            rt.updateEvent += lambda b, has_new: len(b) >= 3 and arrived.set()
            await asyncio.wait_for(arrived.wait(), 2)
            times = [b.time for b in rt]
            assert all((b - a).total_seconds() == 5 for a, b in itertools.pairwise(times))
            assert all(b.low <= b.open_ <= b.high and b.low <= b.close <= b.high for b in rt)
            ib.cancelRealTimeBars(rt)
            ib.cancelHistoricalData(bars)
            await asyncio.sleep(0.05)
            assert not any(s.streams.bars or s.streams.realtime for s in gw.sessions.values())

    asyncio.run(main())


def test_daily_keep_up_to_date_updates_todays_bar(running: Any) -> None:
    async def main() -> None:
        async with running(speed=600) as (gw, ib):
            spy = Stock("KO", "SMART", "USD")
            await ib.qualifyContractsAsync(spy)
            bars = await ib.reqHistoricalDataAsync(spy, "", "5 D", "1 day", "TRADES", True, keepUpToDate=True)
            volume = bars[-1].volume
            changed = asyncio.Event()
            bars.updateEvent += lambda b, has_new: b[-1].volume > volume and changed.set()
            await asyncio.wait_for(changed.wait(), 2)
            assert bars[-1].date == gw.calendar.date_of(gw.calendar.split(gw.clock.now_tt())[0])

    asyncio.run(main())


def test_head_timestamp(running: Any) -> None:
    async def main() -> None:
        async with running(speed=0) as (gw, ib):
            aapl = Stock("AAPL", "SMART", "USD")
            await ib.qualifyContractsAsync(aapl)
            head = await ib.reqHeadTimeStampAsync(aapl, "TRADES", True, 1)
            assert head == gw.calendar.open_of(0)
            utc = await ib.reqHeadTimeStampAsync(aapl, "TRADES", True, 2)
            assert utc == head
            assert utc.tzinfo is not None

    asyncio.run(main())


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("", "1 D", "7 mins", "TRADES"), 321),
        (("", "1 X", "1 min", "TRADES"), 321),
        (("", "1 D", "1 min", "VOLUME"), 321),
        (("20200101 10:00:00 Mars/Base", "1 D", "1 min", "TRADES"), 321),
        (("", "30 D", "1 secs", "TRADES"), 162),
        (("19800101 12:00:00 UTC", "1 W", "1 day", "TRADES"), 162),
    ],
    ids=["bar-size", "duration", "what-to-show", "end", "too-many-bars", "before-the-data"],
)
def test_invalid_history_requests(running: Any, ib_errors: Any, args: tuple[str, ...], code: int) -> None:
    """ib_async treats 321 as a warning and leaves the request waiting for its timeout, as with a real TWS."""
    ib_errors.allow(rf"Error {code}, reqId")

    async def main() -> None:
        async with running(speed=0, max_history_bars=100_000) as (_gw, ib):
            aapl = Stock("AAPL", "SMART", "USD")
            await ib.qualifyContractsAsync(aapl)
            codes: list[int] = []
            ib.errorEvent += lambda req_id, c, msg, contract: codes.append(c)
            bars = await ib.reqHistoricalDataAsync(aapl, args[0], args[1], args[2], args[3], True, timeout=0.3)
            assert list(bars) == []
            assert codes == [code]

    asyncio.run(main())


def test_forex_has_no_trades_and_live_updates_need_an_open_end(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 162, reqId \d+: Historical Market Data Service error message:No historical market data",
                    r"Error 321, reqId \d+: .*End date not supported")  # fmt: skip

    async def main() -> None:
        async with running(speed=0) as (gw, ib):
            eur = Forex("EURUSD")
            await ib.qualifyContractsAsync(eur)
            codes: list[int] = []
            ib.errorEvent += lambda req_id, c, msg, contract: codes.append(c)
            assert list(await ib.reqHistoricalDataAsync(eur, "", "1 D", "1 hour", "TRADES", True, timeout=2)) == []
            mids = await ib.reqHistoricalDataAsync(eur, "", "1 D", "1 hour", "MIDPOINT", True, timeout=2)
            assert len(mids) == 1
            assert mids[0].close > 0
            end = gw.clock.now() - dt.timedelta(hours=1)
            assert list(await ib.reqHistoricalDataAsync(eur, end, "1 D", "1 hour", "MIDPOINT", True, keepUpToDate=True,
                                                        timeout=0.3)) == []  # fmt: skip
            assert codes == [162, 321]

    asyncio.run(main())
