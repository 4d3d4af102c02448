"""Bar store write/read of the real 20-stock sample against plain ``DataFrame.to_parquet`` / ``read_parquet``.

The anchor is what a notebook user does today: one Parquet file per symbol with pandas, no validation, no atomic
replace, no fsync. The store validates every frame, writes atomically with fsync and keeps a catalog, so it is
expected to cost more per write; reads should be close to the anchor. Median of 3 runs, ratios against the anchor.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from quantdesk.data import BarStore
from quantdesk.data.sources.sample import SampleSource


def _median(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    """Print a table: operation, quantdesk seconds, anchor seconds, ratio."""
    frames = SampleSource().load()
    rows = sum(len(f) for f in frames.values())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = BarStore(root / "store")
        plain = root / "plain"
        plain.mkdir()

        def store_write() -> None:
            for symbol, frame in frames.items():
                store.write(symbol, "1day", frame, source="bench", mode="replace")

        def plain_write() -> None:
            for symbol, frame in frames.items():
                frame.to_parquet(plain / f"{symbol}.parquet")

        def store_read() -> None:
            for symbol in frames:
                store.read(symbol, "1day")

        def plain_read() -> None:
            for symbol in frames:
                pd.read_parquet(plain / f"{symbol}.parquet")

        def store_read_many() -> None:
            store.read_many(list(frames), "1day", field="close")

        def plain_read_many() -> None:
            pd.DataFrame({s: pd.read_parquet(plain / f"{s}.parquet", columns=["close"])["close"] for s in frames})

        results = [
            ("write 20 series", _median(store_write), _median(plain_write)),
            ("read 20 series", _median(store_read), _median(plain_read)),
            ("read closes wide", _median(store_read_many), _median(plain_read_many)),
        ]
    print(f"sample: {len(frames)} symbols, {rows:,} bars")
    print(f"{'operation':<20}{'quantdesk s':>14}{'pandas s':>12}{'ratio':>8}{'bars/s (qd)':>16}")
    for name, ours, anchor in results:
        print(f"{name:<20}{ours:>14.4f}{anchor:>12.4f}{ours / anchor:>8.2f}{rows / ours:>16,.0f}")


if __name__ == "__main__":
    main()
