"""IB's historical-data pacing rules as an async limiter that *waits* instead of failing with error 162.

The rules (IB's "Historical Data Limitations"; error 162 "pacing violation" when broken):

1. no **identical** request (same contract, end, duration, bar size, ``whatToShow``, RTH flag) within 15 s;
2. fewer than **6 requests for the same contract, exchange and tick type** within 2 s (so at most 5);
3. at most **60 requests in any 10 minutes**;
4. at most **50 requests open** at the same time;

and a ``BID_ASK`` request counts twice (rules 2 and 3). IB applies the hard limits to bars of 30 seconds or less
and soft-throttles larger bars; this limiter paces every request unless ``small_bars_only`` is set.

A request holds a :class:`Permit` from :meth:`HistoricalPacer.acquire` until its answer arrives. Its timestamp is
the *completion* time while the windows are counted: a request still open counts as "now", and one answered at
``t`` counts from ``t``. TWS counts a request when it receives it, which is between our send and our receipt of
the answer, so completion times are never earlier than TWS's own and the limiter stays on the safe side of IB's
count even when ``ib_async``'s own throttle (45 messages a second) delays a send. ``margin`` adds a little more.

If TWS still reports a violation (another program shares the TWS and its counters), the request is retried after
``violation_wait`` seconds, doubling each time.

The clock and the sleep are injectable: tests advance a fake clock instead of waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType

__all__ = ["HistoricalPacer", "PacingKey", "PacingRules", "Permit"]


@dataclass(frozen=True, slots=True)
class PacingRules:
    """The numbers of IB's rules; the defaults are IB's. Tests scale the windows down."""

    identical_window: float = 15.0
    same_contract_window: float = 2.0
    same_contract_max: int = 5
    long_window: float = 600.0
    long_max: int = 60
    max_open: int = 50
    margin: float = 0.25
    small_bars_only: bool = False
    violation_wait: float = 15.0

    def scaled(self, factor: float, *, margin: float | None = None) -> PacingRules:
        """The same rules with every window multiplied by ``factor`` (for tests against a scaled gateway)."""
        return PacingRules(
            identical_window=self.identical_window * factor,
            same_contract_window=self.same_contract_window * factor,
            same_contract_max=self.same_contract_max,
            long_window=self.long_window * factor,
            long_max=self.long_max,
            max_open=self.max_open,
            margin=self.margin * factor if margin is None else margin,
            small_bars_only=self.small_bars_only,
            violation_wait=self.violation_wait * factor,
        )


@dataclass(frozen=True, slots=True)
class PacingKey:
    """What IB compares historical requests by."""

    contract: str
    exchange: str
    what_to_show: str
    bar_size: str
    duration: str
    end: str
    use_rth: bool
    bar_seconds: float = 0.0

    @property
    def weight(self) -> int:
        """BID_ASK counts twice."""
        return 2 if self.what_to_show.upper() == "BID_ASK" else 1

    @property
    def contract_key(self) -> tuple[str, str, str]:
        """Contract, exchange and tick type (rule 2)."""
        return (self.contract, self.exchange, self.what_to_show.upper())


class _Record:
    __slots__ = ("done_at", "key", "sent_at")

    def __init__(self, key: PacingKey, sent_at: float) -> None:
        self.key = key
        self.sent_at = sent_at
        self.done_at: float | None = None


class Permit:
    """Leave to send one request; release it when the answer (or an error) arrived."""

    def __init__(self, pacer: HistoricalPacer, record: _Record | None) -> None:
        self._pacer = pacer
        self._record = record
        self._released = False

    def release(self) -> None:
        """The request is answered: it counts from now on, and its open slot is free."""
        if self._released:
            return
        self._released = True
        self._pacer._release(self._record)

    async def __aenter__(self) -> Permit:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class HistoricalPacer:
    """Waits until a historical request may go without breaking IB's pacing rules (see the module docstring)."""

    def __init__(
        self,
        rules: PacingRules | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rules = rules or PacingRules()
        self._clock = clock
        self._sleep = sleep
        self._records: list[_Record] = []
        self._open = 0
        self._lock = asyncio.Lock()
        self.waits = 0
        self.waited_seconds = 0.0
        self.granted = 0

    @property
    def open_requests(self) -> int:
        """Requests sent and not yet answered."""
        return self._open

    def _paced(self, key: PacingKey) -> bool:
        return not (self.rules.small_bars_only and key.bar_seconds > 30)

    def _forget_old(self, now: float) -> None:
        horizon = max(self.rules.long_window, self.rules.identical_window, self.rules.same_contract_window)
        self._records = [r for r in self._records if r.done_at is None or now - r.done_at < horizon + self.rules.margin]

    def wait_time(self, key: PacingKey) -> float:
        """Seconds to wait before ``key`` may be sent now (0 when it may go at once)."""
        rules, now = self.rules, self._clock()
        self._forget_old(now)
        if self._open >= rules.max_open:
            return max(rules.margin, 0.01)

        def age(r: _Record) -> float:
            return 0.0 if r.done_at is None else now - r.done_at

        waits = [0.0]
        for r in self._records:
            if r.key == key:
                open_wait = max(rules.margin, 0.05) if r.done_at is None else 0.0
                waits.append(max(rules.identical_window + rules.margin - age(r), open_wait))
        same = sorted((r for r in self._records if r.key.contract_key == key.contract_key), key=age, reverse=True)
        waits.append(_window_wait(same, age, key.weight, rules.same_contract_max, rules.same_contract_window,
                                  rules.margin))  # fmt: skip
        waits.append(_window_wait(sorted(self._records, key=age, reverse=True), age, key.weight, rules.long_max,
                                  rules.long_window, rules.margin))  # fmt: skip
        return max(waits)

    async def acquire(self, key: PacingKey) -> Permit:
        """Wait until ``key`` may be sent, then count it as open; release the permit when it is answered."""
        if not self._paced(key):
            return Permit(self, None)
        async with self._lock:
            while True:
                delay = self.wait_time(key)
                if delay <= 0:
                    break
                self.waits += 1
                self.waited_seconds += delay
                await self._sleep(delay)
            record = _Record(key, self._clock())
            self._records.append(record)
            self._open += 1
            self.granted += 1
        return Permit(self, record)

    def _release(self, record: _Record | None) -> None:
        if record is None:
            return
        record.done_at = self._clock()
        self._open = max(self._open - 1, 0)

    def reset(self) -> None:
        """Forget every request (e.g. after TWS was restarted: its counters restart too)."""
        self._records = [r for r in self._records if r.done_at is None]


def _window_wait(
    records: list[_Record], age: Callable[[_Record], float], weight: int, limit: int, window: float, margin: float
) -> float:
    """How long until the weighted count of ``records`` younger than ``window`` leaves room for ``weight`` more.

    ``records`` are sorted oldest first; dropping the oldest ones one by one, the wait is the time until enough
    of them have aged out of the window.
    """
    inside = [r for r in records if age(r) < window + margin]
    total = sum(r.key.weight for r in inside)
    if total + weight <= limit:
        return 0.0
    excess = total + weight - limit
    for r in inside:
        excess -= r.key.weight
        if excess <= 0:
            if r.done_at is None:  # still open: it starts ageing when answered, so look again shortly
                return max(margin, 0.05)
            return window + margin - age(r)
    return max(margin, 0.05)
