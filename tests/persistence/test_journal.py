"""The journal on SQLite and PostgreSQL: concurrent writes share commits, a bad write fails only its caller, a
broken connection is replaced, and nothing is acknowledged before it is committed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.orders import Order
from quantdesk.oms.store_ops import DuplicateIntent, InsertIntent, JournalClosed, OrderEventOp
from quantdesk.persistence import create_db_engine, upgrade
from quantdesk.persistence.journal import Journal
from quantdesk.persistence.models import OrderEventRow, OrderIntentRow

T = datetime(2025, 3, 3, 15, tzinfo=UTC)
AAPL = Stock("AAPL")


def order(n: int, quantity: int = 10) -> Order:
    return Order.limit(AAPL, "BUY", quantity, Decimal(100), client_order_id=ClientOrderId(f"o{n}"))


@pytest.fixture
def journal(db_url: str) -> Iterator[Journal]:
    upgrade(db_url)
    engine = create_db_engine(db_url)
    j = Journal(engine)
    yield j
    j.close()
    engine.dispose()


def count(journal: Journal, table: type) -> int:
    with journal.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)


def test_concurrent_writes_share_commits_and_are_durable_when_they_return(journal: Journal) -> None:
    async def main() -> list[object]:
        async def one(n: int) -> object:
            created = await journal.write(InsertIntent(order(n), T))
            with journal.engine.connect() as conn:  # acknowledged means committed: another connection sees it
                assert conn.scalar(
                    select(OrderIntentRow.client_order_id).where(OrderIntentRow.client_order_id == f"o{n}")
                )
            return created

        return await asyncio.gather(*(one(n) for n in range(200)))

    assert asyncio.run(main()) == [True] * 200
    assert count(journal, OrderIntentRow) == 200
    assert journal.operations == 200
    assert journal.commits < 200  # grouped


def test_a_conflicting_intent_fails_only_its_own_caller(journal: Journal) -> None:
    async def main() -> list[object]:
        await journal.write(InsertIntent(order(1), T))
        writes = [
            journal.write(InsertIntent(order(2), T)),
            journal.write(InsertIntent(order(1, quantity=99), T)),  # the same id for another order
            journal.write(InsertIntent(order(1), T)),  # the same order again: stored already, not created
            journal.write(InsertIntent(order(3), T)),
        ]
        return await asyncio.gather(*writes, return_exceptions=True)

    created, conflict, again, other = asyncio.run(main())
    assert (created, again, other) == (True, False, True)
    assert isinstance(conflict, DuplicateIntent)
    assert conflict.field == "client_order_id"
    assert count(journal, OrderIntentRow) == 3


def test_a_broken_connection_fails_one_write_and_the_next_uses_a_fresh_one(journal: Journal) -> None:
    async def main() -> None:
        await journal.write(InsertIntent(order(1), T))
        conn = journal._conn
        assert conn is not None
        conn.connection.dbapi_connection.close()  # type: ignore[union-attr]  # the server went away under it
        with pytest.raises(Exception):  # noqa: B017, PT011  # whatever the driver raises, the caller hears it
            await journal.write(InsertIntent(order(2), T))
        assert await journal.write(InsertIntent(order(3), T)) is True

    asyncio.run(main())
    with journal.engine.connect() as conn:
        stored = set(conn.scalars(select(OrderIntentRow.client_order_id)))
    assert stored == {"o1", "o3"}


def test_posted_writes_land_by_the_next_flush_and_plain_threads_can_wait(journal: Journal) -> None:
    journal.post(OrderEventOp("o1", None, "note", None, "posted", T))
    results: list[object] = []
    thread = threading.Thread(target=lambda: results.append(journal.write_sync(InsertIntent(order(5), T))))
    thread.start()
    thread.join(10)
    assert results == [True]

    async def main() -> None:
        await journal.flush()

    asyncio.run(main())
    assert count(journal, OrderEventRow) >= 1


def test_a_cancelled_waiter_leaves_its_write_standing_and_a_closed_journal_refuses(journal: Journal) -> None:
    async def main() -> None:
        task = asyncio.create_task(journal.write(InsertIntent(order(7), T)))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await journal.flush()

    asyncio.run(main())
    assert count(journal, OrderIntentRow) == 1
    journal.close()
    with pytest.raises(JournalClosed):
        asyncio.run(journal.write(InsertIntent(order(8), T)))
    with pytest.raises(JournalClosed):
        journal.post(OrderEventOp("o8", None, "note", None, None, T))


def test_fills_are_once_per_account_and_execution_id_and_commissions_find_their_account(journal: Journal) -> None:
    """Two accounts reporting one execId are two fills (keyed by the id alone, the second was dropped)."""
    from quantdesk.domain.fills import CommissionReport, Fill
    from quantdesk.domain.values import Money
    from quantdesk.oms.store_ops import RecordCommission, RecordFill
    from quantdesk.persistence.models import FillRow

    eid = "0000ab1c.00000039.01.01"
    xom = Fill.of(eid, "o1", "XOM.STK.SMART.USD", "BUY", 100, 110, T, account="DU1234567")
    mrk = Fill.of(eid, "o2", "MRK.STK.SMART.USD", "BUY", 800, 95, T, account="DU7654321")

    async def main() -> list[object]:
        first = await asyncio.gather(*(journal.write(RecordFill(f, T)) for f in (xom, mrk, mrk)))
        again = await journal.write(RecordFill(mrk, T))
        fee = await journal.write(RecordCommission(CommissionReport(mrk.execution_id, Money.of(4, "USD")), mrk.account))
        return [*first, again, fee]

    assert asyncio.run(main()) == [True, True, False, False, True]
    with journal.engine.connect() as conn:
        rows = conn.execute(select(FillRow.account_id, FillRow.commission).order_by(FillRow.account_id)).all()
    assert [(a, Decimal(c)) for a, c in rows] == [("DU1234567", Decimal(0)), ("DU7654321", Decimal(4))]
