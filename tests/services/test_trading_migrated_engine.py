"""``migrated_engine``: it migrates an empty or older database, and leaves a current one alone."""

from __future__ import annotations

from pathlib import Path

from quantdesk.config import load_settings
from quantdesk.persistence import commands
from quantdesk.persistence.revision import stored_revision
from quantdesk.services.trading import migrated_engine


def test_an_empty_and_an_older_database_are_migrated_to_the_head(tmp_path: Path) -> None:
    for name, start in (("empty.db", None), ("older.db", "0001")):
        url = f"sqlite:///{tmp_path / name}"
        if start is not None:
            commands.upgrade(url, start)
        engine = migrated_engine(load_settings(overrides={"database.url": url}))
        try:
            assert stored_revision(engine) == commands.head()
            with engine.connect() as conn:  # the engine handed back sees the new schema
                assert conn.exec_driver_sql("SELECT count(*) FROM reconciliation_breaks").scalar() == 0
        finally:
            engine.dispose()
