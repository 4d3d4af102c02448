"""Aggregating 5-second bars into any bar size (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from quantdesk.brokers.ib.bar_aggregation import BarAggregator, aggregate_bars, bucket_start
from quantdesk.domain.identifiers import InstrumentId
from quantdesk.domain.market import Bar, BarSize
from quantdesk.errors import ValidationError

IID = InstrumentId("AAPL.STK.SMART.USD")
T0 = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)


def five(i: int, o: float, h: float, lo: float, c: float, v: float = 100) -> Bar:
    return Bar.of(IID, BarSize.SEC_5, T0 + timedelta(seconds=5 * i), o, h, lo, c, v)


def test_bucket_start() -> None:
    ts = datetime(2025, 3, 3, 14, 37, 42, tzinfo=UTC)
    assert bucket_start(ts, BarSize.MIN_1) == datetime(2025, 3, 3, 14, 37, tzinfo=UTC)
    assert bucket_start(ts, BarSize.MIN_5) == datetime(2025, 3, 3, 14, 35, tzinfo=UTC)
    assert bucket_start(ts, BarSize.HOUR_1) == datetime(2025, 3, 3, 14, tzinfo=UTC)
    assert bucket_start(ts, BarSize.DAY_1) == datetime(2025, 3, 3, tzinfo=UTC)
    ny = ZoneInfo("America/New_York")
    assert bucket_start(ts, BarSize.HOUR_4, ny) == datetime(2025, 3, 3, 13, tzinfo=UTC)  # 08:00 New York
    late = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)  # still 3 March in New York
    assert bucket_start(late, BarSize.DAY_1, ny) == datetime(2025, 3, 3, tzinfo=UTC)


def test_a_minute_is_emitted_with_its_last_five_second_bar() -> None:
    agg = BarAggregator(IID, BarSize.MIN_1)
    done: list[Bar] = []
    for i in range(12):
        done += agg.add(five(i, 100 + i, 101 + i, 99 + i, 100.5 + i, 10))
        if i < 11:
            assert done == []
    (minute,) = done
    assert (minute.ts, minute.bar_size) == (T0, BarSize.MIN_1)
    assert (minute.open, minute.high, minute.low, minute.close, minute.volume) == (
        Decimal(100), Decimal(112), Decimal(99), Decimal("111.5"), Decimal(120),
    )  # fmt: skip
    assert agg.forming is None


def test_gaps_duplicates_and_flush() -> None:
    agg = BarAggregator(IID, BarSize.MIN_1)
    assert agg.add(five(0, 10, 11, 9, 10)) == []
    assert agg.add(five(0, 10, 11, 9, 10)) == []  # a repeated bar is ignored
    (first,) = agg.add(five(20, 20, 21, 19, 20))  # the next minute: the first one was incomplete
    assert (first.ts, first.close, first.volume) == (T0, Decimal(10), Decimal(100))
    assert agg.forming is not None
    last = agg.flush()
    assert last is not None
    assert last.ts == T0 + timedelta(minutes=1)
    assert agg.flush() is None


def test_midpoint_volume_of_minus_one_counts_as_zero() -> None:
    bars = [five(i, 10, 10.5, 9.5, 10, 0) for i in range(3)]
    (bar,) = aggregate_bars(bars, BarSize.SEC_15)
    assert bar.volume == 0


def test_batch_aggregation_to_five_minutes() -> None:
    bars = [five(i, 100, 100 + (i % 7), 100 - (i % 5), 100) for i in range(150)]  # 12.5 minutes
    out = aggregate_bars(bars, BarSize.MIN_5)
    assert [b.ts for b in out] == [T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=10)]
    assert sum(b.volume for b in out) == 150 * 100
    assert out[0].high == 106
    assert aggregate_bars(bars, BarSize.MIN_5, partial=False)[-1].ts == T0 + timedelta(minutes=5)


def test_sizes_that_cannot_be_built() -> None:
    with pytest.raises(ValidationError, match="week"):
        BarAggregator(IID, BarSize.WEEK_1)
    with pytest.raises(ValidationError, match="multiple"):
        BarAggregator(IID, BarSize.SEC_1)
