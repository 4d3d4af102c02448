"""``quantdesk kill-switch`` and ``quantdesk reconcile`` through the real command registry, against the gateway."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import quantdesk.cli.main
from quantdesk.cli import commands
from quantdesk.cli.output import error_line
from quantdesk.errors import ValidationError

app = typer.Typer()
app.callback()(quantdesk.cli.main.main)
commands.register(app)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("QUANTDESK__DATABASE__URL", f"sqlite:///{tmp_path / 'qd.db'}")

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})

    return invoke


def as_json(result: Any) -> dict[str, Any]:
    assert result.exit_code == 0, (result.output, result.exception)
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_kill_switch_moves_through_its_states_and_keeps_them(cli: Any) -> None:
    assert as_json(cli("kill-switch", "status", "--json"))["state"] == "ACTIVE"
    assert as_json(cli("kill-switch", "reduce", "--reason", "drawdown review", "--json"))["state"] == "REDUCING"
    status = as_json(cli("kill-switch", "status", "--json"))
    assert status["state"] == "REDUCING"
    assert status["reason"] == "drawdown review"
    assert status["changed_by"] == "cli"
    halted = as_json(cli("kill-switch", "halt", "--no-cancel", "--json"))
    assert halted == {"state": "HALTED", "cancelled": []}
    text = cli("kill-switch", "status")
    assert "HALTED" in text.stdout
    assert as_json(cli("kill-switch", "resume", "--reason", "reviewed", "--json"))["state"] == "ACTIVE"


def test_halt_cancels_working_orders_at_the_broker(cli: Any) -> None:
    doc = as_json(cli("kill-switch", "halt", "--broker", "gateway", "--reason", "test", "--json"))
    assert doc["state"] == "HALTED"
    assert doc["cancelled"] == []  # a fresh simulator has nothing working; the OMS path still ran
    assert as_json(cli("kill-switch", "status", "--json"))["state"] == "HALTED"


def test_reconcile_against_a_fresh_gateway_is_clean(cli: Any) -> None:
    doc = as_json(cli("reconcile", "--broker", "gateway", "--json"))
    assert doc["clean"] is True
    assert doc["breaks"] == []
    text = cli("reconcile", "--broker", "gateway")
    assert text.exit_code == 0, text.output
    assert "no breaks" in text.stdout


def test_reconcile_compares_the_broker_with_a_target_file(cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "target.csv"
    target.write_text("symbol,quantity\nAAPL,10\nMSFT,0\n")
    doc = as_json(cli("reconcile", "--broker", "gateway", "--target", str(target), "--json"))
    assert doc["clean"] is False
    (brk,) = doc["breaks"]  # the fresh paper account holds nothing: AAPL is off target, MSFT flat as wanted
    assert (brk["kind"], brk["instrument_id"], brk["target"], brk["broker"], brk["database"]) == (
        "target_mismatch", "AAPL.STK.SMART.USD", "10", "0", "0",
    )  # fmt: skip
    assert doc["positions"]["MSFT.STK.SMART.USD"] == {"target": "0", "broker": "0", "database": "0"}
    text = cli("reconcile", "--broker", "gateway", "--target", str(target))
    assert text.exit_code == 0, text.output
    assert "1 break(s)" in text.stdout  # table cells may wrap, so the kind is checked in the JSON above
    assert "target" in text.stdout.split("Positions", 1)[1]
    target.write_text("symbol,quantity\nAAPL,ten\n")
    bad = cli("reconcile", "--broker", "gateway", "--target", str(target))
    assert bad.exit_code != 0
    assert isinstance(bad.exception, ValidationError)  # main.run prints it as one line
    assert error_line(bad.exception).startswith("error: --target line 2 quantity: is not a number: 'ten'")


def test_an_unreachable_broker_is_one_clear_line(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTDESK__IB__PORT", "1")
    monkeypatch.setenv("QUANTDESK__IB__CONNECT_TIMEOUT", "1")
    monkeypatch.setenv("QUANTDESK__IB__AUTO_RECONNECT", "false")
    result = cli("reconcile", "--broker", "ib")
    assert result.exit_code != 0
    assert "Traceback" not in result.output


def test_a_halt_with_nothing_listening_says_the_halt_is_stored_and_the_cancel_failed(
    cli: Any, monkeypatch: pytest.MonkeyPatch, ib_errors: Any
) -> None:
    ib_errors.allow_refused()
    monkeypatch.setenv("QUANTDESK__IB__PORT", "1")
    monkeypatch.setenv("QUANTDESK__IB__CONNECT_TIMEOUT", "1")
    monkeypatch.setenv("QUANTDESK__IB__AUTO_RECONNECT", "false")
    result = cli("kill-switch", "halt", "--reason", "outage drill")
    assert result.exit_code == 7, (result.output, result.exception)
    assert "HALTED (outage drill) is stored" in result.stdout
    assert "cancelling the working orders failed: error: ib.port: nothing is listening" in result.stderr
    assert "quantdesk cancel --all" in result.stderr
    doc = json.loads(cli("kill-switch", "halt", "--reason", "again", "--json").stdout)
    assert (doc["state"], doc["cancelled"]) == ("HALTED", None)
    assert doc["cancel_error"].startswith("error: ib.port: nothing is listening")
    assert as_json(cli("kill-switch", "status", "--json"))["state"] == "HALTED"


def test_status_shows_the_kill_switch_history_newest_last(cli: Any) -> None:
    for action, reason in (("reduce", "drawdown review"), ("halt", "loss limit"), ("resume", "reviewed")):
        extra = ["--no-cancel"] if action == "halt" else []
        assert cli("kill-switch", action, "--reason", reason, *extra).exit_code == 0
    doc = as_json(cli("kill-switch", "status", "--json"))
    changes = [h["change"] for h in doc["history"]]
    assert changes == [
        "ACTIVE -> REDUCING by cli: drawdown review",
        "REDUCING -> HALTED by cli: loss limit",
        "HALTED -> ACTIVE by cli: reviewed",
    ]
    assert [h["change"] for h in as_json(cli("kill-switch", "status", "--limit", "1", "--json"))["history"]] == [
        "HALTED -> ACTIVE by cli: reviewed"
    ]
    text = cli("kill-switch", "status")
    assert "Kill-switch history (last 3, newest last)" in text.stdout
    assert text.stdout.index("drawdown review") < text.stdout.index("loss limit") < text.stdout.rindex("reviewed")
