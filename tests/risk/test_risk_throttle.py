"""The order-rate limiter on a fake clock: never more than the rate in any one-second window."""

from __future__ import annotations

import asyncio
import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.config.risk_settings import RiskSettings
from quantdesk.errors import ValidationError
from quantdesk.risk import OrderRateLimiter

WINDOW = 1.0
SLACK = 1e-9  # the limiter treats waits below a nanosecond as rounding


class FakeTime:
    """A clock that only moves when someone sleeps (or the test sets it)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def most_in_any_window(times: list[float], window: float) -> int:
    """The largest number of ``times`` in any half-open window [t, t + window) (worst windows start at an event)."""
    best, j = 0, 0
    for i, start in enumerate(times):
        j = max(j, i)
        while j < len(times) and times[j] < start + window - 2 * SLACK:
            j += 1
        best = max(best, j - i)
    return best


def run(limiter: OrderRateLimiter, fake: FakeTime, arrivals: list[float]) -> list[float]:
    async def main() -> list[float]:
        sent = []
        for at in arrivals:
            fake.now = max(fake.now, at)
            await limiter.acquire()
            sent.append(fake.now)
        return sent

    return asyncio.run(main())


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(1.0, 50.0),
    burst=st.integers(1, 5),
    gaps=st.lists(st.floats(0.0, 0.3), min_size=1, max_size=300),
)
def test_never_more_than_the_rate_in_any_window(rate: float, burst: int, gaps: list[float]) -> None:
    fake = FakeTime()
    limiter = OrderRateLimiter(rate, burst=burst, clock=fake.clock, sleep=fake.sleep)
    arrivals = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    sent = run(limiter, fake, arrivals)
    assert len(sent) == len(arrivals)
    assert all(s >= a for s, a in zip(sent, arrivals, strict=True))  # nothing leaves before it arrives
    assert sent == sorted(sent)
    assert most_in_any_window(sent, WINDOW) <= burst - 1 + math.ceil(rate * WINDOW)
    if burst == 1:
        assert all(b - a >= 1 / rate - SLACK for a, b in itertools.pairwise(sent))


@settings(max_examples=100, deadline=None)
@given(rate=st.integers(1, 50), count=st.integers(1, 200))
def test_a_flood_of_orders_goes_out_at_exactly_the_rate(rate: int, count: int) -> None:
    fake = FakeTime()
    limiter = OrderRateLimiter(rate, clock=fake.clock, sleep=fake.sleep)
    sent = run(limiter, fake, [0.0] * count)
    assert most_in_any_window(sent, WINDOW) <= rate
    assert sent[-1] == pytest.approx((count - 1) / rate)


def test_delay_is_pure_and_try_acquire_does_not_wait() -> None:
    fake = FakeTime()
    limiter = OrderRateLimiter(45, clock=fake.clock, sleep=fake.sleep)
    assert limiter.delay(0.0) == 0.0
    assert limiter.try_acquire()
    assert limiter.delay(0.0) == pytest.approx(1 / 45)
    assert limiter.delay(0.0) == pytest.approx(1 / 45)  # asking twice takes nothing
    assert not limiter.try_acquire()
    assert limiter.try_acquire(now=1 / 45)
    assert limiter.delay(10.0) == 0.0


def test_burst_lets_that_many_go_back_to_back() -> None:
    fake = FakeTime()
    limiter = OrderRateLimiter(10, burst=3, clock=fake.clock, sleep=fake.sleep)
    assert [limiter.try_acquire() for _ in range(4)] == [True, True, True, False]
    assert limiter.delay(0.0) == pytest.approx(0.1)


def test_concurrent_waiters_are_served_in_turn() -> None:
    fake = FakeTime()
    limiter = OrderRateLimiter(20, clock=fake.clock, sleep=fake.sleep)

    async def main() -> list[float]:
        waited = await asyncio.gather(*(limiter.acquire() for _ in range(10)))
        return list(waited)

    waited = asyncio.run(main())
    assert waited[0] == 0.0
    assert fake.now == pytest.approx(9 / 20)
    assert sum(waited) > 0


def test_from_settings_and_validation() -> None:
    limiter = OrderRateLimiter.from_settings(RiskSettings())
    assert limiter is not None
    assert (limiter.rate_per_second, limiter.burst) == (45.0, 1)
    assert OrderRateLimiter.from_settings(RiskSettings(disabled_rules=["order_rate"])) is None
    assert OrderRateLimiter.from_settings(RiskSettings(enabled=False)) is None
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValidationError, match="positive finite rate"):
            OrderRateLimiter(bad)
    with pytest.raises(ValidationError, match="whole number"):
        OrderRateLimiter(10, burst=0)
