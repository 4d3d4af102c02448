"""``optimize`` / ``rebalance`` errors name the flag the user types and a fix that works, before any optimising."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import quantdesk.cli.main
from quantdesk.cli.output import error_line
from quantdesk.cli.portfolio_cmd import optimize, rebalance
from quantdesk.errors import QuantdeskError
from quantdesk.portfolio import METHODS
from quantdesk.services import portfolio as svc

app = typer.Typer()
app.callback()(quantdesk.cli.main.main)
app.command("optimize")(optimize)
app.command("rebalance")(rebalance)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "80"})


def line(*args: str) -> tuple[QuantdeskError, str]:
    """The error a failing command raises, and the one line the entry point prints for it."""
    result = invoke(*args)
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, QuantdeskError), result.exception
    text = error_line(result.exception)
    assert "\n" not in text
    return result.exception, text


@pytest.fixture
def no_optimising(monkeypatch: pytest.MonkeyPatch) -> None:
    """Optimising fails the test: the option checks must refuse first."""

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the optimiser ran before the options were checked")

    monkeypatch.setattr(svc, "optimize_universe", boom)


def test_hints_name_flags_not_python_arguments() -> None:
    exc, text = line("optimize", "--method", "max-return-target-vol")
    assert exc.field == "--target-volatility"
    assert "pass --target-volatility 0.15" in text
    assert "target_volatility" not in text
    exc, text = line("optimize", "--lookback", "1")
    assert exc.field == "--lookback"
    assert "'all' for all rows" in text
    assert "None" not in text


def test_a_bare_number_of_rows_is_a_lookback() -> None:
    result = invoke("optimize", "--lookback", "1260", "--json")
    assert result.exit_code == 0, (result.output, result.exception)


def test_black_litterman_takes_views_and_risk_budgeting_budgets() -> None:
    exc, text = line("optimize", "--method", "black-litterman")
    assert exc.field == "--view"
    assert "--view 'AAPL == 0.10'" in text
    result = invoke("optimize", "-m", "black-litterman", "--view", "AAPL == 0.10", "--json")
    assert result.exit_code == 0, (result.output, result.exception)
    assert '"method": "black-litterman"' in result.stdout
    result = CliRunner().invoke(
        app,
        [
            "--set",
            "risk.max_position_pct=1",
            "optimize",
            "-u",
            "sample:AAPL,MSFT",
            "-m",
            "risk-budgeting",
            "--budget",
            "AAPL=3",
            "--budget",
            "MSFT=1",
            "--json",
        ],
    )
    assert result.exit_code == 0, (result.output, result.exception)
    assert "no risk_budget given" not in result.stdout
    exc, text = line("optimize", "-m", "risk-budgeting", "--budget", "AAPL")
    assert exc.field == "--budget"
    assert "SYMBOL=SHARE" in text


def test_help_lists_every_method_with_a_line() -> None:
    result = CliRunner().invoke(app, ["optimize", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    flat = " ".join(result.stdout.split())
    starts = [ln.strip().split("  ")[0] for ln in result.stdout.splitlines()]
    for method in METHODS:
        assert method in starts, method  # one line each, the name first
    assert "--view" in flat
    assert "--budget" in flat
    assert "--cash-buffer" in flat


def test_a_cap_that_cannot_add_up_suggests_fixes_that_work() -> None:
    exc, text = line("optimize", "-u", "sample:AAPL,MSFT,JPM")
    assert exc.field == "--max-weight"
    assert "--set risk.max_position_pct=0.34" in text
    assert "--cash-buffer 0.7" in text
    for fix in (["--set", "risk.max_position_pct=0.34", "optimize"], ["optimize", "--cash-buffer", "0.7"]):
        args = [*fix, "-u", "sample:AAPL,MSFT,JPM", "--json"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, (args, result.output, result.exception)


def test_universe_files_fail_naming_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "closes.csv"
    bad.write_text("date,AAPL,MSFT\n2024-01-02,1,2\n2024-01-03,2,abc\n")
    exc, text = line("optimize", "-u", str(bad))
    assert exc.field == "--universe"
    assert "line 3, column MSFT: 'abc' is not a number" in text
    assert "fix:" in text
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    exc, text = line("optimize", "-u", str(empty))
    assert exc.field == "--universe"
    assert "empty.csv is empty" in text


def test_frontier_needs_an_html_name(tmp_path: Path, no_optimising: None) -> None:
    exc, text = line("optimize", "--frontier", str(tmp_path / "f.txt"))
    assert exc.field == "--frontier"
    assert "f.html" in text
    assert not (tmp_path / "f.txt").exists()


def test_rebalance_options_are_checked_before_optimising(tmp_path: Path, no_optimising: None) -> None:
    exc, text = line("rebalance", "--band", "-1")
    assert exc.field == "--band"
    exc, text = line("rebalance", "--min-trade", "-5")
    assert exc.field == "--min-trade"
    assert "min_trade_value" not in text
    exc, text = line("rebalance", "--cash-buffer", "1.5")
    assert exc.field == "--cash-buffer"
    exc, text = line("rebalance", "--positions-file", str(tmp_path / "missing.csv"))
    assert exc.field == "--positions-file"
    exc, text = line("rebalance", "--method", "magic")
    assert exc.field == "--method"


def test_input_that_would_be_ignored_is_refused(tmp_path: Path, no_optimising: None) -> None:
    exc, text = line("rebalance", "--cash", "-1000")
    assert exc.field == "--cash"
    assert "drop --cash" in text
    dup = tmp_path / "dup.csv"
    dup.write_text("symbol,quantity\nAAPL,10\nAAPL,5\nCASH,1000\n")
    exc, text = line("rebalance", "--positions-file", str(dup))
    assert exc.field == "--positions-file"
    assert "AAPL more than once" in text


def test_a_positions_files_price_column_is_reported_when_unused(tmp_path: Path) -> None:
    f = tmp_path / "pos.csv"
    f.write_text("symbol,quantity,price\nAAPL,10,1.00\nCASH,100000\n")
    result = invoke("rebalance", "--positions-file", str(f), "-u", "sample:AAPL,MSFT,JPM,KO,PG,XOM,CVX,GE,BAC,HD")
    assert result.exit_code == 0, (result.output, result.exception)
    assert "prices for AAPL are not used" in " ".join(result.stdout.split())
