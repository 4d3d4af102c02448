"""``quantdesk orders | fills | history`` through a local typer app (the lead registers the real ones)."""

from __future__ import annotations

import csv
import json
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import quantdesk.cli.main
from quantdesk.cli import output
from quantdesk.cli.orders_cmd import fills, history, orders
from quantdesk.cli.output import error_line
from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.errors import ConfigError, DataError, ValidationError
from quantdesk.persistence import commands, create_db_engine
from quantdesk.persistence.repositories import FillRepository, OrderIntentRepository

app = typer.Typer(pretty_exceptions_enable=False)
app.callback()(quantdesk.cli.main.main)
app.command("orders")(orders)
app.command("fills")(fills)
app.command("history")(history)

T0 = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)
D = Decimal


@pytest.fixture(autouse=True)
def _wide_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as wide as they need, so cells are not folded (the console is built once, at import)."""
    monkeypatch.setattr(output.console, "_width", 250)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})


def run_json(*args: str) -> dict[str, Any]:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, (result.output, result.exception)
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated SQLite database with two AAPL orders (one cancelled) and their fills, one MSFT order working."""
    url = f"sqlite:///{tmp_path / 'cli' / 'qd.db'}"
    monkeypatch.setenv("QUANTDESK__DATABASE__URL", url)
    commands.upgrade(url)
    engine = create_db_engine(url)
    try:
        intents, recorded = OrderIntentRepository(engine), FillRepository(engine)
        aapl = Stock("AAPL")
        intents.insert(Order.limit(aapl, "BUY", 100, D("187.25"), account="DU1", client_order_id="qd-b"), T0)
        intents.insert(Order.market(aapl, "SELL", 60, account="DU1", client_order_id="qd-s"), T0 + timedelta(days=1))
        intents.insert(
            Order.limit(Stock("MSFT"), "BUY", 5, D(400), account="DU2", strategy_id="rev", client_order_id="qd-m"),
            T0 + timedelta(days=2),
        )
        intents.mark(ClientOrderId("qd-b"), OrderStatus.CANCELLED, "user cancel", T0)
        intents.mark(ClientOrderId("qd-s"), OrderStatus.REJECTED, "201: no shares", T0, error_code=201)
        for eid, cid, side, qty, px, day in (
            ("e1", "qd-b", "BUY", 100, "187.25", 0),
            ("e2", "qd-s", "SELL", 60, "190", 1),
        ):
            ts = T0 + timedelta(days=day, seconds=5)
            fill = Fill.of(eid, cid, "AAPL.STK.SMART.USD", side, qty, D(px), ts, account="DU1", commission=D("1.5"))
            recorded.record(fill, ts)
    finally:
        engine.dispose()
    return url


def test_orders_table_lists_open_orders_by_default(db: str) -> None:
    result = invoke("orders")
    assert result.exit_code == 0, result.output
    assert "open orders" in result.output
    assert "qd-m" in result.output
    assert "MSFT.STK.SMART.USD" in result.output
    assert "qd-b" not in result.output


def test_orders_json_with_status_and_filters(db: str) -> None:
    doc = run_json("orders", "--status", "DONE")
    assert [o["client_order_id"] for o in doc["orders"]] == ["qd-b", "qd-s"]
    assert doc["orders"][1]["reason"] == "201: no shares"
    assert doc["orders"][1]["error_code"] == 201
    doc = run_json("orders", "--status", "all", "--symbol", "aapl", "--side", "sell")
    assert [o["client_order_id"] for o in doc["orders"]] == ["qd-s"]
    doc = run_json("orders", "--status", "all", "--since", "2025-03-04", "--until", "2025-03-04")
    assert [o["client_order_id"] for o in doc["orders"]] == ["qd-s"]  # a bare --until date covers that day
    assert doc["filters"]["until"] == "2025-03-05T00:00:00+00:00"
    doc = run_json("orders", "--status", "all", "--strategy", "rev", "--account", "DU2", "--limit", "1")
    assert doc["count"] == 1


def test_no_matching_orders_says_so(db: str) -> None:
    result = invoke("orders", "--account", "DU-none")
    assert result.exit_code == 0
    assert "No open orders match." in result.output


def test_fills_table_and_json(db: str) -> None:
    result = invoke("fills", "--side", "BUY")
    assert result.exit_code == 0, result.output
    assert "e1" in result.output
    assert "1.5 USD" in result.output
    assert "e2" not in result.output
    doc = run_json("fills", "--since", "2025-03-04T00:00:00+00:00")
    assert [(f["execution_id"], f["price"], f["commission"]) for f in doc["fills"]] == [("e2", "190", "1.5")]


