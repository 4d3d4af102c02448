"""Fixtures for the gateway tests: a guard that fails a test on any ``ib_async`` ERROR log, and a running gateway.

The guard is the safety net the wire protocol needs: ``ib_async.Decoder`` does not raise on a malformed message, it
logs "Error handling fields" and the awaiting request hangs. So any ERROR record from ``ib_async.Decoder`` fails the
test, always; ERROR records from the other ``ib_async`` loggers (the wrapper logs every IB error code, the client
logs disconnects) fail it too unless the test declared them with ``ib_errors.allow(pattern)``.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from ib_async import IB

from quantdesk.gateway import GatewayConfig, GatewayServer

HOST = "127.0.0.1"
FAST = {"tick_interval": 0.05}


class IbErrorGuard(logging.Handler):
    """Collects ERROR records of the ``ib_async`` loggers; decoder errors are never allowed."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self._allowed: list[re.Pattern[str]] = []
        self._expect_decoder_errors = False

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def allow(self, *patterns: str) -> None:
        """Expect ERROR records (not from the decoder) whose message matches any of ``patterns``."""
        self._allowed += [re.compile(p) for p in patterns]

    def expect_decoder_errors(self) -> None:
        """For the test that proves the guard works: decoder errors are the expected outcome."""
        self._expect_decoder_errors = True

    def decoder_errors(self) -> list[logging.LogRecord]:
        """Records logged by ``ib_async.Decoder``."""
        return [r for r in self.records if r.name == "ib_async.Decoder"]

    def unexpected(self) -> list[str]:
        """Messages of the records the test did not allow."""
        bad = []
        for r in self.records:
            msg = r.getMessage()
            if r.name == "ib_async.Decoder":
                if not self._expect_decoder_errors:
                    bad.append(f"{r.name}: {msg}")
            elif not any(p.search(msg) for p in self._allowed):
                bad.append(f"{r.name}: {msg}")
        return bad


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gateway_e2e: talks to a running gateway over a real socket")


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
