"""``quantdesk optimize`` / ``quantdesk rebalance`` through a local typer app (the lead registers the real ones).

The broker paths run against the simulated broker (``open_broker`` patched), so the flag rules, the live prompt
and execution are tested without a network; the gateway path is exercised end to end elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import quantdesk.cli.main
from quantdesk.brokers.simulated import SimulatedBroker
from quantdesk.cli.portfolio_cmd import optimize, rebalance
from quantdesk.config import LIVE_CONFIRMATION_PHRASE, Settings
from quantdesk.data import load_sample_prices
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import Quote
from quantdesk.errors import ConfigError, LiveTradingNotConfirmed, QuantdeskError
from quantdesk.services import brokers

app = typer.Typer()
app.callback()(quantdesk.cli.main.main)
app.command("optimize")(optimize)
app.command("rebalance")(rebalance)

LIVE = ["--set", "mode=live", "--set", f"live.confirm={LIVE_CONFIRMATION_PHRASE}"]
D = Decimal


def invoke(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": "250"})


def run_json(*args: str) -> dict[str, Any]:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, (result.output, result.exception)
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def fails(*args: str, input: str | None = None) -> BaseException:
    result = invoke(*args, input=input)
    assert result.exit_code != 0, result.output
    assert result.exception is not None
    return result.exception


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``open_broker`` yields a simulated paper account priced at the sample's last closes, its market ticking."""
    state: dict[str, Any] = {"kinds": []}
    closes = load_sample_prices().iloc[-1]

    @contextlib.asynccontextmanager
    async def fake_open_broker(kind: str, settings: Settings) -> AsyncIterator[SimulatedBroker]:
        state["kinds"].append(kind)
        broker = SimulatedBroker({"DU1234567": 1_000_000})
        state["broker"] = broker
        await broker.connect()
        ts = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)

        def tick() -> None:
            nonlocal ts
            ts += timedelta(seconds=1)
            for sym, px in closes.items():
                mid = D(repr(float(px))).quantize(D("0.01"))
                broker.feed_quote(Quote(Stock(str(sym)).id, ts, mid - D("0.01"), mid + D("0.01")))

        async def ticker() -> None:
            while True:
                await asyncio.sleep(0.01)
                tick()

        tick()
        task = asyncio.create_task(ticker())
        try:
            yield broker
        finally:
            state["positions"] = {p.instrument_id.value.split(".")[0]: p.quantity for p in await broker.positions()}
            state["orders"] = await broker.executions()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    monkeypatch.setattr(brokers, "open_broker", fake_open_broker)
    return state


# -- optimize ---------------------------------------------------------------------------------------------------------


def test_optimize_prints_weights_within_the_cap_and_statistics() -> None:
    doc = run_json("optimize", "--universe", "sample", "--method", "max-sharpe", "--lookback", "5y")
    weights = doc["weights"]
    assert len(weights) == 20
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-6)
    assert max(weights.values()) <= 0.10 + 1e-6  # the config's max position size
    assert doc["volatility"] > 0
    assert doc["method"] == "max-sharpe"
    text = invoke("optimize", "--method", "min-variance", "--max-weight", "0.1", "--cov", "ledoit-wolf")
    assert text.exit_code == 0, text.output
    assert "min-variance weights" in text.stdout
    assert "Sharpe" in text.stdout


def test_optimize_writes_the_frontier(tmp_path: Path) -> None:
    out = tmp_path / "frontier.html"
    result = invoke("optimize", "--frontier", str(out), "--frontier-points", "5")
    assert result.exit_code == 0, (result.output, result.exception)
    assert out.is_file()
    assert out.stat().st_size > 1000


def test_optimize_refuses_bad_input_by_name() -> None:
    exc = fails("optimize", "--method", "magic")
    assert isinstance(exc, QuantdeskError)
    assert exc.field == "--method"
    exc = fails("optimize", "--max-weight", "0.5")  # above risk.max_position_pct
    assert isinstance(exc, QuantdeskError)
    assert exc.field == "--max-weight"
    exc = fails("optimize", "--long-short")
    assert isinstance(exc, QuantdeskError)
    assert exc.field == "short_selling"


# -- rebalance from a file ---------------------------------------------------------------------------------------------


