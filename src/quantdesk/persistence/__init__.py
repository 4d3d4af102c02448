"""Persistence: SQLAlchemy 2 models, Alembic migrations shipped in the package, and repositories.

Repositories take and return domain objects; the ORM rows in ``models`` never leave this package.
"""

from __future__ import annotations

from quantdesk.persistence.commands import current, head, history, upgrade
from quantdesk.persistence.engine import create_db_engine, normalise_url

__all__ = ["create_db_engine", "current", "head", "history", "normalise_url", "upgrade"]
