"""Fixtures of the risk tests."""

from __future__ import annotations

import pytest
from risk_support import ContextFactory, make_context


@pytest.fixture
def make_ctx() -> ContextFactory:
    """``make_ctx(**overrides)``: a ``RiskContext`` of a calm account (see ``risk_support.make_context``)."""
    return make_context