def test_rebalance_from_a_positions_file_is_a_dry_run(tmp_path: Path) -> None:
    f = tmp_path / "positions.csv"
    f.write_text("symbol,quantity\nAAPL,2000\nXOM,10\nCASH,25000\n")
    doc = run_json("rebalance", "--method", "min-variance", "--positions-file", str(f))
    assert doc["broker"] == "file"
    assert doc["execute"] is False
    assert doc["mode"] == "paper"
    plan = doc["plan"]
    lines = {ln["symbol"]: ln for ln in plan["lines"]}
    aapl = lines["AAPL"]
    # Selling 2,000 AAPL down to 10 % is worth more than the 100,000 max order notional: trimmed, a next run goes on.
    assert any("max order notional" in note for note in aapl["notes"])
    sold = (2000 - float(aapl["target_quantity"])) * float(aapl["price"])
    assert 100_000 - float(aapl["price"]) < sold <= 100_000
    assert float(plan["cash_after"]) >= 0
    assert "execution" not in doc
    loose = run_json("--set", "risk.max_order_notional=1000000", "rebalance", "--method", "min-variance",
                     "--positions-file", str(f))  # fmt: skip
    aapl = {ln["symbol"]: ln for ln in loose["plan"]["lines"]}["AAPL"]
    value = float(loose["plan"]["portfolio_value"])
    assert float(aapl["target_quantity"]) * float(aapl["price"]) <= 0.10 * value + 1e-6
    text = invoke("rebalance", "--positions-file", str(f), "--band", "0.01", "--cash-buffer", "0.02")
    assert text.exit_code == 0, (text.output, text.exception)
    assert "Rebalance plan" in text.stdout
    assert "nothing sent" in text.stdout


def test_rebalance_flag_rules(tmp_path: Path) -> None:
    f = tmp_path / "positions.csv"
    f.write_text("symbol,quantity\nCASH,1000\n")
    exc = fails("rebalance", "--positions-file", str(f), "--execute")
    assert isinstance(exc, ConfigError)
    assert exc.field == "--execute"
    exc = fails("rebalance", "--broker", "file")
    assert isinstance(exc, ConfigError)
    assert exc.field == "--positions-file"
    exc = fails("rebalance", "--live")
    assert isinstance(exc, ConfigError)
    assert exc.field == "--live"
    exc = fails("rebalance", "--broker", "ib", "--execute", "--live")  # paper config: --live refused
    assert isinstance(exc, ConfigError)
    assert "--live" in str(exc)
    exc = fails("--set", "mode=live", "rebalance", "--broker", "ib", "--execute", "--live")
    assert isinstance(exc, LiveTradingNotConfirmed)
    assert exc.field == "live.confirm"
    exc = fails(*LIVE, "rebalance", "--broker", "ib", "--execute")
    assert isinstance(exc, LiveTradingNotConfirmed)
    assert exc.field == "--live"
    exc = fails(*LIVE, "rebalance", "--broker", "gateway", "--execute", "--live")
    assert isinstance(exc, ConfigError)
    assert exc.field == "--broker"


# -- rebalance with a broker (the simulated one) -----------------------------------------------------------------------


def test_rebalance_with_a_broker_dry_run_sends_nothing(sim: dict[str, Any]) -> None:
    doc = run_json("rebalance", "--method", "hrp", "--broker", "gateway")
    assert sim["kinds"] == ["gateway"]
    assert doc["plan"]["trades"] > 0
    assert sim["orders"] == []
    assert sim["positions"] == {}


def test_rebalance_execute_on_paper_reaches_the_plan(sim: dict[str, Any]) -> None:
    doc = run_json("rebalance", "--method", "inverse-volatility", "--broker", "ib", "--execute", "--timeout", "10")
    assert doc["execution"]["complete"], doc["execution"]
    assert doc["execution"]["mode"] == "paper"
    want = {ln["symbol"]: D(ln["target_quantity"]) for ln in doc["plan"]["lines"] if D(ln["target_quantity"])}
    assert sim["positions"] == want


def test_live_execution_asks_and_a_no_sends_nothing(sim: dict[str, Any]) -> None:
    result = invoke(
        *LIVE, "rebalance", "--method", "equal-weight", "--broker", "ib", "--execute", "--live", input="n\n"
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit | typer.Abort) or "Abort" in repr(result.exception)
    assert sim["orders"] == []
    yes = invoke(
        *LIVE, "rebalance", "--method", "equal-weight", "--broker", "ib", "--execute", "--live", "--timeout", "10",
        input="y\n",
    )  # fmt: skip
    assert yes.exit_code == 0, (yes.output, yes.exception)
    assert "LIVE account DU1234567" in yes.output
    assert "(live)" in yes.stdout
    assert sim["orders"]
