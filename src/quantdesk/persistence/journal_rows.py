"""The journal's hot statements at the driver: rows encoded once, sent in bulk to the DB-API connection.

The writer thread spent most of its time per order not in the database but in SQLAlchemy's per-row parameter
handling (a dict per row, a lookup and a type processor per value) and, on PostgreSQL, in psycopg's per-row
pipeline. Here the rows of one kind are encoded into tuples with the columns' own bind processors (the same
functions SQLAlchemy applies, so the stored values are the same) and handed over in one call, inside the
journal's transaction:

* SQLite: one ``executemany`` on the driver (``Connection.exec_driver_sql``);
* PostgreSQL (psycopg): from :data:`COPY_FROM` rows, inserts as one ``COPY … FROM STDIN`` and intent updates
  ``COPY``'d into a temporary table and applied by one ``UPDATE … FROM``; fewer rows by one ``executemany``.

Other dialects take SQLAlchemy Core's path. Nothing about durability changes: the rows go into the same
transaction, which the journal commits before it tells any caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Connection, Dialect, Table

from quantdesk.persistence.types import ExactDecimal, UtcDateTime

__all__ = ["UPDATE_COLUMNS", "BulkTable", "bulk_update_intents"]

Encode = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Plan:
    """One table's statement and per-column encoders for one dialect."""

    sql: str  # INSERT … VALUES, for executemany
    encoders: tuple[tuple[int, Encode], ...]  # (position, bind processor) of the columns that have one
    copy: str  # COPY … FROM STDIN (PostgreSQL)


COPY_FROM = 32
"""Rows from which PostgreSQL gets ``COPY`` (its fixed cost, a few round trips, pays off only for a batch); fewer go
by ``executemany`` (psycopg's pipeline), which is cheaper for the one or two rows of a lone order."""


class BulkTable:
    """Bulk inserts of rows (``Mapping`` column -> Python value) into ``table``'s ``columns``."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        self._plans: dict[str, _Plan] = {}

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            names = ", ".join(self.columns)
            mark = "%s" if dialect.name == "postgresql" else "?"
            sql = f"INSERT INTO {self.table.name} ({names}) VALUES ({', '.join([mark] * len(self.columns))})"
            copy = f"COPY {self.table.name} ({names}) FROM STDIN"
            plan = _Plan(sql, _encoders(self.table, self.columns, dialect), copy)
            self._plans[dialect.name] = plan
        return plan

    def insert(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows`` in one driver call (``COPY`` on PostgreSQL)."""
        if not rows:
            return
        dialect = conn.dialect
        if not _fast(dialect):
            conn.execute(self.table.insert(), list(rows))
            return
        plan = self._plan(dialect)
        columns = self.columns
        tuples = [_encoded([row[c] for c in columns], plan.encoders) for row in rows]
        if dialect.name == "postgresql" and len(tuples) >= COPY_FROM:
            _copy(conn, plan.copy, tuples)
        else:
            conn.exec_driver_sql(plan.sql, tuples)


UPDATE_COLUMNS = (
    "b_cid",
    "status",
    "quantity",
    "filled_quantity",
    "filled_notional",
    "updated_at",
    "broker_order_id",
    "perm_id",
    "client_id",
    "reason",
    "error_code",
)
"""The values of one intent update, in order: the id, then what is set (the ids, reason and code where given)."""


_SET_PLAIN = ("status", "quantity", "filled_quantity", "filled_notional", "updated_at")
_SET_KEPT = ("broker_order_id", "perm_id", "client_id", "reason", "error_code")  # coalesce: kept when not given


def _set_clause(value: Callable[[str], str], table: str) -> str:
    plain = [f"{c} = {value(c)}" for c in _SET_PLAIN]
    kept = [f"{c} = coalesce({value(c)}, {table}{c})" for c in _SET_KEPT]
    return ", ".join(plain + kept)


_SQLITE_UPDATE = f"UPDATE order_intents SET {_set_clause(lambda c: '?', '')} WHERE client_order_id = ?"
_PG_UPDATE_ONE = f"UPDATE order_intents SET {_set_clause(lambda c: '%s', '')} WHERE client_order_id = %s"
_PG_TEMP = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS qd_journal_intent_updates (b_cid varchar(64) PRIMARY KEY, "
    "status varchar(24), quantity numeric(38, 12), filled_quantity numeric(38, 12), "
    "filled_notional numeric(38, 12), updated_at timestamptz, broker_order_id integer, perm_id bigint, "
    "client_id integer, reason text, error_code integer) ON COMMIT DELETE ROWS"
)
_PG_COPY_UPDATES = f"COPY qd_journal_intent_updates ({', '.join(UPDATE_COLUMNS)}) FROM STDIN"
_PG_UPDATE = (
    f"UPDATE order_intents AS t SET {_set_clause(lambda c: f'u.{c}', 't.')} "
    "FROM qd_journal_intent_updates AS u WHERE t.client_order_id = u.b_cid; TRUNCATE qd_journal_intent_updates"
)  # TRUNCATE: a later batch in the same transaction starts empty


