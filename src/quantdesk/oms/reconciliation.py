"""Reconciliation: make the database agree with the broker on start and after every reconnect, and report breaks.

The broker is the truth for what happened; the database is the truth for what we meant. Keyed by IB ``permId``
and ``orderRef`` (our ``ClientOrderId``), one pass:

1. every open or completed order at the broker updates the order we track, or is **adopted** when we do not know
   it (placed by hand in TWS, or sent by a run that died before storing the acknowledgement);
2. every execution at the broker is recorded unless it is already (**fills that happened while we were away**).
   The database decides: a fill is applied to its order only when this pass recorded it as new for its (account,
   execution id), so no pass can count a fill twice, and a fill "applied" once is recorded, never found again;
3. every order we think is live but the broker does not show is **marked**: CANCELLED "never reached the broker"
   when it was never acknowledged, CANCELLED "vanished at the broker" otherwise;
4. positions, per account: the database's (from that account's fills) against the broker's, and the broker's
   against the target's when one is given (``quantdesk reconcile --target``; a target of 0 means flat).

A manager of one account reconciles that account only (orders and executions of other accounts on the same login
are left to their own pass); a manager without an account compares every account's positions, each on its own.

Every difference is a :class:`Break`: logged, stored in ``reconciliation_breaks`` and shown by ``quantdesk
reconcile``. Nothing is ever re-sent: an intent that never reached the broker is closed, and the next rebalance
plans again from the broker's positions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from quantdesk.brokers.base import FillReport, OrderStatusReport
from quantdesk.domain.identifiers import AccountId
from quantdesk.domain.order_state import OrderStatus
from quantdesk.oms.breaks import Break
from quantdesk.oms.manager import ManagedOrder, OrderManager
from quantdesk.oms.store_ops import RecordFill

__all__ = ["Break", "ReconciliationReport", "reconcile"]

log = logging.getLogger(__name__)

_NEVER_ACKED = frozenset({OrderStatus.INITIALIZED, OrderStatus.PENDING_SUBMIT})


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    """What one reconciliation saw and did (of ``account``; every account on the login when None)."""

    ts: datetime
    broker_orders: int
    executions: int
    breaks: tuple[Break, ...] = field(default_factory=tuple)
    positions: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # instrument -> (broker, db)
    target: Mapping[str, Decimal] = field(default_factory=dict)  # instrument -> wanted quantity, when given
    account: str | None = None

    @property
    def clean(self) -> bool:
        """True when nothing differed."""
        return not self.breaks

    def count(self, kind: str) -> int:
        """How many breaks of one kind."""
        return sum(1 for b in self.breaks if b.kind == kind)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "account": self.account,
            "ts": self.ts.isoformat(),
            "clean": self.clean,
            "broker_orders": self.broker_orders,
            "executions": self.executions,
            "breaks": [b.to_dict() for b in self.breaks],
            "positions": {
                k: {"target": _text(self.target.get(k)), "broker": str(b), "database": str(d)}
                for k, (b, d) in self.positions.items()
            },
        }


async def reconcile(
    manager: OrderManager, *, target: Mapping[str, Decimal] | None = None, store: bool = True
) -> ReconciliationReport:
    """Reconcile ``manager``'s orders, fills and positions with its broker; see the module docstring."""
    broker = manager.broker
    now = manager.stamp()  # when we reconciled: our clock, not the venue's
    mine = _of_account(manager.account)
    # only orders already out when the broker is asked can be missing there (one sent meanwhile is not listed)
    out_before = {m.client_order_id for m in manager.open_orders() if not manager.is_submitting(m.client_order_id)}
    open_reports = [r for r in await broker.open_orders() if mine(r.account)]
    done_reports = [r for r in await broker.completed_orders() if mine(r.account)]
    executions = [f for f in await broker.executions() if mine(f.account)]
    breaks: list[Break] = []

    seen: set[str] = set()
    for report in _latest_first(open_reports, done_reports):
        managed = manager.find(report.client_order_id, report.broker_order_id.perm_id)
        if managed is None:  # finished orders are not loaded at start: the database may know it
            managed = await manager.load(report.client_order_id, report.broker_order_id.perm_id)
        if managed is None:
            managed = manager.adopt(report)
            breaks.append(
                _order_break(
                    "unknown_at_broker_adopted", report, managed, "adopted", "order at the broker unknown here"
                )
            )
        else:
            before = managed.state.status
            manager.apply_status(report)
            if before is not managed.state.status and before in _NEVER_ACKED:
                breaks.append(
                    _order_break(
                        "status_mismatch", report, managed, "applied", f"acknowledgement lost: was {before.value}"
                    )
                )
        seen.add(managed.client_order_id.value)

    await manager.flush()  # every fill seen live is committed: from here the database says what is recorded
    keys = [(f.account, f.execution_id) for f in executions]
    recorded = await manager.journal.recorded_fills(keys)
    for fill in executions:
        if _key(fill) in recorded or _known_fill(manager, fill):
            continue
        managed = manager.find(fill.client_order_id, fill.broker_order_id.perm_id)
        if managed is None:
            managed = await manager.load(fill.client_order_id, fill.broker_order_id.perm_id)
        if managed is None:
            breaks.append(_fill_break(fill, "reported", "execution of an order neither tracked nor at the broker"))
            continue
        perm = fill.broker_order_id.perm_id or None
        new = await manager.journal.write(
            RecordFill(fill.to_fill(managed.client_order_id), datetime.now(UTC), perm_id=perm)
        )
        recorded.add(_key(fill))
        if new and manager.apply_fill(fill):  # recorded by this pass: only now does the order count it
            breaks.append(_fill_break(fill, "applied", "fill missed while away"))

    for managed in manager.open_orders():
        if (
            managed.client_order_id.value in seen
            or not mine(_account_of(managed))
            or managed.client_order_id not in out_before
        ):
            continue
        reason = (
            "never reached the broker"
            if managed.state.status in _NEVER_ACKED
            else "vanished at the broker (not open, not completed)"
        )
        manager.mark(managed, OrderStatus.CANCELLED, reason)
        breaks.append(
            Break("missing_at_broker", f"{managed.client_order_id}: {reason}", "marked", account=_account_of(managed),
                  instrument_id=managed.instrument_id.value, client_order_id=managed.client_order_id.value)
        )  # fmt: skip

    await manager.flush()
    await manager.refresh_book()  # the broker's positions already hold the fills applied above
    positions = await _compare_positions(manager, target, breaks)
    result = ReconciliationReport(
        now,
        len(open_reports) + len(done_reports),
        len(executions),
        tuple(breaks),
        positions,
        dict(target or {}),
        account=str(manager.account) if manager.account is not None else None,
    )
    for b in breaks:
        log.warning("reconciliation break %s (%s): %s", b.kind, b.resolution, b.message)
    if store and breaks:
        await manager.journal.record_breaks(result.breaks, result.ts, manager.run_id)
    return result


