"""The kill switch: the persisted trading state ACTIVE / REDUCING / HALTED with reason, author and time; every change
is also written to ``risk_events``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quantdesk.domain.trading_state import KillSwitchChange, KillSwitchStatus, TradingState, change_reason
from quantdesk.persistence.models import KillSwitchRow, RiskEventRow
from quantdesk.persistence.repositories._common import newest

__all__ = ["KillSwitchRepository", "KillSwitchStatus", "TradingState"]  # the values re-exported from domain


_SINGLETON = 1
_CHANGES = tuple(s.value.lower() for s in TradingState)
"""The actions of the rows ``set`` writes; the engine's refusals under rule ``kill_switch`` are ``rejected``."""


class KillSwitchRepository:
    """The one persisted trading state and its history; it survives restarts (risk's ``KillSwitchStore`` port)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self) -> KillSwitchStatus:
        """The current state (ACTIVE, never set, when nothing is stored)."""
        with Session(self._engine) as session:
            row = session.get(KillSwitchRow, _SINGLETON)
            if row is None:
                return KillSwitchStatus.default()
            return KillSwitchStatus(TradingState(row.state), row.reason, row.changed_by, row.changed_at)

    def set(self, state: TradingState, reason: str, ts: datetime, *, changed_by: str = "user") -> KillSwitchStatus:
        """Persist ``state`` with its reason; the change is also logged as a risk event."""
        state = TradingState(state)
        change_reason(reason)
        with Session(self._engine) as session, session.begin():
            row = session.get(KillSwitchRow, _SINGLETON, with_for_update=True)
            previous = row.state if row is not None else TradingState.ACTIVE.value
            if row is None:
                row = KillSwitchRow(
                    id=_SINGLETON, state=state.value, reason=reason, changed_by=changed_by, changed_at=ts
                )
                session.add(row)
            else:
                row.state, row.reason, row.changed_by, row.changed_at = state.value, reason, changed_by, ts
            session.add(
                RiskEventRow(
                    ts=ts,
                    rule="kill_switch",
                    action=state.value.lower(),
                    limit_value=previous,
                    actual_value=state.value,
                    message=f"{previous} -> {state.value} by {changed_by}: {reason}",
                )
            )
        return KillSwitchStatus(state, reason, changed_by, ts)

    def history(self, limit: int | None = 20) -> list[KillSwitchChange]:
        """The changes (the ``kill_switch`` risk events ``set`` wrote, not the orders the switch refused), oldest first;
        ``limit`` keeps the newest."""
        c = RiskEventRow
        stmt = newest(select(c).where(c.rule == "kill_switch", c.action.in_(_CHANGES)), limit, c.ts, c.id)
        with Session(self._engine) as session:
            rows = list(session.scalars(stmt))
        if limit is not None:
            rows.reverse()
        return [
            KillSwitchChange(r.ts, TradingState(r.limit_value or "ACTIVE"), TradingState(r.actual_value or "ACTIVE"),
                             r.message)
            for r in rows
        ]  # fmt: skip
