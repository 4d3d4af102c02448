"""Database fixtures: a fresh SQLite file per test, and a uniquely named PostgreSQL database per test module.

PostgreSQL tests skip (with the reason) when no server answers at ``QUANTDESK_TEST_PG`` (default
127.0.0.1:5432, database ``test``), except under ``CI=true``, where they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

ADMIN_URL = os.environ.get("QD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _admin_or_skip() -> None:
    try:
        engine = create_engine(ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except OperationalError as exc:
        reason = f"PostgreSQL not reachable at {make_url(ADMIN_URL).render_as_string()}: {str(exc).splitlines()[0]}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true requires PostgreSQL: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def pg_database_url() -> Iterator[str]:
    """A brand-new PostgreSQL database for this module (parallel-safe), dropped afterwards."""
    _admin_or_skip()
    name = f"qd_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db' / 'quantdesk.db'}"


@pytest.fixture
def pg_url(pg_database_url: str) -> Iterator[str]:
    """The module's PostgreSQL database, emptied before each test."""
    engine = create_engine(pg_database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return pg_database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs on SQLite and on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))
