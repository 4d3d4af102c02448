"""``RiskEvent``: what the risk layer reports (a rejection, a kill-switch move, a throttle, a slice)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from quantdesk.domain.identifiers import ClientOrderId

__all__ = ["RISK_ACTIONS", "RiskAction", "RiskEvent", "RiskEventListener"]

RiskAction = Literal["rejected", "halted", "reducing", "resumed", "warned", "throttled", "sliced"]
RISK_ACTIONS: tuple[RiskAction, ...] = ("rejected", "halted", "reducing", "resumed", "warned", "throttled", "sliced")


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """One risk decision or state change: when, which rule, what happened, and the limit and value as text."""

    ts: datetime
    rule: str
    action: RiskAction
    message: str
    client_order_id: ClientOrderId | None = None
    limit: str | None = None
    actual: str | None = None


RiskEventListener = Callable[[RiskEvent], None]
"""Where the engine and the kill switch send their events (the OMS logs, stores and alerts on them)."""
