"""The OMS's store port: what the order manager and reconciliation keep, and nothing about how.

The OMS owns these Protocols; ``quantdesk.persistence.stores`` implements them on the SQL journal and repositories
(paper and live), :mod:`quantdesk.oms.memory_stores` in memory (backtests, fast tests). Both keep the same rules,
checked by one contract test suite:

* **an intent once per ClientOrderId**: ``InsertIntent`` answers True when it created the intent, False when the same
  order is stored already; other content under the same id is a ``DuplicateIntent`` (raised by ``write``);
* **a fill once per (account, execution id)**: ``RecordFill`` answers True only when the fill is new;
* ``write`` returns once the operation is durable; ``post`` queues it (a failure is logged, the broker stays the
  source of truth that reconciliation replays); ``flush`` waits for everything queued so far.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from quantdesk.domain.identifiers import AccountId, ClientOrderId, ExecutionId, InstrumentId
from quantdesk.domain.order_state import OrderState
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.oms.breaks import Break
from quantdesk.oms.store_ops import JournalOp

__all__ = ["FillKey", "LedgerKey", "OrderStore", "StoredIntentView"]

LedgerKey = tuple[AccountId | None, InstrumentId]
"""A ledger position's key: the account (``None`` for fills without one) and the instrument."""

FillKey = tuple[str | None, str]
"""A recorded fill's key as text: (account or None, execution id)."""


class StoredIntentView(Protocol):
    """An order intent as a store returns it: what was asked, its live state, and where it came from."""

    @property
    def client_order_id(self) -> ClientOrderId: ...

    @property
    def instrument_id(self) -> InstrumentId: ...

    @property
    def side(self) -> OrderSide: ...

    @property
    def state(self) -> OrderState: ...

    @property
    def source(self) -> str: ...

    def to_order(self) -> Order | None:
        """The order exactly as it was sent; None for an adopted order (only the broker knows its terms)."""
        ...


class OrderStore(Protocol):
    """Intents, order events, fills, commissions, risk events and reconciliation breaks of one OMS."""

    async def write(self, op: JournalOp) -> Any:
        """Apply ``op`` and return once it is durable, with its result (see the module docstring)."""
        ...

    def post(self, op: JournalOp) -> None:
        """Queue ``op`` without waiting; raises ``JournalClosed`` once the store is closed."""
        ...

    async def flush(self) -> None:
        """Wait until everything queued so far is durable."""
        ...

    async def active_intents(self) -> Sequence[StoredIntentView]:
        """Every intent whose status is not terminal, oldest first."""
        ...

    async def find_intent(self, client_order_id: ClientOrderId) -> StoredIntentView | None:
        """The stored intent, or None."""
        ...

    async def get_intent(self, client_order_id: ClientOrderId) -> StoredIntentView:
        """The stored intent; ``NotFound`` when there is none."""
        ...

    async def intent_by_perm_id(self, perm_id: int) -> StoredIntentView | None:
        """The intent IB knows by ``permId``, or None."""
        ...

    async def orders_since(self, start: datetime) -> int:
        """Our orders accepted at or after ``start`` (neither adopted nor rejected): the max-trades-per-day count."""
        ...

    async def recorded_fills(self, keys: Iterable[tuple[AccountId | None, ExecutionId]]) -> set[FillKey]:
        """Which of ``keys`` (account, execution id) are recorded, as ``(account or None, execution id)`` text."""
        ...

    async def ledger_positions(self, account: str | None = None) -> dict[LedgerKey, Decimal]:
        """Net signed quantity per (account, instrument) from the recorded fills of ``account`` (all when None);
        flat ones left out."""
        ...

    async def record_breaks(self, breaks: Sequence[Break], ts: datetime, run_id: str | None) -> None:
        """Store reconciliation breaks found at ``ts`` by run ``run_id``."""
        ...
