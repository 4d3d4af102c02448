"""Persistence: SQLAlchemy 2 models, Alembic migrations shipped in the package, and repositories.

Repositories take and return domain objects; the ORM rows in ``models`` never leave this package. The Alembic
commands (``current``, ``head``, ``history``, ``upgrade``) are imported on first use: Alembic is slow to load and
only ``quantdesk db`` and an actual migration need it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from quantdesk.persistence.engine import create_db_engine, normalise_url

if TYPE_CHECKING:
    from quantdesk.persistence.commands import current, head, history, upgrade

__all__ = ["create_db_engine", "current", "head", "history", "normalise_url", "upgrade"]

_FROM_COMMANDS = frozenset({"current", "head", "history", "upgrade"})


def __getattr__(name: str) -> Any:
    if name in _FROM_COMMANDS:
        value = getattr(importlib.import_module("quantdesk.persistence.commands"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
