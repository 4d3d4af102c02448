"""Create the SQLAlchemy engine for ``database.url``: SQLite (WAL) by default, PostgreSQL through psycopg 3.

SQLite connections get ``journal_mode=WAL``, ``synchronous=NORMAL`` and ``foreign_keys=ON`` from a connect event, so
every pooled connection is configured the same way. ``postgresql://`` and ``postgres://`` URLs are driven by
psycopg 3 (``postgresql+psycopg://``). Anything else is a ``ConfigError`` naming ``database.url``.

A SQLite file in a directory that cannot be written (a read-only mount) is opened read-only, so the read commands
still work; a write to it, a missing PostgreSQL database or an unreachable server becomes one ``ConfigError``.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError

from quantdesk.errors import ConfigError

__all__ = ["create_db_engine", "normalise_url"]

_FIELD = "database.url"
_READ_ONLY = {"mode": "ro", "immutable": "1", "uri": "true"}
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
        _rest_of_pragmas(cursor)
    finally:
        cursor.close()


def _read_only_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        _rest_of_pragmas(cursor)
    finally:
        cursor.close()


def _rest_of_pragmas(cursor: Any) -> None:
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")


def create_db_engine(url: str | URL, *, echo: bool = False) -> Engine:
    """An engine for ``url``; a SQLite file's parent directory is created when missing, and a file in a directory
    that cannot be written is opened read-only (and immutable: nobody can write it there either)."""
    parsed = normalise_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        pragmas = _sqlite_pragmas
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database).expanduser()
            _make_parent(path, shown)
            if path.is_file() and not os.access(path.parent, os.W_OK):
                pragmas = _read_only_pragmas
                parsed = parsed.set(database=f"file:{path}").update_query_dict(_READ_ONLY)
        engine = create_engine(parsed, echo=echo)
        event.listen(engine, "connect", pragmas)
    else:
        engine = create_engine(parsed, echo=echo, pool_pre_ping=True)
    event.listen(engine, "handle_error", lambda ctx: _environment_error(ctx, shown))
    return engine


def _make_parent(path: Path, shown: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the folder {path.parent}: {exc.strerror}",
            field=_FIELD,
            value=shown,
            hint="point paths.data_dir (or database.url) at a folder you can write",
        ) from None


def _environment_error(ctx: ExceptionContext, shown: str) -> None:
    """Turn the database errors of the environment (not of quantdesk) into one ``ConfigError`` naming the fix."""
    original = ctx.original_exception
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    lowered = text.lower()
    if isinstance(original, sqlite3.OperationalError):
        if "readonly" in lowered or "read-only" in lowered:
            raise ConfigError(
                "the database is read-only here: this command needs to write it",
                field=_FIELD,
                value=shown,
                hint="make its folder writable (paths.data_dir), or point database.url at a writable database",
            ) from None
        if "unable to open database file" in lowered:
            raise ConfigError(
                "cannot open the SQLite file",
                field=_FIELD,
                value=shown,
                hint="check that the file and its folder exist and are readable (paths.data_dir)",
            ) from None
        return
    missing = re.search(r'database "([^"]+)" does not exist', text)
    if missing:
        name = missing.group(1)
        raise ConfigError(
            f"the PostgreSQL database {name!r} does not exist",
            field=_FIELD,
            value=shown,
            hint=f"create it (createdb {name}) and run `quantdesk db upgrade`, or fix the name in database.url",
        ) from None
    if ctx.is_disconnect or ("connection" in lowered and ctx.connection is None):
        raise ConfigError(
            f"cannot reach the database: {text}",
            field=_FIELD,
            value=shown,
            hint="start the database server, or fix host, port, user or password in database.url",
        ) from None
