"""03 - Market data: snapshots of a few stocks, then streaming AAPL quotes and trades for a few seconds.

    python examples/03_market_data.py [--seconds 3] [--port 7497]

Streams are async callbacks: this example uses ``IBBroker`` on an asyncio loop. Outside trading hours, or without a
market data subscription at IB, set ``ib.market_data_type`` to ``delayed`` (``IBSettings(market_data_type=...)``).
"""

from __future__ import annotations

import argparse
import asyncio

from _common import errors_in_one_line, ib_settings, parse_args

from quantdesk.brokers.ib import IBBroker
from quantdesk.config import IBSettings
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import Quote, TradeTick


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to stream (default: %(default)s)")


async def run(settings: IBSettings, seconds: float) -> None:
    async with IBBroker(settings) as broker:
        for symbol in ("AAPL", "MSFT", "KO"):
            snap = await broker.snapshot(Stock(symbol))
            q = snap.quote
            if q is None:
                print(f"{symbol:<5} no bid/ask (last {snap.last}, close {snap.close})")
            else:
                print(f"{symbol:<5} bid {q.bid} x ask {q.ask}  spread {q.ask - q.bid}  ({snap.data_type.name.lower()})")

        quotes: list[Quote] = []
        trades: list[TradeTick] = []

        def on_quote(q: Quote) -> None:  # runs on the event loop: keep it short
            quotes.append(q)
            print(f"  quote {q.ts:%H:%M:%S} bid {q.bid} x {q.bid_size:.0f}  ask {q.ask} x {q.ask_size:.0f}")

        sub = await broker.subscribe_quotes(Stock("AAPL"), on_quote, trades.append)
        print(f"streaming AAPL for {seconds:g} s ...")
        await asyncio.sleep(seconds)
        await sub.cancel()  # releases the market data line
        print(f"quotes received: {len(quotes)}, trades received: {len(trades)}")


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], options)
    with ib_settings(args) as settings:
        asyncio.run(run(settings, args.seconds))


if __name__ == "__main__":
    with errors_in_one_line():
        main()
