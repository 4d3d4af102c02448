"""The kill switch's trading state (ACTIVE / REDUCING / HALTED) and its status value: pure, shared by risk, the OMS
and the stores that keep it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

__all__ = ["KillSwitchChange", "KillSwitchStatus", "TradingState"]


class TradingState(Enum):
    """The kill switch: trade normally, accept only risk-reducing orders, or trade nothing."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


@dataclass(frozen=True, slots=True)
class KillSwitchStatus:
    """The persisted trading state; ``changed_at`` is ``None`` when it was never set (the default ACTIVE)."""

    state: TradingState
    reason: str
    changed_by: str
    changed_at: datetime | None

    @classmethod
    def default(cls) -> KillSwitchStatus:
        """ACTIVE, never set: what a store answers before the first change."""
        return cls(TradingState.ACTIVE, "never set", "default", None)


@dataclass(frozen=True, slots=True)
class KillSwitchChange:
    """One change of the trading state, as its history keeps it: when, from what, to what, and why (one line)."""

    ts: datetime
    previous: TradingState
    state: TradingState
    message: str
