"""IB's pacing rules, enforced the way TWS enforces them.

* **Messages**: more than ``max_per_second`` (50) messages a second from one client → error 100, and TWS drops the
  connection (measured as a token bucket, so that delivery jitter does not punish a client that paces itself).
* **Historical data** (bars of 30 seconds or less unless ``small_bars_only`` is off): an identical request within
  15 s; a sixth request for the same contract, exchange and ``whatToShow`` within 2 s; more than 60 requests in any
  10 minutes (BID_ASK counts twice) → error 162. Refused requests are not counted.
* **Market data lines**: more than the account's lines (100 by default) of streaming ``reqMktData`` → error 101.

Clocks are injectable so tests need not sleep.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["PACING_MESSAGE", "HistoricalPacer", "HistoricalRequestKey", "LineCounter", "MessageRateLimiter"]

PACING_MESSAGE = "Historical Market Data Service error message:Historical data request pacing violation"


class MessageRateLimiter:
    """One client's message rate as a token bucket: bursts of up to ``max_per_second`` messages, refilled at
    ``max_per_second`` a second. A client that keeps under the rate (``ib_async`` throttles itself to 45/s) is never
    refused, however its messages bunch up on the way; a burst beyond the bucket is."""

    def __init__(self, max_per_second: int = 50, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_per_second = max_per_second
        self._clock = clock
        self._tokens = float(max_per_second)
        self._last = clock()
        self._recent: deque[float] = deque()

    def record(self) -> bool:
        """Count one message; ``False`` means the limit was exceeded by it."""
        if self.max_per_second <= 0:
            return True
        now = self._clock()
        self._tokens = min(float(self.max_per_second), self._tokens + (now - self._last) * self.max_per_second)
        self._last = now
        self._recent.append(now)
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    @property
    def current_rate(self) -> int:
        """Messages received in the last second."""
        return len(self._recent)


@dataclass(frozen=True, slots=True)
class HistoricalRequestKey:
    """What IB compares historical requests by."""

    con_id: int
    exchange: str
    what_to_show: str
    bar_size: str
    duration: str
    end: str
    use_rth: bool
    bar_seconds: float

    @property
    def weight(self) -> int:
        """BID_ASK requests count twice."""
        return 2 if self.what_to_show.upper() == "BID_ASK" else 1


class HistoricalPacer:
    """The three historical pacing rules, shared by every client of one gateway (as at IB)."""

    def __init__(
        self,
        *,
        identical_window: float = 15.0,
        same_contract_window: float = 2.0,
        same_contract_max: int = 6,
        long_window: float = 600.0,
        long_max: int = 60,
        small_bars_only: bool = True,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.identical_window = identical_window
        self.same_contract_window = same_contract_window
        self.same_contract_max = same_contract_max
        self.long_window = long_window
        self.long_max = long_max
        self.small_bars_only = small_bars_only
        self.enabled = enabled
        self._clock = clock
        self._log: deque[tuple[float, HistoricalRequestKey]] = deque()

    def check(self, key: HistoricalRequestKey) -> str | None:
        """Record the request if it is allowed; otherwise return why it breaks the pacing rules."""
        if not self.enabled or (self.small_bars_only and key.bar_seconds > 30):
            return None
        now = self._clock()
        while self._log and now - self._log[0][0] > self.long_window:
            self._log.popleft()
        recent = list(self._log)
        if any(k == key and now - t < self.identical_window for t, k in recent):
            return "identical request within 15 seconds"
        same = [
            t
            for t, k in recent
            if now - t < self.same_contract_window
            and (k.con_id, k.exchange, k.what_to_show) == (key.con_id, key.exchange, key.what_to_show)
        ]
        if len(same) + 1 >= self.same_contract_max:
            return f"{self.same_contract_max} or more requests for the same contract within 2 seconds"
        if sum(k.weight for _, k in recent) + key.weight > self.long_max:
            return f"more than {self.long_max} requests within 10 minutes"
        self._log.append((now, key))
        return None

    def reset(self) -> None:
        """Forget every recorded request."""
        self._log.clear()


class LineCounter:
    """Market data lines in use across all clients of one gateway."""

    def __init__(self, max_lines: int = 100) -> None:
        self.max_lines = max_lines
        self.in_use = 0

    def acquire(self) -> bool:
        """Take a line; ``False`` when none is left."""
        if self.in_use >= self.max_lines:
            return False
        self.in_use += 1
        return True

    def release(self, n: int = 1) -> None:
        """Give lines back."""
        self.in_use = max(0, self.in_use - n)
