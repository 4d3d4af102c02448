"""What the OMS asks its store to write: one frozen value per kind of write (the vocabulary of the ``OrderStore``
port). The SQL journal (``quantdesk.persistence.journal``) and the in-memory store (``oms.memory_stores``) apply the
same operations with the same results: an intent once per ``ClientOrderId``, a fill once per (account, execution id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from quantdesk.brokers.base import OrderStatusReport
from quantdesk.domain.fills import CommissionReport, Fill
from quantdesk.domain.identifiers import AccountId, ClientOrderId
from quantdesk.domain.order_state import OrderState
from quantdesk.domain.orders import Order
from quantdesk.errors import ValidationError

__all__ = [
    "AccountSnapshotOp",
    "AdoptIntent",
    "DuplicateIntent",
    "InsertIntent",
    "JournalClosed",
    "JournalOp",
    "OrderEventOp",
    "RecordCommission",
    "RecordFill",
    "RiskEventOp",
    "UpdateIntent",
]


class JournalClosed(RuntimeError):
    """The store (the journal) was closed; nothing more can be written."""


class DuplicateIntent(ValidationError):
    """A ClientOrderId is stored already for an order with different content (a reused id is a bug)."""


@dataclass(frozen=True, slots=True)
class InsertIntent:
    """Persist an order intent (INITIALIZED) before it is sent; the result is True when this call created it."""

    order: Order
    ts: datetime
    run_id: str | None = None
    list_id: str | None = None
    source: str = "quantdesk"


@dataclass(frozen=True, slots=True)
class AdoptIntent:
    """Store an order found at the broker but not in the database (placed by hand in TWS, or by a lost run)."""

    report: OrderStatusReport
    client_order_id: ClientOrderId
    ts: datetime
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateIntent:
    """Store an order's live state (status, quantities, broker ids) and, when given, the reason and error code."""

    state: OrderState
    reason: str | None = None
    error_code: int | None = None


@dataclass(frozen=True, slots=True)
class RecordFill:
    """Record one execution once per account; the result is True when this call recorded it (False: a duplicate)."""

    fill: Fill
    recorded_at: datetime
    perm_id: int | None = None


@dataclass(frozen=True, slots=True)
class RecordCommission:
    """Put a commission report on its fill (of ``account``); the result is False when the fill is not recorded (yet)."""

    report: CommissionReport
    account: AccountId | None = None


@dataclass(frozen=True, slots=True)
class OrderEventOp:
    """Append one line to an order's event log."""

    client_order_id: str | None
    perm_id: int | None
    kind: str
    status: str | None
    message: str | None
    ts: datetime
    payload: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RiskEventOp:
    """Append one risk event (a rejection, a kill-switch trip, a reconciliation break, …)."""

    ts: datetime
    rule: str
    action: str
    message: str
    client_order_id: str | None = None
    limit_value: str | None = None
    actual_value: str | None = None


@dataclass(frozen=True, slots=True)
class AccountSnapshotOp:
    """Record an account's net liquidation (and margin) at a time: the base of daily-loss and drawdown checks."""

    ts: datetime
    account_id: str
    currency: str
    net_liquidation: Decimal
    cash: Decimal | None = None
    buying_power: Decimal | None = None
    initial_margin: Decimal | None = None
    maintenance_margin: Decimal | None = None


JournalOp = (
    InsertIntent
    | AdoptIntent
    | UpdateIntent
    | RecordFill
    | RecordCommission
    | OrderEventOp
    | RiskEventOp
    | AccountSnapshotOp
)
