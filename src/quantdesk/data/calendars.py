"""Trading calendars by IB exchange name, on top of ``exchange_calendars``.

IB routing names map to ISO MIC calendars: NYSE, ARCA, AMEX, BATS and SMART follow the NYSE calendar (XNYS: same
holidays and regular hours), NASDAQ and ISLAND follow XNAS, CME and GLOBEX follow CMES, LSE follows XLON. IB's
forex venue IDEALPRO uses the ``24/5`` calendar (every weekday, 00:00-24:00 UTC) and the crypto venue PAXOS the
``24/7`` one. Any ``exchange_calendars`` name (``XNYS``, ``XTKS``, …) is accepted as is.

Calendars are built once per name (cached) from 1985-01-01 (the bundled sample starts in 1990), instead of the
library's default of twenty years back. Sessions are dates (midnight, naive) as ``exchange_calendars`` labels
them; opens and closes are UTC timestamps. A market is open at ``ts`` when ``open <= ts < close`` of a session,
outside any lunch break.
"""

from __future__ import annotations

import functools
import warnings
from datetime import date, datetime
from typing import Any

import pandas as pd

from quantdesk.errors import DataError, NotFound, ValidationError

__all__ = [
    "CALENDAR_START",
    "EXCHANGE_CALENDARS",
    "calendar_name",
    "get_calendar",
    "is_open",
    "is_session",
    "next_session",
    "session_open_close",
    "sessions",
    "supported_exchanges",
]

CALENDAR_START = "1985-01-01"

EXCHANGE_CALENDARS: dict[str, str] = {
    "NYSE": "XNYS",
    "ARCA": "XNYS",
    "AMEX": "XNYS",
    "BATS": "XNYS",
    "SMART": "XNYS",
    "NASDAQ": "XNAS",
    "ISLAND": "XNAS",
    "CME": "CMES",
    "GLOBEX": "CMES",
    "LSE": "XLON",
    "IDEALPRO": "24/5",
    "PAXOS": "24/7",
}

DateLike = str | date | datetime | pd.Timestamp


def supported_exchanges() -> list[str]:
    """The IB exchange names this module maps (``exchange_calendars`` names are accepted too)."""
    return sorted(EXCHANGE_CALENDARS)


def _xc() -> Any:
    import exchange_calendars  # imported on first use: it takes a second or two

    return exchange_calendars


def calendar_name(exchange: str) -> str:
    """The ``exchange_calendars`` name for an IB exchange name (case-insensitive) or a calendar name itself."""
    key = str(exchange).strip().upper()
    if key in EXCHANGE_CALENDARS:
        return EXCHANGE_CALENDARS[key]
    names = set(_xc().get_calendar_names(include_aliases=True))
    for candidate in (str(exchange).strip(), key):
        if candidate in names:
            return candidate
    raise NotFound(
        f"no trading calendar for exchange {exchange!r}",
        field="exchange",
        value=exchange,
        hint="use one of " + ", ".join(supported_exchanges()) + " or an exchange_calendars name such as XNYS",
    )


@functools.lru_cache(maxsize=32)
def _build(name: str) -> Any:
    with warnings.catch_warnings():
        # exchange_calendars 4.x reads Series.values of tz-aware series, which pandas 3.1 deprecates: not ours.
        warnings.filterwarnings("ignore", message=r"Series\.values returning")
        return _xc().get_calendar(name, start=CALENDAR_START)


def get_calendar(exchange: str) -> Any:
    """The (cached) ``exchange_calendars.ExchangeCalendar`` for an exchange, starting 1985-01-01."""
    return _build(calendar_name(exchange))


def _session_label(value: DateLike, field: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise DataError(f"cannot parse {value!r} as a date", field=field, value=value, hint="use YYYY-MM-DD") from exc
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.normalize()


def _utc(value: DateLike, field: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise DataError(f"cannot parse {value!r} as a timestamp", field=field, value=value) from exc
    if ts.tzinfo is None:
        raise ValidationError(
            f"must be timezone-aware, got {value!r}",
            field=field,
            value=value,
            hint="pass a UTC timestamp such as 2024-11-26T03:00:00Z",
        )
    return ts.tz_convert("UTC")


def _bounds_error(cal: Any, field: str, value: Any) -> DataError:
    return DataError(
        f"{value!s} is outside the {cal.name} calendar ({cal.first_session.date()} to {cal.last_session.date()})",
        field=field,
        value=value,
        hint="ask for dates within that range",
    )


def sessions(exchange: str, start: DateLike, end: DateLike) -> pd.DatetimeIndex:
    """Session dates from ``start`` to ``end``, both inclusive."""
    cal = get_calendar(exchange)
    lo, hi = _session_label(start, "start"), _session_label(end, "end")
    try:
        return pd.DatetimeIndex(cal.sessions_in_range(lo, hi))
    except ValueError as exc:
        field = "start" if lo < cal.first_session else "end"
        raise _bounds_error(cal, field, f"{lo.date()}..{hi.date()}") from exc


def is_session(exchange: str, day: DateLike) -> bool:
    """True when the exchange trades on ``day``."""
    cal = get_calendar(exchange)
    label = _session_label(day, "date")
    try:
        return bool(cal.is_session(label))
    except ValueError as exc:
        raise _bounds_error(cal, "date", label.date()) from exc


def session_open_close(exchange: str, day: DateLike) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The UTC open and close of the session on ``day`` (early closes included); ``DataError`` if none."""
    cal = get_calendar(exchange)
    label = _session_label(day, "date")
    if not is_session(exchange, label):
        nxt = cal.date_to_session(label, direction="next") if label < cal.last_session else None
        raise DataError(
            f"{label.date()} is not a session of {cal.name}",
            field="date",
            value=str(label.date()),
            hint=f"the next session is {nxt.date()}" if nxt is not None else "pick a trading day",
        )
    open_, close = cal.session_open_close(label)
    return pd.Timestamp(open_).tz_convert("UTC"), pd.Timestamp(close).tz_convert("UTC")


def next_session(exchange: str, day: DateLike) -> pd.Timestamp:
    """The first session strictly after ``day``."""
    cal = get_calendar(exchange)
    label = _session_label(day, "date") + pd.Timedelta(days=1)
    try:
        return pd.Timestamp(cal.date_to_session(label, direction="next"))
    except ValueError as exc:
        raise _bounds_error(cal, "date", label.date()) from exc


def is_open(exchange: str, ts: DateLike) -> bool:
    """True when the exchange is trading at the UTC instant ``ts`` (open <= ts < close, not in a break)."""
    cal = get_calendar(exchange)
    moment = _utc(ts, "ts")
    opens: pd.Series[pd.Timestamp] = cal.opens
    closes: pd.Series[pd.Timestamp] = cal.closes
    i = int(opens.searchsorted(moment, side="right")) - 1
    if i < 0:
        return False
    if i >= len(opens) - 1 and moment >= closes.iloc[-1]:
        return False
    if not opens.iloc[i] <= moment < closes.iloc[i]:
        return False
    if cal.has_break:
        b_start, b_end = cal.break_starts.iloc[i], cal.break_ends.iloc[i]
        if not pd.isna(b_start) and b_start <= moment < b_end:
            return False
    return True
