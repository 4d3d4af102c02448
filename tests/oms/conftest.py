"""Fixtures of the OMS tests: ``desk`` runs a test's trading sessions on each store backend (``oms_support.Desk``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from oms_support import Desk

_URL_FIXTURES = {"sqlite": "sqlite_url", "postgresql": "pg_url"}


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def desk(request: pytest.FixtureRequest) -> Iterator[Desk]:
    """Each test using it runs its sessions on the in-memory stores, SQLite and PostgreSQL."""
    url = None if request.param == "memory" else str(request.getfixturevalue(_URL_FIXTURES[request.param]))
    found = Desk(request.param, url)
    try:
        yield found
    finally:
        found.dispose()
