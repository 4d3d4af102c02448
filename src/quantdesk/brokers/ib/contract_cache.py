"""The qualified-contract cache: IB contracts keyed by ``conId``, persisted as JSON in the data directory.

Qualifying a contract costs a round trip to IB (``reqContractDetails``); a platform that restarts every night would
otherwise ask again for every instrument it trades. The cache remembers, per ``conId``, the IB contract fields, the
minimum tick, the long name and the domain instrument it was qualified as, plus an index from each
``InstrumentId`` to its ``conId``. It lives at ``<data_dir>/ib/contracts.json``::

    {"version": 1,
     "contracts": {"265598": {"con_id": 265598,
                              "contract": {"conId": 265598, "symbol": "AAPL", "secType": "STK", ...},
                              "instrument": {"kind": "Stock", "symbol": "AAPL", "currency": "USD", ...},
                              "min_tick": "0.01", "long_name": "APPLE INC", "cached_at": "2025-...+00:00"}},
     "aliases": {"AAPL.STK.SMART.USD": 265598}}

Every save is atomic (temporary file in the same directory, fsync, ``os.replace``), so a crash never leaves a
half-written cache; a cache that cannot be read is ignored with a warning and rebuilt as contracts are qualified.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from quantdesk.atomic_files import atomic_write_json
from quantdesk.domain.identifiers import InstrumentId
from quantdesk.domain.instruments import (
    Bond,
    Cfd,
    ContinuousFuture,
    Crypto,
    ForexPair,
    Future,
    Index,
    Instrument,
    Option,
    Stock,
    Warrant,
)
from quantdesk.domain.values import Currency

__all__ = [
    "CACHE_VERSION",
    "CachedContract",
    "ContractCache",
    "instrument_from_json",
    "instrument_to_json",
]

log = logging.getLogger(__name__)
CACHE_VERSION = 1
_KINDS: dict[str, type[Instrument]] = {
    cls.__name__: cls for cls in (Stock, Option, Future, ContinuousFuture, ForexPair, Bond, Cfd, Index, Warrant, Crypto)
}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Currency):
        return value.code
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def instrument_to_json(instrument: Instrument) -> dict[str, Any]:
    """A JSON-ready dict of the instrument's fields, with its class under ``kind``."""
    out: dict[str, Any] = {"kind": type(instrument).__name__}
    for f in fields(instrument):
        if f.init:  # derived fields (the id) are rebuilt on load
            out[f.name] = _plain(getattr(instrument, f.name))
    return out


def instrument_from_json(data: Mapping[str, Any]) -> Instrument:
    """Rebuild an instrument written by :func:`instrument_to_json` (the constructors accept the plain forms)."""
    values = dict(data)
    kind = _KINDS.get(str(values.pop("kind", "")))
    if kind is None:
        raise ValueError(f"unknown instrument kind {data.get('kind')!r}")
    return kind(**values)


@dataclass(frozen=True, slots=True)
class CachedContract:
    """One qualified contract: IB's contract fields, the instrument it was qualified as, tick and name."""

    con_id: int
    contract: Mapping[str, Any]
    instrument: Instrument
    min_tick: Decimal
    long_name: str = ""
    cached_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this entry."""
        return {
            "con_id": self.con_id,
            "contract": dict(self.contract),
            "instrument": instrument_to_json(self.instrument),
            "min_tick": str(self.min_tick),
            "long_name": self.long_name,
            "cached_at": self.cached_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CachedContract:
        """Parse one entry (raises ``ValueError``/``KeyError``/``QuantdeskError`` when malformed)."""
        return cls(
            con_id=int(data["con_id"]),
            contract=dict(data["contract"]),
            instrument=instrument_from_json(data["instrument"]),
            min_tick=Decimal(str(data["min_tick"])),
            long_name=str(data.get("long_name", "")),
            cached_at=datetime.fromisoformat(str(data["cached_at"])),
        )


class ContractCache:
    """Qualified contracts by ``conId`` and by ``InstrumentId``; persisted to ``path`` when one is given."""

    FILE_NAME = "contracts.json"

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._by_con_id: dict[int, CachedContract] = {}
        self._aliases: dict[InstrumentId, int] = {}
        self.hits = 0
        self.misses = 0
        if path is not None:
            self._load(path)

    @classmethod
    def in_data_dir(cls, data_dir: Path | str) -> ContractCache:
        """The cache at ``<data_dir>/ib/contracts.json``."""
        return cls(Path(data_dir).expanduser() / "ib" / cls.FILE_NAME)

    def __len__(self) -> int:
        return len(self._by_con_id)

    def __contains__(self, con_id: object) -> bool:
        return con_id in self._by_con_id

    def _load(self, path: Path) -> None:
        if not path.is_file():
            return
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("version") != CACHE_VERSION:
                raise ValueError(f"version {doc.get('version')!r}, expected {CACHE_VERSION}")
            entries = [CachedContract.from_json(v) for v in doc.get("contracts", {}).values()]
            aliases = {InstrumentId(k): int(v) for k, v in doc.get("aliases", {}).items()}
        except (OSError, ValueError, KeyError, TypeError, LookupError) as exc:
            log.warning("ignoring the unreadable contract cache %s (%s); it is rebuilt as contracts qualify", path, exc)
            return
        self._by_con_id = {e.con_id: e for e in entries}
        self._aliases = {k: v for k, v in aliases.items() if v in self._by_con_id}

    def save(self) -> None:
        """Write the cache to its file (atomically); a memory-only cache does nothing."""
        if self.path is None:
            return
        atomic_write_json(
            self.path,
            {
                "version": CACHE_VERSION,
                "contracts": {str(k): v.to_json() for k, v in sorted(self._by_con_id.items())},
                "aliases": {k.value: v for k, v in sorted(self._aliases.items())},
            },
        )

    def get(self, con_id: int) -> CachedContract | None:
        """The entry of ``con_id``, if cached."""
        found = self._by_con_id.get(con_id)
        self._count(found)
        return found

    def lookup(self, instrument_id: InstrumentId) -> CachedContract | None:
        """The entry an instrument id was qualified to, if cached."""
        con_id = self._aliases.get(instrument_id)
        found = None if con_id is None else self._by_con_id.get(con_id)
        self._count(found)
        return found

    def _count(self, found: CachedContract | None) -> None:
        if found is None:
            self.misses += 1
        else:
            self.hits += 1

    def put(self, entry: CachedContract, *aliases: InstrumentId, save: bool = True) -> None:
        """Remember ``entry`` under its conId, its instrument's id and ``aliases``; save unless told not to."""
        self._by_con_id[entry.con_id] = entry
        for alias in (entry.instrument.id, *aliases):
            self._aliases[alias] = entry.con_id
        if save:
            self.save()

    def entries(self) -> list[CachedContract]:
        """Every cached contract, by conId."""
        return [self._by_con_id[k] for k in sorted(self._by_con_id)]
