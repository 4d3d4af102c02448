"""``OrderRateLimiter``: at most ``rate_per_second`` orders a second toward the broker (IB drops us above 50 msg/s).

A token bucket written as the generic cell-rate algorithm: each request is due one emission interval
(1/rate) after the previous one's theoretical time, and ``burst - 1`` intervals of credit let that many requests
go early. So any window of W seconds holds at most ``burst - 1 + ceil(W × rate)`` requests, and with the default
``burst=1`` consecutive requests are at least 1/rate apart. ``delay`` is pure (for tests and dashboards);
``acquire`` waits, first come first served. Clock and sleep are injectable, so tests run on a fake clock.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

from quantdesk.config.risk_settings import RiskSettings
from quantdesk.errors import ValidationError

__all__ = ["OrderRateLimiter"]

_EPSILON = 1e-9  # seconds: a delay this small is rounding, not a wait (and would not move a float clock)


class OrderRateLimiter:
    """Token-bucket rate limit: ``await limiter.acquire()`` before each order sent to the broker."""

    def __init__(
        self,
        rate_per_second: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if isinstance(rate_per_second, bool) or not (math.isfinite(rate_per_second) and rate_per_second > 0):
            raise ValidationError(
                f"must be a positive finite rate, got {rate_per_second!r}",
                field="rate_per_second",
                value=rate_per_second,
                hint="pass orders per second, e.g. 45 (IB allows 50 messages a second)",
            )
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValidationError(
                f"must be a whole number >= 1, got {burst!r}", field="burst", value=burst, hint="pass 1 (no bursts)"
            )
        self._rate = float(rate_per_second)
        self._burst = burst
        self._interval = 1.0 / self._rate
        self._credit = (burst - 1) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._due: float | None = None  # theoretical time of the next request
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: RiskSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> OrderRateLimiter | None:
        """The limiter for ``risk.max_orders_per_second``, or None when the ``order_rate`` rule is off."""
        if not settings.rule_enabled("order_rate"):
            return None
        return cls(settings.max_orders_per_second, clock=clock, sleep=sleep)

    @property
    def rate_per_second(self) -> float:
        """The sustained rate."""
        return self._rate

    @property
    def burst(self) -> int:
        """How many requests may go back to back after a quiet spell."""
        return self._burst

    def delay(self, now: float) -> float:
        """Seconds a request arriving at ``now`` must wait (0 when it may go); does not take a token."""
        due = self._due
        if due is None:
            return 0.0
        wait = due - self._credit - now
        return wait if wait > _EPSILON else 0.0

    def try_acquire(self, now: float | None = None) -> bool:
        """Take a token if one is free at ``now`` (default: the clock) without waiting."""
        at = self._clock() if now is None else now
        if self.delay(at) > 0:
            return False
        self._take(at)
        return True

    async def acquire(self) -> float:
        """Wait until a request may go and take its token; returns the seconds waited."""
        waited = 0.0
        async with self._lock:
            while True:
                now = self._clock()
                wait = self.delay(now)
                if wait <= 0:
                    self._take(now)
                    return waited
                await self._sleep(wait)
                waited += wait

    def _take(self, now: float) -> None:
        due = self._due
        self._due = (now if due is None or due < now else due) + self._interval
