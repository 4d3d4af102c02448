"""The price model: what every contract trades at, at any trading time, consistent from ticks to monthly bars.

Spot instruments (stocks, forex, the index) follow a daily series from :mod:`quantdesk.gateway.sample`; inside a
session they follow the seeded Brownian bridge of :mod:`quantdesk.gateway.paths`, one price per second. Futures are
the index carried to expiry (``S * (1 + carry * years to expiry)``, rounded to the tick); options are Black-Scholes
prices of their underlying (fixed volatility and rate, rounded to the tick). Both transforms are monotone in the
underlying, so a derivative's bars stay consistent with its own daily bar too (a put's high comes from the
underlying's low).

Quotes are built around the path price: half-spread ``max(tick / 2, 0.5 bp of price)``, bid rounded down and ask
rounded up to the tick, the last trade at the path price rounded to the tick, so ``bid <= last <= ask``; the day's
open, high, low and the previous close are the unrounded bar values. Sizes are a deterministic hash of contract and
second. Rows past the end of the sample are flat at the last close (a halted market with no volume).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from quantdesk.gateway.clock import SESSION_SECONDS, SessionCalendar
from quantdesk.gateway.contracts import ContractCatalog, ContractSpec
from quantdesk.gateway.paths import DEFAULT_SIGMA, bridge_path, cumulative_volume, day_rng
from quantdesk.gateway.sample import DailySeries

__all__ = ["DailyArrays", "MarketModel", "Quote"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
HALF_SPREAD_FRACTION = 0.5e-4
_erf = np.vectorize(math.erf, otypes=[np.float64])


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book and the session's statistics at one trading time."""

    bid: float
    ask: float
    last: float
    bid_size: int
    ask_size: int
    last_size: int
    volume: int
    open: float
    high: float
    low: float
    prev_close: float
    last_time: int


@dataclass(frozen=True, slots=True)
class DailyArrays:
    """Daily bars for a run of rows."""

    rows: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray


