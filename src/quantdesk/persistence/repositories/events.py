"""Order events: the append-only log of what happened to each order (sent, acknowledged, filled, rejected, …)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.order_state import OrderStatus
from quantdesk.errors import ValidationError
from quantdesk.persistence.models import OrderEventRow
from quantdesk.persistence.repositories._common import dumps, loads, utc

__all__ = ["OrderEvent", "OrderEventRepository"]


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One line of an order's log; ``payload`` is the event's details (values as JSON text)."""

    id: int
    ts: datetime
    kind: str
    client_order_id: ClientOrderId | None
    perm_id: int | None
    status: str | None
    message: str | None
    payload: Mapping[str, Any] | None = field(default=None, hash=False)


def _to_event(row: OrderEventRow) -> OrderEvent:
    return OrderEvent(
        id=row.id,
        ts=row.ts,
        kind=row.kind,
        client_order_id=ClientOrderId(row.client_order_id) if row.client_order_id else None,
        perm_id=row.perm_id,
        status=row.status,
        message=row.message,
        payload=loads(row.payload_json),
    )


class OrderEventRepository:
    """The order event log."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def append(
        self,
        client_order_id: ClientOrderId | str | None,
        perm_id: int | None,
        kind: str,
        status: OrderStatus | str | None,
        message: str | None,
        payload: Mapping[str, Any] | None,
        ts: datetime,
    ) -> OrderEvent:
        """Append one event (an order is named by its ClientOrderId, its permId, or both)."""
        if client_order_id is None and not perm_id:
            raise ValidationError(
                "an order event must name its order",
                field="client_order_id",
                value=None,
                hint="pass the ClientOrderId, the permId, or both",
            )
        text_status = status.value if isinstance(status, OrderStatus) else status
        row = OrderEventRow(
            client_order_id=None if client_order_id is None else str(client_order_id),
            perm_id=perm_id or None,
            kind=kind,
            status=text_status,
            message=message,
            payload_json=None if payload is None else dumps(payload),
            ts=utc(ts),
        )
        with Session(self._engine) as session, session.begin():
            session.add(row)
            session.flush()
            return _to_event(row)

    def for_order(
        self, client_order_id: ClientOrderId | str | None = None, *, perm_id: int | None = None
    ) -> list[OrderEvent]:
        """Every event of one order (by ClientOrderId, permId or either), in time order."""
        if client_order_id is None and perm_id is None:
            raise ValidationError(
                "name the order whose events to list",
                field="client_order_id",
                value=None,
                hint="pass the ClientOrderId or the permId",
            )
        c = OrderEventRow
        stmt = select(c)
        if client_order_id is not None and perm_id is not None:
            stmt = stmt.where((c.client_order_id == str(client_order_id)) | (c.perm_id == perm_id))
        elif client_order_id is not None:
            stmt = stmt.where(c.client_order_id == str(client_order_id))
        else:
            stmt = stmt.where(c.perm_id == perm_id)
        with Session(self._engine) as session:
            return [_to_event(r) for r in session.scalars(stmt.order_by(c.ts, c.id))]
