"""The order state machine, written as data, and ``OrderState``: one order's live status and fills.

Statuses carry IB's names where IB has them. IB has no "partially filled" status (it reports ``Submitted`` with
``filled > 0``) and folds held orders into ``PreSubmitted``; we keep one working status, ``SUBMITTED``, for both
``PreSubmitted`` and ``Submitted`` and let ``OrderState`` derive ``PARTIALLY_FILLED`` from the quantities.

Rules the table encodes (see ``TRANSITIONS``):

- ``INITIALIZED`` is the persisted intent before it is sent; it may be rejected by risk or cancelled locally.
- A fill may arrive in any live status, before or without a status report: from ``PENDING_SUBMIT`` (market order
  filled before the ack), ``PENDING_CANCEL`` (filled while the cancel travels), ``PENDING_REPLACE`` and
  ``INACTIVE`` (IB re-activated it) the order may move to ``PARTIALLY_FILLED`` or ``FILLED``.
- ``PENDING_CANCEL`` and ``PENDING_REPLACE`` may go back to ``SUBMITTED``/``PARTIALLY_FILLED`` when IB refuses the
  cancel or the modification (``OrderState.revert_pending``).
- ``SUBMITTED`` may become ``REJECTED``: a held (``PreSubmitted``) order can be refused when it triggers.
- ``INACTIVE`` is not terminal: IB may hold an order inactive and release it again.
- Moving to the current status is always a no-op; terminal statuses allow nothing else.

Three changes the table refuses must still be recorded, because the broker's word is a fact; they are the named,
forced operations of ``OrderState`` (see ``ForcedChange``), never a ``dataclasses.replace`` by a caller:

- a **mark** (:meth:`OrderState.mark`) sets a terminal status the broker cannot report (an order that never reached
  it, or vanished from it), from any status;
- a **late fill** (:meth:`OrderState.take_fill`) arrives in a status that takes no fill (``REJECTED``, say): the
  order is reopened as ``PARTIALLY_FILLED`` and the fill applied;
- an **overfill** (:meth:`OrderState.take_fill`) exceeds the order's quantity: the quantity grows to what filled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import Enum
from types import MappingProxyType

from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import BrokerOrderId, ClientOrderId, ExecutionId
from quantdesk.domain.market import require_utc
from quantdesk.domain.values import ZERO, Numeric, to_decimal, to_positive
from quantdesk.errors import IllegalTransition, ValidationError

__all__ = [
    "ACTIVE_STATES",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "FillOutcome",
    "ForcedChange",
    "OrderState",
    "OrderStatus",
    "can_transition",
    "from_ib_status",
    "transition",
]


class OrderStatus(Enum):
    """Where an order is in its life; IB's names where IB has them (``PENDING_SUBMIT``, ``CANCELLED``, …)."""

    INITIALIZED = "INITIALIZED"
    PENDING_SUBMIT = "PENDING_SUBMIT"
    SUBMITTED = "SUBMITTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    PENDING_REPLACE = "PENDING_REPLACE"
    PENDING_CANCEL = "PENDING_CANCEL"
    INACTIVE = "INACTIVE"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        """True when nothing can happen to the order any more."""
        return self in TERMINAL_STATES

    @property
    def is_active(self) -> bool:
        """True when the order is at (or on its way to) the broker and may still execute."""
        return self in ACTIVE_STATES

    @classmethod
    def parse(cls, text: str) -> OrderStatus:
        """Accept our names (``PARTIALLY_FILLED``, any case) or IB's status strings (``PreSubmitted``)."""
        key = text.strip().upper()
        if key in cls.__members__:
            return cls[key]
        return from_ib_status(text)


_S = OrderStatus

TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = MappingProxyType(
    {
        _S.INITIALIZED: frozenset({_S.PENDING_SUBMIT, _S.REJECTED, _S.CANCELLED}),
        _S.PENDING_SUBMIT: frozenset(
            {_S.SUBMITTED, _S.PARTIALLY_FILLED, _S.FILLED, _S.PENDING_CANCEL, _S.CANCELLED, _S.REJECTED, _S.INACTIVE}
        ),
        _S.SUBMITTED: frozenset(
            {
                _S.PARTIALLY_FILLED,
                _S.FILLED,
                _S.PENDING_REPLACE,
                _S.PENDING_CANCEL,
                _S.CANCELLED,
                _S.REJECTED,
                _S.EXPIRED,
                _S.INACTIVE,
            }
        ),
        _S.PARTIALLY_FILLED: frozenset(
            {_S.FILLED, _S.PENDING_REPLACE, _S.PENDING_CANCEL, _S.CANCELLED, _S.EXPIRED, _S.INACTIVE}
        ),
        _S.PENDING_REPLACE: frozenset(
            {_S.SUBMITTED, _S.PARTIALLY_FILLED, _S.FILLED, _S.PENDING_CANCEL, _S.CANCELLED, _S.EXPIRED, _S.INACTIVE}
        ),
        _S.PENDING_CANCEL: frozenset({_S.SUBMITTED, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.EXPIRED}),
        _S.INACTIVE: frozenset(
            {
                _S.SUBMITTED,
                _S.PARTIALLY_FILLED,
                _S.FILLED,
                _S.PENDING_REPLACE,
                _S.PENDING_CANCEL,
                _S.CANCELLED,
                _S.REJECTED,
                _S.EXPIRED,
            }
        ),
        _S.FILLED: frozenset(),
        _S.CANCELLED: frozenset(),
        _S.REJECTED: frozenset(),
        _S.EXPIRED: frozenset(),
    }
)
"""Allowed next statuses for each status (self-transitions are implicit no-ops and not listed)."""

