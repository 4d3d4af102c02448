"""Contingent orders: parent/child activation (brackets, OTO) and one-cancels-all groups, as exact arithmetic.

**Parents and children.** A child (``OrderLink.parent_client_order_id``) is held, and cannot trigger or fill, until
its parent fills. Like IB, any parent fill activates it; unlike a naive model it may then fill only the parent's
*filled share* of its own quantity: with the parent 40 % filled, a 100-share take-profit may sell at most 40. As
the parent fills further the allowance grows. If the parent ends (cancelled, expired, rejected) with nothing
filled, its children are cancelled with it; if it had filled partly, the children stay live for that share, so
the position the parent opened stays protected.

**OCA groups** (``OrderLink.oca_group``), with IB's three types. Each member ``i`` has a base quantity ``b_i``
(its quantity when it joined). The group records its *consumed share* ``c = Σ filled_i / b_i`` as an exact
``Fraction``; a member may then fill at most ``⌊(1 − c) · b_i⌋`` (rounded down to the lot). For equal sizes, as in a
bracket, this is "reduce the others by the quantity filled"; for unequal sizes it is IB's "proportionally reduce".

* type 1, cancel with block: the first fill of any member (even partial) cancels every member that has not filled;
  the filling order keeps working for its own remainder.
* type 2, reduce with block: after each fill the other members' quantities shrink to ``filled + ⌊(1 − c) · b⌋``
  (reported as ``OrderModified``); a member left with nothing is cancelled.
* type 3, reduce without block: the same reduction, but only once the data point has been processed. Members that
  fill on the same data point do not see each other's fills, so together they can overfill the group — this is
  the overfill risk IB's "block" exists to prevent. With block (types 1 and 2) members fill one after the other
  and the group can never fill more than one full quantity: ``c <= 1`` always.

A child of a parent *and* an OCA member (a bracket exit) is limited by both: at most ``⌊(φ − c) · b⌋`` where ``φ``
is the parent's filled share, so the take-profit and the stop-loss together never exit more than the entry filled.
Modifying the quantity of a member re-bases it so that its remaining quantity is what was asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.order_types import OcaType
from quantdesk.execution.order_book import WorkingOrder

__all__ = ["OcaGroupState", "allowance", "lots_of", "parent_share", "rebase", "reduced_quantity"]

_ONE = Fraction(1)
_ZERO = Fraction(0)


@dataclass(slots=True)
class OcaGroupState:
    """One OCA group: its type, members in joining order and the share consumed (``pending``: not yet settled)."""

    name: str
    oca_type: OcaType
    members: list[ClientOrderId] = field(default_factory=list)
    consumed: Fraction = _ZERO
    pending: Fraction = _ZERO

    @property
    def blocks(self) -> bool:
        """True for types 1 and 2: members fill one at a time, so the group cannot overfill."""
        return self.oca_type is not OcaType.REDUCE_NON_BLOCK

    @property
    def cancels(self) -> bool:
        """True for type 1: a fill cancels the members that have not filled."""
        return self.oca_type is OcaType.CANCEL_WITH_BLOCK

    @property
    def exhausted(self) -> bool:
        """True when nothing more may fill: everything consumed, or a type-1 group that has filled."""
        used = self.consumed + self.pending
        return used >= 1 or (self.cancels and used > 0)


def lots_of(share: Fraction, base: Fraction, lot: Decimal) -> Decimal:
    """``share × base`` rounded down to whole lots, never negative."""
    if share <= 0:
        return Decimal(0)
    return Decimal(math.floor(share * base / Fraction(lot))) * lot


def parent_share(parent: WorkingOrder | None) -> Fraction:
    """The parent's filled share of its quantity (1 without a parent)."""
    if parent is None:
        return _ONE
    return Fraction(parent.state.filled_quantity) / Fraction(parent.order.quantity)


def allowance(record: WorkingOrder, parent: WorkingOrder | None, group: OcaGroupState | None) -> Decimal:
    """How much ``record`` may fill now: its remaining quantity, capped by its parent's fills and its OCA group."""
    lot = record.order.instrument.lot_size
    if group is None:
        base = Fraction(record.order.quantity)
        consumed = Fraction(record.state.filled_quantity) / base
    else:
        base, consumed = record.oca_base, group.consumed
    cap = lots_of(parent_share(parent) - consumed, base, lot)
    return max(Decimal(0), min(record.state.remaining, cap))


def reduced_quantity(record: WorkingOrder, group: OcaGroupState) -> Decimal:
    """The total quantity a member of a reducing group keeps: filled plus its share of what is left."""
    lot = record.order.instrument.lot_size
    kept = record.state.filled_quantity + lots_of(_ONE - group.consumed, record.oca_base, lot)
    return min(kept, record.state.quantity)


def rebase(record: WorkingOrder, group: OcaGroupState, new_quantity: Decimal) -> None:
    """After a quantity modification, set the member's base so its remaining quantity is what was asked for."""
    left = _ONE - group.consumed
    remaining = Fraction(new_quantity - record.state.filled_quantity)
    record.oca_base = remaining / left if left > 0 else Fraction(new_quantity)
