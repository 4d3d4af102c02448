"""Order intents as stored: ``StoredIntent`` (a domain ``OrderState`` plus what was asked), the insert result, and
the mapping between them and ``order_intents`` rows (ours, and adopted orders placed outside quantdesk)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from quantdesk.brokers.base import OrderStatusReport
from quantdesk.domain.identifiers import AccountId, BrokerOrderId, ClientOrderId, ExecutionId, InstrumentId, StrategyId
from quantdesk.domain.order_state import OrderState, OrderStatus
from quantdesk.domain.order_types import OrderType, TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.errors import ValidationError
from quantdesk.persistence.models import OrderIntentRow
from quantdesk.persistence.order_codec import order_from_json, order_json

__all__ = [
    "DuplicateClientOrderId",
    "IntentRecord",
    "IntentSource",
    "StoredIntent",
    "adopted_client_order_id",
    "adopted_row",
    "intent_key",
    "intent_row",
    "to_intent",
]


class DuplicateClientOrderId(ValidationError):
    """An intent with this ClientOrderId exists already with different content."""


class IntentSource(StrEnum):
    """Where an intent came from: quantdesk sent it, or reconciliation adopted an order placed elsewhere."""

    QUANTDESK = "quantdesk"
    ADOPTED = "adopted"


@dataclass(frozen=True, slots=True)
class StoredIntent:
    """An order intent as persisted: what was asked for, and its live state (a domain ``OrderState``)."""

    client_order_id: ClientOrderId
    instrument_id: InstrumentId
    side: OrderSide
    quantity: Decimal
    order_type: OrderType
    tif: TimeInForce
    limit_price: Decimal | None
    stop_price: Decimal | None
    account: AccountId | None
    strategy_id: StrategyId | None
    run_id: str | None
    parent_client_order_id: ClientOrderId | None
    oca_group: str | None
    created_at: datetime
    state: OrderState
    source: str = IntentSource.QUANTDESK
    list_id: str | None = None
    reason: str | None = None
    error_code: int | None = None
    order_json: str | None = None

    @property
    def is_adopted(self) -> bool:
        """True for an order placed outside quantdesk and taken over by reconciliation."""
        return self.source == IntentSource.ADOPTED

    def to_order(self) -> Order | None:
        """The ``Order`` exactly as it was sent; ``None`` when the whole order was not stored (adopted orders)."""
        return None if self.order_json is None else order_from_json(self.order_json)


@dataclass(frozen=True, slots=True)
class IntentRecord:
    """The result of an insert: the stored intent and whether this call created it."""

    intent: StoredIntent
    created: bool


def intent_key(row: OrderIntentRow) -> tuple[object, ...]:
    return (
        row.instrument_id,
        row.side,
        Decimal(row.quantity),
        row.order_type,
        row.tif,
        row.limit_price,
        row.stop_price,
        row.account_id,
        row.strategy_id,
    )


def to_intent(row: OrderIntentRow, execution_ids: Sequence[str]) -> StoredIntent:
    broker = (
        BrokerOrderId(row.broker_order_id, row.perm_id or 0, row.client_id) if row.broker_order_id is not None else None
    )
    state = OrderState(
        client_order_id=ClientOrderId(row.client_order_id),
        quantity=row.quantity,
        updated_at=row.updated_at,
        status=OrderStatus(row.status),
        broker_order_id=broker,
        filled_quantity=row.filled_quantity,
        filled_notional=row.filled_notional,
        execution_ids=tuple(ExecutionId(e) for e in execution_ids),
    )
    return StoredIntent(
        client_order_id=ClientOrderId(row.client_order_id),
        instrument_id=InstrumentId(row.instrument_id),
        side=OrderSide(row.side),
        quantity=row.quantity,
        order_type=OrderType(row.order_type),
        tif=TimeInForce(row.tif),
        limit_price=row.limit_price,
        stop_price=row.stop_price,
        account=AccountId(row.account_id) if row.account_id else None,
        strategy_id=StrategyId(row.strategy_id) if row.strategy_id else None,
        run_id=row.run_id,
        parent_client_order_id=ClientOrderId(row.parent_client_order_id) if row.parent_client_order_id else None,
        oca_group=row.oca_group,
        created_at=row.created_at,
        state=state,
        source=row.source or IntentSource.QUANTDESK,
        list_id=row.list_id,
        reason=row.reason,
        error_code=row.error_code,
        order_json=row.order_json,
    )


def adopted_client_order_id(perm_id: int) -> ClientOrderId:
    """The id an adopted order is stored under: ``ext-<permId>``."""
    return ClientOrderId(f"ext-{perm_id}")


def intent_values(
    order: Order, ts: datetime, *, run_id: str | None, list_id: str | None, source: str
) -> dict[str, Any]:
    """The column values of a new INITIALIZED intent for ``order``, the whole order kept as JSON (the journal
    inserts these in bulk; :func:`intent_row` wraps them in a row)."""
    return {
        "client_order_id": str(order.client_order_id),
        "run_id": run_id,
        "strategy_id": str(order.strategy_id) if order.strategy_id else None,
        "account_id": str(order.account) if order.account else None,
        "instrument_id": str(order.instrument.id),
        "side": order.side.value,
        "quantity": order.quantity,
        "order_type": order.order_type.value,
        "limit_price": order.limit_price,
        "stop_price": order.stop_price,
        "tif": order.tif.value,
        "parent_client_order_id": (
            str(order.link.parent_client_order_id) if order.link.parent_client_order_id else None
        ),
        "oca_group": order.link.oca_group,
        "status": OrderStatus.INITIALIZED.value,
        "filled_quantity": Decimal(0),
        "filled_notional": Decimal(0),
        "created_at": ts,
        "updated_at": ts,
        "order_json": order_json(order),
        "list_id": list_id,
        "source": str(IntentSource(source)),
    }


def intent_row(order: Order, ts: datetime, *, run_id: str | None, list_id: str | None, source: str) -> OrderIntentRow:
    """A new INITIALIZED intent row for ``order``, the whole order kept as JSON."""
    return OrderIntentRow(**intent_values(order, ts, run_id=run_id, list_id=list_id, source=source))


def adopted_row(report: OrderStatusReport, *, run_id: str | None) -> OrderIntentRow:
    """An intent row ``ext-<permId>`` (source ``adopted``) for an order the broker reports and we never sent."""
    perm_id = report.broker_order_id.perm_id
    filled, avg = report.filled_quantity, report.avg_fill_price
    if filled > 0 and avg is None:
        raise ValidationError(
            f"order {perm_id} has filled {filled} but no average fill price",
            field="avg_fill_price",
            value=None,
            hint="adopt it from a report that carries avgFillPrice, or record its executions first",
        )
    broker = report.broker_order_id
    return OrderIntentRow(
        client_order_id=str(adopted_client_order_id(perm_id)),
        run_id=run_id,
        strategy_id=None,
        account_id=str(report.account) if report.account else None,
        instrument_id=str(report.instrument_id),
        side=report.side.value,
        quantity=report.quantity,
        order_type=report.order_type.value,
        limit_price=report.limit_price,
        stop_price=report.stop_price,
        tif=report.tif.value,
        status=report.status.value,
        filled_quantity=filled,
        filled_notional=filled * avg if avg is not None and filled > 0 else Decimal(0),
        broker_order_id=broker.order_id,
        perm_id=perm_id,
        client_id=broker.client_id,
        reason=report.reason,
        error_code=report.error_code,
        created_at=report.ts,
        updated_at=report.ts,
        source=IntentSource.ADOPTED.value,
    )
