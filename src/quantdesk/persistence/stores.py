"""The database behind the OMS's and risk's store ports (``oms.stores``, ``risk.stores``): adapters over the journal
(writes, grouped per commit) and the repositories (reads, in a worker thread so the event loop never blocks).

``quantdesk.services.kernel.database_stores`` builds the set a paper or live session uses (with
``KillSwitchRepository`` for the kill switch); the in-memory twins are in ``oms.memory_stores`` and
``risk.memory_stores``, and one contract suite runs against both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from quantdesk.domain.identifiers import AccountId, ClientOrderId, ExecutionId
from quantdesk.oms.breaks import Break
from quantdesk.oms.store_ops import AccountSnapshotOp, JournalClosed, JournalOp, RiskEventOp
from quantdesk.oms.stores import FillKey, LedgerKey
from quantdesk.persistence.journal import Journal
from quantdesk.persistence.repositories import (
    OrderIntentRepository,
    ReconciliationBreakRepository,
    SnapshotRepository,
    StoredIntent,
    ledger_positions,
    recorded_fills,
)
from quantdesk.risk.events import RiskEvent

__all__ = ["SqlEquityStore", "SqlOrderStore", "SqlRiskEventStore"]

log = logging.getLogger(__name__)


class SqlOrderStore:
    """The ``OrderStore`` port on the journal (writes) and the repositories (reads) of one database."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._intents = OrderIntentRepository(journal.engine)

    @property
    def engine(self) -> Engine:
        """The database (for the shells' queries; the OMS never touches it)."""
        return self.journal.engine

    async def write(self, op: JournalOp) -> Any:
        """Queue ``op`` on the journal and wait until it is committed."""
        return await self.journal.write(op)

    def post(self, op: JournalOp) -> None:
        """Queue ``op`` on the journal without waiting."""
        self.journal.post(op)

    async def flush(self) -> None:
        """Wait until every journal write queued so far is committed."""
        await self.journal.flush()

    def close(self) -> None:
        """Commit what is queued and stop the journal's writer thread."""
        self.journal.close()

    async def active_intents(self) -> list[StoredIntent]:
        """Every intent whose status is not terminal, oldest first."""
        return await asyncio.to_thread(self._intents.active)

    async def find_intent(self, client_order_id: ClientOrderId) -> StoredIntent | None:
        """The stored intent, or None."""
        return await asyncio.to_thread(self._intents.find, client_order_id)

    async def get_intent(self, client_order_id: ClientOrderId) -> StoredIntent:
        """The stored intent; ``NotFound`` when there is none."""
        return await asyncio.to_thread(self._intents.get, client_order_id)

    async def intent_by_perm_id(self, perm_id: int) -> StoredIntent | None:
        """The intent IB knows by ``permId``, or None."""
        return await asyncio.to_thread(self._intents.by_perm_id, perm_id)

    async def orders_since(self, start: datetime) -> int:
        """Our orders accepted at or after ``start``."""
        return await asyncio.to_thread(self._intents.orders_since, start)

    async def recorded_fills(self, keys: Iterable[tuple[AccountId | None, ExecutionId]]) -> set[FillKey]:
        """Which of ``keys`` (account, execution id) the database holds."""
        return await asyncio.to_thread(recorded_fills, self.engine, list(keys))

    async def ledger_positions(self, account: str | None = None) -> dict[LedgerKey, Decimal]:
        """Net signed quantity per (account, instrument) from the recorded fills."""
        return await asyncio.to_thread(ledger_positions, self.engine, account)

    async def record_breaks(self, breaks: Sequence[Break], ts: datetime, run_id: str | None) -> None:
        """Append the breaks to ``reconciliation_breaks``."""
        await asyncio.to_thread(_append_breaks, ReconciliationBreakRepository(self.engine), breaks, ts, run_id)


def _append_breaks(
    repo: ReconciliationBreakRepository, breaks: Sequence[Break], ts: datetime, run_id: str | None
) -> None:
    for b in breaks:
        repo.append(
            ts,
            b.kind,
            b.resolution,
            b.message,
            run_id=run_id,
            account=b.account,
            instrument_id=b.instrument_id,
            client_order_id=b.client_order_id,
            perm_id=b.perm_id,
            target=b.target,
            broker=b.broker,
            database=b.database,
        )


class SqlRiskEventStore:
    """The ``RiskEventStore`` port on the journal: queued with the orders' writes, in the same commits."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def record(self, event: RiskEvent) -> None:
        """Queue ``event``; once the journal is closed (a disconnect after Ctrl-C) it is dropped with a log line."""
        cid = event.client_order_id.value if event.client_order_id is not None else None
        try:
            self._journal.post(RiskEventOp(event.ts, event.rule, event.action, event.message, cid, event.limit,
                                           event.actual))  # fmt: skip
        except JournalClosed:
            log.debug("risk event after the journal closed, not stored: %s", event.message)


class SqlEquityStore:
    """The ``EquityStore`` port: snapshots written through the journal, marks read by ``SnapshotRepository``."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._snapshots = SnapshotRepository(journal.engine)

    async def record_equity(
        self,
        ts: datetime,
        account: str,
        currency: str,
        net_liquidation: Decimal,
        *,
        initial_margin: Decimal | None = None,
        maintenance_margin: Decimal | None = None,
    ) -> None:
        """Store one account snapshot and wait until it is committed."""
        await self._journal.write(
            AccountSnapshotOp(ts, account, currency, net_liquidation, initial_margin=initial_margin,
                              maintenance_margin=maintenance_margin)
        )  # fmt: skip

    async def day_start_equity(self, account: str, day: date) -> Decimal | None:
        """The first snapshot of ``day`` (UTC), else the last one before it."""
        return await asyncio.to_thread(self._snapshots.day_start_equity, account, day)

    async def peak_equity(self, account: str) -> Decimal | None:
        """The highest net liquidation recorded."""
        return await asyncio.to_thread(self._snapshots.peak_equity, account)

    async def daily_returns(self, account: str) -> list[float]:
        """Day-over-day returns of each UTC day's first net liquidation."""
        return await asyncio.to_thread(self._snapshots.daily_returns, account)
