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
from quantdesk.domain.order_state import OrderState, OrderStatus
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
    assert "MSFT" in result.output
    assert "MSFT.STK.SMART.USD" not in result.output  # symbols by default; the id with --wide
    assert "MSFT.STK.SMART.USD" in invoke("orders", "--wide").output
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
    assert result.output == "no open orders for account DU-none\n"


def test_fills_table_and_json(db: str) -> None:
    result = invoke("fills", "--side", "BUY")
    assert result.exit_code == 0, result.output
    assert "e1" in result.output
    assert "1.50 USD" in result.output
    assert "e2" not in result.output
    doc = run_json("fills", "--since", "2025-03-04T00:00:00+00:00")
    assert [(f["execution_id"], f["price"], f["commission"]) for f in doc["fills"]] == [("e2", "190", "1.5")]


def test_history_text_shows_trades_totals_and_method(db: str) -> None:
    result = invoke("history")
    assert result.exit_code == 0, result.output
    for expected in (
        "trade history",
        "totals per instrument",
        "totals per currency",
        "average-cost",
        "165.00",
        "162.00",
    ):
        assert expected in result.output  # 165 = (190 − 187.25) × 60; net 165 − 3
    assert invoke("history", "--symbol", "MSFT").output == "no trades in MSFT\n"


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


# --- at 80 columns, on the kind of record issue #14 showed ------------------------------------------------------

UNH_ID = "UNH.STK.SMART.USD"
UNH_FILLS = (
    ("0000e0d5.01", 310_000, "178.70", "2"),
    ("0000e0d5.02", 620_000, "178.75", "1.25"),
    ("0000e0d5.03", 700, "178.73", "1.25"),
)


@pytest.fixture
def unh_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """One UNH order of 1,000,000 shares partly filled at three prices (a 25-digit average), commissions 2 and 1.25."""
    url = f"sqlite:///{tmp_path / 'unh' / 'qd.db'}"
    monkeypatch.setenv("QUANTDESK__DATABASE__URL", url)
    commands.upgrade(url)
    engine = create_db_engine(url)
    try:
        intents, recorded = OrderIntentRepository(engine), FillRepository(engine)
        order = Order.limit(
            Stock("UNH"), "BUY", 1_000_000, D("178.80"), account="DU1234567", strategy_id="momentum-long",
            client_order_id="qd-20261201-0001",
        )  # fmt: skip
        t0 = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
        intents.insert(order, t0)
        state = OrderState.new("qd-20261201-0001", 1_000_000, t0).apply_status(OrderStatus.PENDING_SUBMIT, t0)
        state = state.apply_status(OrderStatus.SUBMITTED, t0)
        for eid, qty, px, commission in UNH_FILLS:
            ts = t0 + timedelta(seconds=5)
            fill = Fill.of(
                eid, "qd-20261201-0001", UNH_ID, "BUY", qty, D(px), ts, account="DU1234567", commission=D(commission)
            )
            recorded.record(fill, ts)
            state = state.apply_fill(fill)
        intents.update_state(state)
    finally:
        engine.dispose()
    return url


def at_80(monkeypatch: pytest.MonkeyPatch, *args: str) -> list[str]:
    monkeypatch.setattr(output.console, "_width", 80)
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "80"})
    assert result.exit_code == 0, (result.output, result.exception)
    lines: list[str] = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines), result.output
    return lines


def has(lines: list[str], value: str) -> bool:
    """``value`` whole on one line (a value folded across lines is not found)."""
    return any(value in line for line in lines)


@pytest.mark.parametrize(
    ("args", "values"),
    [
        (("orders",), ["2026-12-01 14:30", "UNH", "1,000,000", "178.80", "930,700", "PART-FILLED"]),
        (("fills",), ["2026-12-01 14:30:05", "UNH", "310,000", "178.70", "2.00 USD", "1.25 USD"]),
        (("history",), ["2026-12-01 14:30", "UNH", "620,000", "178.75", "930,700", "178.73", "4.50 USD"]),
    ],
)
def test_at_80_columns_no_value_is_split_and_symbols_are_shown(
    unh_db: str, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], values: list[str]
) -> None:
    lines = at_80(monkeypatch, *args)
    for value in values:
        assert has(lines, value), (value, "\n".join(lines))
    text = "\n".join(lines)
    assert UNH_ID not in text
    assert "178.7271" not in text
    assert "1,000,000.0" not in text


def test_at_80_columns_orders_name_the_columns_left_out(unh_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = at_80(monkeypatch, "orders")
    assert "qd-20261201-0001" not in "\n".join(lines)
    assert any(line.startswith("hidden at 80 columns:") and "order id" in line for line in lines)


def test_wide_shows_every_column_and_the_full_id(unh_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output.console, "_width", 80)
    result = CliRunner().invoke(app, ["orders", "--wide"], env={"COLUMNS": "80"})
    row = next(line for line in result.output.splitlines() if "qd-20261201-0001" in line)
    for value in (UNH_ID, "DU1234567", "momentum-long", "2026-12-01 14:30:00", "178.73", "PARTIALLY_FILLED"):
        assert value in row
    assert "hidden" not in result.output


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("orders", "--account", "DU1", "--since", "2026-12-01"), "no open orders for account DU1 since 2026-12-01"),
        (("orders", "--status", "all", "--strategy", "x"), "no orders of strategy x"),
        (("fills", "--side", "sell", "--until", "2026-12-03"), "no fills on the sell side through 2026-12-03"),
        (("history", "--symbol", "MSFT", "--since", "2026-12-01T15:00:00Z"),
         "no trades in MSFT since 2026-12-01 15:00:00 UTC"),
    ],
)  # fmt: skip
def test_an_empty_result_is_one_line_naming_the_filters(
    unh_db: str, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], line: str
) -> None:
    assert at_80(monkeypatch, *args) == [line]


def test_json_keeps_exact_stored_values_and_a_sane_scale_for_averages(unh_db: str) -> None:
    order = run_json("orders")["orders"][0]
    assert order["avg_fill_price"] == "178.733331"  # 166,347,111 / 930,700 at the tick's 2 decimals + 4
    assert order["limit_price"] == "178.8"
    assert order["quantity"] == "1000000"
    trades = run_json("history")["trades"]
    assert [t["average_cost"] for t in trades] == ["178.7", "178.733333", "178.733331"]
    assert [f["commission"] for f in run_json("fills")["fills"]] == ["2", "1.25", "1.25"]


def test_csv_keeps_the_full_precision_of_the_database(unh_db: str, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    assert invoke("orders", "--csv", str(path)).exit_code == 0
    (row,) = csv.DictReader(path.open(newline=""))
    assert Decimal(row["avg_fill_price"]) == Decimal(166_347_111) / Decimal(930_700)  # every digit of the quotient


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
