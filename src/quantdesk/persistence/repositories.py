"""Repositories: small, typed, and they speak domain objects only (ORM rows never leave this package).

* ``OrderIntentRepository``: the intent is persisted *before* it is sent, keyed by our ``ClientOrderId`` (IB
  ``orderRef``). Inserting is **idempotent**: the same id with the same content returns the stored intent with
  ``created=False``; the same id with *different* content raises ``DuplicateClientOrderId`` (a reused id is a bug,
  never a silent overwrite). Status, fills and broker ids (``orderId``, ``permId``, ``clientId``) are updated from
  the domain ``OrderState``.
* ``FillRepository``: a fill is recorded once, keyed by its execution id; recording it again is ignored and
  reported (``FillRecord.created is False``). The unique constraint on ``fills.execution_id`` makes this hold under
  concurrent writers too. Commission reports land on the same row.
* ``KillSwitchRepository``: the persisted trading state ACTIVE / REDUCING / HALTED with reason, author and time;
  every change is also written to ``risk_events``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quantdesk.domain.fills import CommissionReport, Fill, Liquidity
from quantdesk.domain.identifiers import (
    AccountId,
    BrokerOrderId,
    ClientOrderId,
    ExecutionId,
    InstrumentId,
    StrategyId,
)
from quantdesk.domain.order_state import OrderState, OrderStatus
from quantdesk.domain.order_types import OrderType, TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import Currency, Money
from quantdesk.errors import NotFound, ValidationError
from quantdesk.persistence.models import FillRow, KillSwitchRow, OrderIntentRow, RiskEventRow

__all__ = [
    "DuplicateClientOrderId",
    "FillRecord",
    "FillRepository",
    "IntentRecord",
    "KillSwitchRepository",
    "KillSwitchStatus",
    "OrderIntentRepository",
    "StoredIntent",
    "TradingState",
]


class DuplicateClientOrderId(ValidationError):
    """An intent with this ClientOrderId exists already with different content."""


# --- order intents -------------------------------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class IntentRecord:
    """The result of an insert: the stored intent and whether this call created it."""

    intent: StoredIntent
    created: bool


def _intent_key(row: OrderIntentRow) -> tuple[object, ...]:
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


def _to_intent(row: OrderIntentRow, execution_ids: Sequence[str]) -> StoredIntent:
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
    )


class OrderIntentRepository:
    """Order intents keyed by ClientOrderId; see the module docstring for the idempotency rule."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def insert(self, order: Order, ts: datetime, *, run_id: str | None = None) -> IntentRecord:
        """Persist ``order`` as a new intent (status INITIALIZED) unless the same intent is stored already."""
        row = OrderIntentRow(
            client_order_id=str(order.client_order_id),
            run_id=run_id,
            strategy_id=str(order.strategy_id) if order.strategy_id else None,
            account_id=str(order.account) if order.account else None,
            instrument_id=str(order.instrument.id),
            side=order.side.value,
            quantity=order.quantity,
            order_type=order.order_type.value,
            limit_price=order.limit_price,
            stop_price=order.stop_price,
            tif=order.tif.value,
            parent_client_order_id=(
                str(order.link.parent_client_order_id) if order.link.parent_client_order_id else None
            ),
            oca_group=order.link.oca_group,
            status=OrderStatus.INITIALIZED.value,
            filled_quantity=Decimal(0),
            filled_notional=Decimal(0),
            created_at=ts,
            updated_at=ts,
        )
        wanted = _intent_key(row)
        try:
            with Session(self._engine) as session, session.begin():
                session.add(row)
                session.flush()
                return IntentRecord(_to_intent(row, ()), created=True)
        except IntegrityError:
            existing = self.find(order.client_order_id)
            if existing is None:
                raise
        with Session(self._engine) as session:
            stored = session.scalars(
                select(OrderIntentRow).where(OrderIntentRow.client_order_id == str(order.client_order_id))
            ).one()
            if _intent_key(stored) != wanted:
                raise DuplicateClientOrderId(
                    f"client order id {order.client_order_id} is stored already for another order",
                    field="client_order_id",
                    value=str(order.client_order_id),
                    hint="give every new order a fresh ClientOrderId (ClientOrderId.new())",
                )
        return IntentRecord(existing, created=False)

    def find(self, client_order_id: ClientOrderId) -> StoredIntent | None:
        """The stored intent, or ``None``."""
        with Session(self._engine) as session:
            row = session.scalars(
                select(OrderIntentRow).where(OrderIntentRow.client_order_id == str(client_order_id))
            ).one_or_none()
            return None if row is None else _to_intent(row, self._execution_ids(session, row.client_order_id))

    def get(self, client_order_id: ClientOrderId) -> StoredIntent:
        """The stored intent; ``NotFound`` when there is none."""
        found = self.find(client_order_id)
        if found is None:
            raise NotFound(
                f"no order intent {client_order_id}",
                field="client_order_id",
                value=str(client_order_id),
                hint="list orders with `quantdesk orders`",
            )
        return found

    def by_perm_id(self, perm_id: int) -> StoredIntent | None:
        """The intent IB knows by ``permId``, or ``None``."""
        with Session(self._engine) as session:
            row = session.scalars(select(OrderIntentRow).where(OrderIntentRow.perm_id == perm_id)).first()
            return None if row is None else _to_intent(row, self._execution_ids(session, row.client_order_id))

    def active(self) -> list[StoredIntent]:
        """Every intent whose status is not terminal, oldest first."""
        live = [s.value for s in OrderStatus if not s.is_terminal]
        with Session(self._engine) as session:
            rows = session.scalars(
                select(OrderIntentRow).where(OrderIntentRow.status.in_(live)).order_by(OrderIntentRow.id)
            ).all()
            return [_to_intent(r, self._execution_ids(session, r.client_order_id)) for r in rows]

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
            return _to_intent(row, self._execution_ids(session, row.client_order_id))

    def set_broker_ids(self, client_order_id: ClientOrderId, broker: BrokerOrderId, ts: datetime) -> StoredIntent:
        """Record IB's ``orderId`` / ``permId`` / ``clientId`` for an intent (a zero permId keeps the stored one)."""
        with Session(self._engine) as session, session.begin():
            row = self._row(session, client_order_id)
            self._set_broker(row, broker)
            row.updated_at = max(row.updated_at, ts)
            session.flush()
            return _to_intent(row, self._execution_ids(session, row.client_order_id))

    @staticmethod
    def _set_broker(row: OrderIntentRow, broker: BrokerOrderId) -> None:
        row.broker_order_id = broker.order_id
        if broker.perm_id:
            row.perm_id = broker.perm_id
        if broker.client_id is not None:
            row.client_id = broker.client_id

    def _row(self, session: Session, client_order_id: ClientOrderId) -> OrderIntentRow:
        row = session.scalars(
            select(OrderIntentRow).where(OrderIntentRow.client_order_id == str(client_order_id))
        ).one_or_none()
        if row is None:
            raise NotFound(
                f"no order intent {client_order_id}",
                field="client_order_id",
                value=str(client_order_id),
                hint="insert the intent before updating it",
            )
        return row

    @staticmethod
    def _execution_ids(session: Session, client_order_id: str) -> list[str]:
        return list(
            session.scalars(
                select(FillRow.execution_id).where(FillRow.client_order_id == client_order_id).order_by(FillRow.id)
            )
        )


