"""An order as the OMS tracks it, and the small rules about tracked orders the manager and reconciliation share."""

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
from quantdesk.errors import ValidationError
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

    @property
    def signed_remaining(self) -> Decimal:
        """What may still trade, signed (buys positive); zero once the order is terminal."""
        if self.state.is_terminal:
            return Decimal(0)
        return self.state.remaining if self.side is OrderSide.BUY else -self.state.remaining

    def take_terms(self, quantity: Decimal, limit_price: Decimal | None, stop_price: Decimal | None) -> None:
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
