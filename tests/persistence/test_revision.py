"""The schema revision read without Alembic agrees with Alembic's own answer."""

from __future__ import annotations

from pathlib import Path

from quantdesk.persistence import commands, create_db_engine
from quantdesk.persistence.revision import shipped_head, stored_revision


def test_the_shipped_head_is_alembics_head() -> None:
    assert shipped_head() == commands.head()


def test_the_stored_revision_is_alembics_current_before_and_after_each_migration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'qd.db'}"
    engine = create_db_engine(url)
    try:
        assert stored_revision(engine) is None
        for revision in [r.revision for r in commands.history()]:
            commands.upgrade(url, revision)
            assert stored_revision(engine) == commands.current(url) == revision
    finally:
        engine.dispose()
