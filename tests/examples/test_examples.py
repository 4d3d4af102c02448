"""The examples run as users run them: ``python examples/NN_name.py`` against the in-process gateway (no options).

The suite's fixture points ``QUANTDESK__PATHS__DATA_DIR`` (inherited by every script) at the test's ``qd-data``:
the user's data directory, which the trading examples must leave alone against the simulator.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KEY_LINES = {
    "01_connect.py": ["connected to 127.0.0.1:", "managed accounts: DU1000001, DU1000002"],
    "02_account.py": ["account DU1000001 (USD)", "net liquidation       1,000,000.00"],
    "03_market_data.py": ["AAPL  bid ", "streaming AAPL for 3 s", "quotes received: "],
    "04_positions.py": ["AAPL.STK.SMART.USD           100      150.00", "3 position(s)"],
    "05_historical_data.py": ["AAPL 1 day bars: ", "again from the store", "AAPL 30 mins bars: "],
    "06_paper_trading.py": ["FILLED (10/10 filled)", "CANCELLED", "AAPL position now 0"],
    "07_optimize_then_execute.py": ["1. max-sharpe: ", "2. plan for DU1000001", "3. executed in paper mode: "],
}


def run_example(name: str, tmp_path: Path, *args: str) -> str:
    """Run one example in a scratch directory (no config file there); fail with its output unless it exits 0."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{name} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert not done.stderr.strip(), done.stderr
    return done.stdout


def test_every_example_is_listed_here_and_in_the_readme() -> None:
    scripts = sorted(p.name for p in EXAMPLES.glob("[0-9][0-9]_*.py"))
    assert scripts == sorted(KEY_LINES)
    readme = (EXAMPLES / "README.md").read_text()
    assert all(name in readme for name in scripts)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n.startswith("07") else n for n in KEY_LINES]
)
def test_an_example_runs_against_the_in_process_gateway(name: str, tmp_path: Path) -> None:
    out = run_example(name, tmp_path)
    assert "in-process gateway simulator on 127.0.0.1:" in out
    for line in KEY_LINES[name]:
        assert line in out, f"{line!r} missing from the output of {name}:\n{out}"


def test_the_examples_take_the_connection_options(tmp_path: Path) -> None:
    out = run_example("01_connect.py", tmp_path, "--help")
    assert all(option in out for option in ("--host", "--port", "--client-id"))
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "01_connect.py"), "--port", "1", "--client-id", "40"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "nothing is listening on 127.0.0.1:1" in done.stderr  # quantdesk's error, with the fix


def test_the_trading_examples_keep_the_simulators_records_apart_from_the_users_and_in_step(tmp_path: Path) -> None:
    user = tmp_path / "qd-data"  # the suite's data directory for this test
    sandbox = user / "examples"
    first = run_example("06_paper_trading.py", tmp_path)
    assert f"simulated records in {sandbox}" in first
    second = run_example("06_paper_trading.py", tmp_path, "--quantity", "5")
    assert "reconciliation break" not in second
    assert not (user / "quantdesk.db").exists()  # nothing in the user's own database
    assert not (user / "bars").exists()
    assert (sandbox / "quantdesk.db").exists()
    assert (sandbox / "gateway" / "accounts.json").exists()  # the simulated accounts live on beside their records


def test_a_data_directory_with_a_real_port_is_refused_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "06_paper_trading.py"), "--port", "4002", "--data-dir", str(tmp_path / "x")],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error: --data-dir: is for the simulator's records")
    assert "fix:" in done.stderr