def _latest_first(open_reports: list[OrderStatusReport], done: list[OrderStatusReport]) -> list[OrderStatusReport]:
    """Completed first, then open ones: an order listed in both (a race) ends on its live state."""
    return [*done, *open_reports]


def _of_account(account: AccountId | None) -> Callable[[object], bool]:
    """Whether an account (of a report or an order) belongs to this pass: all for a pass of every account, and an
    unnamed one always."""
    return lambda theirs: account is None or theirs is None or str(theirs) == str(account)


def _key(fill: FillReport) -> tuple[str | None, str]:
    return (str(fill.account) if fill.account else None, str(fill.execution_id))


def _account_of(managed: ManagedOrder) -> str | None:
    account = managed.order.account if managed.order is not None else None
    return str(account) if account is not None else None


def _known_fill(manager: OrderManager, fill: FillReport) -> bool:
    managed = manager.find(fill.client_order_id, fill.broker_order_id.perm_id)
    return managed is not None and fill.execution_id in managed.state.execution_ids


def _order_break(kind: str, report: OrderStatusReport, managed: ManagedOrder, resolution: str, why: str) -> Break:
    return Break(
        kind,
        f"{managed.client_order_id} (permId {report.broker_order_id.perm_id}): {why}",
        resolution,
        account=str(report.account) if report.account is not None else None,
        instrument_id=report.instrument_id.value,
        client_order_id=managed.client_order_id.value,
        perm_id=report.broker_order_id.perm_id or None,
        broker=f"{report.status.value} {report.filled_quantity}/{report.quantity}",
    )


def _fill_break(fill: FillReport, resolution: str, why: str) -> Break:
    return Break(
        "fill_missing",
        f"execution {fill.execution_id} ({fill.side.value} {fill.quantity} {fill.instrument_id} @ {fill.price}): {why}",
        resolution,
        account=str(fill.account) if fill.account is not None else None,
        instrument_id=fill.instrument_id.value,
        client_order_id=fill.client_order_id.value if fill.client_order_id else None,
        perm_id=fill.broker_order_id.perm_id or None,
        broker=f"{fill.quantity}@{fill.price}",
    )


async def _compare_positions(
    manager: OrderManager, target: Mapping[str, Decimal] | None, breaks: list[Break]
) -> dict[str, tuple[Decimal, Decimal]]:
    """Broker against database per (account, instrument), never one account against the sum of several."""
    held = await manager.broker.positions(manager.account)
    broker_positions = {(str(p.account), p.instrument_id.value): p.quantity for p in held}
    account = str(manager.account) if manager.account is not None else None
    ledger = {
        (str(acct) if acct else "", iid.value): qty
        for (acct, iid), qty in (await manager.journal.ledger_positions(account)).items()
    }
    accounts = sorted({a for a, _ in broker_positions} | {a for a, _ in ledger} | ({account} if account else set()))
    several = len(accounts) > 1
    wanted = target or {}
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for acct in accounts or [""]:
        instruments = {i for a, i in broker_positions if a == acct} | {i for a, i in ledger if a == acct}
        for iid in sorted(instruments | set(wanted)):
            b, d = broker_positions.get((acct, iid), Decimal(0)), ledger.get((acct, iid), Decimal(0))
            out[f"{acct}:{iid}" if several else iid] = (b, d)
            where = f"{acct} {iid}" if several else iid
            if b != d:
                breaks.append(
                    Break("position_mismatch", f"{where}: broker {b}, database {d}", "reported",
                          account=acct or None, instrument_id=iid, broker=str(b), database=str(d))
                )  # fmt: skip
            if iid in wanted and wanted[iid] != b:
                breaks.append(
                    Break("target_mismatch", f"{where}: target {wanted[iid]}, broker {b}", "reported",
                          account=acct or None, instrument_id=iid, target=str(wanted[iid]), broker=str(b),
                          database=str(d))
                )  # fmt: skip
    return out


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