TERMINAL_STATES: frozenset[OrderStatus] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
"""Statuses an order never leaves: FILLED, CANCELLED, REJECTED, EXPIRED."""

ACTIVE_STATES: frozenset[OrderStatus] = frozenset(TRANSITIONS) - TERMINAL_STATES - {_S.INITIALIZED}
"""Statuses in which the broker has (or is receiving) the order and it may still execute; INACTIVE included."""

_PENDING = frozenset({_S.PENDING_CANCEL, _S.PENDING_REPLACE})

_IB_STATUS: Mapping[str, OrderStatus] = MappingProxyType(
    {
        "pendingsubmit": _S.PENDING_SUBMIT,
        "apipending": _S.PENDING_SUBMIT,
        "presubmitted": _S.SUBMITTED,
        "submitted": _S.SUBMITTED,
        "apiupdate": _S.SUBMITTED,
        "validationerror": _S.SUBMITTED,
        "pendingcancel": _S.PENDING_CANCEL,
        "apicancelled": _S.CANCELLED,
        "cancelled": _S.CANCELLED,
        "filled": _S.FILLED,
        "inactive": _S.INACTIVE,
    }
)


def from_ib_status(status: str) -> OrderStatus:
    """Map an IB (or ib_async) order status string onto ``OrderStatus``; unknown strings raise."""
    found = _IB_STATUS.get(status.strip().lower()) if isinstance(status, str) else None
    if found is None:
        raise ValidationError(
            f"unknown IB order status {status!r}",
            field="status",
            value=status,
            hint="expected one of PendingSubmit, ApiPending, PreSubmitted, Submitted, PendingCancel, "
            "ApiCancelled, Cancelled, Filled, Inactive",
        )
    return found


def can_transition(current: OrderStatus, new: OrderStatus) -> bool:
    """True when the table allows ``current`` → ``new`` (always true when they are equal)."""
    return new is current or new in TRANSITIONS[current]


def transition(current: OrderStatus, new: OrderStatus) -> OrderStatus:
    """Return ``new`` if the table allows ``current`` → ``new``; raise ``IllegalTransition`` otherwise."""
    if can_transition(current, new):
        return new
    allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "nothing (terminal)"
    raise IllegalTransition(
        f"illegal order transition {current.value} -> {new.value}",
        field="status",
        value=new.value,
        hint=f"from {current.value} an order may move to {allowed}",
    )


class ForcedChange(Enum):
    """A change the transition table refuses but the OMS records anyway; the value names its order event."""

    MARK = "marked"  # a terminal status the broker cannot report (never sent, or vanished)
    LATE_FILL = "late_fill"  # a fill in a status that takes none (after REJECTED, say)
    OVERFILL = "overfill"  # a fill beyond the order's quantity


