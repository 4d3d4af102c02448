from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
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
    "reconciliation_breaks",
}
HEAD = "0003"


def test_upgrade_creates_every_table_and_current_is_head(db_url: str) -> None:
    assert commands.current(db_url) is None
    assert commands.upgrade(db_url) == commands.head() == HEAD
    assert commands.current(db_url) == HEAD
    engine = create_db_engine(db_url)
    try:
        insp = inspect(engine)
        assert set(insp.get_table_names()) >= TABLES | {"alembic_version"}
        assert "trade_history" in insp.get_view_names()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM trade_history")).scalar_one() == 0
    finally:
        engine.dispose()
    assert commands.upgrade(db_url) == HEAD  # a second upgrade is a no-op


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


def test_history_lists_the_migrations_oldest_first() -> None:
    revisions = commands.history()
    assert [r.revision for r in revisions] == ["0001", "0002", "0003"]
    assert [r.is_head for r in revisions] == [False, False, True]
    assert [r.down_revision for r in revisions] == [None, "0001", "0002"]


def _downgrade(url: str, revision: str) -> None:
    engine = create_db_engine(url)
    try:
        with engine.begin() as conn:
            cfg = commands.alembic_config(url)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)
    finally:
        engine.dispose()


def _columns(url: str, table: str) -> list[str]:
    engine = create_db_engine(url)
    try:
        return [c["name"] for c in inspect(engine).get_columns(table)]
    finally:
        engine.dispose()


INTENT = (
    "INSERT INTO order_intents (client_order_id, instrument_id, side, quantity, order_type, tif, status,"
    " filled_quantity, filled_notional, created_at, updated_at) VALUES ('qd-1', 'AAPL.STK.SMART.USD', 'BUY', '100',"
    " 'MKT', 'DAY', 'FILLED', '100', '18725', '2025-03-03 14:30:00', '2025-03-03 14:30:00')"
)
BROKER_ORDER = (
    "INSERT INTO orders (perm_id, order_id, client_order_id, instrument_id, side, quantity, order_type, status,"
    " filled_quantity, remaining_quantity, source, updated_at) VALUES (42, 7, 'qd-1', 'AAPL.STK.SMART.USD', 'BUY',"
    " '100', 'MKT', 'FILLED', '100', '0', 'quantdesk', '2025-03-03 14:30:00')"
)
FILL = (
    "INSERT INTO fills (execution_id, client_order_id, instrument_id, side, quantity, price, currency, multiplier,"
    " commission, commission_currency, ts, recorded_at) VALUES ('e1', 'qd-1', 'AAPL.STK.SMART.USD', 'BUY', '100',"
    " '187.25', 'USD', '1', '1', 'USD', '2025-03-03 14:30:01', '2025-03-03 14:30:01')"
)


