"""The bundled sample: real daily S&P 500 prices of 20 stocks, 1990-01-02 to 2022-12-28, shipped inside skfolio.

It holds adjusted closes only. Bars are derived as the benchmarks define them (``shared/bench/README.md``):
open = previous close (the first day: its own close), high = max(open, close), low = min(open, close),
volume = 1,000,000 shares a day; every bar is marked ``adjusted``.

The CSV is read straight from skfolio's package directory, which is what ``skfolio.datasets.load_sp500_dataset``
reads too, without importing skfolio (and scikit-learn behind it: seconds at start-up). When the file is not
where skfolio 0.7+ keeps it, ``load_sp500_dataset`` is called instead. Nothing is downloaded either way.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from quantdesk.data.schema import ADJUSTED, INDEX_NAME, TS_UNIT, TimeBound, slice_bars
from quantdesk.domain.market import BarSize
from quantdesk.errors import DataError, NotFound

__all__ = [
    "SAMPLE_SOURCE_NAME",
    "SAMPLE_VOLUME",
    "SampleSource",
    "bars_from_closes",
    "load_sample_prices",
    "sample_symbols",
]

SAMPLE_SOURCE_NAME = "sample:sp500"
SAMPLE_VOLUME = 1_000_000.0
_SAMPLE_FILE = "sp500_dataset.csv.gz"


def _bundled_csv() -> Path | None:
    spec = importlib.util.find_spec("skfolio")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the S&P 500 sample needs skfolio, which is not installed",
            field="source",
            value=SAMPLE_SOURCE_NAME,
            hint="install quantdesk's dependencies (make sync, or pip install skfolio)",
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / "datasets" / "data" / _SAMPLE_FILE
        if path.is_file():
            return path
    return None


@functools.lru_cache(maxsize=1)
def _sample_closes() -> pd.DataFrame:
    path = _bundled_csv()
    if path is not None:
        with gzip.open(path, mode="rt", encoding="utf-8") as fh:
            raw = pd.read_csv(fh, sep=",", index_col=0)
        raw.index = pd.to_datetime(raw.index, format="%Y-%m-%d")
    else:  # pragma: no cover - only with a skfolio that moved its data
        from skfolio.datasets import load_sp500_dataset

        raw = load_sp500_dataset()
    closes = raw.astype("float64")
    closes.index = pd.DatetimeIndex(closes.index).tz_localize("UTC").as_unit(TS_UNIT).rename(INDEX_NAME)
    closes.columns = pd.Index([str(c) for c in closes.columns])
    return closes


def sample_symbols() -> list[str]:
    """The 20 tickers of the sample, in the dataset's order."""
    return list(_sample_closes().columns)


def _resolve(symbols: Iterable[str] | str | None) -> list[str]:
    available = sample_symbols()
    if symbols is None:
        return available
    if isinstance(symbols, str):
        symbols = [s for s in symbols.split(",") if s.strip()]
    by_upper = {s.upper(): s for s in available}
    chosen: list[str] = []
    unknown: list[str] = []
    for s in symbols:
        match = by_upper.get(s.strip().upper())
        if match is None:
            unknown.append(s)
        elif match not in chosen:
            chosen.append(match)
    if unknown:
        raise NotFound(
            f"the S&P 500 sample has no symbol {', '.join(unknown)}",
            field="symbols",
            value=unknown,
            hint="choose from " + ", ".join(available),
        )
    return chosen


def load_sample_prices(
    symbols: Iterable[str] | str | None = None, start: TimeBound = None, end: TimeBound = None
) -> pd.DataFrame:
    """Wide daily adjusted closes: index ``ts`` (00:00 UTC of each date), one float64 column per ticker.

    The values are exactly skfolio's ``load_sp500_dataset()``; only the index is made UTC-aware and named ``ts``.
    """
    closes = _sample_closes()[_resolve(symbols)]
    return slice_bars(closes, start, end).copy()


def bars_from_closes(close: pd.Series[float], volume: float = SAMPLE_VOLUME, adjusted: bool = True) -> pd.DataFrame:
    """Bars from closes the benchmarks' way: open = previous close, high/low = max/min(open, close)."""
    close = close.astype("float64")
    open_ = close.shift(1).fillna(close)
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close),
            "low": np.minimum(open_, close),
            "close": close,
            "volume": volume,
        },
        index=close.index,
    )
    frame[ADJUSTED] = adjusted
    frame.index.name = INDEX_NAME
    return frame


class SampleSource:
    """The S&P 500 sample as a :class:`~quantdesk.data.sources.base.BarSource` of daily, adjusted bars."""

    bar_size = BarSize.DAY_1

    @property
    def name(self) -> str:
        """``sample:sp500``."""
        return SAMPLE_SOURCE_NAME

    def symbols(self) -> list[str]:
        """The 20 tickers."""
        return sample_symbols()

    def load(
        self, symbols: Iterable[str] | str | None = None, start: TimeBound = None, end: TimeBound = None
    ) -> dict[str, pd.DataFrame]:
        """Bar frames per ticker; derived over the whole history first, so a window's first open is a real close."""
        closes = _sample_closes()
        return {s: slice_bars(bars_from_closes(closes[s]), start, end) for s in _resolve(symbols)}
