"""The journal's bulk driver path stores exactly what SQLAlchemy Core stores: the same raw values, column by column,
for intents, their updates (ids and reason kept when an update does not carry them) and order events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, select

from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.orders import Order
from quantdesk.persistence import create_db_engine, upgrade
from quantdesk.persistence.journal_rows import COPY_FROM, UPDATE_COLUMNS, BulkTable, bulk_update_intents
from quantdesk.persistence.journal_writes import _EVENT_COLUMNS, _INTENT_COLUMNS, _UPDATE_INTENT
from quantdesk.persistence.models import OrderEventRow, OrderIntentRow
from quantdesk.persistence.repositories.intent_records import intent_values

INTENTS = cast(Table, OrderIntentRow.__table__)
EVENTS = cast(Table, OrderEventRow.__table__)
T = datetime(2025, 3, 3, 15, 30, 0, 120, tzinfo=UTC)
ELSEWHERE = timezone(timedelta(hours=-5))


def _order(cid: str) -> Order:
    return Order.limit(Stock("AAPL"), "BUY", Decimal("12"), Decimal("101.250"), account="DU1",
                       client_order_id=ClientOrderId(cid))  # fmt: skip


def _raw(conn: Any, table: str, where: str, key: str) -> tuple[Any, ...]:
    row = conn.exec_driver_sql(f"SELECT * FROM {table} WHERE {where} = '{key}'").one()
    return tuple(row)[1:]  # without the id


def test_bulk_rows_are_stored_as_sqlalchemy_stores_them(db_url: str) -> None:
    upgrade(db_url)
    engine = create_db_engine(db_url)
    core, bulk = "rows-core", "rows-bulk"
    try:
        with engine.begin() as conn:
            for cid, ts in ((core, T), (bulk, T.astimezone(ELSEWHERE))):
                values = intent_values(_order(cid), ts, run_id=None, list_id="L1", source="quantdesk")
                assert tuple(values) == _INTENT_COLUMNS
                if cid == core:
                    conn.execute(INTENTS.insert(), [values])
                else:
                    BulkTable(INTENTS, _INTENT_COLUMNS).insert(conn, [values])
            events = BulkTable(EVENTS, _EVENT_COLUMNS)
            for cid in (core, bulk):
                event = {"client_order_id": cid, "perm_id": 7, "kind": "submitted", "status": "SUBMITTED",
                         "message": "é \"quoted\"\n\ttab \\ back", "payload_json": '{"a":1}', "ts": T}  # fmt: skip
                if cid == core:
                    conn.execute(EVENTS.insert(), [event])
                else:
                    events.insert(conn, [event])
        later = T + timedelta(seconds=1)
        first = (Decimal("12"), Decimal("2"), Decimal("202.50"), later, 5, 9_000_000_001, 3, "why", 201)
        second = (Decimal("12"), Decimal("2"), Decimal("202.50"), later, None, None, None, None, None)
        for values in (first, second):  # the second keeps the ids, the reason and the code of the first
            with engine.begin() as conn:
                conn.execute(_UPDATE_INTENT, [dict(zip(UPDATE_COLUMNS, (core, "SUBMITTED", *values), strict=True))])
                assert bulk_update_intents(conn, INTENTS, [(bulk, "SUBMITTED", *values)])
        with engine.connect() as conn:
            intent_core, intent_bulk = (_raw(conn, "order_intents", "client_order_id", c) for c in (core, bulk))
            same_id = tuple(v.replace(bulk, core) if isinstance(v, str) else v for v in intent_bulk)  # order_json
            assert intent_core == same_id
            assert (
                _raw(conn, "order_events", "client_order_id", core)[1:]
                == _raw(conn, "order_events", "client_order_id", bulk)[1:]
            )
            stored = conn.execute(select(INTENTS.c.perm_id, INTENTS.c.reason).where(INTENTS.c.client_order_id == bulk))
            assert stored.one() == (9_000_000_001, "why")
    finally:
        engine.dispose()


def test_updates_in_two_transactions_of_one_connection_each_start_empty(db_url: str) -> None:
    upgrade(db_url)
    engine = create_db_engine(db_url)
    cids = [f"rows-twice-{i}" for i in range(COPY_FROM)]  # enough for COPY and the temporary table on PostgreSQL
    try:
        with engine.connect() as conn:
            with conn.begin():
                values = [intent_values(_order(c), T, run_id=None, list_id=None, source="quantdesk") for c in cids]
                BulkTable(INTENTS, _INTENT_COLUMNS).insert(conn, values)
            for n in (1, 2):
                with conn.begin():
                    rows = [(c, "SUBMITTED", Decimal(12), Decimal(0), Decimal(0), T, n, n, 0, None, None) for c in cids]
                    assert bulk_update_intents(conn, INTENTS, rows)
                    assert bulk_update_intents(conn, INTENTS, rows)  # twice in one transaction: no leftovers
            perms = conn.scalars(select(INTENTS.c.perm_id).where(INTENTS.c.client_order_id.in_(cids))).all()
            assert perms == [2] * COPY_FROM
    finally:
        engine.dispose()


def test_many_rows_in_one_call_each_land_on_their_own_row(db_url: str) -> None:
    upgrade(db_url)
    engine = create_db_engine(db_url)
    n = 301
    try:
        with engine.begin() as conn:
            orders = [_order(f"many-{i}") for i in range(n)]
            rows = [intent_values(o, T, run_id=None, list_id=None, source="quantdesk") for o in orders]
            BulkTable(INTENTS, _INTENT_COLUMNS).insert(conn, rows)
            updates = [(f"many-{i}", "SUBMITTED", Decimal(12), Decimal(0), Decimal(0), T, i, 1000 + i, 0, None, None)
                       for i in range(n)]  # fmt: skip
            assert bulk_update_intents(conn, INTENTS, updates)
        with engine.connect() as conn:
            stored = conn.execute(select(INTENTS.c.client_order_id, INTENTS.c.perm_id, INTENTS.c.status)).all()
        assert sorted(stored) == sorted((f"many-{i}", 1000 + i, "SUBMITTED") for i in range(n))
    finally:
        engine.dispose()
