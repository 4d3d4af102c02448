"""An order as the OMS tracks it, and the small rules about tracked orders the manager and reconciliation share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, func, select

from quantdesk.domain.identifiers import ClientOrderId, InstrumentId
from quantdesk.domain.order_state import OrderState, OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.persistence.models import OrderIntentRow

__all__ = ["ManagedOrder", "OrderListener", "as_sent", "count_orders_today"]


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


OrderListener = Callable[[ManagedOrder], None]


def as_sent(state: OrderState, ts: datetime) -> OrderState:
    """An intent the broker reports on was sent, even if the crash came before PENDING_SUBMIT was stored."""
    if state.status is OrderStatus.INITIALIZED:
        return state.apply_status(OrderStatus.PENDING_SUBMIT, max(ts, state.updated_at))
    return state


def count_orders_today(engine: Engine, now: datetime) -> int:
    """Orders accepted since the start of ``now``'s UTC day (the max-trades-per-day rule survives restarts)."""
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    c = OrderIntentRow.__table__.c
    query = select(func.count()).where(c.created_at >= start, c.source == "quantdesk", c.status != "REJECTED")
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