def test_history_text_shows_trades_totals_and_method(db: str) -> None:
    result = invoke("history")
    assert result.exit_code == 0, result.output
    for expected in ("trade history", "totals per instrument", "totals per currency", "average-cost", "165", "162"):
        assert expected in result.output  # 165 = (190 − 187.25) × 60; net 165 − 3
    assert "No trades match." in invoke("history", "--symbol", "MSFT").output


def test_history_json(db: str) -> None:
    doc = run_json("history", "--account", "DU1")
    assert doc["method"] == "average-cost"
    assert [t["realised_pnl"] for t in doc["trades"]] == ["0", "165"]
    assert doc["instruments"][0]["net_pnl"] == "162"
    assert doc["currencies"][0]["commissions"] == "3"


@pytest.mark.parametrize(("command", "rows"), [("orders", 1), ("fills", 2), ("history", 2)])
def test_csv_export_writes_the_file_and_reports_it(db: str, tmp_path: Path, command: str, rows: int) -> None:
    path = tmp_path / "export" / f"{command}.csv"
    result = invoke(command, "--csv", str(path))
    assert result.exit_code == 0, result.output
    assert f"Wrote {rows}" in result.output
    with path.open(newline="") as fh:
        records = list(csv.DictReader(fh))
    assert len(records) == rows
    first_time = next(iter(records[0].values()))
    assert datetime.fromisoformat(first_time).tzinfo is not None
    doc = run_json(command, "--csv", str(path))
    assert doc == {"csv": str(path), "rows": rows}


def test_history_csv_values(db: str, tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    assert invoke("history", "--csv", str(path)).exit_code == 0
    rows = list(csv.DictReader(path.open(newline="")))
    assert [(r["execution_id"], r["realised_pnl"], r["position"], r["commission"]) for r in rows] == [
        ("e1", "0", "100", "1.5"),
        ("e2", "165", "40", "1.5"),
    ]
    assert rows[0]["ts"] == "2025-03-03T14:30:05+00:00"


@pytest.mark.parametrize(("option", "value"), [("--since", "last tuesday"), ("--until", "2025-02-30")])
@pytest.mark.parametrize("command", ["orders", "fills", "history"])
def test_a_bad_date_is_one_error_naming_the_option(db: str, command: str, option: str, value: str) -> None:
    result = invoke(command, option, value)
    assert result.exit_code != 0
    assert isinstance(result.exception, ValidationError)
    assert result.exception.field == option
    line = error_line(result.exception)
    assert line.startswith(f"error: {option}: is not a date or ISO time")
    assert "\n" not in line


@pytest.mark.parametrize(
    "args", [("orders", "--status", "working"), ("fills", "--side", "hold"), ("history", "--limit", "0")]
)
def test_bad_choices_are_usage_errors(db: str, args: tuple[str, ...]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert args[1] in result.output


def test_since_after_until_is_refused(db: str) -> None:
    result = invoke("fills", "--since", "2025-03-05", "--until", "2025-03-01")
    assert isinstance(result.exception, ValidationError)
    assert result.exception.field == "since"


def test_an_unmigrated_database_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    commands.upgrade(url, "0001")
    monkeypatch.setenv("QUANTDESK__DATABASE__URL", url)
    result = invoke("history")
    assert isinstance(result.exception, ConfigError)
    assert result.exception.field == "database.url"
    assert "quantdesk db upgrade" in error_line(result.exception)


@pytest.mark.parametrize("where", ["missing-root", "immutable"])
def test_history_csv_into_an_unwritable_folder_names_the_file_not_a_temp_file(
    db: str, tmp_path: Path, where: str
) -> None:
    folder = Path("/proc/no-such-folder") if where == "missing-root" else tmp_path / "locked"
    if where == "immutable":  # chattr +i refuses root too (EPERM), where chmod would not
        folder.mkdir()
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("chattr +i is not available on this file system")
    try:
        result = invoke("history", "--csv", str(folder / "h.csv"))
    finally:
        if where == "immutable":
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    assert isinstance(result.exception, DataError), result.exception
    assert result.exception.field == "--csv"
    text = str(result.exception)
    assert f"cannot write {folder / 'h.csv'}" in text
    assert ".tmp-" not in text
    assert "fix:" in text
