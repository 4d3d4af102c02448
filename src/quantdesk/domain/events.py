"""Order events: what happened to an order, as frozen records the kernel publishes and the OMS persists.

Each event type implies one ``OrderStatus`` (``EVENT_STATUS``), except the refusals of a cancel or a modification,
which imply none: the order keeps working, and ``OrderState.revert_pending`` undoes the pending status.
Fill events carry the ``Fill``; the OMS applies it with ``OrderState.apply_fill``, which derives PARTIALLY_FILLED
or FILLED from the quantities rather than from the event type. Events are keyword-only.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import BrokerOrderId, ClientOrderId
from quantdesk.domain.market import require_utc
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.values import to_positive
from quantdesk.errors import ValidationError

__all__ = [
    "EVENT_STATUS",
    "OrderAccepted",
    "OrderCancelRejected",
    "OrderCancelled",
    "OrderEvent",
    "OrderExpired",
    "OrderFillEvent",
    "OrderFilled",
    "OrderInactive",
    "OrderInitialized",
    "OrderModified",
    "OrderModifyRejected",
    "OrderPartiallyFilled",
    "OrderPendingCancel",
    "OrderPendingReplace",
    "OrderRejected",
    "OrderSubmitted",
    "implied_status",
]


def _new_event_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderEvent:
    """Base of every order event: which order (ours, and the broker's ids when known), when (UTC), and an id."""

    client_order_id: ClientOrderId
    ts: datetime
    broker_order_id: BrokerOrderId | None = None
    event_id: str = field(default_factory=_new_event_id)

    def __post_init__(self) -> None:
        if not isinstance(self.client_order_id, ClientOrderId):
            raise ValidationError(
                f"must be a ClientOrderId, got {self.client_order_id!r}",
                field="client_order_id",
                value=self.client_order_id,
                hint="wrap the id in ClientOrderId(...)",
            )
        object.__setattr__(self, "ts", require_utc(self.ts))
        if not isinstance(self.event_id, str) or not self.event_id.strip():
            raise ValidationError(
                "must be a non-empty string", field="event_id", value=self.event_id, hint="omit it to get a fresh id"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class _ReasonEvent(OrderEvent):
    """An event that may say why, with the broker's error code when there is one."""

    reason: str = ""
    code: int | None = None

    def __post_init__(self) -> None:
        OrderEvent.__post_init__(self)
        if not isinstance(self.reason, str):
            raise ValidationError(
                f"must be a string, got {self.reason!r}", field="reason", value=self.reason, hint="pass the text"
            )
        if self.code is not None and (isinstance(self.code, bool) or not isinstance(self.code, int)):
            raise ValidationError(
                f"must be an integer error code, got {self.code!r}",
                field="code",
                value=self.code,
                hint="pass IB's errorCode or None",
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderInitialized(OrderEvent):
    """The OMS persisted the order intent; nothing has been sent yet."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderSubmitted(OrderEvent):
    """The order was sent to the broker and awaits its acknowledgement (IB PendingSubmit)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderAccepted(OrderEvent):
    """The broker acknowledged the order and is working it (IB PreSubmitted or Submitted)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRejected(_ReasonEvent):
    """The broker (or our risk engine, before sending) refused the order; ``reason`` is required."""

    def __post_init__(self) -> None:
        _ReasonEvent.__post_init__(self)
        if not self.reason.strip():
            raise ValidationError(
                "a rejection needs a reason", field="reason", value=self.reason, hint="pass the broker's error text"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFillEvent(OrderEvent):
    """Base of the fill events: carries the ``Fill``, which must belong to this order."""

    fill: Fill

    def __post_init__(self) -> None:
        OrderEvent.__post_init__(self)
        if not isinstance(self.fill, Fill):
            raise ValidationError(
                f"must be a Fill, got {self.fill!r}", field="fill", value=self.fill, hint="pass the execution"
            )
        if self.fill.client_order_id != self.client_order_id:
            raise ValidationError(
                f"fill belongs to order {self.fill.client_order_id}, not {self.client_order_id}",
                field="client_order_id",
                value=self.fill.client_order_id.value,
                hint="build the event with the fill's client order id",
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPartiallyFilled(OrderFillEvent):
    """An execution that leaves part of the order open."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFilled(OrderFillEvent):
    """The execution that completes the order."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPendingCancel(OrderEvent):
    """A cancel was requested and the broker has not confirmed it (IB PendingCancel)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCancelled(_ReasonEvent):
    """The order was cancelled (by us, the broker or the exchange; IB Cancelled/ApiCancelled)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCancelRejected(_ReasonEvent):
    """The broker refused a cancel (IB 161, 10147, 10148); the order keeps its previous working status."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderExpired(_ReasonEvent):
    """The order's time in force ran out (DAY at the close, GTD at its date)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderInactive(_ReasonEvent):
    """IB holds the order inactive (margin, exchange or system reasons); it may become active again."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPendingReplace(OrderEvent):
    """A modification was sent and the broker has not confirmed it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderModified(OrderEvent):
    """The broker confirmed a modification; ``None`` means that value did not change."""

    quantity: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None

    def __post_init__(self) -> None:
        OrderEvent.__post_init__(self)
        for name in ("quantity", "limit_price", "stop_price"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, to_positive(value, name))
        if self.quantity is None and self.limit_price is None and self.stop_price is None:
            raise ValidationError(
                "a modification must change something",
                field="quantity",
                value=None,
                hint="pass the new quantity, limit_price or stop_price",
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderModifyRejected(_ReasonEvent):
    """The broker refused a modification; the order keeps working on its previous terms."""


EVENT_STATUS: Mapping[type[OrderEvent], OrderStatus] = MappingProxyType(
    {
        OrderInitialized: OrderStatus.INITIALIZED,
        OrderSubmitted: OrderStatus.PENDING_SUBMIT,
        OrderAccepted: OrderStatus.SUBMITTED,
        OrderRejected: OrderStatus.REJECTED,
        OrderPartiallyFilled: OrderStatus.PARTIALLY_FILLED,
        OrderFilled: OrderStatus.FILLED,
        OrderPendingCancel: OrderStatus.PENDING_CANCEL,
        OrderCancelled: OrderStatus.CANCELLED,
        OrderExpired: OrderStatus.EXPIRED,
        OrderInactive: OrderStatus.INACTIVE,
        OrderPendingReplace: OrderStatus.PENDING_REPLACE,
        OrderModified: OrderStatus.SUBMITTED,
    }
)
"""The status each event implies. OrderModified implies SUBMITTED, which ``OrderState`` reads as
PARTIALLY_FILLED once anything has filled; OrderCancelRejected and OrderModifyRejected imply none."""


def implied_status(event: OrderEvent) -> OrderStatus | None:
    """The status ``event`` implies, or ``None`` for a refused cancel or modification."""
    for cls in type(event).__mro__:
        status = EVENT_STATUS.get(cls)
        if status is not None:
            return status
    return None
