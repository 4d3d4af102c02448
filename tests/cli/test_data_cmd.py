"""``quantdesk data …``: the real entry point in a subprocess (``run()`` turns errors into one line), and the
command group in-process for the rest (a subprocess costs seconds of imports)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from quantdesk.cli import data_cmd


def qd(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m quantdesk.cli.main ARGS`` with the data dir pointed at ``data_dir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTDESK")}
    env["QUANTDESK__PATHS__DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "quantdesk.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=data_dir.parent,
    )


def invoke(data_dir: Path, *args: str) -> Any:
    """Run ``quantdesk data ARGS`` in-process; return the parsed JSON (``--json``) or the text output."""
    result = CliRunner().invoke(
        data_cmd.app,
        list(args),
        env={"QUANTDESK__PATHS__DATA_DIR": str(data_dir), "COLUMNS": "200"},  # tables wide enough to read values
    )
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout) if "--json" in args else result.stdout


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with AAPL and MSFT from the sample, loaded through the real entry point."""
    d = tmp_path_factory.mktemp("cli") / "qd"
    proc = qd(d, "data", "sample", "--symbols", "AAPL,MSFT", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # exactly one JSON document on stdout
    assert [s["symbol"] for s in doc["symbols"]] == ["AAPL", "MSFT"]
    aapl = doc["symbols"][0]
    assert aapl["rows"] == 8313
    assert aapl["last_close"] == 125.674
    assert aapl["last"] == "2022-12-28T00:00:00+00:00"
    assert doc["store"] == str(d / "bars")
    return d


def test_sample_writes_into_the_configured_data_dir(data_dir: Path) -> None:
    assert (data_dir / "bars" / "1day" / "AAPL.parquet").is_file()
    assert (data_dir / "bars" / "catalog.json").is_file()


def test_list_json(data_dir: Path) -> None:
    doc = invoke(data_dir, "list", "--json")
    assert [(d["instrument"], d["bar_size"], d["rows"]) for d in doc["datasets"]] == [
        ("AAPL", "1day", 8313),
        ("MSFT", "1day", 8313),
    ]
    assert doc["datasets"][0]["source"] == "sample:sp500"
    assert doc["datasets"][0]["adjusted"] is True
    assert doc["store"] == str(data_dir / "bars")


def test_show_tail_json(data_dir: Path) -> None:
    doc = invoke(data_dir, "show", "AAPL", "--tail", "5", "--json")
    assert len(doc["bars"]) == 5
    assert doc["bars"][-1]["ts"] == "2022-12-28T00:00:00+00:00"
    assert doc["bars"][-1]["close"] == 125.674
    assert doc["summary"]["rows"] == 8313
    assert doc["dataset"]["instrument"] == "AAPL"


def test_text_output(data_dir: Path) -> None:
    listing = invoke(data_dir, "list")
    assert "AAPL" in listing
    assert "sample:sp500" in listing
    shown = invoke(data_dir, "show", "MSFT", "--start", "2022-12-20", "--end", "2022-12-28")
    assert "233.4340" in shown
    assert "6 bars 2022-12-20 to 2022-12-28" in shown


def test_empty_store_says_how_to_fill_it(tmp_path: Path) -> None:
    assert "quantdesk data sample" in invoke(tmp_path / "empty", "list")
    assert invoke(tmp_path / "empty", "list", "--json")["datasets"] == []


def test_import_then_show(tmp_path: Path) -> None:
    d = tmp_path / "qd"
    csv = tmp_path / "spy.csv"
    csv.write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,472.2,473.7,470.5,472.7,123\n")
    doc = invoke(d, "import", str(csv), "--symbol", "SPY", "--bar-size", "1 day", "--json")
    assert doc["rows_read"] == 1
    assert doc["dataset"]["instrument"] == "SPY"
    assert invoke(d, "show", "SPY", "--json")["bars"][0]["close"] == 472.7


def test_bad_import_prints_one_error_line_and_changes_nothing(tmp_path: Path, data_dir: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,100\n2024-01-03,10,11,9,,100\n")
    before = {p: p.read_bytes() for p in (data_dir / "bars").rglob("*") if p.is_file()}
    proc = qd(data_dir, "data", "import", str(bad), "--symbol", "AAPL")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "line 3" in lines[0]
    assert "close" in lines[0]
    assert {p: p.read_bytes() for p in (data_dir / "bars").rglob("*") if p.is_file()} == before


def test_show_unknown_symbol_is_one_line(data_dir: Path) -> None:
    proc = qd(data_dir, "data", "show", "TSLA", "--json")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "TSLA" in lines[0]
    assert "AAPL" in lines[0]


def at_80(monkeypatch: pytest.MonkeyPatch, data_dir: Path, *args: str) -> str:
    """``quantdesk data ARGS`` on an 80-column terminal; every line fits it."""
    from quantdesk.cli import output

    monkeypatch.setattr(output.console, "_width", 80)
    result = CliRunner().invoke(
        data_cmd.app, list(args), env={"QUANTDESK__PATHS__DATA_DIR": str(data_dir), "COLUMNS": "80"}
    )
    assert result.exit_code == 0, (result.output, result.exception)
    text: str = result.stdout
    assert all(len(line) <= 80 for line in text.splitlines()), text
    return text


def test_one_intraday_bar_reads_in_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "qd"
    csv = tmp_path / "unh.csv"
    csv.write_text("ts,open,high,low,close,volume\n2026-12-01T14:30:00Z,178.7271684587,179,178,178.5,1000000\n")
    imported = " ".join(at_80(monkeypatch, d, "import", str(csv), "--symbol", "UNH", "--bar-size", "30min").split())
    assert "Imported 1 bar from unh.csv into UNH 30-minute bars (merge): now 1 bar," in imported
    shown = at_80(monkeypatch, d, "show", "UNH", "--bar-size", "30min")
    assert "UNH 30-minute bars (csv:unh.csv)" in shown
    assert "1,000,000" in shown
    assert "1,000,000.0" not in shown  # a volume has no useless decimals
    assert "178.7272  179.00  178.00  178.50" in shown  # on the tick: cents; off it: 4 decimals
    assert "1 bar 2026-12-01 14:30:00" in shown
    assert "1 bars" not in shown
    assert "annualised volatility n/a" in " ".join(shown.split())


def test_list_at_80_columns_names_bar_sizes_in_words(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = at_80(monkeypatch, data_dir, "list").splitlines()
    row = next(line for line in lines if line.startswith("AAPL"))
    assert row.split()[:3] == ["AAPL", "daily", "8313"]
    assert "1day" not in "\n".join(lines)


def test_an_unknown_time_zone_is_refused_for_daily_bars_too(tmp_path: Path) -> None:
    d = tmp_path / "qd"
    daily = tmp_path / "spy.csv"
    daily.write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,472.2,473.7,470.5,472.7,123\n")
    proc = qd(d, "data", "import", str(daily), "--symbol", "SPY", "--tz", "Mars/Olympus")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "unknown time zone 'Mars/Olympus'" in lines[0]
    assert "--tz" in lines[0]
    assert not (d / "bars").exists() or not any((d / "bars").rglob("*.parquet"))


def test_mixing_adjusted_and_raw_prices_hints_at_the_flag(tmp_path: Path) -> None:
    d = tmp_path / "qd"
    f = tmp_path / "spy.csv"
    f.write_text("Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,472.2,473.7,470.5,472.7,470.0,123\n")
    invoke(d, "import", str(f), "--symbol", "SPY")
    proc = qd(d, "data", "import", str(f), "--symbol", "SPY", "--adjusted")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "pass --replace" in lines[0]
