"""The OMS's store in memory: the ``OrderStore`` port with the database's rules and no database, for backtests and
fast tests. The same contract suite runs against it and the SQL journal (``tests/oms/test_order_store_contract.py``):

* an intent once per ``ClientOrderId`` (the same order again: not created; other terms: ``DuplicateIntent``);
* a fill once per (account, execution id), its commission put on it later;
* an update keeps the broker ids, reason and error code it does not carry; an adopted order is stored once;
* every time must be timezone-aware (as the database's columns are); a break needs a kind of 1-32 characters and a
  known resolution (``oms.breaks.RESOLUTIONS``).

Operations apply at once and in order, so ``write`` and ``flush`` never wait.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import AccountId, BrokerOrderId, ClientOrderId, ExecutionId, InstrumentId
from quantdesk.domain.market import require_utc
from quantdesk.domain.order_state import OrderState, OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.errors import NotFound, ValidationError
from quantdesk.oms.breaks import RESOLUTIONS, Break
from quantdesk.oms.store_ops import (
    AccountSnapshotOp,
    AdoptIntent,
    DuplicateIntent,
    InsertIntent,
    JournalClosed,
    JournalOp,
    OrderEventOp,
    RecordCommission,
    RecordFill,
    RiskEventOp,
    UpdateIntent,
)
from quantdesk.oms.stores import FillKey, LedgerKey

__all__ = ["MemoryIntent", "MemoryOrderStore", "RecordedFill", "StoredBreak"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MemoryIntent:
    """An intent as the memory store returns it (the ``StoredIntentView`` of the port)."""

    client_order_id: ClientOrderId
    instrument_id: InstrumentId
    side: OrderSide
    state: OrderState
    created_at: datetime
    order: Order | None = None
    source: str = "quantdesk"
    run_id: str | None = None
    list_id: str | None = None
    reason: str | None = None
    error_code: int | None = None

    def to_order(self) -> Order | None:
        """The order exactly as it was stored; None for an adopted one."""
        return self.order


@dataclass(frozen=True, slots=True)
class RecordedFill:
    """A fill as recorded, with the broker's permId, when we recorded it, and the commission put on it later."""

    fill: Fill
    recorded_at: datetime
    perm_id: int | None = None


@dataclass(frozen=True, slots=True)
class StoredBreak:
    """A reconciliation break as stored: when, by which run."""

    ts: datetime
    run_id: str | None
    brk: Break


@dataclass(slots=True)
class _Intent:
    """The mutable record behind a ``MemoryIntent`` (the columns of ``order_intents``)."""

    seq: int
    client_order_id: ClientOrderId
    instrument_id: InstrumentId
    side: OrderSide
    quantity: Decimal
    created_at: datetime
    updated_at: datetime
    key: tuple[object, ...]
    order: Order | None
    source: str
    run_id: str | None
    list_id: str | None
    status: OrderStatus = OrderStatus.INITIALIZED
    filled_quantity: Decimal = Decimal(0)
    filled_notional: Decimal = Decimal(0)
    broker_order_id: int | None = None
    perm_id: int | None = None
    client_id: int | None = None
    reason: str | None = None
    error_code: int | None = None


def _key_of(order: Order) -> tuple[object, ...]:
    """What must match for an id seen again to be the same order (the journal's comparison)."""
    return (
        order.instrument.id.value,
        order.side.value,
        Decimal(order.quantity),
        order.order_type.value,
        order.limit_price,
        order.stop_price,
        order.tif.value,
        str(order.account) if order.account else None,
        str(order.strategy_id) if order.strategy_id else None,
    )


def _naive_time(op: JournalOp) -> ValidationError | None:
    """The refusal of an operation stamped with a naive time (a database column of aware times refuses it)."""
    ts = op.recorded_at if isinstance(op, RecordFill) else getattr(op, "ts", None)
    if ts is None:
        return None
    try:
        require_utc(ts, "recorded_at" if isinstance(op, RecordFill) else "ts")
    except ValidationError as exc:
        return exc
    return None


def _fill_key(account: object, execution_id: object) -> tuple[str, str]:
    return (str(account) if account else "", str(execution_id))


