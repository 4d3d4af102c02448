"""``quantdesk kill-switch`` and ``quantdesk reconcile`` through the real command registry, against the gateway."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import quantdesk.cli.main
from quantdesk.brokers.ib import LoopThread
from quantdesk.cli import commands
from quantdesk.cli.output import error_line
from quantdesk.domain.fills import Fill
from quantdesk.errors import ValidationError
from quantdesk.gateway import GatewayConfig, GatewayServer
from quantdesk.persistence import create_db_engine, upgrade
from quantdesk.persistence.repositories import FillRepository

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
    [account] = doc["accounts"]
    assert (account["account"], account["clean"], account["breaks"]) == ("DU1000001", True, [])
    text = cli("reconcile", "--broker", "gateway")
    assert text.exit_code == 0, text.output
    assert "no breaks" in text.stdout


def test_reconcile_compares_the_broker_with_a_target_file(cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "target.csv"
    target.write_text("symbol,quantity\nAAPL,10\nMSFT,0\n")
    doc = as_json(cli("reconcile", "--broker", "gateway", "--target", str(target), "--json"))["accounts"][0]
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


@pytest.fixture
def two_account_login(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GatewayServer]:
    """A gateway (own loop thread) whose login has two accounts; the CLI's ``--broker ib`` points at it."""
    thread = LoopThread("gateway")

    async def start() -> GatewayServer:
        return await GatewayServer(GatewayConfig(port=0, speed=0, tick_interval=0.02)).start()

    gw = thread.run(start())
    monkeypatch.setenv("QUANTDESK__IB__HOST", "127.0.0.1")
    monkeypatch.setenv("QUANTDESK__IB__PORT", str(gw.port))
    try:
        yield gw
    finally:
        thread.run(gw.stop())
        thread.stop()


def test_reconcile_compares_each_account_with_its_own_fills(
    cli: Any, two_account_login: GatewayServer, tmp_path: Path
) -> None:
    """One account against the database summed over both showed ``AAPL: broker 558, database 1107``."""
    gw = two_account_login
    url = f"sqlite:///{tmp_path / 'qd.db'}"
    upgrade(url)
    engine = create_db_engine(url)
    fills = FillRepository(engine)
    t0 = datetime(2025, 3, 3, 15, tzinfo=UTC)
    for n, (account, quantity) in enumerate((("DU1000001", 548), ("DU1000002", 559))):
        gw.accounts.set_position(account, 265598, quantity, 150.0)
        fills.record(Fill.of(f"e{n}", f"qd-{n}", "AAPL.STK.SMART.USD", "BUY", quantity, 150, t0, account=account), t0)
    engine.dispose()
    doc = as_json(cli("reconcile", "--broker", "ib", "--json"))
    assert doc["clean"] is True, doc
    assert [
        (a["account"], {k: (Decimal(v["broker"]), Decimal(v["database"])) for k, v in a["positions"].items()})
        for a in doc["accounts"]
    ] == [
        ("DU1000001", {"AAPL.STK.SMART.USD": (548, 548)}),
        ("DU1000002", {"AAPL.STK.SMART.USD": (559, 559)}),
    ]
    one = as_json(cli("reconcile", "--broker", "ib", "--account", "DU1000002", "--json"))
    assert [a["account"] for a in one["accounts"]] == ["DU1000002"]
    text = cli("reconcile", "--broker", "ib")
    assert text.exit_code == 0, text.output
    assert "DU1000001: reconciled" in text.stdout
    assert "DU1000002: reconciled" in text.stdout
    target = tmp_path / "target.csv"
    target.write_text("symbol,quantity\nAAPL,10\n")
    bad = cli("reconcile", "--broker", "ib", "--target", str(target))
    assert bad.exit_code != 0
    assert error_line(bad.exception).startswith("error: --account: the login has 2 accounts")


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
        instrument_id="UNH.STK.SMART.USD", client_order_id="qd-20261201-0001",
        broker="620000", database="310000.000000000000",
    )  # fmt: skip
    held = {"UNH.STK.SMART.USD": (Decimal(930_700), Decimal("930700.000000000000"))}
    report = ReconciliationReport(datetime(2026, 12, 1, tzinfo=UTC), 1, 5, (missed,), held)
    monkeypatch.setattr(output.console, "_width", 80)
    _print_reconciliation(Output(False), {"clean": False, "accounts": [report.to_dict()]})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Reconciled 1 broker order and 5 executions: 1 break."
    assert all(len(line) <= 80 for line in lines)
    row = next(line for line in lines if line.startswith("missed_fill"))
    assert row.split()[:5] == ["missed_fill", "applied", "UNH", "620,000", "310,000"]
    assert "0000e0d5.6751f4c2.01.02" in "\n".join(lines)  # the message wraps between words, never inside one
    assert next(line for line in lines if line.startswith("UNH ")).split() == ["UNH", "930,700", "930,700"]


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
