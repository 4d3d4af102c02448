"""An order as the OMS tracks it, and the small rules about tracked orders the manager and reconciliation share.

``ManagedOrder`` is the aggregate: its state changes only through :meth:`ManagedOrder.apply`, which takes one
``OrderChange`` and moves the ``OrderState`` by the transition table or by a named forced change of the domain.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from quantdesk.domain.identifiers import ClientOrderId, InstrumentId
from quantdesk.domain.order_state import OrderState, OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.errors import IllegalTransition, ValidationError
from quantdesk.oms.order_changes import (
    Applied,
    FillReported,
    Marked,
    Modified,
    OrderChange,
    Refused,
    Sending,
    StatusReported,
)
from quantdesk.oms.stores import StoredIntentView

__all__ = ["ManagedOrder", "OrderListener", "as_sent", "rebuild_order", "start_of_day"]

log = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class ManagedOrder:
    """One order the OMS tracks: its terms (``None`` for an adopted order we only know from the broker) and state."""

    client_order_id: ClientOrderId
    instrument_id: InstrumentId
    side: OrderSide
    state: OrderState
    order: Order | None = None
    source: str = "quantdesk"
    reason: str | None = None
    error_code: int | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        if self.state.is_terminal:
            self.done.set()

    @property
    def signed_remaining(self) -> Decimal:
        """What may still trade, signed (buys positive); zero once the order is terminal."""
        if self.state.is_terminal:
            return Decimal(0)
        return self.state.remaining if self.side is OrderSide.BUY else -self.state.remaining

    def apply(self, change: OrderChange) -> Applied:
        """Move the order by one change; the only way its state changes. Returns what moved, for the OMS to store.

        A status the table refuses is not applied but noted (``illegal_transition``); a fill the table refuses is
        applied by a forced change of the domain (``late_fill``, ``overfill``), noted too.
        """
        before = self.state
        after, event, notes = self._next(change)
        self.state = after
        if after.is_terminal:
            self.done.set()
        return Applied(before, after, event, notes)

    def _next(self, change: OrderChange) -> tuple[OrderState, str | None, tuple[tuple[str, str], ...]]:
        state = self.state
        match change:
            case Sending(ts):
                return state.apply_status(OrderStatus.PENDING_SUBMIT, ts), None, ()
            case StatusReported(status, ts, ids, reason, error_code):
                state = as_sent(state, ts).identify(ids)
                notes: tuple[tuple[str, str], ...] = ()
                if status is not state.status and not (
                    status is OrderStatus.SUBMITTED and state.status is OrderStatus.PARTIALLY_FILLED
                ):
                    try:
                        state = state.apply_status(status, ts)
                    except IllegalTransition as exc:
                        notes = (("illegal_transition", str(exc)),)
                if reason and (status.is_terminal or error_code):
                    self.reason, self.error_code = reason, error_code
                return state, status.value.lower(), notes
            case FillReported(fill):
                outcome = as_sent(state, fill.ts).take_fill(fill)
                return outcome.state, "fill", tuple((kind.value, why) for kind, why in outcome.forced)
            case Modified(quantity, limit_price, stop_price, ts):
                self._take_terms(quantity, limit_price, stop_price)
                if quantity != state.quantity and not state.is_terminal:
                    state = state.apply_modify(quantity, ts)
                return state, "modified", ()
            case Marked(status, reason, ts):
                self.reason = reason
                return state.mark(status, ts), "marked", ()
            case Refused(reason, error_code, ts):
                self.reason, self.error_code = reason, error_code
                try:
                    return state.apply_status(OrderStatus.REJECTED, ts), "rejected", ()
                except IllegalTransition:
                    return state, "rejected", ()  # a fill or a cancel came first: that status stands

    def _take_terms(self, quantity: Decimal, limit_price: Decimal | None, stop_price: Decimal | None) -> None:
        """Keep the terms the broker confirmed after a modification (a price it did not report stays as it was)."""
        if self.order is not None:
            self.order = replace(
                self.order,
                quantity=quantity,
                limit_price=limit_price if limit_price is not None else self.order.limit_price,
                stop_price=stop_price if stop_price is not None else self.order.stop_price,
            )


OrderListener = Callable[[ManagedOrder], None]


def as_sent(state: OrderState, ts: datetime) -> OrderState:
    """An intent the broker reports on was sent, even if the crash came before PENDING_SUBMIT was stored."""
    if state.status is OrderStatus.INITIALIZED:
        return state.apply_status(OrderStatus.PENDING_SUBMIT, max(ts, state.updated_at))
    return state


def start_of_day(now: datetime) -> datetime:
    """The start of ``now``'s day: orders accepted since then count toward max-trades-per-day (the store counts
    them, so the rule survives restarts)."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def rebuild_order(intent: StoredIntentView) -> Order | None:
    """The stored order's terms, or None (an adopted order, or terms this version cannot read: logged)."""
    try:
        return intent.to_order()
    except ValidationError:
        log.warning("cannot rebuild the order of intent %s from its stored terms", intent.client_order_id)
        return None
