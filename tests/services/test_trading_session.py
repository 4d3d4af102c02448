"""The trading session's shutdown: a session that fails while it starts (Ctrl-C during connect or the first
reconciliation) leaves no listener behind that writes to its closed journal."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

import quantdesk.services.trading as trading
from quantdesk.brokers.ib import IBBroker
from quantdesk.config import Settings
from quantdesk.gateway import GatewayConfig, GatewayServer


def _settings(tmp_path: Path, port: int) -> Settings:
    return Settings.model_validate(
        {"database": {"url": f"sqlite:///{tmp_path / 'qd.db'}"},
         "ib": {"port": port, "account": "DU1000001", "connect_timeout": 3}}
    )  # fmt: skip


def test_a_session_failing_on_start_leaves_nothing_writing_to_its_closed_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, ib_errors: Any
) -> None:
    async def interrupted(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("interrupted during the first reconciliation")

    monkeypatch.setattr(trading, "reconcile", interrupted)

    async def main() -> None:
        async with GatewayServer(GatewayConfig(accounts=("DU1000001",), speed=0)) as gw:
            settings = _settings(tmp_path, gw.port)
            broker = IBBroker(settings.ib)
            await broker.connect()
            with pytest.raises(RuntimeError, match="interrupted"):
                async with trading.trading_session(settings, broker):
                    pass
            await broker.disconnect()  # the kill switch hears of it: nothing may write to the closed journal

    with caplog.at_level(logging.ERROR):
        asyncio.run(main())
    assert not [r for r in caplog.records if "journal is closed" in (r.exc_text or "") + r.getMessage()]
    assert not [r for r in caplog.records if r.exc_info and "JournalClosed" in repr(r.exc_info[1])]


def test_a_session_closes_when_the_monitor_swallows_its_cancel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.11's ``asyncio.wait_for`` (in our code once, in libraries still) returns a result that arrives with
    the cancel instead of raising it; the monitor must stop all the same, or the command never exits."""
    entered = asyncio.Event()

    async def swallowing(*_args: Any, **_kwargs: Any) -> None:
        entered.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return  # what wait_for did when the account summary arrived as the session closed

    monkeypatch.setattr(trading, "_equity_check", swallowing)

    async def main() -> None:
        async with GatewayServer(GatewayConfig(accounts=("DU1000001",), speed=0)) as gw:
            settings = _settings(tmp_path, gw.port)
            broker = IBBroker(settings.ib)
            await broker.connect()
            try:
                async with asyncio.timeout(60):  # a hang guard, not a speed limit: closing takes well under 1 s
                    async with trading.trading_session(settings, broker):
                        await entered.wait()
            finally:
                await broker.disconnect()

    asyncio.run(main())
