"""Create the SQLAlchemy engine for ``database.url``: SQLite (WAL) by default, PostgreSQL through psycopg 3.

SQLite connections get ``journal_mode=WAL``, ``synchronous=NORMAL`` and ``foreign_keys=ON`` from a connect event, so
every pooled connection is configured the same way. ``postgresql://`` and ``postgres://`` URLs are driven by
psycopg 3 (``postgresql+psycopg://``). Anything else is a ``ConfigError`` naming ``database.url``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from quantdesk.errors import ConfigError

__all__ = ["create_db_engine", "normalise_url"]

_FIELD = "database.url"
_HINT = "write sqlite:///path/quantdesk.db or postgresql+psycopg://user@host:5432/dbname"


def normalise_url(url: str | URL) -> URL:
    """Parse ``url`` and map it to a supported driver; raise ``ConfigError`` for anything else."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError as exc:
        raise ConfigError(f"is not a database URL: {exc}", field=_FIELD, value=str(url), hint=_HINT) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise ConfigError(
                f"SQLite driver {driver!r} is not supported", field=_FIELD, value=str(url), hint="use sqlite:///…"
            )
        return parsed
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise ConfigError(
                f"PostgreSQL driver {driver!r} is not supported",
                field=_FIELD,
                value=parsed.render_as_string(hide_password=True),
                hint="use postgresql+psycopg://… (psycopg 3)",
            )
        if not parsed.database:
            raise ConfigError(
                "names no database",
                field=_FIELD,
                value=parsed.render_as_string(hide_password=True),
                hint="append /<database name> to the URL",
            )
        return parsed.set(drivername="postgresql+psycopg")
    raise ConfigError(
        f"database {backend!r} is not supported (SQLite or PostgreSQL)",
        field=_FIELD,
        value=parsed.render_as_string(hide_password=True),
        hint=_HINT,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()


def create_db_engine(url: str | URL, *, echo: bool = False) -> Engine:
    """An engine for ``url``; a SQLite file's parent directory is created when missing."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, echo=echo)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, echo=echo, pool_pre_ping=True)
