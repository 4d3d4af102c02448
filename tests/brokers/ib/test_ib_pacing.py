"""The historical pacing limiter with a fake clock: it waits exactly as long as IB's rules need."""

from __future__ import annotations

import asyncio

from quantdesk.brokers.ib.pacing import HistoricalPacer, PacingKey, PacingRules


class FakeClock:
    """A clock whose sleep advances it (no real waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # let other tasks run, as a real sleep does


def key(duration: str = "1800 S", what: str = "TRADES", contract: str = "265598", bar: float = 5) -> PacingKey:
    return PacingKey(contract, "SMART", what, f"{bar:g} secs", duration, "", True, bar)


def pacer(clock: FakeClock, **rules: object) -> HistoricalPacer:
    return HistoricalPacer(PacingRules(margin=0.0, **rules), clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]


async def take(p: HistoricalPacer, k: PacingKey) -> None:
    permit = await p.acquire(k)
    permit.release()


def test_identical_requests_wait_15_seconds_after_the_answer() -> None:
    async def main() -> None:
        clock = FakeClock()
        p = pacer(clock)
        await take(p, key())
        clock.now += 3
        await take(p, key())
        assert clock.slept == [12.0]
        await take(p, key("60 S"))  # a different request goes at once
        assert clock.slept == [12.0]

    asyncio.run(main())


def test_at_most_five_per_contract_and_tick_type_in_two_seconds() -> None:
    async def main() -> None:
        clock = FakeClock()
        p = pacer(clock)
        for i in range(5):
            await take(p, key(f"{60 * (i + 1)} S"))
        assert clock.slept == []
        await take(p, key("999 S", contract="272093"))  # another contract
        await take(p, key("999 S", what="MIDPOINT"))  # another tick type
        assert clock.slept == []
        await take(p, key("998 S"))
        assert clock.slept == [2.0]

    asyncio.run(main())


def test_sixty_in_ten_minutes_with_bid_ask_counting_twice() -> None:
    async def main() -> None:
        clock = FakeClock()
        p = pacer(clock)
        for i in range(29):
            await take(p, key(f"{i + 1} S", what="BID_ASK", contract=str(i)))
            clock.now += 3
        await take(p, key("1 S", contract="a"))
        await take(p, key("1 S", contract="b"))  # 60
        assert clock.slept == []
        await take(p, key("1 S", contract="c"))
        assert clock.slept == [600 - 29 * 3]  # until the first request leaves the window

    asyncio.run(main())


def test_an_open_request_counts_until_it_is_answered() -> None:
    async def main() -> None:
        clock = FakeClock()
        p = pacer(clock, max_open=2)
        first = await p.acquire(key("1 S"))
        second = await p.acquire(key("2 S"))
        assert p.open_requests == 2
        blocked = asyncio.ensure_future(p.acquire(key("3 S")))
        for _ in range(3):
            await asyncio.sleep(0)
        assert not blocked.done()
        first.release()
        third = await blocked
        second.release()
        third.release()
        assert p.open_requests == 0
        assert p.waits >= 1

    asyncio.run(main())


def test_large_bars_are_free_when_only_small_bars_are_paced() -> None:
    async def main() -> None:
        clock = FakeClock()
        p = pacer(clock, small_bars_only=True)
        for _ in range(100):
            await take(p, key("1 Y", bar=86400))
        assert clock.slept == []
        assert p.granted == 0

    asyncio.run(main())


def test_scaled_rules() -> None:
    fast = PacingRules().scaled(0.01, margin=0.02)
    assert (fast.identical_window, fast.same_contract_window, fast.long_window) == (0.15, 0.02, 6.0)
    assert (fast.long_max, fast.same_contract_max, fast.margin, fast.violation_wait) == (60, 5, 0.02, 0.15)
