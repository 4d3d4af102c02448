"""The bar store's catalog: one entry per (instrument, bar size) with its row count, span, source and flags.

On disk it is ``<store root>/catalog.json``::

    {"version": 1, "entries": [{"instrument": "AAPL", "bar_size": "1day", "rows": 8313,
      "first_ts": "1990-01-02T00:00:00+00:00", "last_ts": "2022-12-28T00:00:00+00:00",
      "source": "sample:sp500", "adjusted": true, "updated_at": "...", "path": "1day/AAPL.parquet"}]}

The Parquet files are the truth; the catalog is a fast index over them that the store rewrites atomically after
every write, and rebuilds from the files' own metadata when it is missing or unreadable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quantdesk.domain.market import BarSize
from quantdesk.errors import DataError

__all__ = ["CATALOG_VERSION", "CatalogEntry", "catalog_from_json", "catalog_to_json"]

CATALOG_VERSION = 1


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """What the store holds for one instrument at one bar size."""

    instrument: str
    bar_size: BarSize
    rows: int
    first_ts: datetime | None
    last_ts: datetime | None
    source: str
    adjusted: bool
    updated_at: datetime
    path: str

    @property
    def key(self) -> tuple[str, str]:
        """``(bar size slug, instrument)``: the catalog's primary key and sort order."""
        return (self.bar_size.slug, self.instrument)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (bar size as its slug, timestamps as ISO 8601)."""
        return {
            "instrument": self.instrument,
            "bar_size": self.bar_size.slug,
            "rows": self.rows,
            "first_ts": None if self.first_ts is None else self.first_ts.isoformat(),
            "last_ts": None if self.last_ts is None else self.last_ts.isoformat(),
            "source": self.source,
            "adjusted": self.adjusted,
            "updated_at": self.updated_at.isoformat(),
            "path": self.path,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CatalogEntry:
        """Inverse of :meth:`to_dict`."""

        def ts(value: Any) -> datetime | None:
            return None if value is None else datetime.fromisoformat(str(value))

        updated = ts(data["updated_at"])
        assert updated is not None
        return cls(
            instrument=str(data["instrument"]),
            bar_size=BarSize.parse(str(data["bar_size"])),
            rows=int(data["rows"]),
            first_ts=ts(data.get("first_ts")),
            last_ts=ts(data.get("last_ts")),
            source=str(data.get("source", "")),
            adjusted=bool(data.get("adjusted", False)),
            updated_at=updated,
            path=str(data["path"]),
        )


def catalog_to_json(entries: Iterable[CatalogEntry]) -> str:
    """Serialise entries, sorted by bar size then instrument."""
    ordered = sorted(entries, key=lambda e: e.key)
    return json.dumps({"version": CATALOG_VERSION, "entries": [e.to_dict() for e in ordered]}, indent=1) + "\n"


def catalog_from_json(text: str, where: str) -> list[CatalogEntry]:
    """Parse a catalog document; ``where`` names the file in errors."""
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("version") != CATALOG_VERSION:
            raise ValueError(f"unsupported catalog version {doc.get('version') if isinstance(doc, dict) else doc!r}")
        return [CatalogEntry.from_dict(e) for e in doc["entries"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"cannot read the catalog: {exc}",
            field=where,
            hint="delete the file: the store rebuilds it from the Parquet files",
        ) from exc
