"""05 - Historical bars: a year of daily bars and a week of 30-minute bars, stored and served again from the store.

    python examples/05_historical_data.py [--symbol AAPL] [--data-dir DIR] [--port 7497]

quantdesk paces every request by IB's rules (no error 162), splits long ranges into chunks IB accepts, and writes the
bars to a Parquet bar store in the data directory, so asking again is answered without a request to IB.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import timedelta

from _common import errors_in_one_line, ib_settings, parse_args

from quantdesk.brokers.ib import SyncIBBroker
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import BarSize


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbol", default="AAPL", help="a US stock (default: %(default)s)")
    parser.add_argument("--data-dir", default=None, help="where the bar store lives (default: a temporary directory)")


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], options)
    stock = Stock(args.symbol)
    with tempfile.TemporaryDirectory(prefix="quantdesk-example-") as scratch, ib_settings(args) as settings:
        data_dir = args.data_dir or scratch
        with SyncIBBroker(settings, data_dir=data_dir) as ib:
            end = ib.quote(stock).ts  # "now" as the broker sees it (the simulator's clock, or TWS's)
            for size, span in ((BarSize.DAY_1, timedelta(days=365)), (BarSize.MIN_30, timedelta(days=7))):
                t0 = time.perf_counter()
                bars = ib.historical_bars(stock, size, end - span, end)
                first = time.perf_counter() - t0
                t0 = time.perf_counter()
                again = ib.historical_bars(stock, size, end - span, end)  # answered by the bar store
                second = time.perf_counter() - t0
                print(f"{stock.symbol} {size.value} bars: {len(bars)} from IB in {first:.2f} s, "
                      f"{len(again)} again from the store in {second * 1000:.0f} ms")  # fmt: skip
                for bar in bars[-3:]:
                    print(f"  {bar.ts:%Y-%m-%d %H:%M} UTC  open {bar.open:8.2f}  high {bar.high:8.2f}  "
                          f"low {bar.low:8.2f}  close {bar.close:8.2f}  volume {bar.volume:>11,.0f}")  # fmt: skip
        print(f"bar store: {data_dir}" if args.data_dir else "bar store: a temporary directory, removed now")


if __name__ == "__main__":
    with errors_in_one_line():
        main()
