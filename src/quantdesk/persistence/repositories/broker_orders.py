"""The broker's view of orders (ours and adopted ones), keyed by IB ``permId``, as the last report said.

``upsert`` takes an ``OrderStatusReport`` and moves the stored row forward only: a report older than the stored one
is ignored, so out-of-order delivery never rewinds an order. The link to our intent (``client_order_id``) is kept
only when that intent exists (the foreign key); the report's ``orderRef`` is kept either way.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quantdesk.brokers.base import OrderStatusReport
from quantdesk.domain.identifiers import AccountId, BrokerOrderId, ClientOrderId, InstrumentId
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.order_types import OrderType, TimeInForce
from quantdesk.domain.side import OrderSide
from quantdesk.errors import ValidationError
from quantdesk.persistence.models import OrderIntentRow, OrderRow
from quantdesk.persistence.repositories._common import newest
from quantdesk.persistence.repositories.intent_records import IntentSource

__all__ = ["BrokerOrder", "BrokerOrderRepository"]


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """One order as the broker last reported it."""

    broker_order_id: BrokerOrderId
    order_ref: str | None
    client_order_id: ClientOrderId | None
    account: AccountId | None
    instrument_id: InstrumentId
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None
    tif: TimeInForce | None
    status: OrderStatus
    filled_quantity: Decimal
    remaining_quantity: Decimal
    avg_fill_price: Decimal | None
    source: str
    updated_at: datetime

    @property
    def perm_id(self) -> int:
        """IB's global order id, the key of this table."""
        return self.broker_order_id.perm_id


def _to_order(row: OrderRow) -> BrokerOrder:
    return BrokerOrder(
        broker_order_id=BrokerOrderId(row.order_id, row.perm_id, row.client_id),
        order_ref=row.order_ref,
        client_order_id=ClientOrderId(row.client_order_id) if row.client_order_id else None,
        account=AccountId(row.account_id) if row.account_id else None,
        instrument_id=InstrumentId(row.instrument_id),
        side=OrderSide(row.side),
        order_type=OrderType(row.order_type),
        quantity=row.quantity,
        limit_price=row.limit_price,
        stop_price=row.stop_price,
        tif=TimeInForce(row.tif) if row.tif else None,
        status=OrderStatus(row.status),
        filled_quantity=row.filled_quantity,
        remaining_quantity=row.remaining_quantity,
        avg_fill_price=row.avg_fill_price,
        source=row.source,
        updated_at=row.updated_at,
    )


def _fill_row(row: OrderRow, report: OrderStatusReport) -> None:
    broker = report.broker_order_id
    row.order_id = broker.order_id
    if broker.client_id is not None:
        row.client_id = broker.client_id
    row.account_id = str(report.account) if report.account else row.account_id
    row.instrument_id = str(report.instrument_id)
    row.side = report.side.value
    row.quantity = report.quantity
    row.order_type = report.order_type.value
    row.limit_price = report.limit_price
    row.stop_price = report.stop_price
    row.tif = report.tif.value
    row.status = report.status.value
    row.filled_quantity = report.filled_quantity
    row.remaining_quantity = report.remaining
    row.avg_fill_price = report.avg_fill_price
    row.updated_at = report.ts


class BrokerOrderRepository:
    """Broker orders keyed by ``permId``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def upsert(
        self,
        report: OrderStatusReport,
        *,
        source: str = IntentSource.QUANTDESK,
        client_order_id: ClientOrderId | None = None,
        order_ref: str | None = None,
    ) -> BrokerOrder:
        """Store the broker's latest view of one order (see the module docstring); returns what is stored."""
        perm_id = report.broker_order_id.perm_id
        if not perm_id:
            raise ValidationError(
                "a broker order is stored by its permId, and this report has none",
                field="perm_id",
                value=perm_id,
                hint="store the order once the broker has reported its permId",
            )
        cid = client_order_id or report.client_order_id
        ref = order_ref if order_ref is not None else (str(report.client_order_id) if report.client_order_id else None)
        for _attempt in range(2):
            try:
                with Session(self._engine) as session, session.begin():
                    linked = None
                    if cid is not None:
                        known = select(OrderIntentRow.id).where(OrderIntentRow.client_order_id == str(cid))
                        linked = str(cid) if session.scalar(known) is not None else None
                    row = session.scalars(select(OrderRow).where(OrderRow.perm_id == perm_id)).one_or_none()
                    if row is None:
                        row = OrderRow(perm_id=perm_id, source=str(source), order_ref=ref, client_order_id=linked)
                        _fill_row(row, report)
                        session.add(row)
                    elif report.ts >= row.updated_at:
                        _fill_row(row, report)
                        row.source = str(source)
                        row.order_ref = ref if ref is not None else row.order_ref
                        row.client_order_id = linked or row.client_order_id
                    session.flush()
                    return _to_order(row)
            except IntegrityError:  # inserted concurrently: the second pass updates it
                continue
        raise RuntimeError(f"could not store broker order {perm_id}")  # pragma: no cover - two races in a row

    def find(self, perm_id: int) -> BrokerOrder | None:
        """The order IB knows by ``perm_id``, or ``None``."""
        with Session(self._engine) as session:
            row = session.scalars(select(OrderRow).where(OrderRow.perm_id == perm_id)).one_or_none()
            return None if row is None else _to_order(row)

    def by_order_ref(self, order_ref: str) -> BrokerOrder | None:
        """The most recently updated order that carried ``order_ref``, or ``None``."""
        with Session(self._engine) as session:
            stmt = select(OrderRow).where(OrderRow.order_ref == order_ref)
            row = session.scalars(stmt.order_by(OrderRow.updated_at.desc(), OrderRow.id.desc())).first()
            return None if row is None else _to_order(row)

    def list_open(self, account: AccountId | str | None = None) -> builtins.list[BrokerOrder]:
        """Orders whose last status is not terminal, oldest update first."""
        live = [s.value for s in OrderStatus if not s.is_terminal]
        stmt = select(OrderRow).where(OrderRow.status.in_(live))
        if account is not None:
            stmt = stmt.where(OrderRow.account_id == str(account))
        with Session(self._engine) as session:
            return [_to_order(r) for r in session.scalars(stmt.order_by(OrderRow.updated_at, OrderRow.id))]

    def list(self, *, source: str | None = None, limit: int | None = None) -> builtins.list[BrokerOrder]:
        """Every stored broker order (of one source when given), oldest update first; ``limit`` keeps the newest."""
        stmt = select(OrderRow)
        if source is not None:
            stmt = stmt.where(OrderRow.source == str(source))
        stmt = newest(stmt, limit, OrderRow.updated_at, OrderRow.id)
        with Session(self._engine) as session:
            rows = builtins.list(session.scalars(stmt))
        if limit is not None:
            rows.reverse()
        return [_to_order(r) for r in rows]
