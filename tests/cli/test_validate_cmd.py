"""``quantdesk validate`` flags a paper configuration pointed at a live port or a live account, as ``config
validate`` does; the session itself runs against the gateway simulator over a real socket."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import typer
from typer.testing import CliRunner

import quantdesk.cli.main
from quantdesk.brokers.ib import LoopThread
from quantdesk.cli.validate_cmd import validate
from quantdesk.gateway import GatewayConfig, GatewayServer

app = typer.Typer()
app.callback()(quantdesk.cli.main.main)
app.command("validate")(validate)


@pytest.fixture
def live_account_gateway() -> Iterator[GatewayServer]:
    """A gateway whose login is a live-looking account (U…)."""
    thread = LoopThread("gateway")

    async def start() -> GatewayServer:
        return await GatewayServer(GatewayConfig(port=0, speed=0, accounts=("U1234567",))).start()

    gw = thread.run(start())
    try:
        yield gw
    finally:
        thread.run(gw.stop())
        thread.stop()


def test_a_live_port_in_paper_mode_is_flagged() -> None:
    result = CliRunner().invoke(app, ["validate", "--port", "7496", "--json"])
    doc = json.loads(result.stdout)
    assert any(w.startswith("ib.port 7496 is the TWS live port but mode is paper") for w in doc["warnings"])


def test_a_live_account_in_paper_mode_is_flagged(live_account_gateway: GatewayServer) -> None:
    args = ["validate", "--port", str(live_account_gateway.port), "--client-id", "21"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 0, (result.output, result.exception)
    assert "warning: IB is logged in to the live account U1234567 but mode is paper" in result.stdout
    assert "see the warnings" in result.stdout
    paper = CliRunner().invoke(app, ["--set", "ib.account=U1234567", *args, "--json"])
    assert any(
        w.startswith("ib.account U1234567 looks like a live account") for w in json.loads(paper.stdout)["warnings"]
    )
