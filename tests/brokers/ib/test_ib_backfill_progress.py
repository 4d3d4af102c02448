"""A backfill reports its progress chunk by chunk, so a command can draw a bar over it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import BarSize


def test_a_backfill_reports_each_chunk_requested_and_nothing_when_all_is_stored(
    gateway_broker: Any, tmp_path: Path
) -> None:
    async def main() -> None:
        async with gateway_broker(tmp_path) as (gw, broker):
            today = gw.clock.now().date()
            end = datetime(today.year, today.month, today.day, tzinfo=UTC)
            seen: list[tuple[int, int]] = []
            result = await broker.backfill(
                Stock("MSFT"),
                BarSize.MIN_1,
                end - timedelta(days=3),
                end - timedelta(days=1),
                on_progress=lambda done, total: seen.append((done, total)),
            )
            assert result.requested == 2
            assert seen == [(0, 2), (1, 2), (2, 2)]
            seen.clear()
            again = await broker.backfill(
                Stock("MSFT"),
                BarSize.MIN_1,
                end - timedelta(days=3),
                end - timedelta(days=1),
                on_progress=lambda done, total: seen.append((done, total)),
            )
            assert again.requested == 0
            assert seen == [(0, 0)]

    asyncio.run(main())