# --- fills ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FillRecord:
    """The result of recording a fill: the stored fill and whether this call recorded it (False: a duplicate)."""

    fill: Fill
    created: bool


def _to_fill(row: FillRow) -> Fill:
    return Fill(
        execution_id=ExecutionId(row.execution_id),
        client_order_id=ClientOrderId(row.client_order_id),
        instrument_id=InstrumentId(row.instrument_id),
        side=OrderSide(row.side),
        quantity=row.quantity,
        price=row.price,
        ts=row.ts,
        currency=Currency(row.currency),
        multiplier=row.multiplier,
        commission=Money(row.commission, Currency(row.commission_currency)),
        account=AccountId(row.account_id) if row.account_id else None,
        liquidity=Liquidity[row.liquidity] if row.liquidity else None,
    )


class FillRepository:
    """Fills keyed by execution id: each one is recorded exactly once."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, fill: Fill, recorded_at: datetime, *, perm_id: int | None = None) -> FillRecord:
        """Store ``fill`` unless its execution id is stored already (then return the stored one, ``created=False``)."""
        existing = self.find(fill.execution_id)
        if existing is not None:
            return FillRecord(existing, created=False)
        row = FillRow(
            execution_id=str(fill.execution_id),
            client_order_id=str(fill.client_order_id),
            perm_id=perm_id,
            account_id=str(fill.account) if fill.account else None,
            instrument_id=str(fill.instrument_id),
            side=fill.side.value,
            quantity=fill.quantity,
            price=fill.price,
            currency=fill.currency.code,
            multiplier=fill.multiplier,
            commission=fill.commission.amount,
            commission_currency=fill.commission.currency.code,
            realised_pnl=None,
            liquidity=fill.liquidity.name if fill.liquidity else None,
            ts=fill.ts,
            recorded_at=recorded_at,
        )
        try:
            with Session(self._engine) as session, session.begin():
                session.add(row)
        except IntegrityError:  # a concurrent writer recorded it first
            existing = self.find(fill.execution_id)
            if existing is None:
                raise
            return FillRecord(existing, created=False)
        return FillRecord(fill, created=True)

    def apply_commission(self, report: CommissionReport) -> Fill:
        """Put IB's commission report on the fill it belongs to (idempotent: the report replaces, never adds)."""
        with Session(self._engine) as session, session.begin():
            row = session.scalars(select(FillRow).where(FillRow.execution_id == str(report.execution_id))).one_or_none()
            if row is None:
                raise NotFound(
                    f"no fill {report.execution_id} for this commission report",
                    field="execution_id",
                    value=str(report.execution_id),
                    hint="record the fill before its commission report",
                )
            row.commission = report.commission.amount
            row.commission_currency = report.commission.currency.code
            row.realised_pnl = report.realised_pnl
            session.flush()
            return _to_fill(row)

    def find(self, execution_id: ExecutionId) -> Fill | None:
        """The stored fill, or ``None``."""
        with Session(self._engine) as session:
            row = session.scalars(select(FillRow).where(FillRow.execution_id == str(execution_id))).one_or_none()
            return None if row is None else _to_fill(row)

    def for_order(self, client_order_id: ClientOrderId) -> list[Fill]:
        """Every fill of one order, in time order."""
        with Session(self._engine) as session:
            rows = session.scalars(
                select(FillRow).where(FillRow.client_order_id == str(client_order_id)).order_by(FillRow.ts, FillRow.id)
            ).all()
            return [_to_fill(r) for r in rows]


