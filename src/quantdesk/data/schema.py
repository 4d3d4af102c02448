"""The bar frame: the one pandas shape every source produces, the store keeps and the backtester replays.

A *bar frame* is a :class:`pandas.DataFrame` with

- a :class:`~pandas.DatetimeIndex` named ``ts``, timezone-aware in UTC (``datetime64[us, UTC]``), strictly
  increasing (so no duplicates); each timestamp is the bar's *start*;
- the float64 columns ``open, high, low, close, volume``: prices finite and > 0, volume finite and >= 0,
  ``low <= open, close <= high``;
- the bool column ``adjusted``: whether prices are adjusted for splits and dividends. It is a column (constant
  within one series) rather than a ``DataFrame.attrs`` entry because a column survives Parquet, ``concat`` and
  slicing without ceremony; the store refuses to merge adjusted with unadjusted rows.

Daily and longer bars are stamped at 00:00 UTC of the session date (IB reports dates for them): a daily timestamp
given in another zone is reduced to its wall-clock date in that zone, then stamped at midnight UTC. Intraday bars
keep their start time, converted to UTC.

:func:`validate_bars` turns a raw frame (common column spellings, timestamps as text or datetimes, in the index
or a column) into a bar frame, or raises one :class:`~quantdesk.errors.DataError` that lists the first problems
with their row numbers. For files read as text (CSV) those are the file's *line numbers, counting the header as
line 1* (data row ``i``, 0-based, is line ``i + 2``); for other inputs (Parquet, in-memory frames) they are
*1-based data row numbers*. The message says which.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from quantdesk.data.columns import ADJUSTED, BAR_COLUMNS, INDEX_NAME, PRICE_COLUMNS, TS_UNIT
from quantdesk.domain.market import BarSize
from quantdesk.errors import DataError

__all__ = [
    "ADJUSTED",
    "BAR_COLUMNS",
    "INDEX_NAME",
    "PRICE_COLUMNS",
    "TS_UNIT",
    "TimeBound",
    "check_bar_frame",
    "empty_bars",
    "is_daily_or_longer",
    "parse_bound",
    "select_columns",
    "slice_bars",
    "validate_bars",
]

MAX_REPORTED = 5
_DATE_ONLY = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")

TimeBound = str | date | datetime | pd.Timestamp | None

# Accepted spellings, compared after lower-casing and dropping spaces, underscores and dashes.
_ALIASES: dict[str, tuple[str, ...]] = {
    "ts": ("ts", "timestamp", "datetime", "date", "time", "dateandtime"),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c", "last"),
    "volume": ("volume", "vol", "v"),
    "adj_close": ("adjclose", "adjustedclose"),
    ADJUSTED: ("adjusted",),
}
_COLUMN_HINT = (
    "name the columns date (or ts/datetime/timestamp/time), open, high, low, close, volume, in any case; "
    "an 'Adj Close' column is used with --adjusted"
)


def is_daily_or_longer(bar_size: BarSize) -> bool:
    """True for 1 day, 1 week and 1 month bars, which are stamped at 00:00 UTC of their date."""
    return bar_size in (BarSize.DAY_1, BarSize.WEEK_1, BarSize.MONTH_1)


def empty_bars(adjusted: bool = False) -> pd.DataFrame:
    """A bar frame with no rows (the right dtypes and index)."""
    index = pd.DatetimeIndex([], dtype=f"datetime64[{TS_UNIT}, UTC]", name=INDEX_NAME)
    frame = pd.DataFrame({c: pd.Series([], dtype="float64", index=index) for c in BAR_COLUMNS}, index=index)
    frame[ADJUSTED] = pd.Series([], dtype="bool", index=index)
    return frame


@dataclass(frozen=True, slots=True)
class _Problem:
    pos: int
    column: str
    text: str


class _Numbering:
    """How to name the data row at 0-based position ``pos`` in messages."""

    def __init__(self, header_lines: int | None) -> None:
        self.header_lines = header_lines

    def __call__(self, pos: int) -> str:
        if self.header_lines is None:
            return f"row {pos + 1}"
        return f"line {pos + 1 + self.header_lines}"

    @property
    def note(self) -> str:
        if self.header_lines is None:
            return "rows are 1-based data rows"
        return "line numbers count the header as line 1"


def _key(name: Hashable) -> str:
    return str(name).strip().lower().replace(" ", "").replace("_", "").replace("-", "")


def _find_columns(df: pd.DataFrame) -> dict[str, Hashable]:
    """Map canonical names to the frame's own column labels (first match in column order wins)."""
    found: dict[str, Hashable] = {}
    for label in df.columns:
        k = _key(label)
        for canonical, spellings in _ALIASES.items():
            if k in spellings and canonical not in found:
                found[canonical] = label
    return found


