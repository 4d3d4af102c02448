from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from quantdesk.errors import ConfigError
from quantdesk.persistence import commands, create_db_engine, normalise_url
from quantdesk.persistence.models import Base

TABLES = {
    "accounts",
    "strategies",
    "runs",
    "order_intents",
    "orders",
    "order_events",
    "fills",
    "position_snapshots",
    "account_snapshots",
    "risk_events",
    "kill_switch_state",
}


def test_upgrade_creates_every_table_and_current_is_head(db_url: str) -> None:
    assert commands.current(db_url) is None
    assert commands.upgrade(db_url) == commands.head() == "0001"
    assert commands.current(db_url) == "0001"
    engine = create_db_engine(db_url)
    try:
        insp = inspect(engine)
        assert set(insp.get_table_names()) >= TABLES | {"alembic_version"}
        assert "trade_history" in insp.get_view_names()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM trade_history")).scalar_one() == 0
    finally:
        engine.dispose()
    assert commands.upgrade(db_url) == "0001"  # a second upgrade is a no-op


def test_models_match_the_migration(db_url: str) -> None:
    commands.upgrade(db_url)
    engine = create_db_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_every_model_table_is_in_the_expected_set() -> None:
    assert set(Base.metadata.tables) == TABLES


def test_sqlite_pragmas(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 1  # NORMAL
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    finally:
        engine.dispose()
    assert Path(sqlite_url.removeprefix("sqlite:///")).parent.is_dir()


def test_postgres_urls_use_psycopg() -> None:
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://u@h/db", "'mysql' is not supported"),
        ("postgresql+psycopg2://u@h/db", "'psycopg2' is not supported"),
        ("postgresql://u@h", "names no database"),
    ],
)
def test_bad_urls_raise_config_error_naming_the_field(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        create_db_engine(url)
    assert info.value.field == "database.url"
    assert info.value.hint


def test_password_is_hidden_in_errors() -> None:
    with pytest.raises(ConfigError) as info:
        normalise_url("postgresql+psycopg2://u:sekrit@h/db")
    assert "sekrit" not in str(info.value.value)


def test_history_lists_the_initial_migration() -> None:
    revisions = commands.history()
    assert [r.revision for r in revisions] == ["0001"]
    assert revisions[0].is_head
    assert revisions[0].down_revision is None
