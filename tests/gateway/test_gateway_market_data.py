"""End to end: streaming and snapshot market data, market data types and the line limit."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from ib_async import IB, Contract, Forex, Index, Stock, Ticker


async def _until(predicate: Any, timeout: float = 2.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def _qualified(ib: IB, *contracts: Contract) -> list[Contract]:
    result = await ib.qualifyContractsAsync(*contracts)
    assert all(c is not None for c in result)
    return list(contracts)


def test_streaming_ticks_move_and_stop_on_cancel(running: Any) -> None:
    async def main() -> None:
        async with running(speed=120) as (gw, ib):
            (aapl,) = await _qualified(ib, Stock("AAPL", "SMART", "USD"))
            ticker = ib.reqMktData(aapl)
            types: set[int] = set()
            ticker.updateEvent += lambda t: types.update(tick.tickType for tick in t.ticks)
            await _until(lambda: ticker.bid > 0 and ticker.ask > 0 and ticker.last > 0 and ticker.volume > 0)
            assert ticker.marketDataType == 1
            assert ticker.bid < ticker.ask
            assert ticker.bid <= ticker.last <= ticker.ask
            assert ticker.bidSize > 0
            assert ticker.askSize > 0
            assert ticker.lastSize > 0
            assert ticker.close > 0
            assert ticker.open > 0
            assert ticker.low <= ticker.high
            assert ticker.lastTimestamp is not None
            assert gw.lines.in_use == 1
            first = (ticker.last, ticker.volume)
            await _until(lambda: (ticker.last, ticker.volume) != first)
            assert ticker.volume > first[1]
            await _until(lambda: {1, 2, 4, 6, 7, 8, 9, 14} <= types and bool(types & {0, 3, 5}))
            ib.cancelMktData(aapl)
            await asyncio.sleep(0.1)
            assert gw.lines.in_use == 0
            frozen = ticker.volume
            await asyncio.sleep(0.2)
            assert ticker.volume == frozen

    asyncio.run(main())


def test_snapshots_of_every_kind_of_contract(running: Any) -> None:
    async def main() -> None:
        async with running(speed=0) as (gw, ib):
            fut = next(s for s in gw.catalog.specs if s.sec_type == "FUT")
            opt = next(s for s in gw.catalog.specs if s.sec_type == "OPT" and s.right == "C")
            contracts = [
                Stock("AAPL", "SMART", "USD"),
                Forex("EURUSD"),
                Index("SPX", "CBOE"),
                Contract(conId=fut.con_id),
                Contract(conId=opt.con_id),
            ]
            await _qualified(ib, *contracts)
            stock, fx, spx, es, call = await asyncio.wait_for(ib.reqTickersAsync(*contracts), 2)
            tt = gw.clock.now_tt()
            q = gw.market.quote(gw.catalog.get(265598), tt)  # type: ignore[arg-type]
            assert (stock.bid, stock.ask, stock.last, stock.volume) == (q.bid, q.ask, q.last, q.volume)
            assert (stock.close, stock.high, stock.low) == (round(q.prev_close, 8), round(q.high, 8), round(q.low, 8))
            assert fx.bid < fx.ask
            assert math.isnan(fx.last)
            assert math.isnan(fx.volume)
            assert math.isnan(spx.bid)
            assert spx.last > 1000
            assert es.bid < es.ask
            assert es.last % 0.25 == 0
            assert es.last > spx.last
            assert 0 < call.bid < call.ask
            assert call.marketPrice() > 0
            assert gw.lines.in_use == 0
            assert all(isinstance(t, Ticker) for t in (stock, fx, spx, es, call))

    asyncio.run(main())


def test_delayed_market_data_type(running: Any) -> None:
    async def main() -> None:
        async with running(speed=0) as (gw, ib):
            (aapl,) = await _qualified(ib, Stock("AAPL", "SMART", "USD"))
            ib.reqMarketDataType(3)
            ticker = ib.reqMktData(aapl)
            await _until(lambda: ticker.last > 0 and ticker.volume > 0)
            assert ticker.marketDataType == 3
            q = gw.market.quote(gw.catalog.get(265598), gw.clock.now_tt() - 900)  # type: ignore[arg-type]
            assert (ticker.bid, ticker.ask, ticker.last, ticker.volume) == (q.bid, q.ask, q.last, q.volume)
            assert {t.tickType for t in ticker.ticks} <= {66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76}
            ib.reqMarketDataType(4)
            (snap,) = await asyncio.wait_for(ib.reqTickersAsync(Forex("EURUSD", conId=12087792)), 2)
            assert snap.marketDataType == 4
            assert snap.bid < snap.ask

    asyncio.run(main())


def test_market_data_lines_are_limited(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 101, reqId \d+: Max number of tickers has been reached", r"Error 300, reqId \d+")

    async def main() -> None:
        async with running(speed=0, market_data_lines=2) as (gw, ib):
            a, b, c = await _qualified(ib, Stock("AAPL", "SMART", "USD"), Stock("MSFT", "SMART", "USD"),
                                       Stock("KO", "SMART", "USD"))  # fmt: skip
            errors: list[tuple[int, int]] = []
            ib.errorEvent += lambda req_id, code, msg, contract: errors.append((code, contract.conId))
            ta, tb = ib.reqMktData(a), ib.reqMktData(b)
            ib.reqMktData(c)
            await _until(lambda: bool(errors) and ta.last > 0 and tb.last > 0)
            assert errors == [(101, c.conId)]
            assert gw.lines.in_use == 2
            ib.cancelMktData(c)  # the refused request holds no line: TWS answers 300 (unknown ticker id)
            ib.cancelMktData(a)
            await _until(lambda: gw.lines.in_use == 1)
            tc = ib.reqMktData(c)
            await _until(lambda: tc.last > 0)
            assert gw.lines.in_use == 2

    asyncio.run(main())


def test_generic_ticks_and_unknown_contracts(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 200, reqId \d+: No security definition", r"Error 300, reqId \d+")

    async def main() -> None:
        async with running(speed=0) as (_gw, ib):
            (aapl,) = await _qualified(ib, Stock("AAPL", "SMART", "USD"))
            ticker = ib.reqMktData(aapl, "236")
            await _until(lambda: ticker.shortable == 3.0)
            codes: list[int] = []
            ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
            ib.reqMktData(Contract(conId=1, secType="STK"))
            await _until(lambda: codes == [200])
            ib.client.cancelMktData(999)
            await _until(lambda: codes == [200, 300])

    asyncio.run(main())
