"""The datasets service: load the real sample, list, show, summarise, import."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from quantdesk.data import BarStore, load_sample_prices
from quantdesk.errors import DataError, NotFound
from quantdesk.services import datasets


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[BarStore, datasets.SampleLoadResult]:
    store = datasets.open_store(tmp_path_factory.mktemp("qd") / "data")
    return store, datasets.load_sample(store)


def test_load_sample_stores_all_20_symbols(loaded: tuple[BarStore, datasets.SampleLoadResult]) -> None:
    store, result = loaded
    assert store.root.name == "bars"
    assert result.source == "sample:sp500"
    assert result.bar_size == "1day"
    assert len(result.symbols) == 20
    assert result.rows == 20 * 8313
    assert result.first is not None
    assert result.first.isoformat() == "1990-01-02T00:00:00+00:00"
    assert result.last is not None
    assert result.last.isoformat() == "2022-12-28T00:00:00+00:00"
    entries = datasets.list_datasets(store)
    assert [e.instrument for e in entries] == sorted(load_sample_prices().columns)
    assert all(e.adjusted and e.source == "sample:sp500" and e.rows == 8313 for e in entries)


def test_sample_summary_numbers(loaded: tuple[BarStore, datasets.SampleLoadResult]) -> None:
    _, result = loaded
    aapl = next(s for s in result.symbols if s.symbol == "AAPL")
    assert aapl.rows == 8313
    assert aapl.last_close == 125.674
    assert aapl.first_close == 0.264
    assert aapl.total_return == pytest.approx(125.674 / 0.264 - 1)
    close = load_sample_prices(["AAPL"])["AAPL"].to_numpy()
    expected_vol = np.std(close[1:] / close[:-1] - 1, ddof=1) * math.sqrt(252)
    assert aapl.ann_volatility == pytest.approx(expected_vol)
    assert 0.3 < aapl.ann_volatility < 0.6  # a famously volatile stock over 1990-2022
    doc = result.to_dict()
    assert doc["symbols"][0]["symbol"] == "AAPL"
    assert doc["symbols"][0]["last"] == "2022-12-28T00:00:00+00:00"


def test_load_sample_twice_is_idempotent(tmp_path: Path) -> None:
    store = datasets.open_store(tmp_path)
    datasets.load_sample(store, "AAPL,msft")
    again = datasets.load_sample(store, ["AAPL", "MSFT"])
    assert [s.symbol for s in again.symbols] == ["AAPL", "MSFT"]
    assert [e.rows for e in store.list()] == [8313, 8313]


def test_load_sample_unknown_symbol(tmp_path: Path) -> None:
    store = datasets.open_store(tmp_path)
    with pytest.raises(NotFound) as info:
        datasets.load_sample(store, ["AAPL", "NOPE"])
    assert "NOPE" in str(info.value)
    assert store.list() == []


def test_show_tail_head_and_stats(loaded: tuple[BarStore, datasets.SampleLoadResult]) -> None:
    store, _ = loaded
    view = datasets.show(store, "AAPL", "1day", tail=5)
    assert len(view.bars) == 5
    assert view.bar_rows()[-1] == {
        "ts": "2022-12-28T00:00:00+00:00",
        "open": 129.652,
        "high": 129.652,
        "low": 125.674,
        "close": 125.674,
        "volume": 1_000_000.0,
    }
    assert view.summary.rows == 8313
    assert view.stats["min_low"] == 0.098
    assert view.stats["max_drawdown"] is not None
    assert -1 < view.stats["max_drawdown"] < -0.5
    window = datasets.show(store, "AAPL", start="2022-01-01", end="2022-12-31", head=2)
    assert window.summary.rows == 249
    assert [r["ts"][:10] for r in window.bar_rows()] == ["2022-01-03", "2022-01-04"]
    doc = window.to_dict()
    assert doc["range"] == {"start": "2022-01-01", "end": "2022-12-31"}
    assert doc["summary"]["total_return"] == pytest.approx(125.674 / window.summary.first_close - 1)


def test_show_errors(loaded: tuple[BarStore, datasets.SampleLoadResult]) -> None:
    store, _ = loaded
    with pytest.raises(NotFound):
        datasets.show(store, "TSLA")
    with pytest.raises(DataError) as info:
        datasets.show(store, "AAPL", start="2030-01-01")
    assert info.value.field == "start"
    assert "1990-01-02" in str(info.value.hint)


def test_summarize_all_and_some(loaded: tuple[BarStore, datasets.SampleLoadResult]) -> None:
    store, result = loaded
    every = datasets.summarize(store)
    assert len(every) == 20
    ko = datasets.summarize(store, ["KO"])[0]
    assert ko == next(s for s in result.symbols if s.symbol == "KO")
    assert datasets.summarize(store, ["KO"], start="2022-12-27")[0].rows == 2


def test_import_file_result(tmp_path: Path) -> None:
    store = datasets.open_store(tmp_path / "d")
    path = tmp_path / "x.csv"
    path.write_text("date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1.5,2,1,1.8,12\n")
    result = datasets.import_file(store, path, "X.STK.SMART.USD", bar_size="1 day")
    doc = result.to_dict()
    assert doc["rows_read"] == 2
    assert doc["format"] == "csv"
    assert doc["dataset"]["instrument"] == "X.STK.SMART.USD"
    assert doc["dataset"]["path"] == "1day/X.STK.SMART.USD.parquet"
    assert datasets.summarize(store)[0].last_close == 1.8