def bulk_update_intents(conn: Connection, table: Table, rows: Sequence[tuple[Any, ...]]) -> bool:
    """Apply intent updates (tuples in :data:`UPDATE_COLUMNS` order, one per order) in bulk; False when the
    dialect has no bulk path here (the caller then uses SQLAlchemy Core)."""
    dialect = conn.dialect
    if not _fast(dialect):
        return False
    encoders = _update_encoders(table, dialect)
    tuples = [_encoded(list(row), encoders) for row in rows]
    if dialect.name == "postgresql" and len(tuples) < COPY_FROM:
        conn.exec_driver_sql(_PG_UPDATE_ONE, [(*t[1:], t[0]) for t in tuples])
    elif dialect.name == "postgresql":
        driver = cast(Any, conn.connection.driver_connection)
        with driver.cursor() as cursor:
            cursor.execute(_PG_TEMP)
        _copy(conn, _PG_COPY_UPDATES, tuples)
        with driver.cursor() as cursor:
            cursor.execute(_PG_UPDATE)
    else:
        conn.exec_driver_sql(_SQLITE_UPDATE, [(*t[1:], t[0]) for t in tuples])
    return True


# --- helpers ---------------------------------------------------------------------------------------------------


def _fast(dialect: Dialect) -> bool:
    return dialect.name == "sqlite" or (dialect.name == "postgresql" and dialect.driver == "psycopg")


def _encoders(table: Table, columns: Sequence[str], dialect: Dialect) -> tuple[tuple[int, Encode], ...]:
    """The columns' bind processors for ``dialect`` (``None`` ones left out): SQLAlchemy's own, except for the two
    types every row has, which are inlined here with the same result (``ExactDecimal``, ``UtcDateTime``)."""
    out = []
    for i, name in enumerate(columns):
        kind = table.c[name].type
        inlined = _INLINED.get((type(kind), dialect.name))
        process = inlined or kind.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            out.append((i, process))
    return tuple(out)


def _finite(value: Any) -> Decimal:
    number = value if type(value) is Decimal else Decimal(value)
    if not number.is_finite():
        raise ValueError(f"cannot store non-finite decimal {number}")
    return number


def _sqlite_decimal(value: Any) -> str:
    """``ExactDecimal`` on SQLite: the decimal's plain text."""
    return format(_finite(value), "f")


def _aware(value: datetime) -> timedelta:
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"refusing naive datetime {value.isoformat()}: pass an aware (UTC) datetime")
    return offset


def _sqlite_datetime(value: datetime) -> str:
    """``UtcDateTime`` on SQLite: UTC, in SQLAlchemy's SQLite ``DATETIME`` storage format."""
    offset = _aware(value)
    v = value - offset if offset else value  # the UTC wall clock
    return _SQLITE_DATETIME % (v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond)


def _pg_datetime(value: datetime) -> datetime:
    """``UtcDateTime`` on PostgreSQL: the aware time in UTC."""
    return value.astimezone(UTC) if _aware(value) or value.tzinfo is not UTC else value


_SQLITE_DATETIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"
_INLINED: dict[tuple[type, str], Encode] = {
    (ExactDecimal, "sqlite"): _sqlite_decimal,
    (ExactDecimal, "postgresql"): _finite,
    (UtcDateTime, "sqlite"): _sqlite_datetime,
    (UtcDateTime, "postgresql"): _pg_datetime,
}


_UPDATE_ENCODERS: dict[str, tuple[tuple[int, Encode], ...]] = {}


def _update_encoders(table: Table, dialect: Dialect) -> tuple[tuple[int, Encode], ...]:
    found = _UPDATE_ENCODERS.get(dialect.name)
    if found is None:
        found = _encoders(table, ("client_order_id", *UPDATE_COLUMNS[1:]), dialect)
        _UPDATE_ENCODERS[dialect.name] = found
    return found


def _encoded(values: list[Any], encoders: tuple[tuple[int, Encode], ...]) -> tuple[Any, ...]:
    for i, process in encoders:
        value = values[i]
        if value is not None:
            values[i] = process(value)
    return tuple(values)


def _copy(conn: Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """``COPY … FROM STDIN`` of ``rows`` on the connection's psycopg driver, in its current transaction."""
    driver = cast(Any, conn.connection.driver_connection)
    with driver.cursor() as cursor, cursor.copy(sql) as copy:
        write = copy.write_row
        for row in rows:
            write(row)
