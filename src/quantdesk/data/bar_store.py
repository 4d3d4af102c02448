"""The bar store: bar frames in Parquet files, one per (bar size, instrument), with a JSON catalog.

Layout under the store root (``<data_dir>/bars`` by default, see :meth:`BarStore.in_data_dir`)::

    bars/
      catalog.json                     # see quantdesk.data.catalog
      .lock                            # serialises writers (POSIX advisory lock)
      1day/AAPL.parquet                # instrument key "AAPL"
      1day/AAPL.STK.SMART.USD.parquet  # instrument key "AAPL.STK.SMART.USD"
      1min/EUR%2FUSD.parquet           # "/" and ":" are percent-encoded in file names

The *instrument key* is kept exactly as given, after checking it against ``InstrumentId``'s rule (letters, digits
and ``. _ : / -``). A plain symbol such as ``AAPL`` is a key of its own: the store does not resolve symbols to
contracts, so ``AAPL`` and ``AAPL.STK.SMART.USD`` are two different series (a failed read suggests the other).

Each file holds the columns ``ts`` (timestamp[us, UTC]), ``open, high, low, close, volume`` (float64) and
``adjusted`` (bool), sorted by ``ts``, plus ``quantdesk`` schema metadata (instrument, bar size, source), so that
the catalog can be rebuilt from the files alone.

Every write is atomic: the new file goes to a temporary file in the same directory, is flushed and fsync'ed, then
``os.replace``'d over the old one (then the directory is fsync'ed); the catalog the same way. Input is validated
before anything is touched, a failure removes the temporary file, and temporary files orphaned by a killed process
are ignored by readers and removed by the next writer. Readers never lock; writers take ``.lock``.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal
from urllib.parse import quote, unquote

from quantdesk.atomic_files import TEMP_PREFIX, atomic_write, fsync_dir
from quantdesk.data.catalog import CatalogEntry, catalog_from_json, catalog_to_json
from quantdesk.data.columns import ADJUSTED, BAR_COLUMNS, INDEX_NAME, TS_UNIT
from quantdesk.domain.identifiers import InstrumentId
from quantdesk.domain.market import BarSize
from quantdesk.errors import DataError, NotFound, ValidationError

if TYPE_CHECKING:  # pandas and pyarrow are imported by the methods that read or write bars, not by listing
    import pandas as pd
    import pyarrow as pa

    from quantdesk.data.schema import TimeBound

__all__ = ["BarStore", "instrument_key"]

log = logging.getLogger(__name__)

CATALOG_FILE = "catalog.json"
LOCK_FILE = ".lock"
METADATA_KEY = b"quantdesk"


@cache
def _arrow_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            pa.field(INDEX_NAME, pa.timestamp(TS_UNIT, tz="UTC"), nullable=False),
            *(pa.field(c, pa.float64(), nullable=False) for c in BAR_COLUMNS),
            pa.field(ADJUSTED, pa.bool_(), nullable=False),
        ]
    )


def instrument_key(instrument: str | InstrumentId) -> str:
    """The store key for an instrument: the string itself, checked against ``InstrumentId``'s rule."""
    if isinstance(instrument, InstrumentId):
        return instrument.value
    try:
        return InstrumentId(str(instrument).strip()).value
    except ValidationError as exc:
        raise DataError(
            f"{instrument!r} is not a valid instrument key",
            field="instrument",
            value=instrument,
            hint="use a symbol like AAPL or an id like AAPL.STK.SMART.USD (letters, digits and . _ : / -)",
        ) from exc


def _bar_size(bar_size: BarSize | str) -> BarSize:
    return bar_size if isinstance(bar_size, BarSize) else BarSize.parse(bar_size)


def _file_name(key: str) -> str:
    return quote(key, safe="._-") + ".parquet"