@dataclass(frozen=True, slots=True)
class OrderState:
    """One order's live state; ``apply_*`` methods return a new ``OrderState`` and never mutate.

    ``filled_notional`` is Σ fill quantity × price, kept exactly so that ``avg_fill_price`` never drifts.
    ``updated_at`` only moves forward: a late report with an older timestamp does not rewind it.
    """

    client_order_id: ClientOrderId
    quantity: Decimal
    updated_at: datetime
    status: OrderStatus = OrderStatus.INITIALIZED
    broker_order_id: BrokerOrderId | None = None
    filled_quantity: Decimal = ZERO
    filled_notional: Decimal = ZERO
    execution_ids: tuple[ExecutionId, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.client_order_id, ClientOrderId):
            raise ValidationError(
                f"must be a ClientOrderId, got {self.client_order_id!r}",
                field="client_order_id",
                value=self.client_order_id,
                hint="wrap the id in ClientOrderId(...)",
            )
        if not isinstance(self.status, OrderStatus):
            raise ValidationError(
                f"must be an OrderStatus, got {self.status!r}",
                field="status",
                value=self.status,
                hint="use OrderStatus.parse(...) or from_ib_status(...)",
            )
        object.__setattr__(self, "quantity", to_positive(self.quantity, "quantity"))
        object.__setattr__(self, "updated_at", require_utc(self.updated_at, "updated_at"))
        filled = to_decimal(self.filled_quantity, "filled_quantity")
        notional = to_decimal(self.filled_notional, "filled_notional")
        if filled < 0 or filled > self.quantity:
            raise ValidationError(
                f"filled quantity {filled} lies outside [0, {self.quantity}]",
                field="filled_quantity",
                value=filled,
                hint="an order cannot fill more than its quantity",
            )
        if (filled == 0) != (notional == 0) or notional < 0:
            raise ValidationError(
                f"filled notional {notional} does not match filled quantity {filled}",
                field="filled_notional",
                value=notional,
                hint="pass Σ quantity × price of the fills, zero when nothing filled",
            )
        object.__setattr__(self, "filled_quantity", filled)
        object.__setattr__(self, "filled_notional", notional)
        object.__setattr__(self, "execution_ids", tuple(self.execution_ids))

    @classmethod
    def new(cls, client_order_id: ClientOrderId | str, quantity: Numeric, ts: datetime) -> OrderState:
        """A fresh order intent in ``INITIALIZED`` with nothing filled."""
        cid = client_order_id if isinstance(client_order_id, ClientOrderId) else ClientOrderId(client_order_id)
        return cls(cid, to_decimal(quantity, "quantity"), ts)

    @property
    def remaining(self) -> Decimal:
        """Quantity still to fill."""
        return self.quantity - self.filled_quantity

    @property
    def avg_fill_price(self) -> Decimal | None:
        """Volume-weighted average fill price, ``None`` before the first fill."""
        return None if self.filled_quantity == 0 else self.filled_notional / self.filled_quantity

    @property
    def is_terminal(self) -> bool:
        """True when the order can no longer change (FILLED, CANCELLED, REJECTED, EXPIRED)."""
        return self.status in TERMINAL_STATES

    @property
    def is_active(self) -> bool:
        """True when the order may still execute at the broker."""
        return self.status in ACTIVE_STATES

    @property
    def is_fully_filled(self) -> bool:
        """True when the fills add up to the order quantity (the FILLED status may arrive before them)."""
        return self.filled_quantity == self.quantity

    def _normalise(self, status: OrderStatus) -> OrderStatus:
        # IB reports a partly filled working order as "Submitted": keep what the quantities say.
        if status is OrderStatus.SUBMITTED and self.filled_quantity > 0:
            return OrderStatus.PARTIALLY_FILLED
        return status

    def _later(self, ts: datetime) -> datetime:
        ts = require_utc(ts)
        return max(ts, self.updated_at)

    def apply_status(
        self, new_status: OrderStatus, ts: datetime, broker_order_id: BrokerOrderId | None = None
    ) -> OrderState:
        """Move to ``new_status`` if the table allows it (SUBMITTED means PARTIALLY_FILLED once anything filled)."""
        status = transition(self.status, self._normalise(new_status))
        ids = self.broker_order_id if broker_order_id is None else broker_order_id
        return self._moved(status, self._later(ts), ids)

    def _moved(self, status: OrderStatus, updated_at: datetime, broker_order_id: BrokerOrderId | None) -> OrderState:
        """This state with another status, time and broker ids (every order moves so two or three times, so this is
        no ``dataclasses.replace``): the quantities and fills, checked when this state was made, are carried over;
        ``status`` comes from the transition table and ``updated_at`` from :meth:`_later`, so both are valid."""
        moved = object.__new__(OrderState)
        put = object.__setattr__
        put(moved, "client_order_id", self.client_order_id)
        put(moved, "quantity", self.quantity)
        put(moved, "updated_at", updated_at)
        put(moved, "status", status)
        put(moved, "broker_order_id", broker_order_id)
        put(moved, "filled_quantity", self.filled_quantity)
        put(moved, "filled_notional", self.filled_notional)
        put(moved, "execution_ids", self.execution_ids)
        return moved

    def revert_pending(self, ts: datetime) -> OrderState:
        """Undo PENDING_CANCEL/PENDING_REPLACE after the broker refused it; other statuses are left as they are."""
        if self.status not in _PENDING:
            return self
        return self.apply_status(OrderStatus.SUBMITTED, ts)

    def apply_fill(self, fill: Fill) -> OrderState:
        """Record ``fill`` and derive the status from the quantities; a repeated execution id is ignored.

        A fill needs no status report first. FILLED stays FILLED (IB may report the status before the executions);
        CANCELLED and EXPIRED keep their status but record the quantity (a late execution that raced the cancel).
        """
        if fill.client_order_id != self.client_order_id:
            raise ValidationError(
                f"fill {fill.execution_id} belongs to order {fill.client_order_id}, not {self.client_order_id}",
                field="client_order_id",
                value=fill.client_order_id.value,
                hint="route fills by their client order id (IB orderRef)",
            )
        if fill.execution_id in self.execution_ids:
            return self
        filled = self.filled_quantity + fill.quantity
        if filled > self.quantity:
            raise ValidationError(
                f"fill {fill.execution_id} of {fill.quantity} overfills order {self.client_order_id}: "
                f"{filled} filled of {self.quantity}",
                field="filled_quantity",
                value=filled,
                hint="reconcile the order with the broker: its quantity or its executions are wrong",
            )
        status: OrderStatus
        if self.status in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED):
            status = self.status
        else:
            target = OrderStatus.FILLED if filled == self.quantity else OrderStatus.PARTIALLY_FILLED
            status = transition(self.status, target)
        return replace(
            self,
            status=status,
            filled_quantity=filled,
            filled_notional=self.filled_notional + fill.quantity * fill.price,
            execution_ids=(*self.execution_ids, fill.execution_id),
            updated_at=self._later(fill.ts),
        )

    def apply_modify(self, quantity: Numeric, ts: datetime) -> OrderState:
        """Take the broker-confirmed new quantity; it may not fall below what is filled (equal means FILLED).

        A confirmed modification ends PENDING_REPLACE: the order is working again (SUBMITTED or PARTIALLY_FILLED).
        """
        new_quantity = to_positive(quantity, "quantity")
        if self.is_terminal:
            raise IllegalTransition(
                f"cannot modify order {self.client_order_id} in terminal status {self.status.value}",
                field="status",
                value=self.status.value,
                hint="only live orders can be modified",
            )
        if new_quantity < self.filled_quantity:
            raise ValidationError(
                f"new quantity {new_quantity} is below the filled quantity {self.filled_quantity}",
                field="quantity",
                value=new_quantity,
                hint=f"modify to at least {self.filled_quantity}",
            )
        status = self.status
        if new_quantity == self.filled_quantity:
            status = transition(self.status, OrderStatus.FILLED)
        elif self.status is OrderStatus.PENDING_REPLACE:
            status = self._normalise(OrderStatus.SUBMITTED)
        return replace(self, quantity=new_quantity, status=status, updated_at=self._later(ts))

    def identify(self, ids: BrokerOrderId) -> OrderState:
        """Take the broker's ids from a report; an id it leaves at zero keeps the one known (no id: unchanged)."""
        if not (ids.order_id or ids.perm_id):
            return self
        known = self.broker_order_id
        order_id = ids.order_id or (known.order_id if known is not None else 0)
        perm_id = ids.perm_id or (known.perm_id if known is not None else 0)
        return self._moved(self.status, self.updated_at, BrokerOrderId(order_id, perm_id, ids.client_id))

    def mark(self, status: OrderStatus, ts: datetime) -> OrderState:
        """Forced: set the terminal ``status`` the broker cannot report, from any status; fills are kept."""
        if not status.is_terminal:
            raise ValidationError(
                f"cannot mark order {self.client_order_id} {status.value}: a mark sets a terminal status",
                field="status",
                value=status.value,
                hint=f"mark one of {', '.join(sorted(s.value for s in TERMINAL_STATES))}",
            )
        return replace(self, status=status, updated_at=self._later(ts))

    def take_fill(self, fill: Fill) -> FillOutcome:
        """Apply a fill the broker reported, forcing what the table refuses (a late fill, an overfill): a reported
        execution is a fact. The outcome names each forced change with the refusal that made it necessary."""
        state, forced = self, list[tuple[ForcedChange, str]]()
        while True:  # at most three rounds: an overfill, then a status that takes no fill, then the fill
            try:
                return FillOutcome(state.apply_fill(fill), tuple(forced))
            except IllegalTransition as exc:
                forced.append((ForcedChange.LATE_FILL, str(exc)))
                state = replace(state, status=OrderStatus.PARTIALLY_FILLED)
            except ValidationError as exc:
                if exc.field != "filled_quantity":
                    raise  # another order's fill: a routing error, not a fact about this order
                forced.append((ForcedChange.OVERFILL, str(exc)))
                state = replace(state, quantity=state.filled_quantity + fill.quantity)


@dataclass(frozen=True, slots=True)
class FillOutcome:
    """The state after a reported fill, and the forced changes (with the table's refusal) it took to apply it."""

    state: OrderState
    forced: tuple[tuple[ForcedChange, str], ...] = ()
