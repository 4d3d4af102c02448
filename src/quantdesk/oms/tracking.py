"""The orders the OMS tracks, and the one place their changes are recorded: journal, book and listeners.

Every change goes ``ManagedOrder.apply`` → :meth:`OrderTracker.commit`: the new state and its event are queued to
the journal (unless the change is kept in memory only), the book's working quantity follows the order's remaining
quantity, and listeners hear of it. The notes of a change (a status the table refused, a forced fill) are logged
against the state before it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.order_state import OrderState
from quantdesk.domain.orders import Order
from quantdesk.errors import NotFound
from quantdesk.oms.book import Book
from quantdesk.oms.managed import ManagedOrder, OrderListener, rebuild_order
from quantdesk.oms.order_changes import Applied, OrderChange
from quantdesk.oms.store_ops import OrderEventOp, UpdateIntent
from quantdesk.oms.stores import OrderStore, StoredIntentView

__all__ = ["OrderTracker"]

log = logging.getLogger(__name__)


class OrderTracker:
    """Tracked orders by our id and by IB's permId; applies and records their changes."""

    def __init__(self, journal: OrderStore, book: Book, stamp: Callable[[], datetime]) -> None:
        self.journal = journal
        self.book = book
        self.stamp = stamp
        self._orders: dict[ClientOrderId, ManagedOrder] = {}
        self._by_perm: dict[int, ManagedOrder] = {}
        self._listeners: list[OrderListener] = []

    # --- queries ------------------------------------------------------------------------------------------------

    def add_listener(self, listener: OrderListener) -> Callable[[], None]:
        """Call ``listener`` whenever an order's state changes; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def get(self, client_order_id: ClientOrderId) -> ManagedOrder | None:
        """The tracked order, or None."""
        return self._orders.get(client_order_id)

    def find(self, client_order_id: ClientOrderId | None, perm_id: int = 0) -> ManagedOrder | None:
        """The tracked order by our id, else by IB's permId."""
        found = self._orders.get(client_order_id) if client_order_id is not None else None
        if found is None and perm_id:
            found = self._by_perm.get(perm_id)
        return found

    def require(self, client_order_id: ClientOrderId) -> ManagedOrder:
        """The tracked order; ``NotFound`` naming the id otherwise."""
        managed = self._orders.get(client_order_id)
        if managed is None:
            raise NotFound(
                f"no order {client_order_id} is tracked",
                field="client_order_id",
                value=client_order_id.value,
                hint="list orders with `quantdesk orders`",
            )
        return managed

    def orders(self) -> list[ManagedOrder]:
        """Every tracked order, oldest first."""
        return list(self._orders.values())

    def open_orders(self) -> list[ManagedOrder]:
        """Tracked orders that are not terminal."""
        return [m for m in self._orders.values() if not m.state.is_terminal]

    async def wait_terminal(self, cids: Iterable[ClientOrderId], timeout: float) -> bool:
        """Wait until every order in ``cids`` is terminal; False on timeout."""
        events = [m.done.wait() for c in cids if (m := self._orders.get(c)) is not None]
        if not events:
            return True
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*events)
        except TimeoutError:
            return False
        return True

    # --- tracking -----------------------------------------------------------------------------------------------

    def track(self, managed: ManagedOrder, *, counted: bool = False) -> ManagedOrder:
        """Track an order (new, adopted or loaded) and count what it may still trade as working (``counted``: the
        book counts it already, as ``Book.reserve`` does for an order just admitted)."""
        self._orders[managed.client_order_id] = managed
        self._index(managed)
        if not counted:
            self.book.set_working(managed.client_order_id, managed.instrument_id, managed.signed_remaining)
        return managed

    def track_stored(self, intent: StoredIntentView, order: Order | None = None) -> ManagedOrder:
        """Track an order the database knows, with its stored terms (or ``order``'s, when given)."""
        return self.track(
            ManagedOrder(
                intent.client_order_id,
                intent.instrument_id,
                intent.side,
                intent.state,
                order=order or rebuild_order(intent),
                source=getattr(intent, "source", "quantdesk"),
            )
        )

    def _index(self, managed: ManagedOrder) -> None:
        ids = managed.state.broker_order_id
        if ids is not None and ids.perm_id:
            self._by_perm[ids.perm_id] = managed

    # --- changes -----------------------------------------------------------------------------------------------

    def change(self, managed: ManagedOrder, change: OrderChange) -> Applied:
        """Apply ``change`` to the order and log its notes; the caller commits it (:meth:`commit`)."""
        applied = managed.apply(change)
        for kind, message in applied.notes:
            self.event(managed, kind, message, state=applied.before)
        self._index(managed)
        return applied

    def apply(self, managed: ManagedOrder, change: OrderChange) -> Applied:
        """Apply ``change`` and, when the state moved, record it (:meth:`commit`)."""
        applied = self.change(managed, change)
        if applied.changed:
            self.commit(managed, applied)
        return applied

    def commit(self, managed: ManagedOrder, applied: Applied) -> None:
        """Record an applied change: store it with its event (``event=None``: memory only — PENDING_SUBMIT: after a
        crash reconciliation treats it as INITIALIZED anyway, and the acknowledgement that follows is stored with its
        event), move the book's working quantity, tell the listeners."""
        state = applied.after
        if applied.event is not None:
            self.write(UpdateIntent(state, reason=managed.reason, error_code=managed.error_code))
            self.event(managed, applied.event, managed.reason if state.is_terminal else None)
        self.book.set_working(managed.client_order_id, managed.instrument_id, managed.signed_remaining)
        for listener in list(self._listeners):
            try:
                listener(managed)
            except Exception:
                log.exception("order listener failed for %s", managed.client_order_id)

    # --- the event log ------------------------------------------------------------------------------------------

    def event(
        self,
        managed: ManagedOrder,
        kind: str,
        message: str | None,
        payload: dict[str, Any] | None = None,
        *,
        state: OrderState | None = None,
    ) -> None:
        """Append a line to a tracked order's event log, with its status and permId (``state``'s, when given)."""
        state = state or managed.state
        perm = state.broker_order_id.perm_id if state.broker_order_id is not None else None
        self.write(OrderEventOp(managed.client_order_id.value, perm or None, kind, state.status.value,
                                message, self.stamp(), payload))  # fmt: skip

    def log_event(self, cid: ClientOrderId, kind: str, message: str, payload: dict[str, Any] | None = None) -> None:
        """Append a line to an order's event log (also for an order that has no intent of its own)."""
        self.write(OrderEventOp(cid.value, None, kind, None, message, self.stamp(), payload))

    def write(self, op: Any) -> None:
        """Queue a journal write without waiting; failures are logged (the broker remains the source of truth)."""
        self.journal.post(op)
