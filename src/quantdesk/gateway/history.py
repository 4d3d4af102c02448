"""Historical bars for ``reqHistoricalData``, ``keepUpToDate`` updates, real-time bars and ``reqHeadTimeStamp``.

Bars are cut from the model's per-second paths (intraday sizes, aligned to the wall clock from midnight, the first
bar of a session starting at the open) or from its daily bars (1 day, 1 week grouped by calendar week, 1 month by
calendar month, each labelled with its first session's date). The session in progress yields a partial bar that
ends at the simulated now; no bar ever shows data from after the request's end.

Durations: ``N S`` counts trading seconds back from the end (the simulation has no nights), ``N D`` the last ``N``
sessions, ``N W``/``N M``/``N Y`` calendar weeks, months and years. ``whatToShow``: TRADES and ADJUSTED_LAST give the
path (the sample is adjusted already) with volume, WAP and count; MIDPOINT, BID and ASK give the path or the quote's
sides with volume, WAP and count of -1; BID_ASK gives the average bid as open, the highest ask as high, the lowest
bid as low and the average ask as close.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from quantdesk.domain.market import BarSize
from quantdesk.gateway.clock import NEW_YORK, OPEN_SECOND_OF_DAY, SESSION_SECONDS, SessionCalendar
from quantdesk.gateway.contracts import ContractSpec
from quantdesk.gateway.market_data import HALF_SPREAD_FRACTION, MarketModel
from quantdesk.gateway.paths import BarArrays, aggregate, cumulative_volume
from quantdesk.gateway.replies import HistoricalBar, RealTimeBar

__all__ = [
    "WHAT_TO_SHOW",
    "HistoryBuilder",
    "TimedBar",
    "format_instant",
    "parse_duration",
    "parse_end",
    "window_start",
]

FloatArray = npt.NDArray[np.float64]
WHAT_TO_SHOW = frozenset({"TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST"})
_TRADED = frozenset({"TRADES", "ADJUSTED_LAST"})
_DURATION = re.compile(r"^\s*(\d+)\s*([SDWMY])\s*$", re.IGNORECASE)
_TZ_ALIASES = {"EST": "America/New_York", "EDT": "America/New_York", "GMT": "UTC", "Z": "UTC"}


@dataclass(frozen=True, slots=True)
class TimedBar:
    """A bar and the trading time at which it starts."""

    start_tt: float
    bar: HistoricalBar


def parse_duration(text: str) -> tuple[int, str]:
    """``"30 D"`` → ``(30, "D")``; raises ``ValueError`` for anything IB would refuse."""
    m = _DURATION.match(text)
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"invalid duration {text!r}: use N S|D|W|M|Y")
    return int(m.group(1)), m.group(2).upper()


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(_TZ_ALIASES.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def parse_end(text: str, now: datetime) -> datetime:
    """An ``endDateTime`` as an aware instant: empty means now; ``YYYYMMDD HH:MM:SS[ zone]``, ``YYYYMMDD-HH:MM:SS``
    (UTC) and ``YYYYMMDD`` (end of day) are accepted; without a zone the exchange's (New York) is used."""
    t = text.strip()
    if not t:
        return now
    try:
        if re.fullmatch(r"\d{8}", t):
            return datetime.strptime(t, "%Y%m%d").replace(hour=23, minute=59, second=59, tzinfo=NEW_YORK)
        if re.fullmatch(r"\d{8}-\d{2}:\d{2}:\d{2}", t):
            return datetime.strptime(t, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
        parts = t.split()
        stamp = datetime.strptime(" ".join(parts[:2]), "%Y%m%d %H:%M:%S")
    except ValueError:
        raise ValueError(f"invalid endDateTime {text!r}: use 'YYYYMMDD HH:MM:SS UTC'") from None
    if len(parts) > 3:
        raise ValueError(f"invalid endDateTime {text!r}: use 'YYYYMMDD HH:MM:SS UTC'")
    return stamp.replace(tzinfo=_zone(parts[2]) if len(parts) == 3 else NEW_YORK)


def _months_back(day: date, months: int) -> date:
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    m += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(y, m, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def window_start(calendar: SessionCalendar, end_tt: float, n: int, unit: str) -> float:
    """The trading time a request of duration ``n unit`` ending at ``end_tt`` starts from."""
    if unit == "S":
        return end_tt - n
    end_row, end_s = calendar.split(end_tt)
    if unit == "D":
        last = end_row if end_s > 0 else end_row - 1
        return float((last - n + 1) * SESSION_SECONDS)
    end_dt = calendar.to_datetime(end_tt)
    if unit == "W":
        start = end_dt - timedelta(weeks=n)
    else:
        months = n if unit == "M" else 12 * n
        start = datetime.combine(_months_back(end_dt.date(), months), end_dt.timetz())
    return calendar.to_tt(start)


def format_instant(instant: datetime, format_date: int, zone_name: str) -> str:
    """A bar time as IB writes it: ``YYYYMMDD HH:MM:SS zone`` (formatDate 1) or epoch seconds (2)."""
    if format_date == 2:
        return str(int(instant.timestamp()))
    return f"{instant.astimezone(_zone(zone_name)):%Y%m%d %H:%M:%S} {zone_name}"


class HistoryBuilder:
    """Cuts bars from a :class:`MarketModel`."""

    def __init__(self, model: MarketModel) -> None:
        self.model = model
        self.calendar = model.calendar

    # --- whatToShow ------------------------------------------------------------------------------------------

    def _sides(
        self, spec: ContractSpec, what: str, o: FloatArray, h: FloatArray, lo: FloatArray, c: FloatArray, w: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        if what in ("TRADES", "ADJUSTED_LAST", "MIDPOINT"):
            return o, h, lo, c

        def hs(x: FloatArray) -> FloatArray:
            return np.asarray(np.maximum(spec.min_tick / 2.0, np.abs(x) * HALF_SPREAD_FRACTION), dtype=np.float64)

        if what == "BID":
            return o - hs(o), h - hs(h), lo - hs(lo), c - hs(c)
        if what == "ASK":
            return o + hs(o), h + hs(h), lo + hs(lo), c + hs(c)
        return w - hs(w), h + hs(h), lo - hs(lo), w + hs(w)  # BID_ASK

    def _rows_to_bars(
        self,
        spec: ContractSpec,
        what: str,
        starts_tt: list[float],
        labels: list[str],
        arrays: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray],
    ) -> list[TimedBar]:
        o, h, lo, c, vol, wap = arrays
        o, h, lo, c = self._sides(spec, what, o, h, lo, c, wap)
        traded = what in _TRADED
        out = []
        for i, label in enumerate(labels):
            v = float(vol[i])
            bar = HistoricalBar(
                date=label,
                open=float(o[i]),
                high=float(h[i]),
                low=float(lo[i]),
                close=float(c[i]),
                volume=v if traded else -1.0,
                wap=float(wap[i]) if traded else -1.0,
                count=(max(1, int(v) // 100) if v > 0 else 0) if traded else -1,
            )
            out.append(TimedBar(starts_tt[i], bar))
        return out

    # --- intraday --------------------------------------------------------------------------------------------

    @staticmethod
    def _edges(length: int, s_from: float, s_to: float) -> npt.NDArray[np.int64] | None:
        lo = math.floor(s_from)
        hi = math.floor(s_to)
        if hi <= lo and not (hi == lo and s_to > s_from):
            return None
        first = max(0, (OPEN_SECOND_OF_DAY + lo) // length * length - OPEN_SECOND_OF_DAY)
        nxt = (OPEN_SECOND_OF_DAY + first) // length * length - OPEN_SECOND_OF_DAY + length
        grid = np.arange(nxt, hi, length, dtype=np.int64)
        return np.concatenate([[first], grid, [hi]]).astype(np.int64)

    def _intraday(
        self, spec: ContractSpec, start_tt: float, end_tt: float, length: int, what: str, fmt: int
    ) -> list[TimedBar]:
        start_row, start_s = self.calendar.split(max(start_tt, 0.0))
        end_row, end_s = self.calendar.split(end_tt)
        out: list[TimedBar] = []
        for row in range(start_row, end_row + 1):
            s_from = start_s if row == start_row else 0.0
            s_to = end_s if row == end_row else float(SESSION_SECONDS)
            edges = self._edges(length, s_from, s_to)
            if edges is None:
                continue
            path = self.model.session_path(spec, row)
            bars: BarArrays = aggregate(path, edges, self.model.daily_volume(spec, row))
            opened = self.calendar.open_of(row)
            labels = [format_instant(opened + timedelta(seconds=int(s)), fmt, spec.time_zone_id) for s in bars.starts]
            starts_tt = [float(row * SESSION_SECONDS + s) for s in bars.starts]
            arrays = (bars.open, bars.high, bars.low, bars.close, bars.volume.astype(np.float64), bars.wap)
            out += self._rows_to_bars(spec, what, starts_tt, labels, arrays)
        return out

    # --- daily and longer ------------------------------------------------------------------------------------

    def _daily_rows(self, spec: ContractSpec, start_tt: float, end_tt: float) -> tuple[list[int], list[FloatArray]]:
        start_row = max(self.calendar.split(max(start_tt, 0.0))[0], 0)
        end_row, end_s = self.calendar.split(end_tt)
        last_full = end_row - 1
        rows = np.arange(start_row, last_full + 1, dtype=np.int64)
        d = self.model.daily(spec, rows)
        cols = [d.open, d.high, d.low, d.close, d.volume]
        row_list = [int(r) for r in rows]
        if end_s > 0 and end_row >= start_row:
            path = self.model.session_path(spec, end_row)
            sec = min(int(end_s), SESSION_SECONDS)
            seen = path[: sec + 1]
            vol = cumulative_volume(self.model.daily_volume(spec, end_row), np.array([sec]), SESSION_SECONDS)[0]
            partial = [path[0], seen.max(), seen.min(), path[sec], float(vol)]
            cols = [np.append(col, val) for col, val in zip(cols, partial, strict=True)]
            row_list.append(end_row)
        return row_list, cols

    def _long(self, spec: ContractSpec, start_tt: float, end_tt: float, size: BarSize, what: str) -> list[TimedBar]:
        rows, (o, h, lo, c, vol) = self._daily_rows(spec, start_tt, end_tt)
        if not rows:
            return []
        dates = [self.calendar.date_of(r) for r in rows]
        if size is BarSize.DAY_1:
            keys: list[object] = list(range(len(rows)))
        elif size is BarSize.WEEK_1:
            keys = [d - timedelta(days=d.weekday()) for d in dates]
        else:
            keys = [(d.year, d.month) for d in dates]
        groups: list[list[int]] = []
        for i, key in enumerate(keys):
            if i and key == keys[i - 1]:
                groups[-1].append(i)
            else:
                groups.append([i])
        go = np.array([o[g[0]] for g in groups])
        gh = np.array([h[g].max() for g in groups])
        gl = np.array([lo[g].min() for g in groups])
        gc = np.array([c[g[-1]] for g in groups])
        gv = np.array([vol[g].sum() for g in groups])
        gw = np.clip((gh + gl + gc) / 3.0, gl, gh)
        labels = [f"{dates[g[0]]:%Y%m%d}" for g in groups]
        starts = [float(rows[g[0]] * SESSION_SECONDS) for g in groups]
        return self._rows_to_bars(spec, what, starts, labels, (go, gh, gl, gc, gv, gw))

    # --- public ----------------------------------------------------------------------------------------------

    def bars(
        self, spec: ContractSpec, start_tt: float, end_tt: float, size: BarSize, what: str, format_date: int = 1
    ) -> list[TimedBar]:
        """Every bar that starts before ``end_tt`` and ends after ``start_tt``, cut at ``end_tt``."""
        if end_tt <= start_tt:
            return []
        if size in (BarSize.DAY_1, BarSize.WEEK_1, BarSize.MONTH_1):
            return self._long(spec, start_tt, end_tt, size, what)
        length = int(size.duration.total_seconds())
        return self._intraday(spec, start_tt, end_tt, length, what, format_date)

    def bar_start(self, tt: float, size: BarSize) -> float:
        """The trading time at which the bar of ``size`` containing ``tt`` starts."""
        row, secs = self.calendar.split(tt)
        if size is BarSize.DAY_1:
            return float(row * SESSION_SECONDS)
        if size in (BarSize.WEEK_1, BarSize.MONTH_1):
            day = self.calendar.date_of(row)
            first = day - timedelta(days=day.weekday()) if size is BarSize.WEEK_1 else day.replace(day=1)
            return float(max(self.calendar.row_of_date(first - timedelta(days=1)) + 1, 0) * SESSION_SECONDS)
        length = int(size.duration.total_seconds())
        start = max(0, (OPEN_SECOND_OF_DAY + int(secs)) // length * length - OPEN_SECOND_OF_DAY)
        return float(row * SESSION_SECONDS + start)

    def forming(self, spec: ContractSpec, tt: float, size: BarSize, what: str, format_date: int = 1) -> TimedBar:
        """The bar containing ``tt``, with the data up to ``tt`` (a bar of zero length at its very start)."""
        start = self.bar_start(tt, size)
        found = self.bars(spec, start, max(tt, start + 1e-6), size, what, format_date)
        return found[-1]

    def realtime(self, spec: ContractSpec, start_tt: float, what: str) -> RealTimeBar:
        """The 5-second bar starting at ``start_tt`` (a multiple of 5)."""
        row, secs = self.calendar.split(start_tt)
        s = int(secs)
        bars = aggregate(self.model.session_path(spec, row), np.array([s, s + 5]), self.model.daily_volume(spec, row))
        o, h, lo, c = self._sides(spec, what, bars.open, bars.high, bars.low, bars.close, bars.wap)
        traded = what in _TRADED
        vol = float(bars.volume[0])
        return RealTimeBar(
            time=int(self.calendar.epoch(start_tt)),
            open=float(o[0]),
            high=float(h[0]),
            low=float(lo[0]),
            close=float(c[0]),
            volume=vol if traded else -1.0,
            wap=float(bars.wap[0]) if traded else -1.0,
            count=(max(1, int(vol) // 100) if vol > 0 else 0) if traded else -1,
        )

    def head_timestamp(self, spec: ContractSpec, format_date: int) -> str:
        """The first instant with data (the open of the sample's first row)."""
        return format_instant(self.calendar.open_of(0), format_date, spec.time_zone_id)