def _date_and_time(df: pd.DataFrame) -> tuple[Hashable, Hashable] | None:
    dates = [c for c in df.columns if _key(c) == "date"]
    times = [c for c in df.columns if _key(c) == "time"]
    if dates and times:
        return dates[0], times[0]
    return None


def _text(value: Any) -> str:
    s = str(value)
    return s if len(s) <= 40 else s[:37] + "..."


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return value is pd.NaT or (isinstance(value, str) and not value.strip())


def _parse_timestamps(
    raw: pd.Series[Any], column: str, tz: str | None, daily: bool, problems: list[_Problem]
) -> tuple[pd.Series[Any], bool]:
    """Parse to UTC; unparsable, empty, ambiguous or non-existent local times become NaT and a problem each.

    With ``daily``, each timestamp is reduced to its wall-clock date (in its own zone, or ``tz`` when naive) and
    stamped at 00:00 UTC; the flag returned says whether any of them carried a time of day.
    """
    values = raw.reset_index(drop=True)
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = pd.Series(pd.to_datetime(values))
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            try:
                parsed = pd.Series(pd.to_datetime(values, errors="coerce"))
            except (ValueError, TypeError):  # mixed UTC offsets: place every one on the UTC axis
                parsed = pd.Series(pd.to_datetime(values, errors="coerce", utc=True))
            if parsed.dtype == object:
                parsed = pd.Series(pd.to_datetime(values, errors="coerce", utc=True))
    for pos in np.flatnonzero(parsed.isna().to_numpy()):
        value = values.iloc[pos]
        if _is_blank(value):
            problems.append(_Problem(int(pos), column, "timestamp is empty"))
        else:
            problems.append(_Problem(int(pos), column, f"cannot parse timestamp {_text(value)!r}"))
    if daily:
        wall = parsed.dt.tz_localize(None) if parsed.dt.tz is not None else parsed
        dates = wall.dt.normalize()
        had_times = bool((wall.notna() & (wall != dates)).any())
        return dates.dt.tz_localize("UTC").dt.as_unit(TS_UNIT), had_times
    if parsed.dt.tz is None:
        zone = tz or "UTC"
        try:
            localized = parsed.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
        except Exception as exc:  # an unknown zone name
            raise DataError(
                f"unknown time zone {tz!r}",
                field="tz",
                value=tz,
                hint="use an IANA name such as America/New_York or UTC",
            ) from exc
        for pos in np.flatnonzero(localized.isna().to_numpy() & parsed.notna().to_numpy()):
            problems.append(
                _Problem(int(pos), column, f"local time {parsed.iloc[pos]} is ambiguous or does not exist in {zone}")
            )
        parsed = localized
    return parsed.dt.tz_convert("UTC").dt.as_unit(TS_UNIT), False


def _numbers(raw: pd.Series[Any], column: str, problems: list[_Problem]) -> np.ndarray[Any, np.dtype[np.float64]]:
    values = raw.reset_index(drop=True)
    if pd.api.types.is_bool_dtype(values.dtype):
        values = values.astype("float64")
    numbers = np.array(pd.to_numeric(values, errors="coerce"), dtype=np.float64)
    for pos in np.flatnonzero(~np.isfinite(numbers)):
        value = values.iloc[pos]
        if _is_blank(value) or (isinstance(value, str) and value.strip().lower() in ("nan", "na", "null", "none")):
            problems.append(_Problem(int(pos), column, f"{column} is missing (NaN)"))
        elif isinstance(value, str) and np.isnan(numbers[pos]):
            problems.append(_Problem(int(pos), column, f"{column} is not a number: {_text(value)!r}"))
        else:
            problems.append(_Problem(int(pos), column, f"{column} is {value} (must be finite)"))
    return numbers


def _fmt(x: float) -> str:
    return f"{x:.10g}"


def _raise(problems: list[_Problem], source: str, numbering: _Numbering, hint: str | None = None) -> None:
    problems = sorted(problems, key=lambda p: p.pos)
    columns = list(dict.fromkeys(p.column for p in problems))
    rows = len({p.pos for p in problems})
    shown = "; ".join(f"{numbering(p.pos)}: {p.text}" for p in problems[:MAX_REPORTED])
    more = f"; and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {rows} row{'s' if rows != 1 else ''}"
    raise DataError(
        f"{source}: {count}: {shown}{more} ({numbering.note})",
        field=", ".join(columns),
        value=numbering(problems[0].pos),
        hint=hint or "correct or remove the listed rows, then try again",
    )


