"""The risk layer's store ports: the kill switch's state and history, risk events, and the account equity history
the daily-loss, drawdown and PSR triggers are measured against.

Risk owns these Protocols; ``quantdesk.persistence.stores`` implements them on the database (paper and live),
:mod:`quantdesk.risk.memory_stores` in memory (backtests, fast tests), with the same rules (one contract suite):
every ``set`` of the kill switch is also a line of its history; equity marks follow the UTC day.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from quantdesk.domain.trading_state import KillSwitchChange, KillSwitchStatus, TradingState
from quantdesk.risk.events import RiskEvent

__all__ = ["EquityStore", "KillSwitchStore", "RiskEventStore"]


class KillSwitchStore(Protocol):
    """The one persisted trading state and its history; it survives restarts (of the database kind)."""

    def get(self) -> KillSwitchStatus:
        """The current state (``KillSwitchStatus.default()`` when it was never set)."""
        ...

    def set(self, state: TradingState, reason: str, ts: datetime, *, changed_by: str = "user") -> KillSwitchStatus:
        """Store ``state`` with its reason (a blank reason is a ``ValidationError``) and add it to the history."""
        ...

    def history(self, limit: int | None = 20) -> list[KillSwitchChange]:
        """The changes, oldest first; ``limit`` keeps the newest."""
        ...


class RiskEventStore(Protocol):
    """Where risk decisions and state changes go (the engine's and the kill switch's ``on_event``)."""

    def record(self, event: RiskEvent) -> None:
        """Queue ``event``; never raises (a closed store drops it with a log line: the decision itself stands)."""
        ...


class EquityStore(Protocol):
    """Account equity snapshots and the marks the equity triggers need."""

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
        """Store the account's net liquidation (and margins) at ``ts``; returns once durable."""
        ...

    async def day_start_equity(self, account: str, day: date) -> Decimal | None:
        """Net liquidation at the start of ``day`` (UTC): its first snapshot that day, else the last one before."""
        ...

    async def peak_equity(self, account: str) -> Decimal | None:
        """The highest net liquidation recorded for ``account``, or None."""
        ...

    async def daily_returns(self, account: str) -> list[float]:
        """Day-over-day returns of the first net liquidation of each UTC day, oldest first."""
        ...
