"""The store backends the contract suites run on: in memory, SQLite (a migrated temp file) and PostgreSQL (a fresh
schema, skipped when no server answers, required under ``CI=true``; see ``db_fixtures``).

A ``Backend`` holds the four stores of the OMS and risk ports (``services.kernel.Stores``) and, for the assertions,
readers of what the ports write but do not read back (fills with their commissions, breaks, risk and order events).
``reopen()`` gives the same data through new stores: for SQL a new engine on the same database after the old
journal is closed, for memory the same objects (memory keeps nothing beyond its process).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quantdesk.domain.fills import Fill
from quantdesk.oms.breaks import Break
from quantdesk.oms.memory_stores import MemoryOrderStore
from quantdesk.persistence import create_db_engine, upgrade
from quantdesk.persistence.models import FillRow, OrderEventRow
from quantdesk.persistence.repositories import (
    OrderIntentRepository,
    ReconciliationBreakRepository,
    RiskEventRepository,
)
from quantdesk.persistence.repositories.fills import fill_from_row
from quantdesk.risk.memory_stores import MemoryRiskEventStore
from quantdesk.services.kernel import Stores, database_stores, memory_stores

BACKENDS = ("memory", "sqlite", "postgresql")

IntentLine = tuple[str, str, str | None, str | None]
"""An intent as stored: (client order id, status, reason, list id)."""

EventLine = tuple[datetime, str, str, str, str | None, str | None, str | None]
"""A risk event as stored: (ts, rule, action, message, client order id, limit, actual)."""


@dataclass
class Backend:
    """One backend's stores and the readers the contract assertions use."""

    name: str
    stores: Stores
    _reopen: Callable[[], Backend]
    _engine: Engine | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def reopen(self) -> Backend:
        """The same data through new stores (see the module docstring)."""
        return self._reopen()

    def intents(self) -> list[IntentLine]:
        """Every stored intent as (client order id, status, reason, list id), in the order stored."""
        if self._engine is None:
            orders = self.stores.orders
            assert isinstance(orders, MemoryOrderStore)
            return [(i.client_order_id.value, i.state.status.value, i.reason, i.list_id) for i in orders.intents()]
        return [
            (i.client_order_id.value, i.state.status.value, i.reason, i.list_id)
            for i in OrderIntentRepository(self._engine).list()
        ]

    def fills(self) -> list[Fill]:
        """Every recorded fill, in the order recorded, with the commission put on it."""
        if self._engine is None:
            orders = self.stores.orders
            assert isinstance(orders, MemoryOrderStore)
            return [r.fill for r in orders.fills()]
        with Session(self._engine) as session:
            return [fill_from_row(r) for r in session.scalars(select(FillRow).order_by(FillRow.id))]

    def breaks(self) -> list[tuple[datetime, str | None, Break]]:
        """Every stored reconciliation break as (ts, run id, break), in the order stored."""
        if self._engine is None:
            orders = self.stores.orders
            assert isinstance(orders, MemoryOrderStore)
            return [(b.ts, b.run_id, b.brk) for b in orders.breaks]
        rows = ReconciliationBreakRepository(self._engine).list()
        return [
            (
                r.ts,
                r.run_id,
                Break(
                    r.kind, r.message, r.resolution.value, _text(r.account), _text(r.instrument_id),
                    _text(r.client_order_id), r.perm_id, r.target, r.broker, r.database,
                ),
            )
            for r in rows
        ]  # fmt: skip

    def risk_events(self) -> list[EventLine]:
        """Every risk event but the kill switch's changes (its own history), from the order store's ``RiskEventOp``
        writes and the risk-event store, oldest first."""
        if self._engine is None:
            orders, events = self.stores.orders, self.stores.risk_events
            assert isinstance(orders, MemoryOrderStore)
            assert isinstance(events, MemoryRiskEventStore)
            lines: list[EventLine] = [
                (op.ts, op.rule, op.action, op.message, op.client_order_id, op.limit_value, op.actual_value)
                for op in orders.risk_events
            ] + [
                (e.ts, e.rule, e.action, e.message, _text(e.client_order_id), e.limit, e.actual) for e in events.events
            ]
            return sorted(lines, key=lambda line: line[0])
        return [
            (e.ts, e.rule, e.action, e.message, _text(e.client_order_id), e.limit, e.actual)
            for e in RiskEventRepository(self._engine).list()
            if e.rule != "kill_switch"
        ]

    def order_events(self) -> list[tuple[str | None, str, str | None, str | None]]:
        """Every order event as (client order id, kind, status, message), in the order stored."""
        if self._engine is None:
            orders = self.stores.orders
            assert isinstance(orders, MemoryOrderStore)
            return [(e.client_order_id, e.kind, e.status, e.message) for e in orders.order_events]
        with Session(self._engine) as session:
            rows = session.scalars(select(OrderEventRow).order_by(OrderEventRow.id))
            return [(r.client_order_id, r.kind, r.status, r.message) for r in rows]

    def close(self) -> None:
        """Close the stores (``Stores.close``: order writes refused), keeping what is stored readable."""
        self.stores.close()

    def dispose(self) -> None:
        """Release everything this backend opened (the fixture's teardown)."""
        for closer in reversed(self._closers):
            closer()
        self._closers.clear()


def _text(value: object | None) -> str | None:
    return None if value is None else str(value)


def memory_backend() -> Backend:
    """Stores in memory; reopening keeps the same objects."""
    stores = memory_stores()
    backend = Backend("memory", stores, lambda: backend)
    return backend


def sql_backend(name: str, url: str, opened: list[Backend]) -> Backend:
    """The database stores on ``url`` (migrated already); reopening closes them and opens new ones."""
    engine = create_db_engine(url)
    stores = database_stores(engine)

    def reopen() -> Backend:
        stores.close()
        return sql_backend(name, url, opened)

    backend = Backend(name, stores, reopen, engine, [engine.dispose, stores.close])
    opened.append(backend)
    return backend


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Each test using it runs on the in-memory stores, SQLite and PostgreSQL."""
    if request.param == "memory":
        yield memory_backend()
        return
    url = str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))
    upgrade(url)
    opened: list[Backend] = []
    backend = sql_backend(request.param, url, opened)
    try:
        yield backend
    finally:
        for one in reversed(opened):
            one.dispose()
