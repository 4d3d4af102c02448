"""The real entry point, in a subprocess: exit codes, one-line errors, --version, --json and the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from quantdesk import __version__


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTDESK")}
    env["QUANTDESK__PATHS__DATA_DIR"] = str(cwd / "data")
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "quantdesk.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_version(tmp_path: Path) -> None:
    result = _run("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"quantdesk {__version__}"


def test_bad_override_is_one_line_naming_the_key(tmp_path: Path) -> None:
    result = _run("--set", "ib.port=abc", "config", "show", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "ib.port" in lines[0]
    assert "abc" in lines[0]
    assert "fix:" in lines[0]
    assert "Traceback" not in result.stderr


def test_malformed_override_syntax(tmp_path: Path) -> None:
    result = _run("--set", "ib.port", "config", "show", cwd=tmp_path)
    assert result.returncode == 2
    assert "--set" in result.stderr
    assert "section.key=value" in result.stderr


def test_verbose_adds_the_traceback(tmp_path: Path) -> None:
    result = _run("-v", "--set", "ib.port=abc", "config", "show", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error:")


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result = _run("frobnicate", cwd=tmp_path)
    assert result.returncode == 2
    assert "No such command" in result.stderr


@pytest.mark.slow
def test_demo_loads_the_real_sample_and_prints_one_json_document(tmp_path: Path) -> None:
    result = _run("demo", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["mode"] == "paper"
    sample = doc["sample"]
    assert sample["rows"] == 20 * 8313
    aapl = next(s for s in sample["symbols"] if s["symbol"] == "AAPL")
    assert aapl["rows"] == 8313
    assert aapl["last"].startswith("2022-12-28")
    assert aapl["last_close"] == pytest.approx(125.674, abs=1e-6)
    assert (tmp_path / "data" / "demo" / "bars" / "catalog.json").exists()  # the demo's own data directory
    weights = doc["optimization"]["weights"]
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-6)
    assert max(weights.values()) <= 0.10 + 1e-6  # the config's max position size
    assert doc["broker"]["account"].startswith("DU")
    assert float(doc["broker"]["quote"]["ask"]) >= float(doc["broker"]["quote"]["bid"]) > 0
    assert doc["execution"]["complete"] is True
    planned = {ln["symbol"]: float(ln["target_quantity"]) for ln in doc["plan"]["lines"]}
    held = {key.split(".")[0]: float(qty) for key, qty in doc["positions"].items()}
    assert held == {sym: qty for sym, qty in planned.items() if qty != 0}


def test_demo_text_mode(tmp_path: Path) -> None:
    result = _run("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Stored 20 symbols" in result.stdout
    assert "paper" in result.stdout
    assert "AAPL" in result.stdout


@pytest.mark.slow
def test_rebalance_execute_against_the_gateway_leaves_positions_equal_to_the_plan(tmp_path: Path) -> None:
    result = _run("rebalance", "--method", "min-variance", "--broker", "gateway", "--execute", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["execution"]["complete"] is True
    planned = {ln["symbol"]: float(ln["target_quantity"]) for ln in doc["plan"]["lines"]}
    held = {key.split(".")[0]: float(qty) for key, qty in doc["positions_after"].items()}
    assert held == {sym: qty for sym, qty in planned.items() if qty != 0}
    assert len(held) >= 5


def test_rebalance_is_a_dry_run_without_execute(tmp_path: Path) -> None:
    result = _run("rebalance", "--method", "equal-weight", "--broker", "gateway", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["execute"] is False
    assert "positions_after" not in doc
    assert doc["plan"]["trades"] == 20


def test_a_refused_connection_is_one_line_without_ib_async_noise(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    quiet = _run("--set", f"ib.port={port}", "reconcile", cwd=tmp_path)
    assert quiet.returncode == 2
    lines = quiet.stderr.strip().splitlines()
    assert len(lines) == 1, quiet.stderr
    assert lines[0].startswith(f"error: ib.port: nothing is listening on 127.0.0.1:{port}")
    loud = _run("-v", "--set", f"ib.port={port}", "reconcile", cwd=tmp_path)
    assert "ERROR ib_async.client: API connection failed" in loud.stderr


def test_a_read_only_data_directory_is_one_line_naming_the_file_and_the_setting(tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "data"
    data.mkdir()
    read_only = f"mount --bind {data} {data} && mount -o remount,bind,ro {data}"
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"{read_only} && ! touch {data}/probe"], check=False)
    if shutil.which("unshare") is None or probe.returncode != 0:
        pytest.skip("needs unshare -m and mount (Errno 30 needs a read-only mount; root ignores chmod)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTDESK")}
    env |= {"QUANTDESK__PATHS__DATA_DIR": str(data), "COLUMNS": "200"}
    cli = f"{sys.executable} -m quantdesk.cli.main data sample --symbols AAPL"
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"{read_only} && {cli}"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: cannot write {data}")
    assert "Read-only file system" in lines[0]
    assert "paths.data_dir" in lines[0]
