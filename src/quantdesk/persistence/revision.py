"""The schema revision without loading Alembic: the one stored in the database and the newest one shipped.

Read commands and the migrate-on-open path check these first; Alembic (slow to import) runs only for a migration.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

__all__ = ["VERSIONS_DIR", "shipped_head", "stored_revision"]

VERSIONS_DIR = Path(__file__).resolve().parent / "migrations" / "versions"
_VERSION_TABLE = "alembic_version"


def _assigned(tree: ast.Module, name: str) -> str | None:
    for node in tree.body:
        targets: list[ast.expr]
        if isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        elif isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        else:
            continue
        if value is not None and any(isinstance(t, ast.Name) and t.id == name for t in targets):
            found = ast.literal_eval(value)
            return found if isinstance(found, str) else None
    return None


@cache
def shipped_head() -> str:
    """The newest migration shipped with this quantdesk (the one no other revises), read from the version files."""
    revisions: dict[str, str | None] = {}
    for path in sorted(VERSIONS_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        revision = _assigned(tree, "revision")
        if revision is not None:
            revisions[revision] = _assigned(tree, "down_revision")
    heads = set(revisions) - {down for down in revisions.values() if down is not None}
    if len(heads) != 1:
        raise RuntimeError(f"the shipped migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def stored_revision(db: Engine | Connection) -> str | None:
    """The revision recorded in the database (``None`` for a database never migrated)."""
    if isinstance(db, Engine):
        with db.connect() as conn:
            return stored_revision(conn)
    if not inspect(db).has_table(_VERSION_TABLE):
        return None
    rows = db.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:
        raise RuntimeError(f"the database records {len(rows)} schema heads: {sorted(rows)}")
    return str(rows[0]) if rows else None
