"""Market data through the adapter: streams as domain events, snapshots, the reported data type, real-time bars."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from quantdesk.brokers.base import Subscription
from quantdesk.brokers.ib import MarketDataType
from quantdesk.domain.instruments import ForexPair, Index, Stock
from quantdesk.domain.market import Bar, BarSize, Quote, TradeTick
from quantdesk.errors import BrokerError, ValidationError


async def _until(predicate: Any, timeout: float = 3.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


def test_streaming_quotes_and_trades_become_domain_events(gateway_broker: Any) -> None:
    async def main() -> None:
        async with gateway_broker(speed=120) as (gw, broker):
            quotes: list[Quote] = []
            trades: list[TradeTick] = []
            sub: Subscription = await broker.subscribe_quotes(Stock("AAPL"), quotes.append, trades.append)
            assert sub.instrument.con_id == 265598
            await _until(lambda: len(quotes) >= 3 and len(trades) >= 3)
            q = quotes[-1]
            assert q.instrument_id.value == "AAPL.STK.SMART.USD"
            assert 0 < q.bid <= q.ask
            assert q.bid_size > 0
            assert q.ts.tzinfo is not None
            book = [(x.bid, x.ask, x.bid_size, x.ask_size) for x in quotes]
            assert all(a != b for a, b in itertools.pairwise(book))  # changes only (a book may come back)
            assert all(t.price > 0 for t in trades)
            assert broker.market.subscriptions == [sub]
            assert broker.market.subscriptions[0].data_type is MarketDataType.LIVE
            assert gw.lines.in_use == 1
            await sub.cancel()
            await sub.cancel()  # harmless
            await _until(lambda: gw.lines.in_use == 0)
            seen = len(quotes)
            await asyncio.sleep(0.2)
            assert len(quotes) == seen
            assert broker.market.subscriptions == []

    asyncio.run(main())


def test_snapshots(gateway_broker: Any) -> None:
    async def main() -> None:
        async with gateway_broker() as (gw, broker):
            quote = await broker.quote(Stock("AAPL"))
            model = gw.market.quote(gw.catalog.get(265598), gw.clock.now_tt())  # type: ignore[arg-type]
            assert (quote.bid, quote.ask) == (Decimal(repr(model.bid)), Decimal(repr(model.ask)))
            snap = await broker.snapshot(ForexPair("EUR", "USD"))
            assert snap.quote is not None
            assert snap.last is None  # forex has no trades
            assert snap.data_type is MarketDataType.LIVE
            spx = await broker.snapshot(Index("SPX", exchange="CBOE"))
            assert spx.quote is None
            assert spx.price is not None
            assert spx.price > 1000
            with pytest.raises(BrokerError, match="no bid/ask"):
                await broker.quote(Index("SPX", exchange="CBOE"))

    asyncio.run(main())


def test_the_delayed_data_type_is_chosen_from_config_and_reported(gateway_broker: Any) -> None:
    async def main() -> None:
        async with gateway_broker(settings={"market_data_type": "delayed"}) as (gw, broker):
            snap = await broker.snapshot(Stock("AAPL"))
            assert snap.data_type is MarketDataType.DELAYED
            assert gw.sessions[broker.settings.client_id_data].market_data_type == 3
            delayed = gw.market.quote(gw.catalog.get(265598), gw.clock.now_tt() - 900)  # type: ignore[arg-type]
            assert snap.quote is not None
            assert snap.quote.bid == Decimal(repr(delayed.bid))
            quotes: list[Quote] = []
            sub = await broker.subscribe_quotes(Stock("MSFT"), quotes.append, None)
            await _until(lambda: bool(quotes))
            assert sub.data_type is MarketDataType.DELAYED
            assert broker.market.reported_type is MarketDataType.DELAYED
            broker.market.set_data_type("delayed_frozen")
            again = await broker.snapshot(ForexPair("EUR", "USD"))
            assert again.data_type is MarketDataType.DELAYED_FROZEN

    asyncio.run(main())


def test_real_time_bars_are_aggregated_to_the_asked_size(gateway_broker: Any) -> None:
    async def main() -> None:
        async with gateway_broker(speed=240) as (_gw, broker):
            minutes: list[Bar] = []
            sub = await broker.subscribe_bars(Stock("AAPL"), BarSize.MIN_1, minutes.append)
            await _until(lambda: len(minutes) >= 2, timeout=5)
            a, b = minutes[:2]
            assert a.bar_size is BarSize.MIN_1
            assert b.ts - a.ts == timedelta(minutes=1)
            assert a.ts.second == 0
            assert a.low <= a.open <= a.high
            assert a.volume > 0
            assert sub.received >= 12
            mids: list[Bar] = []
            mid_sub = await broker.subscribe_bars(Stock("MSFT"), BarSize.SEC_15, mids.append, what_to_show="MIDPOINT")
            await _until(lambda: len(mids) >= 2, timeout=5)
            assert all(m.volume == 0 for m in mids)
            await sub.cancel()
            await mid_sub.cancel()
            with pytest.raises(ValidationError, match="BID_ASK"):
                await broker.subscribe_bars(Stock("AAPL"), BarSize.MIN_1, minutes.append, what_to_show="BID_ASK")

    asyncio.run(main())
