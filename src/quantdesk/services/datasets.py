"""Datasets in the bar store: list, import a file, show one, load the S&P 500 sample, summarise.

These are the functions the CLI (and the REST API) call. They return plain dataclasses with a ``to_dict()`` for
JSON and never print.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from quantdesk.data.bar_store import BarStore, instrument_key
from quantdesk.data.catalog import CatalogEntry
from quantdesk.data.columns import BAR_COLUMNS
from quantdesk.domain.market import BarSize
from quantdesk.errors import DataError

if TYPE_CHECKING:  # pandas and the sources are imported by the functions that read bars, not by listing
    import pandas as pd

    from quantdesk.data.schema import TimeBound

__all__ = [
    "DatasetView",
    "ImportResult",
    "SampleLoadResult",
    "SeriesSummary",
    "import_file",
    "list_datasets",
    "load_sample",
    "open_store",
    "periods_per_year",
    "show",
    "summarize",
    "summarize_bars",
]

TRADING_DAYS = 252


def open_store(data_dir: Path | str) -> BarStore:
    """The bar store of a data directory (``settings.paths.data_dir``): ``<data_dir>/bars``."""
    return BarStore.in_data_dir(data_dir)


def _size(bar_size: BarSize | str) -> BarSize:
    return bar_size if isinstance(bar_size, BarSize) else BarSize.parse(bar_size)


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat()


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True, slots=True)
class SeriesSummary:
    """Headline numbers of one series over a range: span, last close, total return, annualised volatility."""

    symbol: str
    bar_size: str
    rows: int
    first: datetime | None
    last: datetime | None
    first_close: float
    last_close: float
    total_return: float
    ann_volatility: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN becomes ``None``)."""
        return {
            "symbol": self.symbol,
            "bar_size": self.bar_size,
            "rows": self.rows,
            "first": _iso(self.first),
            "last": _iso(self.last),
            "first_close": _num(self.first_close),
            "last_close": _num(self.last_close),
            "total_return": _num(self.total_return),
            "ann_volatility": _num(self.ann_volatility),
        }


def periods_per_year(bars: pd.DataFrame, bar_size: BarSize) -> float:
    """Bars in a year: 252 daily, 52 weekly, 12 monthly; intraday, 252 x the median number of bars per day."""
    import pandas as pd

    if bar_size is BarSize.DAY_1:
        return float(TRADING_DAYS)
    if bar_size is BarSize.WEEK_1:
        return 52.0
    if bar_size is BarSize.MONTH_1:
        return 12.0
    if bars.empty:
        return float("nan")
    per_day = pd.Series(1, index=bars.index).groupby(pd.DatetimeIndex(bars.index).normalize()).size()
    return float(TRADING_DAYS * per_day.median())


def summarize_bars(bars: pd.DataFrame, symbol: str, bar_size: BarSize | str = BarSize.DAY_1) -> SeriesSummary:
    """Summarise a bar frame: total return = last / first close - 1; volatility = std of simple returns x sqrt(N)."""
    import pandas as pd

    size = _size(bar_size)
    close = bars["close"].astype("float64")
    n = len(close)
    if n == 0:
        nan = float("nan")
        return SeriesSummary(symbol, size.slug, 0, None, None, nan, nan, nan, nan)
    returns = close.pct_change().dropna()
    vol = float(returns.std(ddof=1)) * math.sqrt(periods_per_year(bars, size)) if len(returns) > 1 else float("nan")
    first_close, last_close = float(close.iloc[0]), float(close.iloc[-1])
    return SeriesSummary(
        symbol=symbol,
        bar_size=size.slug,
        rows=n,
        first=pd.Timestamp(close.index[0]).to_pydatetime(),
        last=pd.Timestamp(close.index[-1]).to_pydatetime(),
        first_close=first_close,
        last_close=last_close,
        total_return=last_close / first_close - 1.0,
        ann_volatility=vol,
    )


@dataclass(frozen=True, slots=True)
class SampleLoadResult:
    """What :func:`load_sample` stored: one summary per symbol and the totals."""

    source: str
    bar_size: str
    store: str
    symbols: list[SeriesSummary]
    rows: int
    first: datetime | None
    last: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "source": self.source,
            "bar_size": self.bar_size,
            "store": self.store,
            "rows": self.rows,
            "first": _iso(self.first),
            "last": _iso(self.last),
            "symbols": [s.to_dict() for s in self.symbols],
        }


def load_sample(store: BarStore, symbols: Iterable[str] | str | None = None) -> SampleLoadResult:
    """Write the bundled S&P 500 sample (all 20 symbols, or ``symbols``) as daily adjusted bars; summarise them.

    Each series is replaced, so loading twice gives the same store. The source is recorded as ``sample:sp500``.
    """
    from quantdesk.data.sources import SAMPLE_SOURCE_NAME, SampleSource

    frames = SampleSource().load(symbols)
    summaries: list[SeriesSummary] = []
    for symbol, bars in frames.items():
        store.write(symbol, BarSize.DAY_1, bars, source=SAMPLE_SOURCE_NAME, mode="replace")
        summaries.append(summarize_bars(bars, symbol, BarSize.DAY_1))
    firsts = [s.first for s in summaries if s.first is not None]
    lasts = [s.last for s in summaries if s.last is not None]
    return SampleLoadResult(
        source=SAMPLE_SOURCE_NAME,
        bar_size=BarSize.DAY_1.slug,
        store=str(store.root),
        symbols=summaries,
        rows=sum(s.rows for s in summaries),
        first=min(firsts) if firsts else None,
        last=max(lasts) if lasts else None,
    )


