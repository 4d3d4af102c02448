"""``quantdesk demo`` keeps its simulated world apart from the user's records, in a subprocess as users run it.

The user's own data directory (bar store, database) is byte-for-byte unchanged by a demo run; the demo's bars,
database and paper account live in ``<data_dir>/demo/``, its simulator bars are labelled ``gateway-sim``, and a
second run after the examples trades only the drift of its own account, without reconciliation breaks.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTDESK")}
    env["QUANTDESK__PATHS__DATA_DIR"] = str(data)
    env["COLUMNS"] = "200"
    return env


def _run(*args: str, data: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quantdesk.cli.main", *args],
        cwd=cwd, env=_env(data), capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def _files(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative path → SHA-256 of its bytes)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


@pytest.mark.slow
def test_the_demo_leaves_the_users_bar_store_and_database_untouched(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for setup in (("data", "sample"), ("db", "upgrade")):
        done = _run(*setup, data=data, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    before = _files(data)
    assert "quantdesk.db" in before
    assert "bars/catalog.json" in before

    done = _run("demo", "--json", data=data, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["data_dir"] == str((data / "demo").resolve())
    after = _files(data)
    assert {k: v for k, v in after.items() if not k.startswith("demo/")} == before
    assert "demo/quantdesk.db" in after
    assert "demo/bars/catalog.json" in after

    # the bars the IB adapter fetched from the simulator say so, beside the simulated account
    listed = _run("--set", f"paths.data_dir={data / 'demo' / 'gateway'}", "data", "list", "--json",
                  data=data, cwd=tmp_path)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    sources = {s["source"] for s in json.loads(listed.stdout)["datasets"]}
    assert sources == {"gateway-sim"}


@pytest.mark.slow
def test_a_second_demo_after_the_examples_trades_only_the_drift_without_reconciliation_breaks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = _run("demo", data=data, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "from cash" in first.stdout
    for example in ("06_paper_trading.py", "07_optimize_then_execute.py"):
        done = subprocess.run([sys.executable, str(EXAMPLES / example)], cwd=tmp_path, env=_env(data),
                              capture_output=True, text=True, timeout=180, check=False)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr

    second = _run("demo", "--json", data=data, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "reconciliation break" not in second.stderr + second.stdout
    plan = json.loads(second.stdout)["plan"]
    assert float(plan["cash_before"]) < 0.01 * float(plan["portfolio_value"])  # it starts from its holdings
    assert float(plan["buy_notional"]) + float(plan["sell_notional"]) < 0.01 * float(plan["portfolio_value"])

    third = _run("demo", data=data, cwd=tmp_path)  # as text: an empty plan once crashed the table layout
    assert third.returncode == 0, third.stdout + third.stderr
    assert "Done in" in third.stdout
    assert "nothing to trade" in third.stdout or "every order filled" in third.stdout


def test_the_demo_refuses_the_users_own_data_directory_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = _run("demo", "--data-dir", str(data), data=data, cwd=tmp_path)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "--data-dir" in lines[0]
    assert "your own data directory" in lines[0]
    assert "fix:" in lines[0]
    assert not (data / "quantdesk.db").exists()
