"""Fixtures for the IB adapter tests: an ``ib_async`` error guard, a running gateway and a broker for it.

Nothing here mocks ``ib_async``: the adapter talks to the gateway simulator over a real socket on a port the OS
chose. Any ERROR record of ``ib_async.Decoder`` fails the test (a malformed message would otherwise only be logged);
ERROR records of the other ``ib_async`` loggers fail it unless the test allowed them with ``ib_errors.allow``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from quantdesk.brokers.ib import IBBroker
from quantdesk.brokers.ib.pacing import PacingRules
from quantdesk.config import IBSettings
from quantdesk.gateway import GatewayConfig, GatewayServer


@pytest.fixture(autouse=True)
def _ib_error_guard(ib_errors: object) -> None:
    """Every test here runs under the suite's ``ib_async`` error guard (``tests/conftest.py``)."""


def gateway_config(**overrides: Any) -> GatewayConfig:
    """Fast pushes (every 50 ms), a frozen market unless ``speed`` is given."""
    return GatewayConfig(**{"tick_interval": 0.05, "speed": 0, **overrides})


def ib_settings(port: int, **overrides: Any) -> IBSettings:
    """IB settings for a gateway on ``port`` with short timeouts."""
    values: dict[str, Any] = {
        "port": port,
        "connect_timeout": 3.0,
        "request_timeout": 5.0,
        "reconnect_max_attempts": 8,
        **overrides,
    }
    return IBSettings(**values)


@contextlib.asynccontextmanager
async def _gateway_and_broker(
    data_dir: Path | None = None,
    *,
    connect: bool = True,
    settings: dict[str, Any] | None = None,
    backoff_base: float = 0.05,
    pacing: PacingRules | None = None,
    **gateway: Any,
) -> AsyncIterator[tuple[GatewayServer, IBBroker]]:
    async with GatewayServer(gateway_config(**gateway)) as gw:
        broker = IBBroker(
            ib_settings(gw.port, **(settings or {})), data_dir=data_dir, backoff_base=backoff_base, pacing=pacing
        )
        if connect:
            await broker.connect()
        try:
            yield gw, broker
        finally:
            await broker.close()


@pytest.fixture
def gateway_broker() -> Callable[..., contextlib.AbstractAsyncContextManager[tuple[GatewayServer, IBBroker]]]:
    """``async with gateway_broker(data_dir, **gateway_config) as (gw, broker)``: a gateway and a connected broker."""
    return _gateway_and_broker


@pytest.fixture
def make_gateway_config() -> Callable[..., GatewayConfig]:
    """Build a test :class:`GatewayConfig` (fast pushes, frozen market) with overrides."""
    return gateway_config


@pytest.fixture
def make_settings() -> Callable[..., IBSettings]:
    """``make_settings(port, **overrides)``: IB settings for a gateway with short timeouts."""
    return ib_settings
