"""The daily price series the gateway replays: the bundled S&P 500 sample plus a few seeded synthetic series.

The 20 stocks are skfolio's ``load_sp500_dataset`` (8313 daily adjusted closes, 1990-01-02 … 2022-12-28), read
through ``quantdesk.data.sources.sample`` (which finds the bundled file without importing skfolio).

Daily bars follow the project's benchmark convention: open = previous close (the first day: its close),
high = max(open, close), low = min(open, close), volume 1,000,000 a day.

Series the sample lacks are derived or synthesised, deterministically from the seed:

* ``SPX``: an equal-weight index of the 20 stocks' daily returns, scaled to 4700 on the replay day;
* forex pairs and the second ``SHOP`` listing: geometric random walks with a fixed annual volatility, anchored to a
  fixed level on the replay day.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from quantdesk.errors import DataError

__all__ = ["SYNTHETIC_SERIES", "DailySeries", "SampleCloses", "build_series", "load_sample_closes"]

FloatArray = npt.NDArray[np.float64]

# key -> (level on the replay day, annual volatility, decimals)
SYNTHETIC_SERIES: dict[str, tuple[float, float, int]] = {
    "EUR.USD": (1.10, 0.08, 5),
    "GBP.USD": (1.27, 0.09, 5),
    "USD.JPY": (145.0, 0.10, 3),
    "AUD.USD": (0.66, 0.11, 5),
    "SHOP": (60.0, 0.55, 2),
    "SHOP.TSX": (81.0, 0.55, 2),
}
SPX_LEVEL = 4700.0
DAILY_VOLUME = 1_000_000.0


@dataclass(frozen=True, slots=True)
class SampleCloses:
    """The raw sample: its trading dates, tickers and a (dates × tickers) matrix of adjusted closes."""

    dates: tuple[date, ...]
    tickers: tuple[str, ...]
    closes: FloatArray

    def column(self, ticker: str) -> FloatArray:
        """One ticker's closes."""
        return self.closes[:, self.tickers.index(ticker)]

    def row_of(self, day: date) -> int:
        """The sample row of a trading date."""
        try:
            return self.dates.index(day)
        except ValueError:
            raise DataError(
                f"{day} is not a trading day of the sample", field="replay_from", value=day, hint="pick a weekday"
            ) from None


@dataclass(frozen=True, slots=True)
class DailySeries:
    """Daily open/high/low/close of one series, one row per sample row (the benchmark convention)."""

    key: str
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray

    @classmethod
    def from_closes(cls, key: str, closes: FloatArray) -> DailySeries:
        """Derive open = previous close, high = max(open, close), low = min(open, close)."""
        close = np.asarray(closes, dtype=np.float64)
        open_ = np.empty_like(close)
        open_[0] = close[0]
        open_[1:] = close[:-1]
        return cls(key, open_, np.maximum(open_, close), np.minimum(open_, close), close)

    def __len__(self) -> int:
        return len(self.close)


@lru_cache(maxsize=1)
def load_sample_closes() -> SampleCloses:
    """The S&P 500 sample, loaded once per process through ``quantdesk.data`` (the one reader of the sample)."""
    from quantdesk.data.sources.sample import load_sample_prices

    df = load_sample_prices()
    return SampleCloses(
        tuple(ts.date() for ts in df.index), tuple(str(c) for c in df.columns), df.to_numpy(dtype=np.float64)
    )


def _seeded_rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def _random_walk(n: int, anchor_row: int, level: float, annual_vol: float, rng: np.random.Generator) -> FloatArray:
    steps = rng.standard_normal(n) * (annual_vol / np.sqrt(252.0))
    steps[0] = 0.0
    log_path = np.cumsum(steps)
    return np.asarray(level * np.exp(log_path - log_path[anchor_row]), dtype=np.float64)


def build_series(sample: SampleCloses, anchor_row: int, seed: int) -> dict[str, DailySeries]:
    """Every series the catalogue prices from, aligned on the sample's rows."""
    n = len(sample.dates)
    out = {t: DailySeries.from_closes(t, sample.column(t)) for t in sample.tickers}
    returns = sample.closes[1:] / sample.closes[:-1] - 1.0
    index = np.concatenate([[1.0], np.cumprod(1.0 + returns.mean(axis=1))])
    out["SPX"] = DailySeries.from_closes("SPX", np.round(index * (SPX_LEVEL / index[anchor_row]), 2))
    for key, (level, vol, decimals) in SYNTHETIC_SERIES.items():
        walk = _random_walk(n, anchor_row, level, vol, _seeded_rng(seed, key))
        out[key] = DailySeries.from_closes(key, np.round(walk, decimals))
    return out
