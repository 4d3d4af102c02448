"""Aggregate bars (IB's 5-second real-time bars) into any larger bar size: pure functions, no I/O.

IB streams real-time bars only at 5 seconds (``reqRealTimeBars``). A strategy that wants 1-minute or 1-hour bars
gets them here: each incoming bar lands in the *bucket* of the target size that contains its start; a bucket is
complete when a bar ending exactly at its end arrives (emitted at once, no waiting for the next bar) or when a bar
of a later bucket arrives (a gap). Buckets are aligned to the wall clock from local midnight in ``tz`` (the
exchange's zone; UTC by default), which is how IB aligns its own bars. Daily buckets are the local date, stamped
00:00 UTC as the bar store stamps daily bars; their end is only known from the next day's first bar or
:meth:`BarAggregator.flush`. Weekly and monthly sizes are refused: aggregate daily bars for those.

Open is the first bar's open, close the last bar's close, high/low the extremes, volume the sum (IB's -1 volume of
MIDPOINT/BID/ASK bars counts as 0).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

from quantdesk.domain.identifiers import InstrumentId
from quantdesk.domain.market import Bar, BarSize
from quantdesk.errors import ValidationError

__all__ = ["BarAggregator", "aggregate_bars", "bucket_start"]

_DAY = timedelta(days=1)


def _check(target: BarSize, source: BarSize) -> None:
    if target in (BarSize.WEEK_1, BarSize.MONTH_1):
        raise ValidationError(
            f"cannot aggregate real-time bars into {target.value} bars",
            field="bar_size",
            value=target.value,
            hint="aggregate into 1 day bars, then group days by week or month",
        )
    size, step = target.duration, source.duration
    if size < step or size % step:
        raise ValidationError(
            f"{target.value} is not a whole multiple of {source.value}",
            field="bar_size",
            value=target.value,
            hint=f"pick a bar size that is a multiple of {source.value}, e.g. 1 min",
        )


def bucket_start(ts: datetime, bar_size: BarSize, tz: tzinfo = UTC) -> datetime:
    """Start (UTC) of the ``bar_size`` bucket that contains ``ts``; daily buckets are stamped 00:00 UTC."""
    local = ts.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if bar_size.duration >= _DAY:
        return datetime(local.year, local.month, local.day, tzinfo=UTC)
    size = bar_size.duration
    offset = (local - midnight) // size * size
    return (midnight + offset).astimezone(UTC)


@dataclass(slots=True)
class _Forming:
    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    def add(self, bar: Bar) -> None:
        self.high = max(self.high, bar.high)
        self.low = min(self.low, bar.low)
        self.close = bar.close
        self.volume += max(bar.volume, Decimal(0))


class BarAggregator:
    """Folds bars of ``source`` size into bars of ``bar_size``; :meth:`add` returns the bars it completed."""

    def __init__(
        self, instrument_id: InstrumentId, bar_size: BarSize, *, source: BarSize = BarSize.SEC_5, tz: tzinfo = UTC
    ) -> None:
        _check(bar_size, source)
        self.instrument_id = instrument_id
        self.bar_size = bar_size
        self.source = source
        self.tz = tz
        self._forming: _Forming | None = None
        self._last_ts: datetime | None = None

    @property
    def forming(self) -> Bar | None:
        """The bar being built (incomplete), if any."""
        return None if self._forming is None else self._bar(self._forming)

    def _bar(self, f: _Forming) -> Bar:
        return Bar(self.instrument_id, self.bar_size, f.start, f.open, f.high, f.low, f.close, f.volume)

    def _end_of(self, start: datetime) -> datetime | None:
        if self.bar_size.duration >= _DAY:
            return None
        return start + self.bar_size.duration

    def add(self, bar: Bar) -> list[Bar]:
        """Take one source bar (oldest first; a repeated or older bar is ignored) and return completed bars."""
        if self._last_ts is not None and bar.ts <= self._last_ts:
            return []
        self._last_ts = bar.ts
        done: list[Bar] = []
        start = bucket_start(bar.ts, self.bar_size, self.tz)
        if self._forming is not None and self._forming.start != start:
            done.append(self._bar(self._forming))
            self._forming = None
        if self._forming is None:
            self._forming = _Forming(start, bar.open, bar.high, bar.low, bar.close, max(bar.volume, Decimal(0)))
        else:
            self._forming.add(bar)
        end = self._end_of(start)
        if end is not None and bar.ts + self.source.duration >= end:
            done.append(self._bar(self._forming))
            self._forming = None
        return done

    def flush(self) -> Bar | None:
        """Close the forming bar now (end of stream or of session) and return it."""
        forming, self._forming = self._forming, None
        return None if forming is None else self._bar(forming)


def aggregate_bars(
    bars: Iterable[Bar], bar_size: BarSize, *, source: BarSize | None = None, tz: tzinfo = UTC, partial: bool = True
) -> list[Bar]:
    """Aggregate a batch of bars into ``bar_size`` (with the last, possibly incomplete bar when ``partial``)."""
    items = sorted(bars, key=lambda b: b.ts)
    if not items:
        return []
    agg = BarAggregator(items[0].instrument_id, bar_size, source=source or items[0].bar_size, tz=tz)
    out: list[Bar] = []
    for bar in items:
        out.extend(agg.add(bar))
    last = agg.flush()
    if last is not None and partial:
        out.append(last)
    return out
