"""Bars from the user's own CSV or Parquet files.

Columns are matched by name, in any case and ignoring spaces, ``_`` and ``-``: the timestamp from ``date``,
``datetime``, ``timestamp``, ``time`` or ``ts`` (or separate ``Date`` and ``Time`` columns), prices from ``Open,
High, Low, Close, Volume``; with ``adjusted=True`` an ``Adj Close`` column rescales the bar (see
:func:`quantdesk.data.schema.validate_bars`). Naive timestamps are read in ``tz`` (default UTC). Every row is
validated and problems are reported with the file's line numbers (CSV, header = line 1) or data row numbers
(Parquet).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from quantdesk.data.schema import TimeBound, slice_bars, validate_bars
from quantdesk.domain.market import BarSize
from quantdesk.errors import DataError, NotFound

__all__ = ["FileFormat", "FileSource", "detect_format", "read_bar_file"]

FileFormat = Literal["csv", "parquet"]
_SUFFIXES: dict[str, FileFormat] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".csv.gz": "csv",
    ".csv.zip": "csv",
    ".csv.bz2": "csv",
    ".csv.xz": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def detect_format(path: Path | str, fmt: str | None = None) -> FileFormat:
    """``fmt`` when given (``csv``/``parquet``, ``auto`` = from the suffix), else the format the suffix implies."""
    p = Path(path)
    if fmt is not None and fmt.strip().lower() not in ("", "auto"):
        f = fmt.strip().lower()
        if f == "csv":
            return "csv"
        if f in ("parquet", "pq"):
            return "parquet"
        raise DataError(f"unknown file format {fmt!r}", field="format", value=fmt, hint="use csv, parquet or auto")
    name = p.name.lower()
    for suffix, found in sorted(_SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return found
    raise DataError(
        f"cannot tell the format of {p.name} from its suffix",
        field="format",
        value=p.suffix,
        hint="name it .csv or .parquet, or pass --format csv|parquet",
    )


def _read_csv(path: Path) -> pd.DataFrame:
    def read(sep: str) -> pd.DataFrame:
        return pd.read_csv(
            path,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
        )

    try:
        raw = read(",")
        if len(raw.columns) == 1:  # maybe ';' (European) or tab separated
            header = str(raw.columns[0])
            for sep in (";", "\t", "|"):
                if sep in header:
                    raw = read(sep)
                    break
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path.name} is empty", field="path", value=str(path), hint="export the bars again") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path.name} is not readable as CSV: {str(exc).strip()}",
            field="path",
            value=str(path),
            hint="check the separators and quoting on the line named, or pass --format parquet",
        ) from exc
    # Trailing blank lines become all-empty rows with skip_blank_lines=False; drop those at the very end only.
    while len(raw) and all(str(v).strip() == "" for v in raw.iloc[-1]):
        raw = raw.iloc[:-1]
    return raw


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises its own hierarchy for corrupt files
        raise DataError(
            f"{path.name} is not readable as Parquet: {exc}",
            field="path",
            value=str(path),
            hint="check the file, or pass --format csv if it is text",
        ) from exc


def _check_zone(tz: str | None) -> None:
    """Refuse an unknown zone name up front: daily bars never localise, so it would be ignored silently."""
    if tz is None:
        return
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise DataError(
            f"unknown time zone {tz!r}",
            field="tz",
            value=tz,
            hint="pass --tz with an IANA name such as America/New_York or UTC",
        ) from None


def read_bar_file(
    path: Path | str,
    *,
    fmt: str | None = None,
    tz: str | None = None,
    adjusted: bool = False,
    bar_size: BarSize | str = BarSize.DAY_1,
) -> pd.DataFrame:
    """Read and validate one file of bars; raise one ``DataError`` naming the column and line of each problem."""
    p = Path(path).expanduser()
    size = bar_size if isinstance(bar_size, BarSize) else BarSize.parse(bar_size)
    _check_zone(tz)
    kind = detect_format(p, fmt)
    if not p.is_file():
        raise NotFound(f"no such file: {p}", field="path", value=str(p), hint="check the path")
    if kind == "csv":
        raw, header_lines = _read_csv(p), 1
    else:
        raw, header_lines = _read_parquet(p), None
    return validate_bars(raw, p.name, bar_size=size, tz=tz, adjusted=adjusted, header_lines=header_lines)


class FileSource:
    """One CSV or Parquet file holding the bars of one symbol, as a :class:`BarSource`."""

    def __init__(
        self,
        path: Path | str,
        symbol: str,
        *,
        fmt: str | None = None,
        tz: str | None = None,
        adjusted: bool = False,
        bar_size: BarSize | str = BarSize.DAY_1,
    ) -> None:
        self.path = Path(path).expanduser()
        self.symbol = symbol
        self.format: FileFormat = detect_format(self.path, fmt)
        self.tz = tz
        self.adjusted = adjusted
        self.bar_size = bar_size if isinstance(bar_size, BarSize) else BarSize.parse(bar_size)

    @property
    def name(self) -> str:
        """``csv:<file name>`` or ``parquet:<file name>``."""
        return f"{self.format}:{self.path.name}"

    def symbols(self) -> list[str]:
        """The one symbol the file holds."""
        return [self.symbol]

    def load(
        self, symbols: Iterable[str] | None = None, start: TimeBound = None, end: TimeBound = None
    ) -> dict[str, pd.DataFrame]:
        """``{symbol: bars}``; asking for another symbol is ``NotFound``."""
        if symbols is not None:
            other = [s for s in symbols if s != self.symbol]
            if other:
                raise NotFound(
                    f"{self.path.name} holds {self.symbol} only, not {', '.join(other)}",
                    field="symbols",
                    value=other,
                    hint=f"ask for {self.symbol}",
                )
        bars = read_bar_file(self.path, fmt=self.format, tz=self.tz, adjusted=self.adjusted, bar_size=self.bar_size)
        return {self.symbol: slice_bars(bars, start, end)}