class BarStore:
    """Parquet bar files under ``root``, one per (bar size, instrument), indexed by ``root/catalog.json``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser()
        self._thread_lock = threading.RLock()

    @classmethod
    def in_data_dir(cls, data_dir: Path | str) -> BarStore:
        """The store at ``<data_dir>/bars`` (``settings.paths.data_dir``)."""
        return cls(Path(data_dir).expanduser() / "bars")

    def __repr__(self) -> str:
        return f"BarStore({str(self.root)!r})"

    # ----------------------------------------------------------------- paths and locking
    @property
    def catalog_path(self) -> Path:
        """``root/catalog.json``."""
        return self.root / CATALOG_FILE

    def path_for(self, instrument: str | InstrumentId, bar_size: BarSize | str) -> Path:
        """The Parquet file that holds (or would hold) this series."""
        return self.root / _bar_size(bar_size).slug / _file_name(instrument_key(instrument))

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, open(self.root / LOCK_FILE, "a+b") as fh:
            try:
                import fcntl
            except ImportError:  # not POSIX: one writer per process is all we can promise
                yield
                return
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _remove_orphans(self, directory: Path) -> None:
        """Remove temporary files left by a writer that died (we hold the lock, so none is in use)."""
        if directory.is_dir():
            for tmp in directory.glob(TEMP_PREFIX + "*"):
                with contextlib.suppress(OSError):
                    tmp.unlink()
                    log.warning("removed orphaned temporary file %s", tmp)

    # ----------------------------------------------------------------- catalog
    def _load_catalog(self) -> dict[tuple[str, str], CatalogEntry]:
        if not self.catalog_path.exists():
            return {e.key: e for e in self._scan_files()}
        try:
            entries = catalog_from_json(self.catalog_path.read_text(encoding="utf-8"), str(self.catalog_path))
        except DataError as exc:
            log.warning("%s; rebuilding it from the Parquet files", exc)
            return {e.key: e for e in self._scan_files()}
        return {e.key: e for e in entries}

    def _save_catalog(self, entries: Iterable[CatalogEntry]) -> None:
        data = catalog_to_json(entries).encode("utf-8")

        def write(fh: IO[bytes]) -> None:
            fh.write(data)

        atomic_write(self.catalog_path, write)

    def _entry_from_file(self, path: Path) -> CatalogEntry | None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as exc:
            log.warning("skipping unreadable bar file %s: %s", path, exc)
            return None
        meta = json.loads((pf.schema_arrow.metadata or {}).get(METADATA_KEY, b"{}"))
        ts = pq.read_table(path, columns=[INDEX_NAME]).column(INDEX_NAME)
        rows = len(ts)
        adjusted = meta.get("adjusted")
        if adjusted is None and rows:
            adjusted = bool(pq.read_table(path, columns=[ADJUSTED]).column(ADJUSTED)[0].as_py())
        return CatalogEntry(
            instrument=str(meta.get("instrument") or unquote(path.stem)),
            bar_size=BarSize.parse(str(meta.get("bar_size") or path.parent.name)),
            rows=rows,
            first_ts=ts[0].as_py() if rows else None,
            last_ts=ts[rows - 1].as_py() if rows else None,
            source=str(meta.get("source", "")),
            adjusted=bool(adjusted),
            updated_at=datetime.fromtimestamp(path.stat().st_mtime, tz=UTC),
            path=path.relative_to(self.root).as_posix(),
        )

    def _scan_files(self) -> builtins.list[CatalogEntry]:
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.glob("*/*.parquet")):
            if path.name.startswith(TEMP_PREFIX):
                continue
            entry = self._entry_from_file(path)
            if entry is not None:
                found.append(entry)
        return found

    def rebuild_catalog(self) -> builtins.list[CatalogEntry]:
        """Re-derive the catalog from the Parquet files (after a crash or a manual copy) and save it."""
        with self._write_lock():
            entries = self._scan_files()
            self._save_catalog(entries)
        return sorted(entries, key=lambda e: e.key)

    # ----------------------------------------------------------------- queries
    def list(self) -> builtins.list[CatalogEntry]:
        """Every series in the store, sorted by bar size then instrument."""
        entries = self._load_catalog()
        on_disk = (
            {p.relative_to(self.root).as_posix() for p in self.root.glob("*/*.parquet")}
            if self.root.is_dir()
            else set()
        )
        on_disk = {p for p in on_disk if not Path(p).name.startswith(TEMP_PREFIX)}
        if on_disk != {e.path for e in entries.values()}:  # files copied in or removed by hand
            entries = {e.key: e for e in self._scan_files()}
        return sorted(entries.values(), key=lambda e: e.key)

    def has(self, instrument: str | InstrumentId, bar_size: BarSize | str = BarSize.DAY_1) -> bool:
        """True when the store holds this series."""
        return self.path_for(instrument, bar_size).exists()

    def entry(self, instrument: str | InstrumentId, bar_size: BarSize | str = BarSize.DAY_1) -> CatalogEntry:
        """The catalog entry of one series; ``NotFound`` if absent."""
        key, size = instrument_key(instrument), _bar_size(bar_size)
        path = self.path_for(key, size)
        if not path.exists():
            raise self._not_found(key, size)
        found = self._load_catalog().get((size.slug, key)) or self._entry_from_file(path)
        if found is None:
            raise self._not_found(key, size)
        return found

    def _not_found(self, key: str, size: BarSize) -> NotFound:
        entries = self.list()
        same_size = [e.instrument for e in entries if e.bar_size is size]
        other_sizes = sorted({e.bar_size.slug for e in entries if e.instrument == key})
        close = [k for k in same_size if k.split(".")[0].upper() == key.split(".")[0].upper()]
        if close:
            hint = "did you mean " + " or ".join(close[:3]) + "?"
        elif other_sizes:
            hint = f"{key} is stored at {', '.join(other_sizes)}: pass --bar-size"
        elif same_size:
            more = f" … ({len(same_size)} in all)" if len(same_size) > 8 else ""
            hint = f"available at {size.slug}: {', '.join(same_size[:8])}{more}"
        else:
            hint = "the store has no such series: load some with `quantdesk data sample` or `quantdesk data import`"
        return NotFound(f"no {size.slug} bars for {key} in the store", field="instrument", value=key, hint=hint)

    def read(
        self,
        instrument: str | InstrumentId,
        bar_size: BarSize | str = BarSize.DAY_1,
        start: TimeBound = None,
        end: TimeBound = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """One series as a bar frame, optionally between ``start`` and ``end`` (both inclusive; naive means UTC).

        A date-only ``end`` (``"2024-03-01"``) includes that whole day. The filter is pushed down to Parquet.
        """
        import pyarrow.parquet as pq

        from quantdesk.data.schema import parse_bound, select_columns

        key, size = instrument_key(instrument), _bar_size(bar_size)
        cols = select_columns(columns)
        path = self.path_for(key, size)
        if not path.exists():
            raise self._not_found(key, size)
        filters: builtins.list[tuple[str, str, Any]] = []
        lo = parse_bound(start, "start", is_end=False)
        hi = parse_bound(end, "end", is_end=True)
        if lo is not None:
            filters.append((INDEX_NAME, ">=", lo[0]))
        if hi is not None:
            filters.append((INDEX_NAME, "<=" if hi[1] else "<", hi[0]))
        table = pq.read_table(path, columns=[INDEX_NAME, *cols], filters=filters or None)
        return self._to_frame(table, cols)

    @staticmethod
    def _to_frame(table: pa.Table, columns: Sequence[str]) -> pd.DataFrame:
        import pandas as pd

        frame = table.to_pandas()
        index = pd.DatetimeIndex(frame[INDEX_NAME], name=INDEX_NAME)
        if index.tz is None:
            index = index.tz_localize("UTC")
        index = index.as_unit(TS_UNIT)
        out = pd.DataFrame({c: frame[c].to_numpy() for c in columns}, index=index)
        for c in columns:
            out[c] = out[c].astype("bool" if c == ADJUSTED else "float64")
        return out

    def read_many(
        self,
        instruments: Iterable[str | InstrumentId],
        bar_size: BarSize | str = BarSize.DAY_1,
        field: str = "close",
        start: TimeBound = None,
        end: TimeBound = None,
    ) -> pd.DataFrame:
        """One field of several series side by side: index ``ts`` (outer join), one column per instrument key."""
        import pandas as pd

        if field not in BAR_COLUMNS:
            raise DataError(
                f"unknown field {field!r}", field="field", value=field, hint="use one of " + ", ".join(BAR_COLUMNS)
            )
        keys = [instrument_key(i) for i in instruments]
        size = _bar_size(bar_size)
        missing = [k for k in keys if not self.has(k, size)]
        if missing:
            first = self._not_found(missing[0], size)
            raise NotFound(
                f"no {size.slug} bars for {', '.join(missing)} in the store",
                field="instrument",
                value=missing,
                hint=first.hint,
            )
        series = {k: self.read(k, size, start, end, columns=[field])[field] for k in keys}
        if not series:
            return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name=INDEX_NAME).as_unit(TS_UNIT))
        wide = pd.concat(series, axis=1, join="outer").sort_index()
        wide.index.name = INDEX_NAME
        return wide

    # ----------------------------------------------------------------- writes
    def write(
        self,
        instrument: str | InstrumentId,
        bar_size: BarSize | str,
        df: pd.DataFrame,
        *,
        source: str,
        mode: Literal["merge", "replace"] = "merge",
        adjusted: bool | None = None,
    ) -> CatalogEntry:
        """Store ``df`` (validated first) for one series and return its new catalog entry.

        ``mode="merge"`` unions with the stored rows by ``ts``, the new rows winning; ``"replace"`` drops the old
        ones. ``adjusted`` overrides the frame's own ``adjusted`` column. Merging adjusted with unadjusted prices
        is refused.
        """
        import pandas as pd
        import pyarrow.parquet as pq

        from quantdesk.data.schema import validate_bars

        key, size = instrument_key(instrument), _bar_size(bar_size)
        if mode not in ("merge", "replace"):
            raise DataError(f"unknown write mode {mode!r}", field="mode", value=mode, hint="use merge or replace")
        if not source or not source.strip():
            raise DataError("a source is required", field="source", hint="name where the bars came from, e.g. csv:x")
        bars = validate_bars(df, f"{key} {size.slug}", bar_size=size, adjusted=adjusted)
        if bars.empty:
            raise DataError(
                f"no rows to write for {key} {size.slug}", field="rows", hint="pass a frame with at least one bar"
            )
        path = self.path_for(key, size)
        with self._write_lock():
            self._remove_orphans(path.parent)
            self._remove_orphans(self.root)
            if mode == "merge" and path.exists():
                old = self._to_frame(pq.read_table(path), [*BAR_COLUMNS, ADJUSTED])
                if len(old) and bool(old[ADJUSTED].iloc[0]) != bool(bars[ADJUSTED].iloc[0]):
                    raise DataError(
                        f"{key} {size.slug} holds {'adjusted' if old[ADJUSTED].iloc[0] else 'unadjusted'} prices; "
                        f"refusing to merge {'adjusted' if bars[ADJUSTED].iloc[0] else 'unadjusted'} ones into them",
                        field="adjusted",
                        value=bool(bars[ADJUSTED].iloc[0]),
                        hint="import with the same --adjusted setting, or pass --replace (mode='replace' in code)",
                    )
                bars = pd.concat([old.loc[~old.index.isin(bars.index)], bars]).sort_index()
            table = self._to_table(bars, key, size, source)
            atomic_write(path, lambda fh: pq.write_table(table, fh, compression="zstd"))
            entry = CatalogEntry(
                instrument=key,
                bar_size=size,
                rows=len(bars),
                first_ts=bars.index[0].to_pydatetime(),
                last_ts=bars.index[-1].to_pydatetime(),
                source=source,
                adjusted=bool(bars[ADJUSTED].iloc[0]),
                updated_at=datetime.now(UTC),
                path=path.relative_to(self.root).as_posix(),
            )
            entries = self._load_catalog()
            entries[entry.key] = entry
            self._save_catalog(entries.values())
        return entry

    @staticmethod
    def _to_table(bars: pd.DataFrame, key: str, size: BarSize, source: str) -> pa.Table:
        import pandas as pd
        import pyarrow as pa

        arrays = [pa.array(pd.DatetimeIndex(bars.index).as_unit(TS_UNIT), type=_arrow_schema().field(INDEX_NAME).type)]
        arrays += [pa.array(bars[c].to_numpy(dtype="float64"), type=pa.float64()) for c in BAR_COLUMNS]
        arrays.append(pa.array(bars[ADJUSTED].to_numpy(dtype=bool), type=pa.bool_()))
        meta = {
            "instrument": key,
            "bar_size": size.slug,
            "source": source,
            "adjusted": bool(bars[ADJUSTED].iloc[0]),
            "schema": 1,
        }
        schema = _arrow_schema().with_metadata({METADATA_KEY: json.dumps(meta).encode("utf-8")})
        return pa.Table.from_arrays(arrays, schema=schema)

    def delete(self, instrument: str | InstrumentId, bar_size: BarSize | str = BarSize.DAY_1) -> None:
        """Remove one series and its catalog entry; ``NotFound`` if absent."""
        key, size = instrument_key(instrument), _bar_size(bar_size)
        path = self.path_for(key, size)
        with self._write_lock():
            if not path.exists():
                raise self._not_found(key, size)
            path.unlink()
            fsync_dir(path.parent)
            entries = self._load_catalog()
            entries.pop((size.slug, key), None)
            self._save_catalog(entries.values())
