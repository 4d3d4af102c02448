"""``quantdesk risk`` through a local typer app (the lead registers the real one): text, ``--json`` and errors.

The broker runs are end to end against the in-process gateway; ``open_broker`` is wrapped only to place a few
orders on the simulated account before the command reads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

import quantdesk.cli.main
import quantdesk.cli.output
from quantdesk.brokers.base import Broker
from quantdesk.cli.risk_cmd import risk
from quantdesk.config import Settings
from quantdesk.domain.instruments import Stock
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.errors import ConfigError, DataError, QuantdeskError
from quantdesk.services import brokers

app = typer.Typer()
app.callback()(quantdesk.cli.main.main)
app.command("risk")(risk)

HOLD = {"AAPL": Decimal(100), "MSFT": Decimal(60), "XOM": Decimal(-40)}


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})


def run_json(*args: str) -> dict[str, Any]:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, (result.output, result.exception)
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def fails(*args: str) -> BaseException:
    result = invoke(*args)
    assert result.exit_code != 0, result.output
    assert result.exception is not None
    return result.exception


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables print at 250 columns whatever COLUMNS said when ``cli.output`` was imported (xdist workers)."""
    monkeypatch.setattr(quantdesk.cli.output, "console", Console(width=250, color_system=None))


@pytest.fixture
def book(tmp_path: Path) -> Path:
    f = tmp_path / "book.csv"
    f.write_text("symbol,quantity,price\nAAPL,100,130\nJPM,-50,140\nZZZ,10,5\nCASH,40000,\n")
    return f


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``open_broker`` opens the real gateway, then buys (and shorts) ``HOLD`` before the command runs."""
    real = brokers.open_broker
    state: dict[str, Any] = {"kinds": []}

    @contextlib.asynccontextmanager
    async def with_positions(kind: str, settings: Settings) -> AsyncIterator[Broker]:
        state["kinds"].append(kind)
        async with real(kind, settings) as broker:
            for sym, qty in HOLD.items():
                side = OrderSide.BUY if qty > 0 else OrderSide.SELL
                await broker.place_order(Order.market(Stock(sym), side, abs(qty)))
            for _ in range(200):  # wait for the position updates (not a timing assertion)
                held = {r.instrument_id.value.split(".")[0]: r.quantity for r in await broker.positions()}
                if held == HOLD:
                    break
                await asyncio.sleep(0.05)
            yield broker

    monkeypatch.setattr(brokers, "open_broker", with_positions)
    return state


def test_text_report_from_the_gateway(seeded: dict[str, Any]) -> None:
    result = invoke("--set", "risk.allow_short_selling=true", "risk", "--confidence", "0.99", "--horizon", "5")
    assert result.exit_code == 0, (result.output, result.exception)
    out = result.output
    assert seeded["kinds"] == ["gateway"]
    assert "VaR and CVaR (99.0%, 5 days, USD" in out
    assert "AAPL.STK.SMART.USD" not in out  # symbols in the table; the ids are in --json
    for word in ("historical", "parametric", "monte_carlo", "AAPL", "XOM"):
        assert word in out
    assert "component VaR" in out
    assert "margin: OK margin utilisation" in out
    assert "Exposure by asset class (USD)" in out
    assert "Exposure by currency (USD)" in out


def test_json_report_from_the_gateway_with_a_margin_warning(seeded: dict[str, Any]) -> None:
    doc = run_json("--set", "risk.margin_warning_pct=0.0001", "risk", "--method", "parametric", "-m", "historical")
    assert doc["mode"] == "paper"
    assert list(doc["var"]) == ["parametric", "historical"]
    assert doc["margin"]["level"] == "warning"
    assert "warning threshold 0%" in doc["margin"]["message"]
    para = doc["var"]["parametric"]
    assert sum(p["component_var"] for p in para["positions"]) == pytest.approx(para["var"])
    assert para["var_pct"] == pytest.approx(para["var"] / doc["net_liquidation"])
    held = {p["symbol"]: Decimal(p["quantity"]) for p in doc["positions"]}
    assert held == HOLD
    stock = doc["exposure"]["by_asset_class"][0]
    assert stock["key"] == "stock"
    assert stock["short"] < 0 < stock["long"]


def test_report_from_a_positions_file(book: Path) -> None:
    result = invoke("risk", "--positions", str(book), "--method", "historical")
    assert result.exit_code == 0, (result.output, result.exception)
    assert "positions file book.csv" in result.output
    assert "no price history for ZZZ" in result.output
    assert "historical VaR" in result.output
    assert "margin:" not in result.output
    doc = run_json("risk", "--positions", str(book), "--cash", "100000", "--prices", "sample:AAPL,JPM")
    assert doc["net_liquidation"] == pytest.approx(100_000 + 13_000 - 7_000 + 50)
    assert doc["margin"] is None
    assert doc["history"]["sources"] == {"AAPL": "prices", "JPM": "prices"}
    assert set(doc["var"]) == {"historical", "parametric", "monte_carlo"}
    assert doc["var"]["monte_carlo"]["details"]["seed"] == 42


def test_a_position_without_a_rate_is_an_error_naming_the_currency(tmp_path: Path) -> None:
    f = tmp_path / "eur.json"
    rows = [{"symbol": "FDAX.FUT.EUREX.EUR.20250321", "quantity": 2, "price": 250}]
    f.write_text(json.dumps({"cash": 0, "positions": rows}))
    exc = fails("risk", "--positions", str(f))
    assert isinstance(exc, DataError)
    assert exc.value == "EUR"
    assert "--fx-rate EUR=" in str(exc)
    doc = run_json("risk", "--positions", str(f), "--fx-rate", "EUR=1.1")
    assert doc["exposure"]["by_asset_class"][0]["key"] == "future"
    assert doc["exposure"]["by_currency"][0] == pytest.approx(
        {"key": "EUR", "positions": 1, "long": 550.0, "short": 0.0, "gross": 550.0, "net": 550.0}
        | {"long_pct": 1.0, "short_pct": 0.0, "gross_pct": 1.0, "net_pct": 1.0}
    )
    assert doc["var"] == {}
    assert any("no price history for FDAX.FUT.EUREX.EUR.20250321" in w for w in doc["warnings"])


@pytest.mark.parametrize("value", ["1.5", "0", "1", "-0.95"])
def test_a_confidence_outside_0_1_names_the_option(book: Path, value: str) -> None:
    exc = fails("risk", "--positions", str(book), "--confidence", value)
    assert isinstance(exc, ConfigError)
    assert exc.field == "--confidence"
    assert "0.95" in str(exc)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--positions", "BOOK", "--broker", "gateway"], "--positions"),
        (["--cash", "10"], "--cash"),
        (["--positions", "BOOK", "--account", "DU1"], "--account"),
        (["--positions", "BOOK", "--fx-rate", "EUR"], "--fx-rate"),
        (["--positions", "BOOK", "--fx-rate", "EUR=-1"], "--fx-rate"),
    ],
)
def test_contradictory_or_malformed_options(book: Path, args: list[str], field: str) -> None:
    exc = fails("risk", *[str(book) if a == "BOOK" else a for a in args])
    assert isinstance(exc, ConfigError)
    assert exc.field == field


def test_usage_errors_are_click_errors(book: Path) -> None:
    for args in (["--method", "garch"], ["--horizon", "0"]):
        result = invoke("risk", "--positions", str(book), *args)
        assert result.exit_code == 2
        assert args[0] in result.output


def test_positions_at_80_columns_keep_the_parametric_var_whole(book: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quantdesk.cli.output, "console", Console(width=80, color_system=None))
    result = CliRunner().invoke(app, ["risk", "--positions", str(book)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, (result.output, result.exception)
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines), result.output
    head = lines.index(next(line for line in lines if line.strip().startswith("Positions"))) + 1
    assert "parametric VaR" in lines[head] + lines[head + 1]
    aapl = next(line for line in lines if line.startswith("AAPL"))
    assert aapl.split()[:4] == ["AAPL", "100", "130.00", "13,000.00"]  # price at the tick, not 130.0000
    assert len(aapl.split()) == 7  # weight, parametric VaR and component VaR stay; class and ccy gave way
    assert any(line.startswith("hidden at 80 columns: class, ccy") for line in lines)


def test_a_bad_positions_file_names_the_flag(tmp_path: Path) -> None:
    book = tmp_path / "book.csv"
    book.write_text("symbol,quantity\nAAPL,lots\nCASH,1000\n")
    exc = fails("risk", "--positions", str(book))
    assert isinstance(exc, QuantdeskError)
    assert exc.field == "--positions line 2 quantity"
    assert "positions_file" not in str(exc)
