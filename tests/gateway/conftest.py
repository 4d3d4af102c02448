"""Fixtures for the gateway tests: a running gateway, and the suite's ``ib_async`` error guard on every test.

The guard (``ib_errors``, in ``tests/conftest.py``) fails a test on any ERROR of ``ib_async.Decoder`` and on other
``ib_async`` ERROR records the test did not declare with ``ib_errors.allow(pattern)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from ib_async import IB

from quantdesk.gateway import GatewayConfig, GatewayServer

HOST = "127.0.0.1"
FAST = {"tick_interval": 0.05}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gateway_e2e: talks to a running gateway over a real socket")


@pytest.fixture(autouse=True)
def _ib_error_guard(ib_errors: object) -> None:
    """Every test here runs under the suite's ``ib_async`` error guard (``tests/conftest.py``)."""


def gateway_config(**overrides: Any) -> GatewayConfig:
    """A gateway config for tests: fast pushes, everything else default unless overridden."""
    return GatewayConfig(**{**FAST, **overrides})


@contextlib.asynccontextmanager
async def _running(
    config: GatewayConfig | None = None, *, client_id: int | None = 1, timeout: float = 5.0, **overrides: Any
) -> AsyncIterator[tuple[GatewayServer, IB]]:
    async with GatewayServer(config or gateway_config(**overrides)) as gw:
        ib = IB()
        if client_id is not None:
            await ib.connectAsync(HOST, gw.port, clientId=client_id, timeout=timeout, raiseSyncErrors=True)
        try:
            yield gw, ib
        finally:
            ib.disconnect()


@pytest.fixture
def running() -> Callable[..., contextlib.AbstractAsyncContextManager[tuple[GatewayServer, IB]]]:
    """``async with running(**config_overrides) as (gw, ib)``: a gateway on port 0 and a connected client."""
    return _running


@pytest.fixture
def make_config() -> Callable[..., GatewayConfig]:
    """Build a test :class:`GatewayConfig` with overrides."""
    return gateway_config
