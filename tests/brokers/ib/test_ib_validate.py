"""``quantdesk validate``: the service against the gateway, and the command through a local typer app."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from quantdesk.brokers.ib import LoopThread, ValidationOptions, run_validation
from quantdesk.cli.validate_cmd import validate
from quantdesk.config import LIVE_CONFIRMATION_PHRASE
from quantdesk.errors import ConfigError, LiveTradingNotConfirmed
from quantdesk.gateway import GatewayServer

ALL_STEPS = ["connection", "accounts", "account summary", "positions", "quote", "bars"]


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(validate)
    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def gateway_thread(make_gateway_config: Any) -> Iterator[GatewayServer]:
    thread = LoopThread("gateway")

    async def start() -> GatewayServer:
        return await GatewayServer(make_gateway_config()).start()

    gw = thread.run(start())
    try:
        yield gw
    finally:
        thread.run(gw.stop())
        thread.stop()


def test_every_check_passes_against_the_gateway(make_gateway_config: Any) -> None:
    async def main() -> None:
        async with GatewayServer(make_gateway_config()) as gw:
            gw.accounts.set_position(gw.accounts.ids[0], 265598, 10, 150.0)
            report = await run_validation(ValidationOptions(port=gw.port, client_id=9, timeout=3))
            assert [c.name for c in report.checks] == ALL_STEPS
            assert report.ok, [c.line for c in report.checks]
            lines = {c.name: c.line for c in report.checks}
            assert lines["connection"].startswith(f"✓ connection: connected to 127.0.0.1:{gw.port} as client 9")
            assert "DU1000001 (paper), DU1000002 (paper)" in lines["accounts"]
            assert "1 position(s)" in lines["positions"]
            assert "AAPL bid" in lines["quote"]
            assert "(live data)" in lines["quote"]
            assert "five-minute bars of AAPL" in lines["bars"]
            assert report.to_dict()["ok"] is True

    asyncio.run(main())


def test_nothing_listening_is_one_red_line_with_the_fix(ib_errors: Any) -> None:
    ib_errors.allow_refused()

    async def main() -> None:
        report = await run_validation(ValidationOptions(port=_free_port(), client_id=9, timeout=3))
        assert not report.ok
        first, *rest = report.checks
        assert first.line.startswith("✗ connection: nothing is listening on 127.0.0.1:")
        assert "fix: start TWS or IB Gateway" in first.line
        assert all(c.skipped for c in rest)
        assert [c.name for c in rest] == ALL_STEPS[1:]

    asyncio.run(main())


def test_the_command_prints_json(gateway_thread: GatewayServer) -> None:
    result = CliRunner().invoke(_app(), ["--port", str(gateway_thread.port), "--client-id", "13", "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["client_id"] == 13
    assert [c["name"] for c in doc["checks"]] == ALL_STEPS


def test_the_command_prints_lines_and_fails_with_exit_code_1(ib_errors: Any) -> None:
    ib_errors.allow_refused()
    result = CliRunner().invoke(_app(), ["--port", str(_free_port())], env={"COLUMNS": "300"})
    assert result.exit_code == 1
    assert "✗ connection: nothing is listening" in result.stdout
    assert "not ready" in result.stdout


def test_full_test_refuses_a_live_port_without_live() -> None:
    result = CliRunner().invoke(_app(), ["--port", "7496", "--full-test"])
    assert isinstance(result.exception, ConfigError)
    assert result.exception.field == "--live"
    assert "7496 is the TWS live port" in str(result.exception)


def test_full_test_on_a_live_port_needs_the_interactive_yes_and_a_live_config() -> None:
    declined = CliRunner().invoke(_app(), ["--port", "4001", "--full-test", "--live"], input="n\n")
    assert declined.exit_code == 1
    assert "LIVE account" in declined.stdout
    paper_config = CliRunner().invoke(_app(), ["--port", "4001", "--full-test", "--live"], input="y\n")
    assert isinstance(paper_config.exception, ConfigError)
    assert "paper mode" in str(paper_config.exception)
    unconfirmed = CliRunner().invoke(
        _app(), ["--port", "4001", "--full-test", "--live"], input="y\n", env={"QUANTDESK__MODE": "live"}
    )
    assert isinstance(unconfirmed.exception, LiveTradingNotConfirmed)  # live needs live.confirm and --live
    live = {"QUANTDESK__MODE": "live", "QUANTDESK__LIVE__CONFIRM": LIVE_CONFIRMATION_PHRASE}
    live_config = CliRunner().invoke(_app(), ["--port", "4001", "--full-test", "--live"], input="y\n", env=live)
    assert "Checking IB at 127.0.0.1:4001" in live_config.stdout  # confirmed twice: the checks run
    assert "test order" in live_config.stdout


def test_the_service_refuses_orders_on_a_live_port_by_itself() -> None:
    async def main() -> None:
        options = ValidationOptions(port=7496, full_test=True)
        assert options.live_port
        assert not options.allow_live_orders

    asyncio.run(main())


def test_full_test_places_and_cancels_an_order(make_gateway_config: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 201, reqId \d+: Order rejected - reason:the gateway has no order handling installed")
    ib_errors.allow(r"Error 202, reqId \d+: Order Cancell?ed")

    async def main() -> None:
        async with GatewayServer(make_gateway_config()) as gw:
            report = await run_validation(ValidationOptions(port=gw.port, client_id=9, timeout=3, full_test=True))
            order = report.checks[-1]
            assert order.name == "test order"
            if not order.ok and "no order handling installed" in order.detail:
                pytest.xfail("gateway order handling not merged yet")
            assert order.ok, order.line
            assert "and cancelled it" in order.detail

    asyncio.run(main())
