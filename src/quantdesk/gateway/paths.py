"""Intraday price paths synthesised from a daily bar, and bars aggregated from them.

**The path.** For a session of ``n`` seconds the price at each whole second ``0..n`` is a seeded *Brownian bridge
through open, high, low and close*:

1. Two distinct anchor seconds ``0 < t1 < t2 < n`` are drawn uniformly; a fair coin decides whether the high or the
   low comes first. The path is pinned to the open at 0, the first extreme at ``t1``, the other at ``t2`` and the
   close at ``n``.
2. In units of the day's range (``u = (p - low) / (high - low)``), each stretch between two pins is a Brownian
   bridge with a volatility of ``sigma`` ranges per session (default 0.6).
3. The bridge is folded back into ``[0, 1]`` by reflection at both edges (``u mod 2``, mirrored above 1), which keeps
   the pinned values, so the path never leaves the daily range and touches both ends.
4. ``p = low + u * (high - low)``, clipped to ``[low, high]`` against rounding, with the four pins set exactly.

So the first price equals the daily open, the last the daily close, the maximum the daily high and the minimum the
daily low, and any bars cut from the path agree with the daily bar. A day whose range is empty is flat. The seed of
each day is ``(seed, series key, row)``, so every client, every request and every restart sees the same path.

**Bars.** A bar covering seconds ``[a, b]`` opens at ``p[a]``, closes at ``p[b]`` and spans the extremes in between
(so consecutive bars share their boundary price); its volume is the day's volume spread evenly over the seconds
(integer shares, summing exactly to the day's volume) and its WAP is the mean price over the bar.
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["BarArrays", "aggregate", "bridge_path", "cumulative_volume", "day_rng"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
DEFAULT_SIGMA = 0.6


def day_rng(seed: int, key: str, row: int) -> np.random.Generator:
    """The random generator of one series' day: the same (seed, key, row) always gives the same path."""
    return np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(key.encode()), row & 0xFFFFFFFF])


def bridge_path(
    open_: float,
    high: float,
    low: float,
    close: float,
    rng: np.random.Generator,
    n: int,
    sigma: float = DEFAULT_SIGMA,
) -> FloatArray:
    """A path of ``n + 1`` prices through the day's open, high, low and close (see the module docstring)."""
    if not low <= min(open_, close) <= max(open_, close) <= high:
        raise ValueError(f"inconsistent daily bar: o={open_} h={high} l={low} c={close}")
    span = high - low
    if span <= 0.0 or n < 3:
        path = np.full(n + 1, close, dtype=np.float64)
        path[0] = open_
        return path
    t1, t2 = (int(t) for t in rng.choice(np.arange(1, n), size=2, replace=False))
    t1, t2 = min(t1, t2), max(t1, t2)
    high_first = bool(rng.random() < 0.5)
    first, second = (1.0, 0.0) if high_first else (0.0, 1.0)
    pins = [(0, (open_ - low) / span), (t1, first), (t2, second), (n, (close - low) / span)]
    u = np.empty(n + 1, dtype=np.float64)
    step = sigma / np.sqrt(n)
    for (ta, ua), (tb, ub) in itertools.pairwise(pins):
        m = tb - ta
        walk = np.concatenate([[0.0], np.cumsum(rng.standard_normal(m) * step)])
        frac = np.arange(m + 1, dtype=np.float64) / m
        u[ta : tb + 1] = ua + (ub - ua) * frac + (walk - frac * walk[-1])
    u = np.mod(u, 2.0)
    u = np.where(u > 1.0, 2.0 - u, u)
    path = np.clip(low + u * span, low, high)
    path[0], path[n] = open_, close
    path[t1], path[t2] = (high, low) if high_first else (low, high)
    return np.asarray(path, dtype=np.float64)


def cumulative_volume(daily_volume: float, seconds: IntArray | npt.NDArray[np.float64], n: int) -> IntArray:
    """Shares traded from the open up to each second: ``floor(daily_volume * s / n)``."""
    s = np.clip(np.asarray(seconds, dtype=np.float64), 0, n)
    return np.floor(daily_volume * s / n + 1e-9).astype(np.int64)


@dataclass(frozen=True, slots=True)
class BarArrays:
    """Bars of one session as parallel arrays; ``starts`` are seconds since the open."""

    starts: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: IntArray
    wap: FloatArray

    def __len__(self) -> int:
        return len(self.starts)


def aggregate(path: FloatArray, edges: IntArray, daily_volume: float) -> BarArrays:
    """Bars between consecutive ``edges`` (seconds, strictly increasing except that the last bar may be empty).

    Bar ``i`` covers ``[edges[i], edges[i + 1]]``; ``path`` holds the session's prices at whole seconds.
    """
    e = np.asarray(edges, dtype=np.int64)
    if len(e) < 2:
        empty_f = np.empty(0, dtype=np.float64)
        return BarArrays(
            np.empty(0, dtype=np.int64), empty_f, empty_f, empty_f, empty_f, np.empty(0, np.int64), empty_f
        )
    n = len(path) - 1
    starts, ends = e[:-1], e[1:]
    segment = path[: int(ends[-1]) + 1]
    opens = path[starts]
    closes = path[ends]
    highs = np.maximum(np.maximum.reduceat(segment, starts), closes)
    lows = np.minimum(np.minimum.reduceat(segment, starts), closes)
    cum = np.concatenate([[0.0], np.cumsum(path)])
    length = ends - starts
    sums = cum[ends + 1] - cum[starts]
    waps = np.where(length > 0, sums / np.maximum(length + 1, 1), opens)
    waps = np.clip(waps, lows, highs)
    vol_cum = cumulative_volume(daily_volume, e, n)
    return BarArrays(starts, opens, highs, lows, closes, np.diff(vol_cum), np.asarray(waps, dtype=np.float64))
