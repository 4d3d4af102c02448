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
    assert "1 break." in text.stdout  # table cells may wrap, so the kind is checked in the JSON above
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


def test_a_reconciliation_at_80_columns_keeps_every_value_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    from quantdesk.cli import output
    from quantdesk.cli.output import Output
    from quantdesk.cli.trading_cmd import _print_reconciliation
    from quantdesk.oms.reconciliation import Break, ReconciliationReport

    missed = Break(
        "missed_fill", "execution 0000e0d5.6751f4c2.01.02 was missing from the database; applied", "applied",
        "UNH.STK.SMART.USD", "qd-20261201-0001", broker="620000", database="310000.000000000000",
    )  # fmt: skip
    held = {"UNH.STK.SMART.USD": (Decimal(930_700), Decimal("930700.000000000000"))}
    report = ReconciliationReport(datetime(2026, 12, 1, tzinfo=UTC), 1, 5, (missed,), held)
    monkeypatch.setattr(output.console, "_width", 80)
    _print_reconciliation(Output(False), report.to_dict())
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Reconciled 1 broker order and 5 executions: 1 break."
    assert all(len(line) <= 80 for line in lines)
    row = next(line for line in lines if line.startswith("missed_fill"))
    assert row.split()[:5] == ["missed_fill", "applied", "UNH", "620,000", "310,000"]
    assert "0000e0d5.6751f4c2.01.02" in "\n".join(lines)  # the message wraps between words, never inside one
    assert next(line for line in lines if line.startswith("UNH ")).split() == ["UNH", "930,700", "930,700"]
