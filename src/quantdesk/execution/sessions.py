"""Trading sessions as the fill model needs them: is the market open at ``ts``, and which session is it in.

``SessionCalendar`` is the small protocol the matching engine depends on; three implementations:

* ``AlwaysOpen`` — 24-hour markets and tests: always open; a "session" is one UTC calendar day, so DAY orders
  expire at UTC midnight and the open/close auctions sit at 00:00 UTC.
* ``FixedHours`` — the same regular hours every trading weekday in one time zone (DST-aware through
  ``zoneinfo``), with optional holidays; pure Python, for tests and simple venues.
* ``ExchangeSessions`` — an ``exchange_calendars`` calendar (``XNYS``, ``XNAS``, ``CMES``, ``24/5``, …), with its
  holidays, early closes and lunch breaks. The calendar is built once per name and window (``lru_cache``) and its
  session bounds are copied into plain lists, so lookups are ``bisect`` calls with no pandas on the hot path.

A session is the half-open interval ``[open, close)``: the close itself is outside it, so an order sent at the
close belongs to the next session.
"""

from __future__ import annotations

import warnings
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from quantdesk.domain.market import require_utc
from quantdesk.errors import DataError, NotFound, ValidationError

__all__ = ["ALWAYS_OPEN", "AlwaysOpen", "ExchangeSessions", "FixedHours", "Session", "SessionCalendar"]


@dataclass(frozen=True, slots=True)
class Session:
    """One trading session ``[open, close)`` in UTC, with its lunch break when it has one."""

    open: datetime
    close: datetime
    break_start: datetime | None = None
    break_end: datetime | None = None

    def contains(self, ts: datetime) -> bool:
        """True when ``ts`` lies in ``[open, close)`` and outside the break."""
        if not self.open <= ts < self.close:
            return False
        return not (
            self.break_start is not None and self.break_end is not None and self.break_start <= ts < self.break_end
        )


@runtime_checkable
class SessionCalendar(Protocol):
    """What the fill model asks of a trading calendar."""

    def is_open(self, ts: datetime) -> bool:
        """True when ``ts`` (UTC-aware) lies in regular trading hours."""
        ...

    def session(self, ts: datetime) -> Session:
        """The session in progress at ``ts``, or else the next one to open (its ``close`` is the next close)."""
        ...


@dataclass(frozen=True, slots=True)
class AlwaysOpen:
    """A market that never closes; sessions are UTC days, so DAY orders last until the next UTC midnight."""

    def is_open(self, ts: datetime) -> bool:
        """Always True."""
        return True

    def session(self, ts: datetime) -> Session:
        """The UTC day containing ``ts``."""
        day = require_utc(ts).date()
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return Session(start, start + timedelta(days=1))


ALWAYS_OPEN = AlwaysOpen()
"""The shared always-open calendar (the engine's default)."""


@dataclass(frozen=True, slots=True)
class FixedHours:
    """Regular hours ``open``–``close`` (local time in ``tz``) on ``weekdays`` (0 = Monday), minus ``holidays``."""

    open: time
    close: time
    tz: str = "UTC"
    weekdays: frozenset[int] = frozenset(range(5))
    holidays: frozenset[date] = frozenset()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.open, time) and isinstance(self.close, time)) or self.close <= self.open:
            raise ValidationError(
                f"session close {self.close} must come after open {self.open} on the same day",
                field="close",
                value=self.close,
                hint="overnight sessions need ExchangeSessions (e.g. CMES)",
            )
        try:
            object.__setattr__(self, "_zone", ZoneInfo(self.tz))
        except (KeyError, ValueError):
            raise ValidationError(
                f"unknown time zone {self.tz!r}",
                field="tz",
                value=self.tz,
                hint="use an IANA name like America/New_York",
            ) from None
        days = frozenset(self.weekdays)
        if not days or not days <= frozenset(range(7)):
            raise ValidationError(
                f"weekdays must be a non-empty subset of 0..6, got {sorted(days)}",
                field="weekdays",
                value=self.weekdays,
                hint="0 is Monday, 6 is Sunday",
            )
        object.__setattr__(self, "weekdays", days)
        object.__setattr__(self, "holidays", frozenset(self.holidays))

    @classmethod
    def us_equities(cls) -> FixedHours:
        """09:30–16:00 America/New_York, Monday to Friday, no holidays (use ExchangeSessions('XNYS') for those)."""
        return cls(time(9, 30), time(16, 0), "America/New_York")

    def _bounds(self, day: date) -> Session | None:
        if day.weekday() not in self.weekdays or day in self.holidays:
            return None
        start = datetime.combine(day, self.open, self._zone).astimezone(UTC)
        end = datetime.combine(day, self.close, self._zone).astimezone(UTC)
        return Session(start, end)

    def is_open(self, ts: datetime) -> bool:
        """True inside the regular hours of a trading day."""
        ts = require_utc(ts)
        bounds = self._bounds(ts.astimezone(self._zone).date())
        return bounds is not None and bounds.contains(ts)

    def session(self, ts: datetime) -> Session:
        """The session in progress at ``ts`` or the next one (searched up to a year ahead)."""
        ts = require_utc(ts)
        day = ts.astimezone(self._zone).date()
        for offset in range(366):
            bounds = self._bounds(day + timedelta(days=offset))
            if bounds is not None and ts < bounds.close:
                return bounds
        raise DataError(
            f"no trading session within a year after {ts.isoformat()}",
            field="holidays",
            value=len(self.holidays),
            hint="check the weekdays and holidays of the calendar",
        )