def _mix(*values: int) -> int:
    """A small deterministic integer hash (splitmix64 steps)."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (v & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h


def _round_to_tick(values: FloatArray, tick: float) -> FloatArray:
    return np.asarray(np.round(np.round(values / tick) * tick, 10), dtype=np.float64)


class MarketModel:
    """Prices, quotes, paths and daily bars of every catalogue contract."""

    def __init__(
        self,
        catalog: ContractCatalog,
        series: dict[str, DailySeries],
        calendar: SessionCalendar,
        seed: int,
        *,
        sigma: float = DEFAULT_SIGMA,
        carry: float = 0.045,
        option_vol: float = 0.30,
        rate: float = 0.04,
        cache_size: int = 64,
    ) -> None:
        self.catalog = catalog
        self.series = series
        self.calendar = calendar
        self.seed = seed
        self.sigma = sigma
        self.carry = carry
        self.option_vol = option_vol
        self.rate = rate
        self._cache: OrderedDict[tuple[str, int], FloatArray] = OrderedDict()
        self._cache_size = cache_size
        self.n_rows = min(len(s) for s in series.values())

    # --- the underlying series -------------------------------------------------------------------------------

    def _base_daily(self, key: str, rows: IntArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        s = self.series[key]
        last = self.n_rows - 1
        r = np.clip(rows, 0, last)
        beyond = rows > last
        o, h, lo, c = s.open[r].copy(), s.high[r].copy(), s.low[r].copy(), s.close[r].copy()
        if beyond.any():
            for arr in (o, h, lo, c):
                arr[beyond] = s.close[last]
        return o, h, lo, c

    def base_path(self, key: str, row: int) -> FloatArray:
        """One session of a series at whole seconds (``SESSION_SECONDS + 1`` prices), cached."""
        cache_key = (key, row)
        path = self._cache.get(cache_key)
        if path is not None:
            self._cache.move_to_end(cache_key)
            return path
        o, h, lo, c = (float(a[0]) for a in self._base_daily(key, np.array([row], dtype=np.int64)))
        path = bridge_path(o, h, lo, c, day_rng(self.seed, key, row), SESSION_SECONDS, self.sigma)
        path.setflags(write=False)
        self._remember(cache_key, path)
        return path

    # --- per contract ----------------------------------------------------------------------------------------

    def _years_to_expiry(self, spec: ContractSpec, row: int) -> float:
        expiry = date(int(spec.last_trade_date[:4]), int(spec.last_trade_date[4:6]), int(spec.last_trade_date[6:8]))
        return max((expiry - self.calendar.date_of(row)).days, 0) / 365.0

    def transform(self, spec: ContractSpec, values: FloatArray, row: int) -> FloatArray:
        """Underlying prices on ``row`` mapped to the contract's prices (identity for spot instruments)."""
        if spec.pricing == "spot":
            return values
        tau = self._years_to_expiry(spec, row)
        if spec.pricing == "future":
            return _round_to_tick(values * (1.0 + self.carry * tau), spec.min_tick)
        s = np.maximum(values, 1e-9)
        k = spec.strike
        if tau <= 0.0:
            price = np.maximum(s - k, 0.0) if spec.right == "C" else np.maximum(k - s, 0.0)
        else:
            vol_t = self.option_vol * math.sqrt(tau)
            d1 = (np.log(s / k) + (self.rate + 0.5 * self.option_vol**2) * tau) / vol_t
            d2 = d1 - vol_t
            disc = k * math.exp(-self.rate * tau)

            def cdf(x: FloatArray) -> FloatArray:
                return np.asarray(0.5 * (1.0 + _erf(x / math.sqrt(2.0))), dtype=np.float64)

            price = s * cdf(d1) - disc * cdf(d2) if spec.right == "C" else disc * cdf(-d2) - s * cdf(-d1)
        return _round_to_tick(np.maximum(price, 0.0), spec.min_tick)

    def is_increasing(self, spec: ContractSpec) -> bool:
        """Whether the contract's price rises with its underlying (false only for puts)."""
        return not (spec.pricing == "option" and spec.right == "P")

    def session_path(self, spec: ContractSpec, row: int) -> FloatArray:
        """The contract's prices at every second of a session (derived contracts' paths are cached too)."""
        if spec.pricing == "spot":
            return self.base_path(spec.series, row)
        key = (f"#{spec.con_id}", row)
        path = self._cache.get(key)
        if path is None:
            path = self.transform(spec, self.base_path(spec.series, row), row)
            path.setflags(write=False)
            self._remember(key, path)
        return path

    def _remember(self, key: tuple[str, int], path: FloatArray) -> None:
        self._cache[key] = path
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def daily(self, spec: ContractSpec, rows: IntArray) -> DailyArrays:
        """Daily bars of ``rows`` (complete sessions)."""
        rows = np.asarray(rows, dtype=np.int64)
        o, h, lo, c = self._base_daily(spec.series, rows)
        if spec.pricing != "spot":
            parts = [np.empty_like(o) for _ in range(4)]
            for i, row in enumerate(rows):
                vals = self.transform(spec, np.array([o[i], h[i], lo[i], c[i]]), int(row))
                parts[0][i], parts[3][i] = vals[0], vals[3]
                parts[1][i], parts[2][i] = (vals[1], vals[2]) if self.is_increasing(spec) else (vals[2], vals[1])
            o, h, lo, c = parts
        volume = np.where(rows < self.n_rows, spec.daily_volume, 0.0)
        return DailyArrays(rows, o, h, lo, c, volume)

    def daily_volume(self, spec: ContractSpec, row: int) -> float:
        """Shares (or contracts) traded in a full session of ``row``."""
        return spec.daily_volume if 0 <= row < self.n_rows else 0.0

    def price_at(self, spec: ContractSpec, tt: float) -> float:
        """The contract's (last/mid) price at a trading time."""
        row, secs = self.calendar.split(tt)
        base = self.base_path(spec.series, row)[min(int(secs), SESSION_SECONDS)]
        return float(self.transform(spec, np.array([base]), row)[0])

    def last_price(self, con_id: int, tt: float) -> float:
        """The price a contract is marked at by conId (see :meth:`mark_price`); NaN when unknown."""
        spec = self.catalog.get(con_id)
        return math.nan if spec is None else self.mark_price(spec, tt)

    def mark_price(self, spec: ContractSpec, tt: float) -> float:
        """The venue's mark: the mid of the quote at ``tt`` (the model's price when the bid is 0).

        Positions, the price band and the margin check value a contract at the mid of the quote orders fill
        against, as the simulated broker marks at the mid of the quotes it is fed, so both agree on every figure."""
        price = self.price_at(spec, tt)
        bid, ask = self.bid_ask(spec, price)
        if bid <= 0:
            return price
        return float((Decimal(repr(bid)) + Decimal(repr(ask))) / 2)

    def half_spread(self, spec: ContractSpec, price: float) -> float:
        """Half the quoted spread around ``price``."""
        return max(spec.min_tick / 2.0, abs(price) * HALF_SPREAD_FRACTION)

    def bid_ask(self, spec: ContractSpec, price: float) -> tuple[float, float]:
        """The bid (rounded down) and ask (rounded up) to the tick around ``price``; bid is never below 0."""
        hs = self.half_spread(spec, price)
        tick = spec.min_tick
        bid = round(math.floor((price - hs) / tick + 1e-9) * tick, 10)
        ask = round(math.ceil((price + hs) / tick - 1e-9) * tick, 10)
        return max(bid, 0.0), max(ask, tick)

    def _lot(self, spec: ContractSpec) -> int:
        return {"STK": 100, "CASH": 1_000_000}.get(spec.sec_type, 1)

    def quote(self, spec: ContractSpec, tt: float) -> Quote:
        """Bid, ask, last, sizes, day volume, open/high/low and the previous close at trading time ``tt``."""
        row, secs = self.calendar.split(tt)
        sec = min(int(secs), SESSION_SECONDS)
        base = self.base_path(spec.series, row)
        seen = base[: sec + 1]
        open_, high, low, last = (
            float(v) for v in self.transform(spec, np.array([base[0], seen.max(), seen.min(), base[sec]]), row)
        )
        if not self.is_increasing(spec):
            high, low = low, high
        bid, ask = self.bid_ask(spec, last)
        last = min(max(round(round(last / spec.min_tick) * spec.min_tick, 10), bid), ask)
        lot = self._lot(spec)
        prev = self.daily(spec, np.array([row - 1], dtype=np.int64)).close[0] if row > 0 else open_
        volume = int(cumulative_volume(self.daily_volume(spec, row), np.array([sec]), SESSION_SECONDS)[0])
        return Quote(
            bid=bid,
            ask=ask,
            last=last,
            bid_size=lot * (1 + _mix(spec.con_id, row, sec, 1) % 9),
            ask_size=lot * (1 + _mix(spec.con_id, row, sec, 2) % 9),
            last_size=lot * (1 + _mix(spec.con_id, row, sec, 3) % 3),
            volume=volume,
            open=open_,
            high=high,
            low=low,
            prev_close=float(prev),
            last_time=int(self.calendar.epoch(row * SESSION_SECONDS + sec)),
        )
