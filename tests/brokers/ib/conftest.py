"""Fixtures for the IB adapter tests: an ``ib_async`` error guard, a running gateway and a broker for it.

Nothing here mocks ``ib_async``: the adapter talks to the gateway simulator over a real socket on a port the OS
chose. Any ERROR record of ``ib_async.Decoder`` fails the test (a malformed message would otherwise only be logged);
ERROR records of the other ``ib_async`` loggers fail it unless the test allowed them with ``ib_errors.allow``.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from quantdesk.brokers.ib import IBBroker
from quantdesk.brokers.ib.pacing import PacingRules
from quantdesk.config import IBSettings
from quantdesk.gateway import GatewayConfig, GatewayServer

DROPPED = (r"Peer closed connection", r"Connection reset by peer", r"Connection lost", r"\[Errno", r"Socket disconnect")
REFUSED = (r"API connection failed", r"Make sure API port")


class IbErrorGuard(logging.Handler):
    """Collects ERROR records of the ``ib_async`` loggers; decoder errors are never allowed."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self._allowed: list[re.Pattern[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def allow(self, *patterns: str) -> None:
        """Expect ERROR records (not from the decoder) whose message matches any of ``patterns``."""
        self._allowed += [re.compile(p) for p in patterns]

    def allow_drops(self) -> None:
        """Expect the records ``ib_async`` logs when the socket goes."""
        self.allow(*DROPPED)

    def allow_refused(self) -> None:
        """Expect the records ``ib_async`` logs when a connection attempt fails."""
        self.allow(*REFUSED)

    def unexpected(self) -> list[str]:
        """Messages of the records the test did not allow."""
        bad = []
        for r in self.records:
            msg = r.getMessage()
            if r.name == "ib_async.Decoder" or not any(p.search(msg) for p in self._allowed):
                bad.append(f"{r.name}: {msg}")
        return bad


@pytest.fixture(autouse=True)
def ib_errors() -> Iterator[IbErrorGuard]:
    """Fail the test on ERROR records of ``ib_async`` (see the module docstring)."""
    guard = IbErrorGuard()
    logger = logging.getLogger("ib_async")
    logger.addHandler(guard)
    previous = logger.level
    if logger.getEffectiveLevel() > logging.ERROR:
        logger.setLevel(logging.ERROR)
    try:
        yield guard
    finally:
        logger.removeHandler(guard)
        logger.setLevel(previous)
    bad = guard.unexpected()
    if bad:
        pytest.fail("ib_async logged errors:\n" + "\n".join(bad[:20]), pytrace=False)


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
