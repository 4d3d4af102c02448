"""IB's pacing rules: unit tests with a fake clock, and the real client hitting each limit."""

from __future__ import annotations

import asyncio
from typing import Any

from ib_async import Stock

from quantdesk.gateway.pacing import HistoricalPacer, HistoricalRequestKey, LineCounter, MessageRateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key(duration: str = "1800 S", what: str = "TRADES", con_id: int = 1, bar: float = 5) -> HistoricalRequestKey:
    return HistoricalRequestKey(con_id, "SMART", what, f"{bar} secs", duration, "", True, bar)


def test_message_rate_limit() -> None:
    clock = FakeClock()
    limiter = MessageRateLimiter(50, clock=clock)
    assert all(limiter.record() for _ in range(50))
    assert not limiter.record()
    assert limiter.current_rate == 51
    clock.now += 0.5
    assert all(limiter.record() for _ in range(25))
    assert not limiter.record()
    clock.now += 1.0
    assert all(limiter.record() for _ in range(50))
    assert limiter.current_rate == 50
    assert all(MessageRateLimiter(0).record() for _ in range(1000))


def test_a_client_at_45_a_second_is_never_refused() -> None:
    clock = FakeClock()
    limiter = MessageRateLimiter(50, clock=clock)
    for second in range(10):
        clock.now = 1000.0 + second * 0.98  # batches arriving a little early
        assert all(limiter.record() for _ in range(45))


def test_identical_requests_within_15_seconds() -> None:
    clock = FakeClock()
    pacer = HistoricalPacer(clock=clock)
    assert pacer.check(key()) is None
    clock.now += 14.9
    assert pacer.check(key()) == "identical request within 15 seconds"
    clock.now += 0.2
    assert pacer.check(key()) is None


def test_six_requests_for_one_contract_within_2_seconds() -> None:
    clock = FakeClock()
    pacer = HistoricalPacer(clock=clock)
    for i in range(5):
        assert pacer.check(key(f"{60 * (i + 1)} S")) is None
    assert pacer.check(key("999 S")) is not None
    assert pacer.check(key("999 S", con_id=2)) is None
    assert pacer.check(key("999 S", what="MIDPOINT")) is None
    clock.now += 2.0
    assert pacer.check(key("999 S")) is None


def test_sixty_requests_per_ten_minutes_with_bid_ask_counting_twice() -> None:
    clock = FakeClock()
    pacer = HistoricalPacer(clock=clock)
    for i in range(29):
        assert pacer.check(key(f"{i + 1} S", what="BID_ASK", con_id=i)) is None
        clock.now += 3
    assert pacer.check(key("1 S", con_id=99)) is None  # 58 + 1
    assert pacer.check(key("1 S", con_id=97)) is None  # 60
    assert pacer.check(key("2 S", con_id=98)) == "more than 60 requests within 10 minutes"
    clock.now += 600 - 29 * 3 + 1
    assert pacer.check(key("2 S", con_id=98)) is None


def test_large_bars_are_not_paced_unless_asked() -> None:
    pacer = HistoricalPacer(clock=FakeClock())
    assert all(pacer.check(key(bar=60)) is None for _ in range(100))
    strict = HistoricalPacer(clock=FakeClock(), small_bars_only=False)
    assert strict.check(key(bar=60)) is None
    assert strict.check(key(bar=60)) is not None
    off = HistoricalPacer(clock=FakeClock(), enabled=False)
    assert all(off.check(key()) is None for _ in range(100))


def test_line_counter() -> None:
    lines = LineCounter(2)
    assert lines.acquire()
    assert lines.acquire()
    assert not lines.acquire()
    lines.release()
    assert lines.acquire()
    assert lines.in_use == 2
    lines.release(5)
    assert lines.in_use == 0


# --- end to end ----------------------------------------------------------------------------------------------


def test_too_many_messages_get_error_100_and_a_disconnect(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 100, reqId -1: Max rate of messages per second", r"Peer closed connection")

    async def main() -> None:
        async with running(client_id=9) as (gw, ib):
            codes: list[int] = []
            ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
            disconnected = asyncio.Event()
            ib.disconnectedEvent += disconnected.set
            ib.client.MaxRequests = 0  # switch off the client's own throttle (45/s)
            for _ in range(80):
                ib.client.reqCurrentTime()
            await asyncio.wait_for(disconnected.wait(), 2)
            assert codes == [100]
            await asyncio.sleep(0.05)
            assert 9 not in gw.sessions

    asyncio.run(main())


def test_the_clients_own_throttle_stays_within_the_limit(running: Any) -> None:
    async def main() -> None:
        async with running() as (_gw, ib):
            aapl = Stock("AAPL", "SMART", "USD")
            details = await asyncio.wait_for(asyncio.gather(*(ib.reqContractDetailsAsync(aapl) for _ in range(60))), 5)
            assert [len(d) for d in details] == [1] * 60
            assert ib.isConnected()

    asyncio.run(main())


def test_historical_pacing_violation_gets_162(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 162, reqId \d+: Historical Market Data Service error message:Historical data request "
                    r"pacing violation")  # fmt: skip

    async def main() -> None:
        async with running(speed=0) as (_gw, ib):
            aapl = Stock("AAPL", "SMART", "USD")
            await ib.qualifyContractsAsync(aapl)
            codes: list[int] = []
            ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
            first = await ib.reqHistoricalDataAsync(aapl, "", "600 S", "5 secs", "TRADES", True, timeout=2)
            again = await ib.reqHistoricalDataAsync(aapl, "", "600 S", "5 secs", "TRADES", True, timeout=2)
            assert len(first) == 120
            assert list(again) == []
            assert codes == [162]
            for seconds in (60, 120, 180, 240):
                assert await ib.reqHistoricalDataAsync(aapl, "", f"{seconds} S", "5 secs", "TRADES", True, timeout=2)
            sixth = await ib.reqHistoricalDataAsync(aapl, "", "300 S", "5 secs", "TRADES", True, timeout=2)
            assert list(sixth) == []
            assert codes == [162, 162]
            assert await ib.reqHistoricalDataAsync(aapl, "", "600 S", "1 min", "TRADES", True, timeout=2)

    asyncio.run(main())