def validate_bars(
    df: pd.DataFrame,
    source: str,
    *,
    bar_size: BarSize | None = None,
    tz: str | None = None,
    adjusted: bool | None = None,
    header_lines: int | None = None,
) -> pd.DataFrame:
    """Check a raw frame and return it as a bar frame, or raise one ``DataError`` listing the first problems.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows in input order. Timestamps come from a ``DatetimeIndex`` or from a column spelled ``ts``, ``date``,
        ``datetime``, ``timestamp`` or ``time`` (or separate ``date`` and ``time`` columns); prices from ``open,
        high, low, close, volume`` in any case. Extra columns are dropped.
    source : str
        What the rows came from (a file name, ``"AAPL 1day"``); it starts every message.
    bar_size : BarSize, optional
        With daily or longer bars, timestamps are reduced to their date and stamped at 00:00 UTC.
    tz : str, optional
        IANA zone of naive timestamps (default UTC). Aware timestamps keep their own offset.
    adjusted : bool, optional
        Value of the ``adjusted`` column. ``True`` with an ``Adj Close`` column scales open, high and low by
        ``adj_close / close`` and takes ``adj_close`` as the close. ``None`` keeps the frame's own ``adjusted``
        column, else ``False``.
    header_lines : int, optional
        Lines before the first data row in the input file (1 for a CSV with a header): messages then give file
        line numbers; ``None`` gives 1-based data row numbers.

    Returns
    -------
    pandas.DataFrame
        The bar frame described in this module's docstring.
    """
    numbering = _Numbering(header_lines)
    frame = df
    if isinstance(frame.index, pd.DatetimeIndex):
        name = frame.index.name if frame.index.name is not None else INDEX_NAME
        frame = frame.reset_index(names=[str(name)])
    found = _find_columns(frame)
    date_time = _date_and_time(frame)
    missing = [c for c in ("ts", *BAR_COLUMNS) if c not in found]
    if missing:
        where = "the header (line 1) lacks" if header_lines else "missing"
        present = ", ".join(str(c) for c in frame.columns) or "none"
        raise DataError(
            f"{source}: {where} column(s) {', '.join(missing)}; found: {present}",
            field=", ".join(missing),
            value=list(map(str, frame.columns)),
            hint=_COLUMN_HINT,
        )
    problems: list[_Problem] = []
    n = len(frame)

    # Timestamps.
    if date_time is not None:
        d, t = date_time
        raw_ts = frame[d].astype("str").str.strip() + " " + frame[t].astype("str").str.strip()
        raw_ts[frame[d].map(_is_blank).to_numpy()] = ""
        ts_col = f"{d}+{t}"
    else:
        raw_ts = frame[found["ts"]]
        ts_col = str(found["ts"])
    daily = bar_size is not None and is_daily_or_longer(bar_size)
    ts, intraday_as_daily = _parse_timestamps(raw_ts, ts_col, tz, daily, problems)

    # Numbers.
    values = {c: _numbers(frame[found[c]], c, problems) for c in BAR_COLUMNS}
    adj_flag: bool
    if adjusted is None:
        adj_flag = bool(frame[found[ADJUSTED]].astype(bool).all()) if ADJUSTED in found and n else False
    else:
        adj_flag = adjusted
    if adjusted and "adj_close" in found:
        adj = _numbers(frame[found["adj_close"]], "adj_close", problems)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = adj / values["close"]
        for c in ("open", "high", "low"):
            values[c] = values[c] * factor
        values["close"] = adj

    with np.errstate(invalid="ignore"):
        for c in PRICE_COLUMNS:
            for pos in np.flatnonzero(values[c] <= 0):
                problems.append(_Problem(int(pos), c, f"{c} is {_fmt(values[c][pos])} (prices must be > 0)"))
        vol = values["volume"]
        for pos in np.flatnonzero(vol < 0):
            problems.append(_Problem(int(pos), "volume", f"volume is {_fmt(vol[pos])} (must be >= 0)"))
        hi, lo = values["high"], values["low"]
        for pos in np.flatnonzero(hi < lo):
            problems.append(_Problem(int(pos), "high", f"high {_fmt(hi[pos])} is below low {_fmt(lo[pos])}"))
        ok_range = hi >= lo
        for c in ("open", "close"):
            v = values[c]
            for pos in np.flatnonzero(ok_range & ((v < lo) | (v > hi))):
                problems.append(
                    _Problem(
                        int(pos), c, f"{c} {_fmt(v[pos])} lies outside [low {_fmt(lo[pos])}, high {_fmt(hi[pos])}]"
                    )
                )

    # Order: each parsed timestamp against the first row with the same value and against the latest before it.
    valid_pos = np.flatnonzero(ts.notna().to_numpy())
    stamps = ts.iloc[valid_pos].reset_index(drop=True)
    if len(stamps):
        ints = stamps.dt.as_unit("us").astype("int64").to_numpy()
        dup = pd.Series(ints).duplicated(keep="first").to_numpy()
        running = np.maximum.accumulate(ints)
        before = np.concatenate(([ints[0]], running[:-1]))
        late = (ints < before) & ~dup
        if dup.any():
            first_of = pd.Series(np.arange(len(ints))).groupby(ints).transform("first").to_numpy()
            for i in np.flatnonzero(dup):
                problems.append(
                    _Problem(
                        int(valid_pos[i]),
                        ts_col,
                        f"timestamp {_ts_text(stamps.iloc[i])} duplicates {numbering(int(valid_pos[first_of[i]]))}",
                    )
                )
        for i in np.flatnonzero(late):
            problems.append(
                _Problem(
                    int(valid_pos[i]),
                    ts_col,
                    f"timestamp {_ts_text(stamps.iloc[i])} is earlier than the row before it "
                    f"({_ts_text(pd.Timestamp(int(before[i]), unit='us', tz='UTC'))}): sort the rows oldest first",
                )
            )

    if problems:
        hint = None
        if intraday_as_daily and any("duplicates" in p.text for p in problems):
            hint = (
                "the timestamps carry times of day but the bar size is daily: pass the bar size (e.g. --bar-size 1min)"
            )
        _raise(problems, source, numbering, hint)

    index = pd.DatetimeIndex(ts, name=INDEX_NAME)
    out = pd.DataFrame({c: values[c] for c in BAR_COLUMNS}, index=index)
    out[ADJUSTED] = np.full(n, adj_flag, dtype=bool)
    return out