# --- kill switch ---------------------------------------------------------------------------------------------------


class TradingState(Enum):
    """The kill switch: trade normally, accept only risk-reducing orders, or trade nothing."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


@dataclass(frozen=True, slots=True)
class KillSwitchStatus:
    """The persisted trading state; ``changed_at`` is ``None`` when it was never set (the default ACTIVE)."""

    state: TradingState
    reason: str
    changed_by: str
    changed_at: datetime | None


_SINGLETON = 1


class KillSwitchRepository:
    """The one persisted trading state; it survives restarts."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self) -> KillSwitchStatus:
        """The current state (ACTIVE, never set, when nothing is stored)."""
        with Session(self._engine) as session:
            row = session.get(KillSwitchRow, _SINGLETON)
            if row is None:
                return KillSwitchStatus(TradingState.ACTIVE, "never set", "default", None)
            return KillSwitchStatus(TradingState(row.state), row.reason, row.changed_by, row.changed_at)

    def set(self, state: TradingState, reason: str, ts: datetime, *, changed_by: str = "user") -> KillSwitchStatus:
        """Persist ``state`` with its reason; the change is also logged as a risk event."""
        state = TradingState(state)
        if not reason.strip():
            raise ValidationError(
                "a kill-switch change needs a reason",
                field="reason",
                value=reason,
                hint="say why, e.g. 'daily loss limit 2% reached'",
            )
        with Session(self._engine) as session, session.begin():
            row = session.get(KillSwitchRow, _SINGLETON, with_for_update=True)
            previous = row.state if row is not None else TradingState.ACTIVE.value
            if row is None:
                row = KillSwitchRow(
                    id=_SINGLETON, state=state.value, reason=reason, changed_by=changed_by, changed_at=ts
                )
                session.add(row)
            else:
                row.state, row.reason, row.changed_by, row.changed_at = state.value, reason, changed_by, ts
            session.add(
                RiskEventRow(
                    ts=ts,
                    rule="kill_switch",
                    action=state.value.lower(),
                    limit_value=previous,
                    actual_value=state.value,
                    message=f"{previous} -> {state.value} by {changed_by}: {reason}",
                )
            )
        return KillSwitchStatus(state, reason, changed_by, ts)
