"""How the journal applies its operations inside one transaction: one statement per kind, in a safe kind order.

The kinds every order writes (its intent, its updates, its events) go to the driver in bulk (:mod:`journal_rows`);
the rarer ones through SQLAlchemy Core.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import BigInteger, Connection, Integer, Table, Text, bindparam, func, select, update

from quantdesk.brokers.base import OrderStatusReport
from quantdesk.domain.fills import CommissionReport, Fill
from quantdesk.domain.order_state import OrderState, OrderStatus
from quantdesk.oms.store_ops import (
    AccountSnapshotOp,
    AdoptIntent,
    DuplicateIntent,
    InsertIntent,
    JournalOp,
    OrderEventOp,
    RecordCommission,
    RecordFill,
    RiskEventOp,
    UpdateIntent,
)
from quantdesk.persistence.journal_rows import UPDATE_COLUMNS, BulkTable, bulk_update_intents
from quantdesk.persistence.models import AccountSnapshotRow, FillRow, OrderEventRow, OrderIntentRow, RiskEventRow
from quantdesk.persistence.repositories.intent_records import intent_values

__all__ = ["apply_ops"]

_INTENTS = cast(Table, OrderIntentRow.__table__)
_FILLS = cast(Table, FillRow.__table__)
_EVENTS = cast(Table, OrderEventRow.__table__)
_RISK = cast(Table, RiskEventRow.__table__)
_ACCOUNTS = cast(Table, AccountSnapshotRow.__table__)


def apply_ops(conn: Connection, ops: Sequence[JournalOp]) -> list[Any]:
    """Apply ``ops`` kind by kind, one statement per kind; one result per op, in the order given.

    Inside one transaction the order between kinds is free as long as intents come before their updates and fills
    before their commissions, which the kind order (:data:`_APPLY`'s) guarantees; within a kind the order is kept.
    """
    results: list[Any] = [None] * len(ops)
    by_kind: dict[type, list[int]] = {}
    for index, op in enumerate(ops):
        by_kind.setdefault(type(op), []).append(index)
    for kind, apply in _APPLY.items():
        indexes = by_kind.get(kind)
        if indexes:
            for index, result in zip(indexes, apply(conn, [ops[i] for i in indexes]), strict=True):
                results[index] = result
    return results


def _insert_intents(conn: Connection, ops: Sequence[Any]) -> list[Any]:
    wanted = [str(op.order.client_order_id) for op in ops]
    stored: dict[str, Any] = {row.client_order_id: row for row in conn.execute(_STORED_INTENTS, {"cids": wanted})}
    rows: list[dict[str, Any]] = []
    results: list[Any] = []
    for op in ops:
        cid = str(op.order.client_order_id)
        row = _intent_row(op)
        existing = stored.get(cid)
        if existing is None:
            stored[cid] = row
            rows.append(row)
            results.append(True)
        elif _same_intent(existing, row):
            results.append(False)
        else:
            results.append(
                DuplicateIntent(
                    f"client order id {cid} is stored already for another order",
                    field="client_order_id",
                    value=cid,
                    hint="give every new order a fresh ClientOrderId (ClientOrderId.new())",
                )
            )
    _BULK_INTENTS.insert(conn, rows)
    return results


_INTENT_COLUMNS = (
    "client_order_id",
    "run_id",
    "strategy_id",
    "account_id",
    "instrument_id",
    "side",
    "quantity",
    "order_type",
    "limit_price",
    "stop_price",
    "tif",
    "parent_client_order_id",
    "oca_group",
    "status",
    "filled_quantity",
    "filled_notional",
    "created_at",
    "updated_at",
    "order_json",
    "list_id",
    "source",
)  # what intent_values gives
_BULK_INTENTS = BulkTable(_INTENTS, _INTENT_COLUMNS)

_KEY = (
    "instrument_id",
    "side",
    "quantity",
    "order_type",
    "limit_price",
    "stop_price",
    "tif",
    "account_id",
    "strategy_id",
)


# built once: the statement cache then skips compiling it for every batch
_STORED_INTENTS = select(_INTENTS.c.client_order_id, *(_INTENTS.c[k] for k in _KEY)).where(
    _INTENTS.c.client_order_id.in_(bindparam("cids", expanding=True))
)


def _same_intent(existing: Any, row: dict[str, Any]) -> bool:
    get = existing.get if isinstance(existing, dict) else existing._mapping.get
    for key in _KEY:
        a, b = get(key), row[key]
        if isinstance(a, Decimal) or isinstance(b, Decimal):
            if (a is None) != (b is None) or (a is not None and Decimal(a) != Decimal(b)):
                return False
        elif a != b:
            return False
    return True


def _intent_row(op: InsertIntent) -> dict[str, Any]:
    return intent_values(op.order, op.ts, run_id=op.run_id, list_id=op.list_id, source=op.source)


def _adopt_intents(conn: Connection, ops: Sequence[Any]) -> list[Any]:
    wanted = {op.client_order_id.value for op in ops}
    known = set(conn.scalars(select(_INTENTS.c.client_order_id).where(_INTENTS.c.client_order_id.in_(wanted))))
    rows, results = [], []
    for op in ops:
        r: OrderStatusReport = op.report
        cid = op.client_order_id.value
        if cid in known:
            results.append(False)
            continue
        known.add(cid)
        results.append(True)
        ids = r.broker_order_id
        rows.append(
            {
                "client_order_id": cid,
                "run_id": op.run_id,
                "strategy_id": None,
                "account_id": str(r.account) if r.account else None,
                "instrument_id": str(r.instrument_id),
                "side": r.side.value,
                "quantity": r.quantity,
                "order_type": r.order_type.value,
                "limit_price": r.limit_price,
                "stop_price": r.stop_price,
                "tif": r.tif.value,
                "parent_client_order_id": None,
                "oca_group": None,
                "status": OrderStatus.INITIALIZED.value,
                "filled_quantity": Decimal(0),
                "filled_notional": Decimal(0),
                "broker_order_id": ids.order_id or None,
                "perm_id": ids.perm_id or None,
                "client_id": ids.client_id,
                "created_at": op.ts,
                "updated_at": op.ts,
                "order_json": None,
                "list_id": None,
                "source": "adopted",
            }
        )
    if rows:
        conn.execute(_INTENTS.insert(), rows)
    return results


_C = _INTENTS.c
_UPDATE_INTENT = (
    update(_INTENTS)
    .where(_C.client_order_id == bindparam("b_cid"))
    .values(
        status=bindparam("status"),
        quantity=bindparam("quantity"),
        filled_quantity=bindparam("filled_quantity"),
        filled_notional=bindparam("filled_notional"),
        updated_at=bindparam("updated_at"),
        # Broker ids and the reason are kept when an update does not carry them.
        broker_order_id=func.coalesce(bindparam("broker_order_id", type_=Integer), _C.broker_order_id),
        perm_id=func.coalesce(bindparam("perm_id", type_=BigInteger), _C.perm_id),
        client_id=func.coalesce(bindparam("client_id", type_=Integer), _C.client_id),
        reason=func.coalesce(bindparam("reason", type_=Text), _C.reason),
        error_code=func.coalesce(bindparam("error_code", type_=Integer), _C.error_code),
    )
)


def _update_intents(conn: Connection, ops: Sequence[Any]) -> list[Any]:
    rows: dict[str, tuple[Any, ...]] = {}  # one UPDATE per order: its last state, with the last ids/reason given
    for op in ops:
        state: OrderState = op.state
        broker = state.broker_order_id
        cid = str(state.client_order_id)
        row: tuple[Any, ...] = (
            cid,
            state.status.value,
            state.quantity,
            state.filled_quantity,
            state.filled_notional,
            state.updated_at,
            broker.order_id if broker is not None else None,
            broker.perm_id if broker is not None and broker.perm_id else None,
            broker.client_id if broker is not None else None,
            op.reason,
            op.error_code,
        )
        earlier = rows.get(cid)
        if earlier is not None:
            row = (*row[:_FIRST_KEPT], *(new if new is not None else old for new, old in
                                           zip(row[_FIRST_KEPT:], earlier[_FIRST_KEPT:], strict=True)))  # fmt: skip
        rows[cid] = row
    if not bulk_update_intents(conn, _INTENTS, list(rows.values())):
        conn.execute(_UPDATE_INTENT, [dict(zip(UPDATE_COLUMNS, row, strict=True)) for row in rows.values()])
    return [None] * len(ops)


# Broker ids, the reason and the code (UPDATE_COLUMNS from broker_order_id on) are kept when an update lacks them.
_FIRST_KEPT = UPDATE_COLUMNS.index("broker_order_id")


def _fill_key(account: object, execution_id: object) -> tuple[str, str]:
    return (str(account) if account else "", str(execution_id))


def _record_fills(conn: Connection, ops: Sequence[Any]) -> list[Any]:
    """Insert each fill new to its (account, execution id); the result per op says whether it was new."""
    ids = {str(op.fill.execution_id) for op in ops}
    stmt = select(_FILLS.c.account_key, _FILLS.c.execution_id).where(_FILLS.c.execution_id.in_(ids))
    known = {_fill_key(a, e) for a, e in conn.execute(stmt)}
    rows, results = [], []
    for op in ops:
        fill: Fill = op.fill
        key = _fill_key(fill.account, fill.execution_id)
        if key in known:
            results.append(False)
            continue
        known.add(key)
        results.append(True)
        rows.append(
            {
                "execution_id": key[1],
                "client_order_id": str(fill.client_order_id),
                "perm_id": op.perm_id,
                "account_id": key[0] or None,
                "account_key": key[0],
                "instrument_id": str(fill.instrument_id),
                "side": fill.side.value,
                "quantity": fill.quantity,
                "price": fill.price,
                "currency": fill.currency.code,
                "multiplier": fill.multiplier,
                "commission": fill.commission.amount,
                "commission_currency": fill.commission.currency.code,
                "realised_pnl": None,
                "liquidity": fill.liquidity.name if fill.liquidity else None,
                "ts": fill.ts,
                "recorded_at": op.recorded_at,
            }
        )
    if rows:
        conn.execute(_FILLS.insert(), rows)
    return results


def _record_commissions(conn: Connection, ops: Sequence[Any]) -> list[Any]:
    results = []
    for op in ops:
        report: CommissionReport = op.report
        stmt = update(_FILLS).where(_FILLS.c.execution_id == str(report.execution_id))
        if op.account is not None:  # IB's commission report names the execution only; the OMS adds the account
            stmt = stmt.where(_FILLS.c.account_key == str(op.account))
        res = conn.execute(
            stmt.values(
                commission=report.commission.amount,
                commission_currency=report.commission.currency.code,
                realised_pnl=report.realised_pnl,
            )
        )
        results.append(res.rowcount > 0)
    return results


def _order_events(conn: Connection, ops: Sequence[Any]) -> list[Any]:
    rows = [
        {
            "client_order_id": op.client_order_id,
            "perm_id": op.perm_id,
            "kind": op.kind,
            "status": op.status,
            "message": op.message,
            "payload_json": json.dumps(op.payload, default=str, sort_keys=True) if op.payload else None,
            "ts": op.ts,
        }
        for op in ops
        if op.kind != "flush"
    ]
    _BULK_EVENTS.insert(conn, rows)
    return [None] * len(ops)


_EVENT_COLUMNS = ("client_order_id", "perm_id", "kind", "status", "message", "payload_json", "ts")
_BULK_EVENTS = BulkTable(_EVENTS, _EVENT_COLUMNS)


def _risk_events(conn: Connection, ops: Sequence[Any]) -> list[Any]:
    conn.execute(
        _RISK.insert(),
        [
            {
                "ts": op.ts,
                "rule": op.rule,
                "action": op.action,
                "client_order_id": op.client_order_id,
                "limit_value": op.limit_value,
                "actual_value": op.actual_value,
                "message": op.message,
            }
            for op in ops
        ],
    )
    return [None] * len(ops)


def _account_snapshots(conn: Connection, ops: Sequence[Any]) -> list[Any]:
    conn.execute(
        _ACCOUNTS.insert(),
        [
            {
                "ts": op.ts,
                "account_id": op.account_id,
                "currency": op.currency,
                "net_liquidation": op.net_liquidation,
                "cash": op.cash,
                "buying_power": op.buying_power,
                "initial_margin": op.initial_margin,
                "maintenance_margin": op.maintenance_margin,
                "values_json": None,
            }
            for op in ops
        ],
    )
    return [None] * len(ops)


_APPLY: dict[type, Any] = {
    InsertIntent: _insert_intents,
    AdoptIntent: _adopt_intents,
    UpdateIntent: _update_intents,
    RecordFill: _record_fills,
    RecordCommission: _record_commissions,
    OrderEventOp: _order_events,
    RiskEventOp: _risk_events,
    AccountSnapshotOp: _account_snapshots,
}
