"""What can happen to a tracked order, as values: the input of ``ManagedOrder.apply`` and what it reports back.

Each change names where it comes from (we sent the order, the broker reported a status or a fill, a modification
was confirmed, reconciliation marked it, the broker refused it). ``ManagedOrder.apply`` turns one into the next
``OrderState`` through the domain's operations only (the transition table, or a named forced change), and returns
an ``Applied``: what the OMS then stores, logs and tells its listeners.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import BrokerOrderId
from quantdesk.domain.order_state import OrderState, OrderStatus

__all__ = [
    "Applied",
    "FillReported",
    "Marked",
    "Modified",
    "OrderChange",
    "Refused",
    "Sending",
    "StatusReported",
]


@dataclass(frozen=True, slots=True)
class Sending:
    """The order is about to leave for the broker (PENDING_SUBMIT, kept in memory only)."""

    ts: datetime


@dataclass(frozen=True, slots=True)
class StatusReported:
    """The broker reported a status, its ids for the order, and a reason or error code (terminal or an error)."""

    status: OrderStatus
    ts: datetime
    broker_order_id: BrokerOrderId
    reason: str | None = None
    error_code: int | None = None


@dataclass(frozen=True, slots=True)
class FillReported:
    """The broker reported an execution not applied yet (its id is new to the order)."""

    fill: Fill


@dataclass(frozen=True, slots=True)
class Modified:
    """The broker confirmed a modification: the terms it reports (a price it did not report stays as it was)."""

    quantity: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None
    ts: datetime


@dataclass(frozen=True, slots=True)
class Marked:
    """Reconciliation forces a terminal status the broker cannot report, with the reason."""

    status: OrderStatus
    reason: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class Refused:
    """The broker refused the order as it was sent (REJECTED, if the table still allows it)."""

    reason: str
    error_code: int | None
    ts: datetime


OrderChange = Sending | StatusReported | FillReported | Modified | Marked | Refused


@dataclass(frozen=True, slots=True)
class Applied:
    """The outcome of one change: the states before and after, the event to store with the new state (``None``:
    in memory only), and notes (kind, message) about changes refused or forced on the way, logged in the order's
    event log against the state before."""

    before: OrderState
    after: OrderState
    event: str | None
    notes: tuple[tuple[str, str], ...] = ()

    @property
    def changed(self) -> bool:
        """True when the order's state moved."""
        return self.after != self.before
