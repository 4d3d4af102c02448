"""Order intents: persisted *before* sending, keyed by our ``ClientOrderId`` (IB ``orderRef``).

Inserting is **idempotent**: the same id with the same content returns the stored intent with ``created=False``; the
same id with *different* content raises ``DuplicateClientOrderId`` (a reused id is a bug, never a silent overwrite).
The whole order is kept as JSON (``order_codec``) so ``StoredIntent.to_order()`` rebuilds exactly what was sent.
Orders placed outside quantdesk (by hand in TWS) are *adopted* by reconciliation under ``ext-<permId>``.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quantdesk.brokers.base import OrderStatusReport
from quantdesk.domain.identifiers import AccountId, BrokerOrderId, ClientOrderId, StrategyId
from quantdesk.domain.order_state import OrderState, OrderStatus, transition
from quantdesk.domain.orders import Order
from quantdesk.errors import ValidationError
from quantdesk.persistence.models import FillRow, OrderIntentRow, OrderRow
from quantdesk.persistence.repositories._common import newest, not_found, symbol_clause, utc
from quantdesk.persistence.repositories.intent_records import (
    DuplicateClientOrderId,
    IntentRecord,
    IntentSource,
    StoredIntent,
    adopted_row,
    intent_key,
    intent_row,
    to_intent,
)

__all__ = ["DuplicateClientOrderId", "IntentRecord", "IntentSource", "OrderIntentRepository", "StoredIntent"]


class OrderIntentRepository:
    """Order intents keyed by ClientOrderId; see the module docstring for the idempotency rule."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- writes --------------------------------------------------------------------------------------------------

    def insert(
        self,
        order: Order,
        ts: datetime,
        *,
        run_id: str | None = None,
        list_id: str | None = None,
        source: str = IntentSource.QUANTDESK,
    ) -> IntentRecord:
        """Persist ``order`` as a new intent (status INITIALIZED) unless the same intent is stored already."""
        row = intent_row(order, ts, run_id=run_id, list_id=list_id, source=source)
        return self._insert_row(row)

    def _insert_row(self, row: OrderIntentRow) -> IntentRecord:
        wanted = intent_key(row)
        cid = ClientOrderId(row.client_order_id)
        try:
            with Session(self._engine) as session, session.begin():
                session.add(row)
                session.flush()
                return IntentRecord(to_intent(row, ()), created=True)
        except IntegrityError:
            existing = self.find(cid)
            if existing is None:
                raise
        with Session(self._engine) as session:
            stored = self._row(session, cid)
            if intent_key(stored) != wanted:
                raise DuplicateClientOrderId(
                    f"client order id {cid} is stored already for another order",
                    field="client_order_id",
                    value=str(cid),
                    hint="give every new order a fresh ClientOrderId (ClientOrderId.new())",
                )
        return IntentRecord(existing, created=False)

    def update_state(self, state: OrderState) -> StoredIntent:
        """Store ``state`` (status, filled quantity and notional, broker ids, time) for its intent."""
        with Session(self._engine) as session, session.begin():
            row = self._row(session, state.client_order_id)
            row.status = state.status.value
            row.quantity = state.quantity
            row.filled_quantity = state.filled_quantity
            row.filled_notional = state.filled_notional
            row.updated_at = state.updated_at
            if state.broker_order_id is not None:
                self._set_broker(row, state.broker_order_id)
            session.flush()
            return to_intent(row, self._execution_ids(session, row.client_order_id))

    def set_broker_ids(self, client_order_id: ClientOrderId, broker: BrokerOrderId, ts: datetime) -> StoredIntent:
        """Record IB's ``orderId`` / ``permId`` / ``clientId`` for an intent (a zero permId keeps the stored one)."""
        with Session(self._engine) as session, session.begin():
            row = self._row(session, client_order_id)
            self._set_broker(row, broker)
            row.updated_at = max(row.updated_at, ts)
            session.flush()
            return to_intent(row, self._execution_ids(session, row.client_order_id))

    def mark(
        self,
        client_order_id: ClientOrderId,
        status: OrderStatus,
        reason: str,
        ts: datetime,
        *,
        error_code: int | None = None,
        force: bool = False,
    ) -> StoredIntent:
        """Set an intent's status with the reason (a reject, a cancel, a reconciliation verdict) and error code.

        The move must be allowed by the order state table unless ``force`` (reconciliation correcting a record the
        broker contradicts); ``IllegalTransition`` otherwise.
        """
        with Session(self._engine) as session, session.begin():
            row = self._row(session, client_order_id)
            current = OrderStatus(row.status)
            row.status = (status if force else transition(current, status)).value
            row.reason = reason
            if error_code is not None:
                row.error_code = error_code
            row.updated_at = max(row.updated_at, utc(ts))
            session.flush()
            return to_intent(row, self._execution_ids(session, row.client_order_id))

    def adopt(self, report: OrderStatusReport, *, run_id: str | None = None) -> IntentRecord:
        """Take over an order placed outside quantdesk as an intent ``ext-<permId>`` (source ``adopted``).

        Idempotent on ``permId``: an intent already holding that permId (ours or adopted) is returned with
        ``created=False``. The report's own ``orderRef``, if any, is kept with the broker's order (``orders``).
        """
        perm_id = report.broker_order_id.perm_id
        if not perm_id:
            raise ValidationError(
                "cannot adopt an order without its permId",
                field="perm_id",
                value=perm_id,
                hint="adopt orders from the broker's open-order reports, which carry IB's permId",
            )
        known = self.by_perm_id(perm_id)
        if known is not None:
            return IntentRecord(known, created=False)
        row = adopted_row(report, run_id=run_id)
        return self._insert_row(row)

    # --- reads ---------------------------------------------------------------------------------------------------

    def find(self, client_order_id: ClientOrderId) -> StoredIntent | None:
        """The stored intent, or ``None``."""
        with Session(self._engine) as session:
            row = session.scalars(
                select(OrderIntentRow).where(OrderIntentRow.client_order_id == str(client_order_id))
            ).one_or_none()
            return None if row is None else to_intent(row, self._execution_ids(session, row.client_order_id))

    def get(self, client_order_id: ClientOrderId) -> StoredIntent:
        """The stored intent; ``NotFound`` when there is none."""
        found = self.find(client_order_id)
        if found is None:
            raise not_found("order intent", "client_order_id", client_order_id, "list orders with `quantdesk orders`")
        return found

    def by_perm_id(self, perm_id: int) -> StoredIntent | None:
        """The intent IB knows by ``permId``, or ``None``."""
        with Session(self._engine) as session:
            row = session.scalars(
                select(OrderIntentRow).where(OrderIntentRow.perm_id == perm_id).order_by(OrderIntentRow.id)
            ).first()
            return None if row is None else to_intent(row, self._execution_ids(session, row.client_order_id))

    def by_order_ref(self, order_ref: str) -> StoredIntent | None:
        """The intent for an IB ``orderRef``: ours is the ClientOrderId; else the broker order that carried it."""
        with Session(self._engine) as session:
            row = session.scalars(select(OrderIntentRow).where(OrderIntentRow.client_order_id == order_ref)).first()
            if row is None:
                linked = select(OrderRow.client_order_id, OrderRow.perm_id).where(OrderRow.order_ref == order_ref)
                for cid, perm_id in session.execute(linked.order_by(OrderRow.updated_at.desc())):
                    match = OrderIntentRow.client_order_id == cid if cid else OrderIntentRow.perm_id == perm_id
                    row = session.scalars(select(OrderIntentRow).where(match)).first()
                    if row is not None:
                        break
            return None if row is None else to_intent(row, self._execution_ids(session, row.client_order_id))

    def orders_since(self, start: datetime) -> int:
        """Our orders accepted at or after ``start`` (neither adopted nor rejected): the max-trades-per-day count,
        which survives restarts."""
        c = OrderIntentRow.__table__.c
        query = select(func.count()).where(c.created_at >= start, c.source == "quantdesk", c.status != "REJECTED")
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def by_list(self, list_id: str) -> builtins.list[StoredIntent]:
        """The intents of one order list, in the order they were stored."""
        return self.list(list_id=list_id)

    def active(self) -> builtins.list[StoredIntent]:
        """Every intent whose status is not terminal, oldest first."""
        return self.list(statuses=[s for s in OrderStatus if not s.is_terminal])

    def list(
        self,
        *,
        statuses: Iterable[OrderStatus] | None = None,
        account: AccountId | str | None = None,
        strategy_id: StrategyId | str | None = None,
        symbol: str | None = None,
        source: str | None = None,
        list_id: str | None = None,
        run_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[StoredIntent]:
        """Intents matching every filter (created in ``[since, until)``), oldest first; ``limit`` keeps the newest."""
        stmt = select(OrderIntentRow)
        c = OrderIntentRow
        if statuses is not None:
            stmt = stmt.where(c.status.in_([OrderStatus(s).value for s in statuses]))
        if account is not None:
            stmt = stmt.where(c.account_id == str(account))
        if strategy_id is not None:
            stmt = stmt.where(c.strategy_id == str(strategy_id))
        if symbol is not None:
            stmt = stmt.where(symbol_clause(c.instrument_id, symbol))
        if source is not None:
            stmt = stmt.where(c.source == str(source))
        if list_id is not None:
            stmt = stmt.where(c.list_id == list_id)
        if run_id is not None:
            stmt = stmt.where(c.run_id == run_id)
        if since is not None:
            stmt = stmt.where(c.created_at >= utc(since, "since"))
        if until is not None:
            stmt = stmt.where(c.created_at < utc(until, "until"))
        stmt = newest(stmt, limit, c.created_at, c.id)
        with Session(self._engine) as session:
            rows = builtins.list(session.scalars(stmt))
            if limit is not None:
                rows.reverse()
            executions = self._execution_ids_of(session, [r.client_order_id for r in rows])
            return [to_intent(r, executions.get(r.client_order_id, ())) for r in rows]

    # --- internals -----------------------------------------------------------------------------------------------

    @staticmethod
    def _set_broker(row: OrderIntentRow, broker: BrokerOrderId) -> None:
        row.broker_order_id = broker.order_id
        if broker.perm_id:
            row.perm_id = broker.perm_id
        if broker.client_id is not None:
            row.client_id = broker.client_id

    @staticmethod
    def _row(session: Session, client_order_id: ClientOrderId) -> OrderIntentRow:
        row = session.scalars(
            select(OrderIntentRow).where(OrderIntentRow.client_order_id == str(client_order_id))
        ).one_or_none()
        if row is None:
            raise not_found("order intent", "client_order_id", client_order_id, "insert the intent before updating it")
        return row

    @staticmethod
    def _execution_ids_of(session: Session, client_order_ids: Sequence[str]) -> dict[str, builtins.list[str]]:
        found: dict[str, builtins.list[str]] = {}
        for start in range(0, len(client_order_ids), 500):
            chunk = client_order_ids[start : start + 500]
            stmt = select(FillRow.client_order_id, FillRow.execution_id).where(FillRow.client_order_id.in_(chunk))
            for cid, eid in session.execute(stmt.order_by(FillRow.id)):
                found.setdefault(cid, []).append(eid)
        return found

    @staticmethod
    def _execution_ids(session: Session, client_order_id: str) -> builtins.list[str]:
        return builtins.list(
            session.scalars(
                select(FillRow.execution_id).where(FillRow.client_order_id == client_order_id).order_by(FillRow.id)
            )
        )
