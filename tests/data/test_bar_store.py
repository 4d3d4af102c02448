"""The Parquet bar store: round trips, merge semantics, filters, catalog, atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from quantdesk import atomic_files
from quantdesk.data import BarStore, SampleSource
from quantdesk.domain.market import BarSize
from quantdesk.errors import DataError, NotFound


def bars(days: list[str], closes: list[float], adjusted: bool = False) -> pd.DataFrame:
    close = pd.Series(closes, dtype="float64")
    return pd.DataFrame(
        {
            "open": close.to_numpy(),
            "high": (close * 1.1).to_numpy(),
            "low": (close * 0.9).to_numpy(),
            "close": close.to_numpy(),
            "volume": 100.0,
            "adjusted": adjusted,
        },
        index=pd.DatetimeIndex(days, tz="UTC", name="ts").as_unit("us"),
    )


@pytest.fixture(scope="module")
def sample() -> dict[str, pd.DataFrame]:
    return SampleSource().load(["AAPL", "MSFT", "KO"])


@pytest.fixture
def store(tmp_path: Path) -> BarStore:
    return BarStore.in_data_dir(tmp_path)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_round_trip_of_real_sample(store: BarStore, sample: dict[str, pd.DataFrame]) -> None:
    entry = store.write("AAPL", BarSize.DAY_1, sample["AAPL"], source="sample:sp500")
    assert store.root.name == "bars"
    assert (store.root / "1day" / "AAPL.parquet").is_file()
    assert entry.rows == 8313
    back = store.read("AAPL", "1day")
    pd.testing.assert_frame_equal(back, sample["AAPL"])
    assert str(back.index.tz) == "UTC"
    assert back.index.name == "ts"
    assert back.loc["2022-12-28", "close"] == 125.674


def test_catalog_contents(store: BarStore, sample: dict[str, pd.DataFrame]) -> None:
    for symbol in ("MSFT", "AAPL"):
        store.write(symbol, "1day", sample[symbol], source="sample:sp500")
    store.write("EUR/USD", "1hour", bars(["2024-01-02 10:00", "2024-01-02 11:00"], [1.1, 1.2]), source="csv:fx.csv")
    doc = json.loads((store.root / "catalog.json").read_text())
    assert doc["version"] == 1
    rows = {(e["bar_size"], e["instrument"]): e for e in doc["entries"]}
    assert set(rows) == {("1day", "AAPL"), ("1day", "MSFT"), ("1hour", "EUR/USD")}
    aapl = rows[("1day", "AAPL")]
    assert aapl["rows"] == 8313
    assert aapl["first_ts"] == "1990-01-02T00:00:00+00:00"
    assert aapl["last_ts"] == "2022-12-28T00:00:00+00:00"
    assert aapl["source"] == "sample:sp500"
    assert aapl["adjusted"] is True
    assert aapl["updated_at"]
    assert rows[("1hour", "EUR/USD")]["path"] == "1hour/EUR%2FUSD.parquet"
    listed = store.list()
    assert [(e.bar_size.slug, e.instrument) for e in listed] == [
        ("1day", "AAPL"),
        ("1day", "MSFT"),
        ("1hour", "EUR/USD"),
    ]
    assert store.has("EUR/USD", "1 hour")
    assert not store.has("EUR/USD", "1day")
    assert store.read("EUR/USD", BarSize.HOUR_1)["close"].tolist() == [1.1, 1.2]


def test_merge_unions_by_ts_and_new_rows_win(store: BarStore) -> None:
    store.write("X", "1day", bars(["2024-01-02", "2024-01-03", "2024-01-04"], [10, 11, 12]), source="a")
    entry = store.write("X", "1day", bars(["2024-01-04", "2024-01-05"], [20, 21]), source="b")
    got = store.read("X", "1day")
    assert got["close"].tolist() == [10.0, 11.0, 20.0, 21.0]
    assert got.index.is_monotonic_increasing
    assert entry.rows == 4
    assert entry.source == "b"
    assert entry.last_ts == pd.Timestamp("2024-01-05", tz="UTC")
    # replace drops what was there
    store.write("X", "1day", bars(["2024-02-01"], [30]), source="c", mode="replace")
    assert store.read("X", "1day")["close"].tolist() == [30.0]
    assert store.entry("X").rows == 1


def test_merge_refuses_mixing_adjusted_and_unadjusted(store: BarStore) -> None:
    store.write("X", "1day", bars(["2024-01-02"], [10], adjusted=True), source="a")
    with pytest.raises(DataError) as info:
        store.write("X", "1day", bars(["2024-01-03"], [11], adjusted=False), source="b")
    assert info.value.field == "adjusted"
    assert store.read("X")["close"].tolist() == [10.0]


def test_start_end_filters(store: BarStore, sample: dict[str, pd.DataFrame]) -> None:
    store.write("AAPL", "1day", sample["AAPL"], source="sample:sp500")
    window = store.read("AAPL", "1day", start="2022-12-01", end="2022-12-28")
    assert window.index[0] == pd.Timestamp("2022-12-01", tz="UTC")
    assert window.index[-1] == pd.Timestamp("2022-12-28", tz="UTC")
    assert len(window) == 19
    assert len(store.read("AAPL", start=pd.Timestamp("2022-12-28", tz="UTC"))) == 1
    only_close = store.read("AAPL", columns=["close"], end="1990-01-05")
    assert list(only_close.columns) == ["close"]
    assert len(only_close) == 4
    with pytest.raises(DataError) as info:
        store.read("AAPL", columns=["price"])
    assert info.value.field == "columns"
    with pytest.raises(DataError) as info:
        store.read("AAPL", start="not a date")
    assert info.value.field == "start"


def test_date_only_end_covers_the_whole_day_for_intraday(store: BarStore) -> None:
    stamps = ["2024-01-02 14:30", "2024-01-02 20:59", "2024-01-03 14:30"]
    store.write("SPY", "1min", bars(stamps, [1, 2, 3]), source="t")
    assert store.read("SPY", "1min", end="2024-01-02")["close"].tolist() == [1.0, 2.0]
    assert store.read("SPY", "1min", end="2024-01-02T20:59:00Z")["close"].tolist() == [1.0, 2.0]
    assert store.read("SPY", "1min", start="2024-01-02 20:59")["close"].tolist() == [2.0, 3.0]


def test_read_many_is_wide_and_outer_joined(store: BarStore, sample: dict[str, pd.DataFrame]) -> None:
    for symbol in ("AAPL", "MSFT", "KO"):
        store.write(symbol, "1day", sample[symbol], source="sample:sp500")
    store.write("NEW", "1day", bars(["2022-12-28", "2022-12-29"], [5, 6]), source="t")
    wide = store.read_many(["AAPL", "KO", "NEW"], "1day", start="2022-12-27")
    assert list(wide.columns) == ["AAPL", "KO", "NEW"]
    assert wide.index.tolist() == [pd.Timestamp(d, tz="UTC") for d in ("2022-12-27", "2022-12-28", "2022-12-29")]
    assert wide.loc["2022-12-28", "AAPL"] == 125.674
    assert np.isnan(wide.loc["2022-12-29", "AAPL"])
    vol = store.read_many(["MSFT"], field="volume")
    assert (vol["MSFT"] == 1_000_000.0).all()
    with pytest.raises(NotFound) as info:
        store.read_many(["AAPL", "ZZZZ"])
    assert "ZZZZ" in str(info.value)


def test_unknown_instrument_names_it_and_lists_some(store: BarStore, sample: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(NotFound) as info:
        store.read("AAPL")
    assert info.value.field == "instrument"
    assert "quantdesk data sample" in str(info.value.hint)
    store.write("AAPL.STK.SMART.USD", "1day", sample["AAPL"], source="sample:sp500")
    store.write("MSFT", "1day", sample["MSFT"], source="sample:sp500")
    with pytest.raises(NotFound) as info:
        store.read("AAPL")
    assert "AAPL.STK.SMART.USD" in str(info.value.hint)
    with pytest.raises(NotFound) as info:
        store.read("IBM")
    assert "IBM" in str(info.value)
    assert "MSFT" in str(info.value.hint)
    with pytest.raises(NotFound) as info:
        store.read("MSFT", "1min")
    assert "1day" in str(info.value.hint)


def test_invalid_instrument_key(store: BarStore) -> None:
    with pytest.raises(DataError) as info:
        store.write("../etc", "1day", bars(["2024-01-02"], [1]), source="t")
    assert info.value.field == "instrument"
    assert not store.root.exists() or not any(store.root.rglob("*.parquet"))


def test_delete(store: BarStore) -> None:
    store.write("X", "1day", bars(["2024-01-02"], [1]), source="t")
    store.write("Y", "1day", bars(["2024-01-02"], [1]), source="t")
    store.delete("X", "1day")
    assert not store.has("X")
    assert [e.instrument for e in store.list()] == ["Y"]
    with pytest.raises(NotFound):
        store.delete("X", "1day")


def test_catalog_is_rebuilt_from_files(store: BarStore, sample: dict[str, pd.DataFrame]) -> None:
    store.write("KO", "1day", sample["KO"], source="sample:sp500")
    (store.root / "catalog.json").unlink()
    (entry,) = store.list()
    assert (entry.instrument, entry.rows, entry.source, entry.adjusted) == ("KO", 8313, "sample:sp500", True)
    (store.root / "catalog.json").write_text("{not json")
    assert store.list()[0].rows == 8313
    assert store.rebuild_catalog()[0].instrument == "KO"
    assert json.loads((store.root / "catalog.json").read_text())["entries"][0]["instrument"] == "KO"


# ------------------------------------------------------------------ atomicity
def test_validation_failure_leaves_store_untouched(store: BarStore) -> None:
    store.write("X", "1day", bars(["2024-01-02", "2024-01-03"], [10, 11]), source="a")
    before = snapshot(store.root)
    bad = bars(["2024-01-04", "2024-01-05"], [12, 13])
    bad.loc[bad.index[1], "high"] = 1.0  # below low
    with pytest.raises(DataError) as info:
        store.write("X", "1day", bad, source="b")
    assert "row 2" in str(info.value)
    assert snapshot(store.root) == before


def test_failure_while_writing_keeps_old_file_and_leaves_no_temp(
    store: BarStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write("X", "1day", bars(["2024-01-02", "2024-01-03"], [10, 11]), source="a")
    before = snapshot(store.root)

    def half_write(table: object, where: object, **kwargs: object) -> None:
        assert hasattr(where, "write")
        where.write(b"PAR1 half a file")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr("pyarrow.parquet.write_table", half_write)
    with pytest.raises(OSError, match="disk full"):
        store.write("X", "1day", bars(["2024-01-04"], [12]), source="b")
    monkeypatch.undo()
    assert snapshot(store.root) == before
    assert not list(store.root.rglob(".tmp-*"))
    assert store.read("X")["close"].tolist() == [10.0, 11.0]


def test_failure_at_rename_keeps_old_file_and_leaves_no_temp(store: BarStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.write("X", "1day", bars(["2024-01-02"], [10]), source="a")
    before = snapshot(store.root)

    def no_replace(src: object, dst: object) -> None:
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(atomic_files.os, "replace", no_replace)
    with pytest.raises(OSError, match="simulated crash"):
        store.write("X", "1day", bars(["2024-01-03"], [11]), source="b")
    monkeypatch.undo()
    assert snapshot(store.root) == before
    assert not list(store.root.rglob(".tmp-*"))


def test_orphaned_temp_files_are_ignored_and_cleaned(store: BarStore) -> None:
    store.write("X", "1day", bars(["2024-01-02"], [10]), source="a")
    orphan = store.root / "1day" / ".tmp-dead.parquet"
    orphan.write_bytes(b"partial")  # what a killed writer leaves behind
    assert [e.instrument for e in store.list()] == ["X"]
    assert store.read("X")["close"].tolist() == [10.0]
    store.write("X", "1day", bars(["2024-01-03"], [11]), source="a")
    assert not orphan.exists()


def test_files_are_plain_parquet_with_metadata(store: BarStore) -> None:
    store.write("X", "1day", bars(["2024-01-02"], [10]), source="csv:x.csv")
    table = pq.read_table(store.path_for("X", "1day"))
    assert table.column_names == ["ts", "open", "high", "low", "close", "volume", "adjusted"]
    assert str(table.schema.field("ts").type) == "timestamp[us, tz=UTC]"
    meta = json.loads(table.schema.metadata[b"quantdesk"])
    assert meta["instrument"] == "X"
    assert meta["source"] == "csv:x.csv"
    assert meta["bar_size"] == "1day"
    assert oct(os.stat(store.path_for("X", "1day")).st_mode)[-3:] in ("600", "644", "664")
