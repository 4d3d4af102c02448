"""The kill switch's trading state (ACTIVE / REDUCING / HALTED) and its status value: pure, shared by risk, the OMS
and the stores that keep it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from quantdesk.errors import ValidationError

__all__ = ["KillSwitchChange", "KillSwitchStatus", "TradingState", "change_reason"]


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


def change_reason(reason: object) -> str:
    """``reason`` if it says something: every store refuses a kill-switch change without one."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError(
            "a kill-switch change needs a reason",
            field="reason",
            value=reason,
            hint="say why, e.g. 'daily loss limit 2% reached'",
        )
    return reason