def parse_bound(value: TimeBound, field: str, is_end: bool) -> tuple[pd.Timestamp, bool] | None:
    """A UTC bound and whether it is inclusive (naive means UTC); a date-only ``end`` covers that whole day."""
    if value is None:
        return None
    date_only = (isinstance(value, date) and not isinstance(value, datetime)) or (
        isinstance(value, str) and bool(_DATE_ONLY.match(value))
    )
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"cannot parse {value!r} as a date or timestamp",
            field=field,
            value=value,
            hint="use YYYY-MM-DD or an ISO 8601 timestamp such as 2024-01-02T14:30:00Z",
        ) from exc
    if pd.isna(ts):
        raise DataError(f"{field} is empty", field=field, value=value, hint="use YYYY-MM-DD")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if is_end and date_only:
        return ts.normalize() + pd.Timedelta(days=1), False
    return ts, True


def slice_bars(df: pd.DataFrame, start: TimeBound = None, end: TimeBound = None) -> pd.DataFrame:
    """Rows of a UTC-indexed frame between ``start`` and ``end``, read as :func:`parse_bound` reads them."""
    mask = np.ones(len(df), dtype=bool)
    lo = parse_bound(start, "start", is_end=False)
    hi = parse_bound(end, "end", is_end=True)
    if lo is not None:
        mask &= df.index >= lo[0]
    if hi is not None:
        mask &= (df.index <= hi[0]) if hi[1] else (df.index < hi[0])
    return df.loc[mask]


def _ts_text(value: Any) -> str:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    if ts.hour == ts.minute == ts.second == ts.microsecond == 0:
        return ts.strftime("%Y-%m-%d")
    return ts.isoformat()


def check_bar_frame(df: pd.DataFrame, source: str) -> None:
    """Cheap structural check that ``df`` already is a bar frame (index, dtypes); raises ``DataError`` if not."""
    if not isinstance(df.index, pd.DatetimeIndex) or df.index.tz is None or str(df.index.tz) != "UTC":
        raise DataError(
            f"{source}: the index must be a UTC DatetimeIndex named ts",
            field=INDEX_NAME,
            hint="pass the frame through validate_bars()",
        )
    missing = [c for c in (*BAR_COLUMNS, ADJUSTED) if c not in df.columns]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {', '.join(missing)}",
            field=", ".join(missing),
            hint="pass the frame through validate_bars()",
        )


def select_columns(names: Iterable[str] | None) -> list[str]:
    """Validate a column selection against the bar columns (``None`` means all of them, with ``adjusted``)."""
    if names is None:
        return [*BAR_COLUMNS, ADJUSTED]
    chosen = list(names)
    unknown = [c for c in chosen if c not in (*BAR_COLUMNS, ADJUSTED)]
    if unknown:
        raise DataError(
            f"unknown column(s) {', '.join(unknown)}",
            field="columns",
            value=unknown,
            hint="choose from " + ", ".join((*BAR_COLUMNS, ADJUSTED)),
        )
    return chosen
