"""Historical bars from IB: paced, chunked to IB's size limits, resumable, and kept in the bar store.

**Chunking.** IB caps how much history one request may cover, by bar size (IB's "step" table; a request beyond it
is refused with error 162 or 321):

==================================  ==============================
bar size                            largest chunk per request
==================================  ==============================
1 secs                              1800 S
5 secs                              3600 S
10 / 15 secs                        14400 S (4 hours)
30 secs                             28800 S (8 hours)
1 min                               1 D
2 mins                              2 D
3 / 5 / 10 / 15 / 20 mins           1 W
30 mins, 1–8 hours                  1 M (30 days)
1 day, 1 week, 1 month              1 Y (365 days)
==================================  ==============================

A range is cut on a fixed grid of that chunk length (counted from the Unix epoch), so two overlapping requests
share chunk boundaries. Durations go out as ``N S`` up to a day for intraday bars, else ``N D`` / ``N Y``; IB may
answer with a little more than the chunk (its days are trading days), which is trimmed.

**Resume and the store.** Fetched bars are merged into the bar store (``quantdesk.data.BarStore``, key: the
instrument id, plus ``:MIDPOINT``-style suffixes for other ``whatToShow`` types and ``:ALLHOURS`` outside regular
hours). A coverage log next to the contract cache (``<data_dir>/ib/history_coverage.json``) records which spans
were fetched completely, so a second request, or a backfill interrupted and started again, asks IB only for the
gaps; a span that returned no data (a holiday) counts as covered. The bar still forming at request time is stored
but not marked covered, so it is fetched again next time.

**Pacing.** Every request goes through :class:`~quantdesk.brokers.ib.pacing.HistoricalPacer`; a pacing violation
(162) that still happens (another program on the same TWS) is waited out and retried.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
from ib_async import BarData, Contract

from quantdesk.atomic_files import atomic_write_json
from quantdesk.brokers.ib.connection import IBConnection
from quantdesk.brokers.ib.contracts import QualifiedContract
from quantdesk.brokers.ib.error_codes import ErrorAction
from quantdesk.brokers.ib.market_data import WHAT_TO_SHOW
from quantdesk.brokers.ib.pacing import HistoricalPacer, PacingKey
from quantdesk.data.bar_store import BarStore
from quantdesk.data.schema import is_daily_or_longer
from quantdesk.domain.identifiers import InstrumentId
from quantdesk.domain.market import Bar, BarSize
from quantdesk.errors import BrokerError, NotFound, ValidationError

__all__ = [
    "MAX_CHUNK",
    "BackfillResult",
    "Chunk",
    "Coverage",
    "HistoricalDataService",
    "bars_from_ib",
    "duration_string",
    "plan_chunks",
    "series_key",
]

log = logging.getLogger(__name__)
_DAY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_S = BarSize
MAX_CHUNK: dict[BarSize, timedelta] = {
    _S.SEC_1: timedelta(seconds=1800), _S.SEC_5: timedelta(seconds=3600), _S.SEC_10: timedelta(hours=4),
    _S.SEC_15: timedelta(hours=4), _S.SEC_30: timedelta(hours=8), _S.MIN_1: _DAY, _S.MIN_2: 2 * _DAY,
    _S.MIN_3: 7 * _DAY, _S.MIN_5: 7 * _DAY, _S.MIN_10: 7 * _DAY, _S.MIN_15: 7 * _DAY, _S.MIN_20: 7 * _DAY,
    _S.MIN_30: 30 * _DAY, _S.HOUR_1: 30 * _DAY, _S.HOUR_2: 30 * _DAY, _S.HOUR_3: 30 * _DAY, _S.HOUR_4: 30 * _DAY,
    _S.HOUR_8: 30 * _DAY, _S.DAY_1: 365 * _DAY, _S.WEEK_1: 365 * _DAY, _S.MONTH_1: 365 * _DAY,
}  # fmt: skip
"""The largest span one request covers, per bar size (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One request's span ``[start, end)``."""

    start: datetime
    end: datetime

    def duration(self, bar_size: BarSize) -> str:
        """IB's ``durationStr`` for this chunk."""
        return duration_string(self.end - self.start, bar_size)


def duration_string(span: timedelta, bar_size: BarSize) -> str:
    """``N S`` up to a day for intraday bars, else ``N D`` (calendar days, rounded up) or ``N Y``."""
    seconds = max(math.ceil(span.total_seconds()), 1)
    if bar_size.duration < _DAY and seconds <= 86400:
        return f"{seconds} S"
    days = math.ceil(seconds / 86400)
    if days >= 365:
        return f"{math.ceil(days / 365)} Y"
    return f"{days} D"


def plan_chunks(start: datetime, end: datetime, bar_size: BarSize) -> list[Chunk]:
    """Cut ``[start, end)`` on the epoch-aligned grid of ``MAX_CHUNK[bar_size]``."""
    if end <= start:
        return []
    step = MAX_CHUNK[bar_size]
    k = (start - _EPOCH) // step
    edge = _EPOCH + k * step
    out = []
    while edge < end:
        nxt = edge + step
        out.append(Chunk(max(edge, start), min(nxt, end)))
        edge = nxt
    return out


def series_key(instrument_id: InstrumentId, what_to_show: str = "TRADES", use_rth: bool = True) -> str:
    """The bar store key of a series: the instrument id, ``:WHAT`` unless TRADES, ``:ALLHOURS`` unless RTH."""
    key = instrument_id.value
    if what_to_show.upper() != "TRADES":
        key += f":{what_to_show.upper()}"
    if not use_rth:
        key += ":ALLHOURS"
    return key


def _bar_ts(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def bars_from_ib(instrument_id: InstrumentId, bar_size: BarSize, bars: Sequence[BarData]) -> list[Bar]:
    """Domain bars from ``ib_async`` bars (IB's -1 volume becomes 0; bars with no price are skipped)."""
    out = []
    for b in bars:
        if min(b.open, b.high, b.low, b.close) <= 0:
            continue
        volume = Decimal(repr(float(b.volume))) if b.volume and b.volume > 0 else Decimal(0)
        prices = [Decimal(repr(float(x))) for x in (b.open, b.high, b.low, b.close)]
        out.append(Bar(instrument_id, bar_size, _bar_ts(b.date), prices[0], prices[1], prices[2], prices[3], volume))
    return out


class Coverage:
    """Which spans of each series were fetched completely (a JSON file, written atomically)."""

    FILE_NAME = "history_coverage.json"

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._spans: dict[str, list[tuple[datetime, datetime]]] = {}
        if path is not None and path.is_file():
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                self._spans = {
                    k: [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in v]
                    for k, v in doc.get("series", {}).items()
                }
            except (OSError, ValueError, TypeError) as exc:
                log.warning("ignoring the unreadable coverage log %s (%s)", path, exc)

    @staticmethod
    def key(series: str, bar_size: BarSize) -> str:
        """The log's key of a series at a bar size."""
        return f"{series}|{bar_size.slug}"

    def spans(self, key: str) -> list[tuple[datetime, datetime]]:
        """The covered spans of ``key``, merged and sorted."""
        return list(self._spans.get(key, []))

    def add(self, key: str, start: datetime, end: datetime, *, save: bool = True) -> None:
        """Mark ``[start, end)`` covered (merging with touching spans)."""
        if end <= start:
            return
        spans = sorted([*self._spans.get(key, []), (start, end)])
        merged: list[tuple[datetime, datetime]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        self._spans[key] = merged
        if save and self.path is not None:
            doc = {"version": 1, "series": {k: [[a.isoformat(), b.isoformat()] for a, b in v]
                                            for k, v in sorted(self._spans.items())}}  # fmt: skip
            atomic_write_json(self.path, doc)

    def gaps(self, key: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The parts of ``[start, end)`` not covered yet."""
        out, cursor = [], start
        for a, b in self._spans.get(key, []):
            if b <= cursor:
                continue
            if a >= end:
                break
            if a > cursor:
                out.append((cursor, min(a, end)))
            cursor = max(cursor, b)
            if cursor >= end:
                break
        if cursor < end:
            out.append((cursor, end))
        return out


@dataclass(frozen=True, slots=True)
class BackfillResult:
    """What a backfill did: chunks requested from IB, chunks already covered, bars written."""

    requested: int
    skipped: int
    bars_written: int


class HistoricalDataService:
    """Historical bars of one connection, paced, chunked and stored (see the module docstring)."""

    def __init__(
        self,
        connection: IBConnection,
        store: BarStore | None = None,
        *,
        pacer: HistoricalPacer | None = None,
        coverage: Coverage | None = None,
        timeout: float = 60.0,
        concurrency: int = 4,
        pacing_retries: int = 3,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        source: str = "ib",
    ) -> None:
        self.connection = connection
        self.source = source  # the bar store's label for what this service writes
        self.store = store
        self.pacer = pacer or HistoricalPacer()
        self.coverage = coverage or Coverage()
        self.timeout = timeout
        self.concurrency = max(concurrency, 1)
        self.pacing_retries = pacing_retries
        self._now = now
        self.requests = 0

    @classmethod
    def in_data_dir(
        cls,
        connection: IBConnection,
        data_dir: Path | str,
        *,
        pacer: HistoricalPacer | None = None,
        timeout: float = 60.0,
        source: str = "ib",
    ) -> HistoricalDataService:
        """A service storing bars (labelled ``source``) in ``<data_dir>/bars`` and its coverage log in
        ``<data_dir>/ib``."""
        root = Path(data_dir).expanduser()
        coverage = Coverage(root / "ib" / Coverage.FILE_NAME)
        store = BarStore.in_data_dir(root)
        return cls(connection, store, pacer=pacer, coverage=coverage, timeout=timeout, source=source)

    async def fetch(
        self,
        contract: Contract,
        instrument_id: InstrumentId,
        bar_size: BarSize,
        end: datetime | None,
        duration: str,
        *,
        what_to_show: str = "TRADES",
        use_rth: bool = True,
    ) -> list[Bar]:
        """One paced ``reqHistoricalData`` (no store): bars ending at ``end`` (None: now) over ``duration``."""
        what = _check_what(what_to_show)
        end_text = "" if end is None else end.astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC")
        key = PacingKey(str(contract.conId or instrument_id.value), contract.exchange, what, bar_size.value,
                        duration, end_text, use_rth, bar_size.duration.total_seconds())  # fmt: skip
        format_date = 1 if is_daily_or_longer(bar_size) else 2
        for attempt in range(self.pacing_retries + 1):
            if not self.connection.is_connected:
                raise BrokerError(
                    f"not connected to {self.connection.config.address} (historical data)",
                    code=504,
                    field="connection",
                    hint="connect first; after a drop the supervisor reconnects on its own",
                )
            async with await self.pacer.acquire(key):
                self.requests += 1
                bars = await self.connection.ib.reqHistoricalDataAsync(
                    contract, end_text, duration, bar_size.value, what, use_rth, format_date, timeout=self.timeout
                )
            if bars:
                return bars_from_ib(instrument_id, bar_size, list(bars))
            err = self.connection.request_error(bars.reqId)
            if err is None:
                raise BrokerError(
                    f"no answer to a historical request for {instrument_id} within {self.timeout:g} s",
                    field="ib.request_timeout",
                    value=self.timeout,
                    hint="long durations take IB a while: raise ib.request_timeout, or request less at once",
                )
            if err.entry.action is ErrorAction.NO_DATA:
                return []
            if err.entry.action is ErrorAction.PACING and attempt < self.pacing_retries:
                log.warning("historical pacing violation for %s: waiting before retry %d", instrument_id, attempt + 1)
                await asyncio.sleep(self.pacer.rules.violation_wait * 2**attempt)
                continue
            raise BrokerError(
                f"IB error {err.code} for historical {bar_size.value} {what} bars of {instrument_id}: {err.message}",
                code=err.code,
                field="historical",
                value=str(instrument_id),
                hint=err.entry.fix or "check the request",
            )
        raise AssertionError("unreachable")

    async def backfill(
        self,
        qualified: QualifiedContract,
        bar_size: BarSize,
        start: datetime,
        end: datetime,
        *,
        what_to_show: str = "TRADES",
        use_rth: bool = True,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> BackfillResult:
        """Fetch what the store lacks of ``[start, end)`` into it, chunk by chunk (resumable); ``on_progress(done,
        total)`` is called with the chunks requested so far, first with ``done=0``."""
        store = self._require_store()
        what = _check_what(what_to_show)
        series = series_key(qualified.instrument.id, what, use_rth)
        cov_key = Coverage.key(series, bar_size)
        now = self._now()
        complete_until = _complete_until(now, bar_size)
        chunks = [c for a, b in self.coverage.gaps(cov_key, start, end) for c in plan_chunks(a, b, bar_size)]
        chunks = [c for c in chunks if c.start < now]
        total_chunks = len(plan_chunks(start, end, bar_size))
        written = done = 0
        limit = asyncio.Semaphore(self.concurrency)
        if on_progress is not None:
            on_progress(0, len(chunks))

        async def one(chunk: Chunk) -> None:
            nonlocal written, done
            async with limit:
                bars = await self.fetch(qualified.contract, qualified.instrument.id, bar_size, chunk.end,
                                        chunk.duration(bar_size), what_to_show=what, use_rth=use_rth)  # fmt: skip
            inside = [b for b in bars if chunk.start <= b.ts < chunk.end]
            if inside:
                store.write(series, bar_size, _frame(inside), source=self.source, adjusted=what == "ADJUSTED_LAST")
                written += len(inside)
            self.coverage.add(cov_key, chunk.start, min(chunk.end, complete_until))
            done += 1
            if on_progress is not None:
                on_progress(done, len(chunks))

        await asyncio.gather(*(one(c) for c in chunks))
        return BackfillResult(len(chunks), max(total_chunks - len(chunks), 0), written)

    async def bars(
        self,
        qualified: QualifiedContract,
        bar_size: BarSize,
        start: datetime,
        end: datetime,
        *,
        what_to_show: str = "TRADES",
        use_rth: bool = True,
    ) -> list[Bar]:
        """Bars starting in ``[start, end)``, oldest first: from the store, after fetching what it lacks."""
        _check_range(start, end)
        if self.store is None:
            return await self._bars_direct(qualified, bar_size, start, end, what_to_show, use_rth)
        await self.backfill(qualified, bar_size, start, end, what_to_show=what_to_show, use_rth=use_rth)
        return self.read(qualified.instrument.id, bar_size, start, end, what_to_show=what_to_show, use_rth=use_rth)

    def read(
        self,
        instrument_id: InstrumentId,
        bar_size: BarSize,
        start: datetime,
        end: datetime,
        *,
        what_to_show: str = "TRADES",
        use_rth: bool = True,
    ) -> list[Bar]:
        """Stored bars starting in ``[start, end)`` (no request to IB)."""
        store = self._require_store()
        try:
            frame = store.read(series_key(instrument_id, what_to_show, use_rth), bar_size, start, end)
        except NotFound:
            return []
        out = []
        stamps = pd.DatetimeIndex(frame.index).to_pydatetime()
        columns = [frame[c].tolist() for c in ("open", "high", "low", "close", "volume")]
        for i, stamp in enumerate(stamps):
            if not start <= stamp < end:
                continue
            o, h, lo, c, v = (Decimal(repr(float(col[i]))) for col in columns)
            out.append(Bar(instrument_id, bar_size, stamp, o, h, lo, c, v))
        return out

    async def _bars_direct(
        self, q: QualifiedContract, bar_size: BarSize, start: datetime, end: datetime, what: str, rth: bool
    ) -> list[Bar]:
        found: dict[datetime, Bar] = {}
        for chunk in plan_chunks(start, end, bar_size):
            for b in await self.fetch(q.contract, q.instrument.id, bar_size, chunk.end, chunk.duration(bar_size),
                                      what_to_show=what, use_rth=rth):  # fmt: skip
                if start <= b.ts < end:
                    found[b.ts] = b
        return [found[k] for k in sorted(found)]

    def _require_store(self) -> BarStore:
        if self.store is None:
            raise ValidationError(
                "this historical data service has no bar store",
                field="store",
                hint="build it with HistoricalDataService.in_data_dir(...)",
            )
        return self.store


def _check_what(what_to_show: str) -> str:
    what = what_to_show.upper()
    if what not in WHAT_TO_SHOW:
        raise ValidationError(
            f"unknown whatToShow {what_to_show!r}",
            field="what_to_show",
            value=what_to_show,
            hint="use one of " + ", ".join(WHAT_TO_SHOW),
        )
    return what


def _check_range(start: datetime, end: datetime) -> None:
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None:
            raise ValidationError(
                f"must be timezone-aware, got {value!r}", field=name, value=value, hint="pass tzinfo=UTC"
            )
    if end <= start:
        raise ValidationError(f"end {end} is not after start {start}", field="end", value=end, hint="swap them")


def _complete_until(now: datetime, bar_size: BarSize) -> datetime:
    """Bars starting before this instant are complete at ``now`` (the forming bar is not)."""
    if bar_size.duration >= _DAY:
        return datetime(now.year, now.month, now.day, tzinfo=UTC)
    step = bar_size.duration
    return _EPOCH + (now.astimezone(UTC) - _EPOCH) // step * step


def _frame(bars: Sequence[Bar]) -> pd.DataFrame:
    index = pd.DatetimeIndex([b.ts for b in bars], name="ts")
    return pd.DataFrame(
        {
            "open": [float(b.open) for b in bars],
            "high": [float(b.high) for b in bars],
            "low": [float(b.low) for b in bars],
            "close": [float(b.close) for b in bars],
            "volume": [float(b.volume) for b in bars],
        },
        index=index,
    )
