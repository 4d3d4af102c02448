"""Execution events the domain does not have: a stop triggered, a held contingent order released.

Everything else the engine reports is a domain event from ``quantdesk.domain.events`` (``OrderAccepted``,
``OrderPartiallyFilled``/``OrderFilled`` carrying the ``Fill``, ``OrderCancelled``, ``OrderExpired``,
``OrderRejected``, ``OrderModified``, ``OrderCancelRejected``, ``OrderModifyRejected``). The two events here
change no ``OrderStatus`` (``implied_status`` returns None for them): the order keeps working.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from quantdesk.domain.events import OrderEvent, OrderFillEvent
from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.values import to_positive

__all__ = ["OrderActivated", "OrderTriggered", "fills_of"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderTriggered(OrderEvent):
    """A stop, stop-limit or trailing order's stop was reached at ``trigger_price``; it now works as market/limit.

    ``limit_price`` is the limit it now works at (stop-limit, trailing stop-limit), None for a market.
    """

    trigger_price: Decimal
    limit_price: Decimal | None = None

    def __post_init__(self) -> None:
        OrderEvent.__post_init__(self)
        object.__setattr__(self, "trigger_price", to_positive(self.trigger_price, "trigger_price"))
        if self.limit_price is not None:
            object.__setattr__(self, "limit_price", to_positive(self.limit_price, "limit_price"))


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderActivated(OrderEvent):
    """A held child order (bracket exit, OTO child) became live because its parent filled."""

    parent_client_order_id: ClientOrderId


def fills_of(events: Iterable[OrderEvent]) -> list[Fill]:
    """The fills carried by ``events``, in order."""
    return [e.fill for e in events if isinstance(e, OrderFillEvent)]
