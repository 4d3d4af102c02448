"""The simulated calendar and clock: sample rows replayed as weekday sessions ending on today's calendar.

Every series is indexed by *row* (a sample trading day). Row ``anchor_row`` is traded on ``anchor_date`` (by default
today, or the last weekday before it) and the other rows on the weekdays around it, so history ends today and the
replay goes forward into the sample's later days. Holidays are not modelled: every weekday is a session.

Every instrument trades one regular session, 09:30–16:00 New York (23,400 s). Time inside the simulation is a
single number, *trading time* ``tt = row * 23400 + seconds since that row's open``: the clock skips nights and
weekends, so at ``speed`` 60 a session lasts 6.5 real minutes and the next one starts right after. The close of one
row and the open of the next are the same instant in trading time, just as the next open equals the previous close
in the benchmark convention.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

import numpy as np

__all__ = [
    "NEW_YORK",
    "SESSION_OPEN",
    "SESSION_SECONDS",
    "SessionCalendar",
    "SimClock",
    "last_weekday",
]

NEW_YORK = ZoneInfo("America/New_York")
SESSION_OPEN = dtime(9, 30)
SESSION_SECONDS = 23_400
OPEN_SECOND_OF_DAY = 9 * 3600 + 30 * 60


def last_weekday(day: date) -> date:
    """``day`` itself if it is a weekday, else the Friday before it."""
    return day - timedelta(days=max(0, day.weekday() - 4))


class SessionCalendar:
    """Maps sample rows to weekday sessions and trading time to wall-clock instants."""

    def __init__(self, anchor_date: date, anchor_row: int, n_rows: int) -> None:
        self.anchor_date = last_weekday(anchor_date)
        self.anchor_row = anchor_row
        self.n_rows = n_rows
        self._anchor = np.datetime64(self.anchor_date, "D")

    def date_of(self, row: int) -> date:
        """The session date of a row (rows past either end of the sample keep counting weekdays)."""
        day = np.busday_offset(self._anchor, row - self.anchor_row, roll="forward")
        return date.fromisoformat(str(day))

    def row_of_date(self, day: date) -> int:
        """The row traded on ``day``; for a weekend day, the row of the Friday before."""
        d = np.datetime64(last_weekday(day), "D")
        return self.anchor_row + int(np.busday_count(self._anchor, d))

    def open_of(self, row: int) -> datetime:
        """A row's session open (aware, New York time)."""
        return datetime.combine(self.date_of(row), SESSION_OPEN, NEW_YORK)

    def split(self, tt: float) -> tuple[int, float]:
        """Trading time as (row, seconds since that row's open)."""
        row = math.floor(tt / SESSION_SECONDS)
        return row, tt - row * SESSION_SECONDS

    def to_datetime(self, tt: float) -> datetime:
        """The instant of a trading time (aware, New York time)."""
        row, secs = self.split(tt)
        return self.open_of(row) + timedelta(seconds=secs)

    def epoch(self, tt: float) -> float:
        """Epoch seconds of a trading time."""
        return self.to_datetime(tt).timestamp()

    def to_tt(self, instant: datetime) -> float:
        """Trading time of an instant; outside a session it is the end of the session before."""
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=NEW_YORK)
        local = instant.astimezone(NEW_YORK)
        row = self.row_of_date(local.date())
        if local.weekday() > 4:
            return float((row + 1) * SESSION_SECONDS)
        secs = (local - self.open_of(row)).total_seconds()
        if secs < 0:
            return float(row * SESSION_SECONDS)
        return float(row * SESSION_SECONDS + min(secs, SESSION_SECONDS))

    def trading_hours(self, from_row: int, days: int = 5) -> str:
        """IB's ``tradingHours`` text for the next ``days`` sessions, e.g. ``20261123:0930-20261123:1600;…``."""
        parts = []
        for row in range(from_row, from_row + days):
            d = f"{self.date_of(row):%Y%m%d}"
            parts.append(f"{d}:0930-{d}:1600")
        return ";".join(parts)


class SimClock:
    """Trading time that advances ``speed`` simulated seconds per real second (0 freezes it)."""

    def __init__(
        self,
        calendar: SessionCalendar,
        start_tt: float,
        speed: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.calendar = calendar
        self._monotonic = monotonic
        self._speed = float(speed)
        self._base_tt = float(start_tt)
        self._base_real = monotonic()

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if value < 0:
            raise ValueError("speed must be >= 0")
        self._base_tt = self.now_tt()
        self._base_real = self._monotonic()
        self._speed = float(value)

    def now_tt(self) -> float:
        """The current trading time."""
        return self._base_tt + (self._monotonic() - self._base_real) * self._speed

    def set(self, tt: float) -> None:
        """Jump to a trading time (the clock keeps its speed)."""
        self._base_tt = float(tt)
        self._base_real = self._monotonic()

    def advance(self, seconds: float) -> None:
        """Jump forward by ``seconds`` of trading time."""
        self.set(self.now_tt() + seconds)

    def now(self) -> datetime:
        """The current simulated instant (aware, New York time)."""
        return self.calendar.to_datetime(self.now_tt())

    def now_utc(self) -> datetime:
        """The current simulated instant in UTC."""
        return self.now().astimezone(UTC)