def list_datasets(store: BarStore) -> list[CatalogEntry]:
    """Every series in the store (bar size, instrument order); ``entry.to_dict()`` gives JSON."""
    return store.list()


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What :func:`import_file` read and what the store now holds for that series."""

    path: str
    format: str
    rows_read: int
    mode: str
    entry: CatalogEntry

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the file, rows read, and the stored series' catalog entry."""
        return {
            "path": self.path,
            "format": self.format,
            "rows_read": self.rows_read,
            "mode": self.mode,
            "dataset": self.entry.to_dict(),
        }


def import_file(
    store: BarStore,
    path: Path | str,
    symbol: str,
    bar_size: BarSize | str = BarSize.DAY_1,
    fmt: str | None = None,
    tz: str | None = None,
    adjusted: bool = False,
    mode: Literal["merge", "replace"] = "merge",
) -> ImportResult:
    """Validate a CSV or Parquet file and store it as ``symbol``; a bad file changes nothing in the store.

    ``DataError`` names the column and the file lines of the first problems.
    """
    from quantdesk.data.sources import FileSource

    key = instrument_key(symbol)
    source = FileSource(path, key, fmt=fmt, tz=tz, adjusted=adjusted, bar_size=_size(bar_size))
    bars = source.load()[key]
    entry = store.write(key, source.bar_size, bars, source=source.name, mode=mode)
    return ImportResult(path=str(source.path), format=source.format, rows_read=len(bars), mode=mode, entry=entry)


@dataclass(frozen=True)
class DatasetView:
    """One series over a range: its catalog entry, a summary of the range, and the rows to display."""

    entry: CatalogEntry
    summary: SeriesSummary
    bars: pd.DataFrame
    start: str | None = None
    end: str | None = None
    stats: dict[str, float | None] = field(default_factory=dict)

    def bar_rows(self) -> list[dict[str, Any]]:
        """The displayed bars as ``{"ts": iso, "open": …, …}`` dictionaries."""
        import pandas as pd

        rows: list[dict[str, Any]] = []
        for ts, values in zip(self.bars.index, self.bars[list(BAR_COLUMNS)].to_numpy(), strict=True):
            row: dict[str, Any] = {"ts": pd.Timestamp(ts).isoformat()}
            row.update({c: _num(float(v)) for c, v in zip(BAR_COLUMNS, values, strict=True)})
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "dataset": self.entry.to_dict(),
            "range": {"start": self.start, "end": self.end},
            "summary": self.summary.to_dict(),
            "stats": self.stats,
            "bars": self.bar_rows(),
        }


def show(
    store: BarStore,
    symbol: str,
    bar_size: BarSize | str = BarSize.DAY_1,
    start: TimeBound = None,
    end: TimeBound = None,
    tail: int | None = 10,
    head: int | None = None,
) -> DatasetView:
    """One series between ``start`` and ``end``: summary stats of the range and its first ``head`` or last ``tail``
    rows (``head`` wins when both are given; ``tail=None`` and ``head=None`` keep every row)."""
    size = _size(bar_size)
    entry = store.entry(symbol, size)
    bars = store.read(symbol, size, start, end)
    if bars.empty:
        raise DataError(
            f"no {size.slug} bars for {entry.instrument} between {start or 'the start'} and {end or 'the end'}",
            field="start" if start is not None else "end",
            value=f"{start}..{end}",
            hint=f"the store holds {_iso(entry.first_ts)} to {_iso(entry.last_ts)}",
        )
    for name, n in (("head", head), ("tail", tail)):
        if n is not None and n < 0:
            raise DataError(f"{name} must be >= 0, got {n}", field=name, value=n, hint=f"pass --{name} 10")
    shown = bars.head(head) if head is not None else (bars.tail(tail) if tail is not None else bars)
    stats: dict[str, float | None] = {
        "min_low": _num(float(bars["low"].min())),
        "max_high": _num(float(bars["high"].max())),
        "mean_volume": _num(float(bars["volume"].mean())),
        "max_drawdown": _num(float((bars["close"] / bars["close"].cummax() - 1.0).min())),
    }
    return DatasetView(
        entry=entry,
        summary=summarize_bars(bars, entry.instrument, size),
        bars=shown,
        start=None if start is None else str(start),
        end=None if end is None else str(end),
        stats=stats,
    )


def summarize(
    store: BarStore,
    symbols: Iterable[str] | None = None,
    bar_size: BarSize | str = BarSize.DAY_1,
    start: TimeBound = None,
    end: TimeBound = None,
) -> list[SeriesSummary]:
    """Summaries of stored series at one bar size (all of them when ``symbols`` is ``None``)."""
    size = _size(bar_size)
    keys = (
        [instrument_key(s) for s in symbols]
        if symbols is not None
        else [e.instrument for e in store.list() if e.bar_size is size]
    )
    return [summarize_bars(store.read(k, size, start, end, columns=["close"]), k, size) for k in keys]
