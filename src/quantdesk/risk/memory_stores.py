"""The risk layer's stores in memory: the kill switch's state and history, risk events and equity snapshots, with
the database's rules (``tests/risk/test_risk_store_contract.py`` runs both), for backtests and fast tests: times must
be timezone-aware, and a closed risk-event store drops what it is given, as a closed journal does."""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from quantdesk.domain.market import require_utc
from quantdesk.domain.trading_state import KillSwitchChange, KillSwitchStatus, TradingState, change_reason
from quantdesk.risk.events import RiskEvent

__all__ = ["EquityMark", "MemoryEquityStore", "MemoryKillSwitchStore", "MemoryRiskEventStore"]

log = logging.getLogger(__name__)


class MemoryKillSwitchStore:
    """The ``KillSwitchStore`` port in memory: one state, every change also a line of the history."""

    def __init__(self, status: KillSwitchStatus | None = None) -> None:
        self._status = status or KillSwitchStatus.default()
        self._history: list[KillSwitchChange] = []
        self._lock = threading.Lock()

    def get(self) -> KillSwitchStatus:
        """The current state (ACTIVE, never set, until the first change)."""
        return self._status

    def set(self, state: TradingState, reason: str, ts: datetime, *, changed_by: str = "user") -> KillSwitchStatus:
        """Store ``state`` with its reason and add the change to the history (``ts`` must be timezone-aware)."""
        state = TradingState(state)
        change_reason(reason)
        ts = require_utc(ts)
        with self._lock:
            previous = self._status.state
            self._status = KillSwitchStatus(state, reason, changed_by, ts)
            message = f"{previous.value} -> {state.value} by {changed_by}: {reason}"
            self._history.append(KillSwitchChange(ts, previous, state, message))
            return self._status

    def history(self, limit: int | None = 20) -> list[KillSwitchChange]:
        """The changes, oldest first; ``limit`` keeps the newest."""
        with self._lock:
            changes = sorted(self._history, key=lambda c: c.ts)
        return changes if limit is None else changes[-limit:] if limit > 0 else []


class MemoryRiskEventStore:
    """The ``RiskEventStore`` port in memory: every event kept, in order."""

    def __init__(self) -> None:
        self.events: list[RiskEvent] = []
        self._closed = False

    def record(self, event: RiskEvent) -> None:
        """Keep ``event``; once closed, or stamped with a naive time, it is dropped with a log line, as the journal
        drops it."""
        if self._closed:
            log.debug("risk event after the store closed, not stored: %s", event.message)
            return
        if event.ts.tzinfo is None or event.ts.utcoffset() is None:
            log.error("risk event with a naive time refused: %s", event.message)
            return
        self.events.append(event)

    def close(self) -> None:
        """Drop what comes from now on (what is kept stays readable)."""
        self._closed = True


@dataclass(frozen=True, slots=True)
class EquityMark:
    """One account snapshot as the memory store keeps it."""

    ts: datetime
    account: str
    currency: str
    net_liquidation: Decimal
    initial_margin: Decimal | None = None
    maintenance_margin: Decimal | None = None


class MemoryEquityStore:
    """The ``EquityStore`` port in memory."""

    def __init__(self) -> None:
        self.marks: list[EquityMark] = []

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
        """Keep one snapshot (``ts`` must be timezone-aware)."""
        ts = require_utc(ts)
        self.marks.append(EquityMark(ts, account, currency, net_liquidation, initial_margin, maintenance_margin))

    def _of(self, account: str) -> list[EquityMark]:
        """The account's snapshots by time (the order stored breaks ties)."""
        return sorted((m for m in self.marks if m.account == account), key=lambda m: m.ts)

    async def day_start_equity(self, account: str, day: date) -> Decimal | None:
        """The first snapshot of ``day`` (UTC), else the last one before it."""
        start = datetime.combine(day, time(0), tzinfo=UTC)
        marks = self._of(account)
        for m in marks:
            if start <= m.ts < start + timedelta(days=1):
                return m.net_liquidation
        before = [m for m in marks if m.ts < start]
        return before[-1].net_liquidation if before else None

    async def peak_equity(self, account: str) -> Decimal | None:
        """The highest net liquidation recorded."""
        return max((m.net_liquidation for m in self._of(account)), default=None)

    async def daily_returns(self, account: str) -> list[float]:
        """Day-over-day returns of each UTC day's first net liquidation, oldest first."""
        firsts: dict[date, Decimal] = {}
        for m in self._of(account):
            firsts.setdefault(m.ts.astimezone(UTC).date(), m.net_liquidation)
        values = list(firsts.values())
        return [float(b / a - 1) for a, b in itertools.pairwise(values) if a > 0]