@dataclass(frozen=True, slots=True)
class _Bounds:
    opens: list[datetime]
    closes: list[datetime]
    break_starts: list[datetime | None]
    break_ends: list[datetime | None]


def _to_utc(value: Any) -> datetime | None:
    if value != value:  # NaT: no break on that session
        return None
    result: datetime = value.to_pydatetime().astimezone(UTC)
    return result


@lru_cache(maxsize=32)
def _load_bounds(name: str, start: str, end: str | None) -> _Bounds:
    """Build the calendar once and copy its bounds into plain UTC datetimes."""
    import exchange_calendars

    try:
        with warnings.catch_warnings():
            # exchange_calendars 4.x reads Series.values of tz-aware series, which pandas deprecates: not ours.
            warnings.filterwarnings("ignore", message=r"Series\.values returning")
            warnings.filterwarnings("ignore", message=r".*is deprecated", category=DeprecationWarning)
            cal = exchange_calendars.get_calendar(name, start=start, end=end)
    except exchange_calendars.errors.InvalidCalendarName:
        raise NotFound(
            f"no exchange calendar named {name!r}",
            field="calendar",
            value=name,
            hint="use an exchange_calendars name such as XNYS, XNAS, CMES, XLON or 24/5",
        ) from None
    return _Bounds(
        opens=[_to_utc(v) or datetime.min.replace(tzinfo=UTC) for v in cal.opens],
        closes=[_to_utc(v) or datetime.min.replace(tzinfo=UTC) for v in cal.closes],
        break_starts=[_to_utc(v) for v in cal.break_starts],
        break_ends=[_to_utc(v) for v in cal.break_ends],
    )


@dataclass(frozen=True, slots=True)
class ExchangeSessions:
    """Sessions of an ``exchange_calendars`` calendar (``XNYS`` for NYSE/SMART, ``XNAS``, ``CMES``, ``24/5``…).

    ``start``/``end`` bound the calendar (ISO dates); a timestamp outside them raises ``DataError``.
    """

    name: str
    start: str = "1990-01-01"
    end: str | None = None

    def _bounds(self) -> _Bounds:
        return _load_bounds(self.name, self.start, self.end)

    def _index(self, ts: datetime) -> int:
        """Index of the first session whose close is after ``ts``."""
        bounds = self._bounds()
        i = bisect_right(bounds.closes, ts)
        if i >= len(bounds.closes) or (i == 0 and ts < bounds.opens[0] - timedelta(days=7)):
            raise DataError(
                f"{ts.isoformat()} lies outside the {self.name} calendar ({self.start} to {self.end or 'its end'})",
                field="ts",
                value=ts,
                hint="widen ExchangeSessions(start=..., end=...)",
            )
        return i

    def session(self, ts: datetime) -> Session:
        """The session in progress at ``ts`` or the next one."""
        i = self._index(require_utc(ts))
        b = self._bounds()
        return Session(b.opens[i], b.closes[i], b.break_starts[i], b.break_ends[i])

    def is_open(self, ts: datetime) -> bool:
        """True inside a session and outside its break."""
        ts = require_utc(ts)
        return self.session(ts).contains(ts)