def test_0002_adds_intent_columns_and_breaks_with_defaults_for_old_rows(db_url: str) -> None:
    commands.upgrade(db_url, "0001")
    engine = create_db_engine(db_url)
    try:
        with engine.begin() as conn:
            for statement in (INTENT, BROKER_ORDER, FILL):
                conn.execute(text(statement))
    finally:
        engine.dispose()
    assert "source" not in _columns(db_url, "order_intents")
    assert commands.upgrade(db_url) == HEAD
    assert {"order_json", "reason", "error_code", "source", "list_id"} <= set(_columns(db_url, "order_intents"))
    engine = create_db_engine(db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT source, order_json, list_id FROM order_intents")).one()
            assert tuple(row) == ("quantdesk", None, None)
            view = conn.execute(text("SELECT execution_id, source, list_id, strategy_id FROM trade_history")).one()
            assert tuple(view) == ("e1", "quantdesk", None, None)
        assert "reconciliation_breaks" in inspect(engine).get_table_names()
        assert [ix["name"] for ix in inspect(engine).get_indexes("reconciliation_breaks")] == [
            "ix_reconciliation_breaks_ts"
        ]
    finally:
        engine.dispose()


def test_downgrade_to_0001_then_base_and_up_again(db_url: str) -> None:
    commands.upgrade(db_url)
    engine = create_db_engine(db_url)
    try:
        with engine.begin() as conn:
            for statement in (INTENT, BROKER_ORDER, FILL):  # a broker order refers to the intent (foreign key)
                conn.execute(text(statement))
    finally:
        engine.dispose()
    _downgrade(db_url, "0001")
    assert commands.current(db_url) == "0001"
    assert not {"order_json", "reason", "error_code", "source", "list_id"} & set(_columns(db_url, "order_intents"))
    engine = create_db_engine(db_url)
    try:
        assert "reconciliation_breaks" not in inspect(engine).get_table_names()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM order_intents")).scalar_one() == 1
            view = conn.execute(text("SELECT * FROM trade_history")).one()
            assert "source" not in view._mapping
            assert view._mapping["order_type"] == "MKT"
    finally:
        engine.dispose()
    _downgrade(db_url, "base")
    assert commands.current(db_url) is None
    engine = create_db_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        assert inspect(engine).get_view_names() == []
    finally:
        engine.dispose()
    assert commands.upgrade(db_url) == HEAD


def _fill_row(eid: str, account: str | None, *, keyed: bool = False) -> str:
    """An INSERT of one fill; ``keyed`` also sets ``account_key`` as the writers of 0003 do."""
    acct = "NULL" if account is None else f"'{account}'"
    key_column, key = (", account_key", f", '{account or ''}'") if keyed else ("", "")
    return (
        "INSERT INTO fills (execution_id, client_order_id, account_id, instrument_id, side, quantity, price, currency,"
        f" multiplier, commission, commission_currency, ts, recorded_at{key_column}) VALUES ('{eid}', 'qd-1', {acct},"
        " 'AAPL.STK.SMART.USD', 'BUY', '100', '187.25', 'USD', '1', '1', 'USD', '2025-03-03 14:30:01',"
        f" '2025-03-03 14:30:01'{key})"
    )


def test_0003_keys_fills_by_account_and_execution_id(db_url: str) -> None:
    from sqlalchemy.exc import IntegrityError

    commands.upgrade(db_url, "0002")
    engine = create_db_engine(db_url)
    try:
        with engine.begin() as conn:
            for statement in (INTENT, BROKER_ORDER, _fill_row("e1", "DU1"), _fill_row("e2", None)):
                conn.execute(text(statement))
        with pytest.raises(IntegrityError), engine.begin() as conn:  # 0002: one execution id, whatever the account
            conn.execute(text(_fill_row("e1", "DU2")))
    finally:
        engine.dispose()
    assert commands.upgrade(db_url) == HEAD
    engine = create_db_engine(db_url)
    try:
        with engine.begin() as conn:
            keys = conn.execute(text("SELECT execution_id, account_key FROM fills ORDER BY execution_id")).all()
            assert [tuple(k) for k in keys] == [("e1", "DU1"), ("e2", "")]  # old rows keyed by their account
            conn.execute(text(_fill_row("e1", "DU2", keyed=True)))  # the same id in another account: its own fill
        for again in (_fill_row("e1", "DU1", keyed=True), _fill_row("e2", None, keyed=True)):  # same account: refused
            with pytest.raises(IntegrityError), engine.begin() as conn:
                conn.execute(text(again))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM trade_history")).scalar_one() == 3
            assert conn.execute(text("SELECT count(*) FROM orders")).scalar_one() == 1  # its foreign key intact
    finally:
        engine.dispose()
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM fills WHERE account_id = 'DU2'"))
    engine.dispose()
    _downgrade(db_url, "0002")
    assert "account_key" not in _columns(db_url, "fills")
    engine = create_db_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM trade_history")).scalar_one() == 2
    finally:
        engine.dispose()
