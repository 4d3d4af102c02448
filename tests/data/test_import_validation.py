"""Importing bad files: each defect is reported with its file line and column, and the store is left unchanged."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from quantdesk.data import BarStore, validate_bars
from quantdesk.errors import DataError
from quantdesk.services.datasets import import_file, load_sample

HEADER = "Date,Open,High,Low,Close,Volume"
GOOD = [
    "2024-01-02,10,11,9,10.5,1000",
    "2024-01-03,10.5,11.5,10,11,1100",
    "2024-01-04,11,12,10.5,11.5,900",
    "2024-01-05,11.5,12,11,11.8,950",
]


@pytest.fixture
def store(tmp_path: Path) -> BarStore:
    s = BarStore.in_data_dir(tmp_path / "data")
    load_sample(s, ["KO"])
    import_file(s, write_csv(tmp_path / "ok.csv", GOOD), "X")
    return s


def write_csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def import_bad(store: BarStore, tmp_path: Path, rows: list[str], header: str = HEADER) -> DataError:
    before = snapshot(store.root)
    path = write_csv(tmp_path / "bad.csv", rows, header)
    for symbol in ("X", "NEW"):
        with pytest.raises(DataError) as info:
            import_file(store, path, symbol)
        assert snapshot(store.root) == before, "a rejected import must not change the store"
    assert not store.has("NEW")
    message = str(info.value)
    assert "bad.csv" in message
    assert "Traceback" not in message
    return info.value


def with_row(line: int, text: str) -> list[str]:
    """GOOD with file line ``line`` (header = line 1) replaced by ``text``."""
    rows = list(GOOD)
    rows[line - 2] = text
    return rows


def test_missing_column(store: BarStore, tmp_path: Path) -> None:
    err = import_bad(
        store,
        tmp_path,
        [r.rsplit(",", 2)[0] + "," + r.rsplit(",", 1)[1] for r in GOOD],
        header="Date,Open,High,Low,Volume",
    )
    assert err.field == "close"
    assert "the header (line 1) lacks column(s) close" in str(err)
    assert "found: Date, Open, High, Low, Volume" in str(err)


def test_unsorted_rows(store: BarStore, tmp_path: Path) -> None:
    rows = [GOOD[0], GOOD[2], GOOD[1], GOOD[3]]  # line 4 holds 2024-01-03, after 2024-01-04
    err = import_bad(store, tmp_path, rows)
    assert err.field == "Date"
    assert "line 4: timestamp 2024-01-03 is earlier than the row before it (2024-01-04)" in str(err)
    assert "header as line 1" in str(err)


def test_duplicate_timestamp(store: BarStore, tmp_path: Path) -> None:
    err = import_bad(store, tmp_path, with_row(5, "2024-01-03,11.5,12,11,11.8,950"))
    assert err.field == "Date"
    assert "line 5: timestamp 2024-01-03 duplicates line 3" in str(err)


def test_nan_price(store: BarStore, tmp_path: Path) -> None:
    err = import_bad(store, tmp_path, with_row(3, "2024-01-03,10.5,11.5,10,,1100"))
    assert err.field == "close"
    assert "line 3: close is missing (NaN)" in str(err)


def test_not_a_number(store: BarStore, tmp_path: Path) -> None:
    err = import_bad(store, tmp_path, with_row(4, "2024-01-04,11,12,10.5,n/a,900"))
    assert err.field == "close"
    assert "line 4: close is not a number: 'n/a'" in str(err)


def test_negative_price(store: BarStore, tmp_path: Path) -> None:
    err = import_bad(store, tmp_path, with_row(4, "2024-01-04,-11,12,10.5,11.5,900"))
    assert err.field == "open"
    assert "line 4: open is -11 (prices must be > 0)" in str(err)


def test_negative_volume(store: BarStore, tmp_path: Path) -> None:
    err = import_bad(store, tmp_path, with_row(2, "2024-01-02,10,11,9,10.5,-1"))
    assert err.field == "volume"
    assert "line 2: volume is -1" in str(err)


def test_high_below_low(store: BarStore, tmp_path: Path) -> None:
    err = import_bad(store, tmp_path, with_row(5, "2024-01-05,11.5,10,12,11.8,950"))
    assert err.field == "high"
    assert "line 5: high 10 is below low 12" in str(err)


def test_close_outside_range(store: BarStore, tmp_path: Path) -> None:
    err = import_bad(store, tmp_path, with_row(3, "2024-01-03,10.5,11.5,10,12,1100"))
    assert err.field == "close"
    assert "line 3: close 12 lies outside [low 10, high 11.5]" in str(err)


def test_bad_timestamp(store: BarStore, tmp_path: Path) -> None:
    err = import_bad(store, tmp_path, with_row(4, "2024-13-45,11,12,10.5,11.5,900"))
    assert err.field == "Date"
    assert "line 4: cannot parse timestamp '2024-13-45'" in str(err)


def test_empty_timestamp(store: BarStore, tmp_path: Path) -> None:
    err = import_bad(store, tmp_path, with_row(2, ",10,11,9,10.5,1000"))
    assert "line 2: timestamp is empty" in str(err)


def test_many_problems_in_one_error(store: BarStore, tmp_path: Path) -> None:
    rows = [f"2024-02-{d:02d},10,11,9,{'' if d % 2 else '10.5'},1000" for d in range(1, 16)]
    rows[3] = "2024-02-04,10,8,9,10.5,1000"  # line 5: high < low
    err = import_bad(store, tmp_path, rows)
    text = str(err)
    assert err.field == "close, high"
    assert len(re.findall(r"line \d+: ", text)) == 5
    assert "line 2: close is missing" in text
    assert "line 5: high 8 is below low 9" in text
    assert "and 4 more" in text
    assert "9 problems in 9 rows" in text


def test_parquet_reports_data_rows(store: BarStore, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "date": ["2024-01-02", "2024-01-03"],
            "open": [1.0, 1.0],
            "high": [2.0, 2.0],
            "low": [0.5, 0.5],
            "close": [1.5, float("nan")],
            "volume": [1.0, 1.0],
        }
    )
    path = tmp_path / "bad.parquet"
    frame.to_parquet(path)
    before = snapshot(store.root)
    with pytest.raises(DataError) as info:
        import_file(store, path, "X")
    assert "row 2: close is missing (NaN)" in str(info.value)
    assert "1-based data rows" in str(info.value)
    assert snapshot(store.root) == before


def test_ragged_csv_is_one_data_error(store: BarStore, tmp_path: Path) -> None:
    before = snapshot(store.root)
    path = write_csv(tmp_path / "ragged.csv", [*GOOD[:2], "2024-01-04,11,12,10.5,11.5,900,7,8"])
    with pytest.raises(DataError) as info:
        import_file(store, path, "X")
    assert info.value.field == "path"
    assert "line 4" in str(info.value)
    assert snapshot(store.root) == before


def test_good_import_merges(store: BarStore, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "more.csv", ["2024-01-05,11.5,12.5,11,12.2,1000", "2024-01-08,12,13,11.9,12.9,1000"])
    result = import_file(store, path, "X")
    assert result.rows_read == 2
    assert result.entry.rows == 5
    assert store.read("X")["close"].tolist() == [10.5, 11.0, 11.5, 12.2, 12.9]
    assert result.entry.source == "csv:more.csv"


def test_validate_bars_accepts_an_in_memory_frame() -> None:
    frame = pd.DataFrame(
        {"Open": [1.0], "High": [2.0], "Low": [0.5], "Close": [1.5], "Volume": [0]},
        index=pd.DatetimeIndex(["2024-01-02 14:30"], name="time"),
    )
    out = validate_bars(frame, "mem")
    assert out.index[0] == pd.Timestamp("2024-01-02 14:30", tz="UTC")
    assert out.index.dtype == "datetime64[us, UTC]"
    assert not out["adjusted"].iloc[0]


def test_intraday_file_imported_as_daily_says_so(store: BarStore, tmp_path: Path) -> None:
    rows = ["2024-01-02 14:30,10,11,9,10.5,1000", "2024-01-02 14:31,10.5,11.5,10,11,1100"]
    err = import_bad(store, tmp_path, rows)
    assert "line 3: timestamp 2024-01-02 duplicates line 2" in str(err)
    assert "--bar-size" in str(err.hint)
