"""Chunking long ranges to IB's duration limits, and the coverage log that makes backfills resumable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from quantdesk.brokers.ib.historical import MAX_CHUNK, Coverage, duration_string, plan_chunks, series_key
from quantdesk.domain.identifiers import InstrumentId
from quantdesk.domain.market import BarSize

D = datetime(2025, 3, 3, tzinfo=UTC)


def test_every_bar_size_has_a_chunk_limit() -> None:
    assert set(MAX_CHUNK) == set(BarSize)
    assert MAX_CHUNK[BarSize.MIN_1] == timedelta(days=1)
    assert MAX_CHUNK[BarSize.DAY_1] == timedelta(days=365)
    assert MAX_CHUNK[BarSize.SEC_5] == timedelta(hours=1)


def test_duration_strings() -> None:
    assert duration_string(timedelta(hours=1), BarSize.SEC_5) == "3600 S"
    assert duration_string(timedelta(days=1), BarSize.MIN_1) == "86400 S"
    assert duration_string(timedelta(days=7), BarSize.MIN_5) == "7 D"
    assert duration_string(timedelta(days=20, hours=1), BarSize.DAY_1) == "21 D"
    assert duration_string(timedelta(days=365), BarSize.DAY_1) == "1 Y"
    assert duration_string(timedelta(days=1), BarSize.DAY_1) == "1 D"


def test_chunks_sit_on_a_fixed_grid() -> None:
    chunks = plan_chunks(D + timedelta(hours=6), D + timedelta(days=3, hours=6), BarSize.MIN_1)
    assert len(chunks) == 4
    assert chunks[0].start == D + timedelta(hours=6)
    assert chunks[0].end == D + timedelta(days=1)
    assert chunks[1].start == D + timedelta(days=1)
    assert chunks[-1].end == D + timedelta(days=3, hours=6)
    assert all(c.end - c.start <= timedelta(days=1) for c in chunks)
    assert plan_chunks(D, D, BarSize.MIN_1) == []
    years = plan_chunks(D - timedelta(days=3 * 365), D, BarSize.DAY_1)
    assert len(years) == 4


def test_series_keys() -> None:
    iid = InstrumentId("AAPL.STK.SMART.USD")
    assert series_key(iid) == "AAPL.STK.SMART.USD"
    assert series_key(iid, "midpoint") == "AAPL.STK.SMART.USD:MIDPOINT"
    assert series_key(iid, "TRADES", use_rth=False) == "AAPL.STK.SMART.USD:ALLHOURS"


def test_coverage_gaps_merge_and_persist(tmp_path: Path) -> None:
    path = tmp_path / "ib" / Coverage.FILE_NAME
    cov = Coverage(path)
    k = Coverage.key("AAPL.STK.SMART.USD", BarSize.DAY_1)
    day = timedelta(days=1)
    assert cov.gaps(k, D, D + 10 * day) == [(D, D + 10 * day)]
    cov.add(k, D + 2 * day, D + 4 * day)
    cov.add(k, D + 4 * day, D + 5 * day)  # touching: merged
    cov.add(k, D + 7 * day, D + 8 * day)
    assert cov.spans(k) == [(D + 2 * day, D + 5 * day), (D + 7 * day, D + 8 * day)]
    assert cov.gaps(k, D, D + 10 * day) == [(D, D + 2 * day), (D + 5 * day, D + 7 * day), (D + 8 * day, D + 10 * day)]
    assert cov.gaps(k, D + 3 * day, D + 4 * day) == []
    again = Coverage(path)
    assert again.spans(k) == cov.spans(k)
