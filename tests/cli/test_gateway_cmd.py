"""``quantdesk gateway`` as a user runs it: a subprocess on a free port, a real ib_async client, Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import typer
from ib_async import IB, MarketOrder, Stock
from typer.testing import CliRunner

from quantdesk.cli.gateway_cmd import gateway
from quantdesk.errors import ValidationError


def _start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTDESK")}
    return subprocess.Popen(
        [sys.executable, "-m", "quantdesk.cli.gateway_cmd", "--port", "0", *args],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_gateway_command_serves_a_client_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    proc = _start(tmp_path, "--accounts", "DU1234567,DU7654321", "--cash", "250000", "--state", str(state))
    try:
        assert proc.stdout is not None
        assert proc.stdin is not None
        banner = proc.stdout.readline()
        match = re.search(r"listening on 127\.0\.0\.1:(\d+) \| accounts DU1234567,DU7654321 \| speed 60x", banner)
        assert match, banner
        port = int(match.group(1))

        async def trade() -> float:
            ib = IB()
            await ib.connectAsync("127.0.0.1", port, clientId=3, timeout=5, raiseSyncErrors=True)
            try:
                aapl = Stock("AAPL", "SMART", "USD")
                await ib.qualifyContractsAsync(aapl)
                placed = ib.placeOrder(aapl, MarketOrder("BUY", 10, account="DU7654321"))
                await asyncio.wait_for(placed.filledEvent, 5)

                def cash() -> float:
                    values = ib.accountValues()
                    return sum(float(v.value) for v in values if v.tag == "TotalCashValue" and v.currency == "USD")

                for _ in range(100):  # account pushes follow the fill within moments
                    if cash() < 500_000:
                        break
                    await asyncio.sleep(0.02)
                return cash()
            finally:
                ib.disconnect()

        cash = asyncio.run(trade())
        assert 250_000 < cash < 500_000  # the second account paid for the shares
        proc.stdin.write("status\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip().endswith("; working orders 0; executions 1")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert f"state saved to {state}" in out
    assert "client 3 connected" in err
    assert "client 3 disconnected" in err
    saved = json.loads(state.read_text())
    assert saved["accounts"]["DU7654321"]["holdings"][0]["quantity"] == 10
    assert len(saved["orders"]["executions"]) == 1


def test_gateway_command_refuses_an_empty_account_list() -> None:
    app = typer.Typer()
    app.command()(gateway)
    result = CliRunner().invoke(app, ["--accounts", " , ", "--port", "0"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ValidationError)
    assert result.exception.field == "--accounts"


def test_a_port_in_use_is_one_line_naming_the_flag(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTDESK")}
        env["QUANTDESK__PATHS__DATA_DIR"] = str(tmp_path / "data")
        result = subprocess.run(
            [sys.executable, "-m", "quantdesk.cli.main", "gateway", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: --port: port {port} on 127.0.0.1 is in use")
    assert "--port 0 picks a free one" in lines[0]
