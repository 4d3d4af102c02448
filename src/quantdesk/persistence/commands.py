"""Drive Alembic programmatically: ``upgrade``, ``current`` and ``history`` against the packaged migrations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL

from quantdesk.persistence.engine import create_db_engine, normalise_url

__all__ = ["MIGRATIONS_DIR", "Revision", "alembic_config", "current", "head", "history", "upgrade"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True, slots=True)
class Revision:
    """One migration: its id, the one before it, its message and whether it is the head."""

    revision: str
    down_revision: str | None
    message: str
    is_head: bool


def alembic_config(url: str | URL) -> Config:
    """An Alembic ``Config`` whose ``script_location`` is the migrations shipped in this package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    rendered = normalise_url(url).render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return cfg


def upgrade(url: str | URL, revision: str = "head") -> str | None:
    """Migrate the database at ``url`` up to ``revision``; return the revision it is at afterwards."""
    cfg = alembic_config(url)
    engine = create_db_engine(url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()
    return current(url)


def current(url: str | URL) -> str | None:
    """The revision the database at ``url`` is at (``None`` for a database never migrated)."""
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision shipped with this version of quantdesk."""
    heads = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    return heads[0]


def history() -> list[Revision]:
    """Every shipped migration, oldest first."""
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    heads = set(script.get_heads())
    revisions = []
    for rev in script.walk_revisions():
        down = rev.down_revision
        revisions.append(
            Revision(
                revision=rev.revision,
                down_revision=down if isinstance(down, str) or down is None else ",".join(down),
                message=(rev.doc or "").strip(),
                is_head=rev.revision in heads,
            )
        )
    return list(reversed(revisions))
