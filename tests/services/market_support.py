"""A market for the simulated broker in the service tests: a two-cent-wide quote per symbol on every tick."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from quantdesk.brokers.simulated import SimulatedBroker
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import Quote

D = Decimal
MIDS = {"AAPL": D("100.00"), "MSFT": D("50.00"), "JPM": D("20.00")}
T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)


class Market:
    """Feeds the simulated broker a fresh quote around ``MIDS`` on every tick, in the background while ``running``."""

    def __init__(self, broker: SimulatedBroker) -> None:
        self.broker = broker
        self.ts = T0

    def tick(self) -> None:
        self.ts += timedelta(seconds=1)
        for sym, mid in MIDS.items():
            self.broker.feed_quote(Quote(Stock(sym).id, self.ts, mid - D("0.01"), mid + D("0.01")))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                await asyncio.sleep(0.01)
                self.tick()

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