class MemoryOrderStore:
    """The ``OrderStore`` port in memory; see the module docstring. The lists are readable for tests and results."""

    def __init__(self) -> None:
        self._intents: dict[ClientOrderId, _Intent] = {}
        self._fills: dict[tuple[str, str], RecordedFill] = {}
        self._executions: dict[ClientOrderId, list[ExecutionId]] = {}  # by the order the fills name, as stored
        self.order_events: list[OrderEventOp] = []
        self.risk_events: list[RiskEventOp] = []
        self.account_snapshots: list[AccountSnapshotOp] = []
        self.breaks: list[StoredBreak] = []
        self._closed = False
        self.operations = 0

    # --- writes --------------------------------------------------------------------------------------------------

    async def write(self, op: JournalOp) -> object:
        """Apply ``op`` now; returns its result or raises what the database would (``DuplicateIntent``)."""
        self._open()
        result = self._apply(op)
        if isinstance(result, BaseException):
            raise result
        return result

    def post(self, op: JournalOp) -> None:
        """Apply ``op`` now; a refusal is logged, as the journal logs a refused fire-and-forget write."""
        self._open()
        result = self._apply(op)
        if isinstance(result, BaseException):
            log.error("store write %s refused: %s", type(op).__name__, result)

    async def flush(self) -> None:
        """Nothing is ever queued: everything written is already applied."""
        self._open()

    def close(self) -> None:
        """Refuse further writes (as a closed journal does); what is stored stays readable."""
        self._closed = True

    def _open(self) -> None:
        if self._closed:
            raise JournalClosed("the store is closed")

    def _apply(self, op: JournalOp) -> object:
        self.operations += 1
        naive = _naive_time(op)
        if naive is not None:
            return naive
        if isinstance(op, InsertIntent):
            return self._insert(op)
        if isinstance(op, AdoptIntent):
            return self._adopt(op)
        if isinstance(op, UpdateIntent):
            self._update(op)
            return None
        if isinstance(op, RecordFill):
            return self._record_fill(op)
        if isinstance(op, RecordCommission):
            return self._record_commission(op)
        if isinstance(op, OrderEventOp):
            if op.kind != "flush":
                self.order_events.append(op)
            return None
        if isinstance(op, RiskEventOp):
            self.risk_events.append(op)
            return None
        self.account_snapshots.append(op)
        return None

    def _insert(self, op: InsertIntent) -> bool | DuplicateIntent:
        order, cid = op.order, op.order.client_order_id
        known = self._intents.get(cid)
        if known is not None:
            if known.key == _key_of(order):
                return False
            return DuplicateIntent(
                f"client order id {cid} is stored already for another order",
                field="client_order_id",
                value=cid.value,
                hint="give every new order a fresh ClientOrderId (ClientOrderId.new())",
            )
        self._intents[cid] = _Intent(
            len(self._intents), cid, order.instrument.id, order.side, order.quantity, op.ts, op.ts, _key_of(order),
            order, op.source, op.run_id, op.list_id,
        )  # fmt: skip
        return True

    def _adopt(self, op: AdoptIntent) -> bool:
        cid, r = op.client_order_id, op.report
        if cid in self._intents:
            return False
        ids = r.broker_order_id
        key = (r.instrument_id.value, r.side.value, r.quantity, r.order_type.value, r.limit_price, r.stop_price,
               r.tif.value, str(r.account) if r.account else None, None)  # fmt: skip
        self._intents[cid] = _Intent(
            len(self._intents), cid, r.instrument_id, r.side, r.quantity, op.ts, op.ts, key, None, "adopted",
            op.run_id, None, broker_order_id=ids.order_id or None, perm_id=ids.perm_id or None,
            client_id=ids.client_id,
        )  # fmt: skip
        return True

    def _update(self, op: UpdateIntent) -> None:
        state = op.state
        row = self._intents.get(state.client_order_id)
        if row is None:  # as an UPDATE of no row: nothing happens
            return
        row.status, row.quantity = state.status, state.quantity
        row.filled_quantity, row.filled_notional, row.updated_at = (
            state.filled_quantity,
            state.filled_notional,
            (state.updated_at),
        )
        broker = state.broker_order_id
        if broker is not None:
            row.broker_order_id = broker.order_id
            if broker.perm_id:
                row.perm_id = broker.perm_id
            if broker.client_id is not None:
                row.client_id = broker.client_id
        if op.reason is not None:
            row.reason = op.reason
        if op.error_code is not None:
            row.error_code = op.error_code

    def _record_fill(self, op: RecordFill) -> bool:
        fill = op.fill
        key = _fill_key(fill.account, fill.execution_id)
        if key in self._fills:
            return False
        self._fills[key] = RecordedFill(fill, op.recorded_at, op.perm_id)
        self._executions.setdefault(fill.client_order_id, []).append(fill.execution_id)
        return True

    def _record_commission(self, op: RecordCommission) -> bool:
        report, found = op.report, False
        for key, recorded in self._fills.items():
            if key[1] != report.execution_id.value or (op.account is not None and key[0] != str(op.account)):
                continue
            self._fills[key] = replace(recorded, fill=replace(recorded.fill, commission=report.commission))
            found = True
        return found

    # --- reads ---------------------------------------------------------------------------------------------------

    async def active_intents(self) -> list[MemoryIntent]:
        """Every intent whose status is not terminal, oldest first."""
        rows = sorted(self._intents.values(), key=lambda r: (r.created_at, r.seq))
        return [self._view(r) for r in rows if not r.status.is_terminal]

    async def find_intent(self, client_order_id: ClientOrderId) -> MemoryIntent | None:
        """The stored intent, or None."""
        row = self._intents.get(client_order_id)
        return None if row is None else self._view(row)

    async def get_intent(self, client_order_id: ClientOrderId) -> MemoryIntent:
        """The stored intent; ``NotFound`` when there is none."""
        found = await self.find_intent(client_order_id)
        if found is None:
            raise NotFound(
                f"no order intent {client_order_id}",
                field="client_order_id",
                value=str(client_order_id),
                hint="list orders with `quantdesk orders`",
            )
        return found

    async def intent_by_perm_id(self, perm_id: int) -> MemoryIntent | None:
        """The first intent stored with IB's ``permId``, or None."""
        for row in sorted(self._intents.values(), key=lambda r: r.seq):
            if row.perm_id == perm_id:
                return self._view(row)
        return None

    async def orders_since(self, start: datetime) -> int:
        """Our orders accepted at or after ``start`` (neither adopted nor rejected)."""
        return sum(
            1
            for r in self._intents.values()
            if r.created_at >= start and r.source == "quantdesk" and r.status is not OrderStatus.REJECTED
        )

    async def recorded_fills(self, keys: Iterable[tuple[AccountId | None, ExecutionId]]) -> set[FillKey]:
        """Which of ``keys`` are recorded, as ``(account or None, execution id)`` text."""
        wanted = {(str(a) if a else None, str(e)) for a, e in keys}
        return {(a, e) for a, e in wanted if (a or "", e) in self._fills}

    async def ledger_positions(self, account: str | None = None) -> dict[LedgerKey, Decimal]:
        """Net signed quantity per (account, instrument) from the recorded fills (of ``account``); flat ones out."""
        totals: dict[tuple[str | None, str], Decimal] = {}
        for recorded in self._fills.values():
            fill = recorded.fill
            acct = str(fill.account) if fill.account else None
            if account is not None and acct != str(account):
                continue
            key = (acct, fill.instrument_id.value)
            totals[key] = totals.get(key, Decimal(0)) + fill.quantity * fill.side.sign
        return {
            (AccountId(a) if a else None, InstrumentId(i)): Decimal(format(q.normalize(), "f"))
            for (a, i), q in sorted(totals.items(), key=lambda kv: (kv[0][0] or "", kv[0][1]))
            if q != 0
        }

    async def record_breaks(self, breaks: Sequence[Break], ts: datetime, run_id: str | None) -> None:
        """Keep the breaks of one reconciliation, one by one as the database appends them: an aware ``ts``, a kind of
        1-32 characters and a known resolution, else a ``ValidationError`` (the breaks before it are kept)."""
        ts = require_utc(ts)
        for b in breaks:
            if b.resolution not in RESOLUTIONS:
                raise ValidationError(
                    f"unknown resolution {b.resolution!r}",
                    field="resolution",
                    value=b.resolution,
                    hint="use " + ", ".join(RESOLUTIONS),
                )
            if not b.kind or len(b.kind) > 32:
                raise ValidationError(
                    f"must be 1-32 characters, got {b.kind!r}", field="kind", value=b.kind, hint="use a BreakKind value"
                )
            self.breaks.append(StoredBreak(ts, run_id, b))

    # --- for tests and backtest results -------------------------------------------------------------------------

    def intents(self) -> list[MemoryIntent]:
        """Every stored intent, in the order stored."""
        return [self._view(r) for r in sorted(self._intents.values(), key=lambda r: r.seq)]

    def fills(self) -> list[RecordedFill]:
        """Every recorded fill, in the order recorded."""
        return list(self._fills.values())

    def _view(self, row: _Intent) -> MemoryIntent:
        broker = (
            BrokerOrderId(row.broker_order_id, row.perm_id or 0, row.client_id)
            if row.broker_order_id is not None
            else None
        )
        state = OrderState(
            client_order_id=row.client_order_id,
            quantity=row.quantity,
            updated_at=row.updated_at,
            status=row.status,
            broker_order_id=broker,
            filled_quantity=row.filled_quantity,
            filled_notional=row.filled_notional,
            execution_ids=tuple(self._executions.get(row.client_order_id, ())),
        )
        return MemoryIntent(
            row.client_order_id, row.instrument_id, row.side, state, row.created_at, row.order, row.source, row.run_id,
            row.list_id, row.reason, row.error_code,
        )  # fmt: skip
