"""Bar sources: the bundled S&P 500 sample (real prices), user CSV/Parquet files, and the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantdesk.data import (
    BAR_COLUMNS,
    SAMPLE_SOURCE_NAME,
    BarSource,
    FileSource,
    SampleSource,
    available_sources,
    get_source,
    load_sample_prices,
    read_bar_file,
    register_source,
    sample_symbols,
    unregister_source,
)
from quantdesk.domain.market import BarSize
from quantdesk.errors import DataError, NotFound

AAPL_CLOSE_2022_12_28 = 125.674  # observed in skfolio's sp500_dataset.csv.gz


@pytest.fixture(scope="module")
def skfolio_prices() -> pd.DataFrame:
    from skfolio.datasets import load_sp500_dataset

    return load_sp500_dataset()


@pytest.fixture(scope="module")
def sample_bars() -> dict[str, pd.DataFrame]:
    return SampleSource().load()


# ------------------------------------------------------------------ the sample
def test_sample_prices_match_skfolio(skfolio_prices: pd.DataFrame) -> None:
    prices = load_sample_prices()
    assert prices.shape == (8313, 20)
    assert list(prices.columns) == list(skfolio_prices.columns)
    assert prices.index[0] == pd.Timestamp("1990-01-02", tz="UTC")
    assert prices.index[-1] == pd.Timestamp("2022-12-28", tz="UTC")
    assert str(prices.index.tz) == "UTC"
    assert prices.index.name == "ts"
    np.testing.assert_array_equal(prices.to_numpy(), skfolio_prices.to_numpy(dtype=float))
    np.testing.assert_array_equal(prices.index.tz_localize(None).date, skfolio_prices.index.date)
    assert prices.loc["2022-12-28", "AAPL"] == skfolio_prices.loc["2022-12-28", "AAPL"]
    assert prices.loc["2022-12-28", "AAPL"] == AAPL_CLOSE_2022_12_28


def test_sample_prices_subset_and_window() -> None:
    prices = load_sample_prices(["msft", "AAPL"], start="2022-01-01", end="2022-12-31")
    assert list(prices.columns) == ["MSFT", "AAPL"]
    assert prices.index[0] == pd.Timestamp("2022-01-03", tz="UTC")
    assert prices.index[-1] == pd.Timestamp("2022-12-28", tz="UTC")
    assert len(prices) == 249


def test_sample_source_shapes(sample_bars: dict[str, pd.DataFrame]) -> None:
    assert SampleSource().name == SAMPLE_SOURCE_NAME
    assert sample_symbols() == list(sample_bars)
    assert len(sample_bars) == 20
    aapl = sample_bars["AAPL"]
    assert list(aapl.columns) == [*BAR_COLUMNS, "adjusted"]
    assert len(aapl) == 8313
    assert all(aapl[c].dtype == np.float64 for c in BAR_COLUMNS)
    assert aapl["adjusted"].all()
    assert aapl.index.is_monotonic_increasing
    assert aapl.index.is_unique
    assert aapl["close"].iloc[-1] == AAPL_CLOSE_2022_12_28


def test_sample_ohlc_is_derived_from_closes(sample_bars: dict[str, pd.DataFrame]) -> None:
    closes = load_sample_prices()
    for symbol, bars in sample_bars.items():
        close = closes[symbol]
        np.testing.assert_array_equal(bars["close"].to_numpy(), close.to_numpy())
        assert bars["open"].iloc[0] == close.iloc[0]
        np.testing.assert_array_equal(bars["open"].to_numpy()[1:], close.to_numpy()[:-1])
        np.testing.assert_array_equal(bars["high"], np.maximum(bars["open"], bars["close"]))
        np.testing.assert_array_equal(bars["low"], np.minimum(bars["open"], bars["close"]))
        assert (bars["volume"] == 1_000_000.0).all()
    # One concrete bar: AAPL on 2022-12-28 opened at the previous close and fell.
    bar = sample_bars["AAPL"].loc["2022-12-28"]
    assert (bar["open"], bar["high"], bar["low"], bar["close"]) == (129.652, 129.652, 125.674, 125.674)


def test_sample_window_keeps_the_real_previous_close() -> None:
    bars = SampleSource().load(["AAPL"], start="2022-12-27")["AAPL"]
    assert len(bars) == 2
    assert bars["open"].iloc[0] == 131.477  # the close of 2022-12-23, not the day's own close


def test_sample_unknown_symbol_lists_available() -> None:
    with pytest.raises(NotFound) as info:
        SampleSource().load(["AAPL", "TSLA"])
    assert info.value.field == "symbols"
    assert "TSLA" in str(info.value)
    assert "MSFT" in str(info.value.hint)


# ------------------------------------------------------------------ registry
def test_registry_knows_the_sample() -> None:
    assert SAMPLE_SOURCE_NAME in available_sources()
    source = get_source(SAMPLE_SOURCE_NAME)
    assert isinstance(source, SampleSource)
    assert isinstance(source, BarSource)


def test_registry_unknown_name_lists_registered() -> None:
    with pytest.raises(NotFound) as info:
        get_source("nope")
    assert info.value.field == "source"
    assert SAMPLE_SOURCE_NAME in str(info.value.hint)


def test_register_custom_source(tmp_path: Path) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n")
    register_source("test:x", lambda: FileSource(csv, "X"))
    try:
        assert "test:x" in available_sources()
        with pytest.raises(DataError, match="already registered"):
            register_source("test:x", lambda: FileSource(csv, "X"))
        bars = get_source("test:x").load()
        assert list(bars) == ["X"]
        assert bars["X"]["close"].iloc[0] == 1.5
    finally:
        unregister_source("test:x")
    assert "test:x" not in available_sources()


# ------------------------------------------------------------------ files
def test_csv_with_yahoo_spellings(tmp_path: Path) -> None:
    path = tmp_path / "aapl.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2024-01-02,187.15,188.44,183.89,185.64,184.29,82488700\n"
        "2024-01-03,184.22,185.88,183.43,184.25,182.91,58414500\n"
    )
    bars = read_bar_file(path)
    assert list(bars.columns) == [*BAR_COLUMNS, "adjusted"]
    assert bars.index.tolist() == [pd.Timestamp("2024-01-02", tz="UTC"), pd.Timestamp("2024-01-03", tz="UTC")]
    assert bars["close"].tolist() == [185.64, 184.25]
    assert not bars["adjusted"].any()
    adj = read_bar_file(path, adjusted=True)
    assert adj["close"].tolist() == [184.29, 182.91]
    assert adj["adjusted"].all()
    assert adj["open"].iloc[0] == pytest.approx(187.15 * 184.29 / 185.64)
    assert (adj["low"] <= adj[["open", "close"]].min(axis=1)).all()


def test_csv_intraday_naive_times_in_a_zone(tmp_path: Path) -> None:
    path = tmp_path / "spy_1min.csv"
    path.write_text(
        "timestamp;OPEN;high;low;close;vol\n"
        "2024-07-01 09:30:00;545.6;545.9;545.5;545.8;1000\n"
        "2024-07-01 09:31:00;545.8;546.0;545.7;545.9;800\n"
    )
    bars = read_bar_file(path, tz="America/New_York", bar_size="1min")
    assert bars.index[0] == pd.Timestamp("2024-07-01 13:30", tz="UTC")  # EDT = UTC-4
    assert bars.index[1] == pd.Timestamp("2024-07-01 13:31", tz="UTC")


def test_csv_separate_date_and_time_columns(tmp_path: Path) -> None:
    path = tmp_path / "eurusd.csv"
    path.write_text("Date,Time,Open,High,Low,Close,Volume\n2024-01-02,14:00,1.1,1.2,1.0,1.15,0\n")
    bars = read_bar_file(path, bar_size=BarSize.HOUR_1)
    assert bars.index[0] == pd.Timestamp("2024-01-02 14:00", tz="UTC")


def test_daily_bars_are_stamped_at_midnight_utc(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("datetime,open,high,low,close,volume\n2024-01-02T16:00:00-05:00,1,2,0.5,1.5,10\n")
    bars = read_bar_file(path, bar_size="1day")
    assert bars.index[0] == pd.Timestamp("2024-01-02", tz="UTC")


def test_parquet_file_with_datetime_index(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"Open": [10.0, 11.0], "High": [12.0, 12.5], "Low": [9.5, 10.5], "Close": [11.0, 12.0], "Volume": [5, 6]},
        index=pd.DatetimeIndex(["2024-03-01", "2024-03-04"], name="Date"),
    )
    path = tmp_path / "x.parquet"
    frame.to_parquet(path)
    source = FileSource(path, "X")
    assert source.name == "parquet:x.parquet"
    assert source.symbols() == ["X"]
    bars = source.load(end="2024-03-01")["X"]
    assert len(bars) == 1
    assert bars["volume"].iloc[0] == 5.0
    with pytest.raises(NotFound):
        source.load(["Y"])


def test_unknown_suffix_needs_a_format(tmp_path: Path) -> None:
    path = tmp_path / "bars.dat"
    path.write_text("date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n")
    with pytest.raises(DataError) as info:
        read_bar_file(path)
    assert info.value.field == "format"
    assert read_bar_file(path, fmt="csv")["close"].iloc[0] == 1.5


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as info:
        read_bar_file(tmp_path / "nope.csv")
    assert info.value.field == "path"
