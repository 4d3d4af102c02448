"""The risk report service: from a positions file, from a broker (a scripted fake and the in-process gateway)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantdesk.brokers.base import PositionReport
from quantdesk.config import Settings
from quantdesk.data import bars_from_closes, load_sample_prices
from quantdesk.domain.accounts import AccountSnapshot
from quantdesk.domain.identifiers import AccountId
from quantdesk.domain.instruments import Future, Instrument, Stock
from quantdesk.domain.market import BarSize, Quote
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.errors import BrokerError, DataError, ValidationError
from quantdesk.risk.analytics import MarginLevel, compute_var, returns_from_prices
from quantdesk.services import brokers
from quantdesk.services.datasets import open_store
from quantdesk.services.risk_report import (
    risk_report_from_broker,
    risk_report_from_holdings,
    risk_report_from_positions,
)

D = Decimal
TS = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
ACCOUNT = AccountId("DU1234567")


@pytest.fixture
def make(tmp_path: Path) -> Any:
    """Settings whose data directory (bar store, contract cache) is this test's own."""

    def build(**sections: Any) -> Settings:
        return Settings(paths={"data_dir": str(tmp_path / "qd-data")}, **sections)

    return build


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return load_sample_prices()


def expected_var(sample: pd.DataFrame, values: dict[str, float], pv: float, lookback: int = 504) -> dict[str, Any]:
    """The analytics run by hand on the sample's last ``lookback`` returns: what the report must show."""
    window = returns_from_prices(sample[list(values)]).dropna().iloc[-lookback:]
    return compute_var(window, values, portfolio_value=pv)


# -- from a file -----------------------------------------------------------------------------------------------------


def test_report_from_a_positions_file(tmp_path: Path, sample: pd.DataFrame, make: Any) -> None:
    f = tmp_path / "book.csv"
    f.write_text("symbol,quantity,price\nAAPL,100,130\nMSFT,-40,\nXYZ,10,5\nCASH,20000,\n")
    report = risk_report_from_positions(f, make())
    msft_close = float(sample["MSFT"].iloc[-1])
    values = {"AAPL": 13_000.0, "MSFT": -40 * msft_close}
    nl = 20_000 + 13_000 - 40 * msft_close + 50
    assert report.net_liquidation == pytest.approx(nl)
    assert report.margin is None
    want = expected_var(sample, values, nl)
    for method in ("historical", "parametric", "monte_carlo"):
        got = report.var_by(method)
        assert got.var == pytest.approx(want[method].var, rel=1e-12)
        assert got.cvar == pytest.approx(want[method].cvar, rel=1e-12)
        assert got.var_pct == pytest.approx(want[method].var / nl)
    lines = {p.label: p for p in report.positions}
    assert lines["MSFT"].price_source.startswith("last close 2022-12-28")
    assert lines["XYZ"].risk_key is None
    assert lines["AAPL"].weight == pytest.approx(13_000 / nl)
    text = " | ".join(report.warnings)
    assert "no price history for XYZ" in text
    assert "MSFT has no price in the file" in text
    assert "no margin figures" in text
    assert report.exposure.total.positions == 3
    assert report.history["sources"] == {"AAPL": "sample", "MSFT": "sample"}
    assert report.history["observations"] == 504
    json.dumps(report.to_dict())  # JSON-ready as it is


def test_a_file_position_without_any_price_is_an_error(tmp_path: Path, make: Any) -> None:
    f = tmp_path / "book.csv"
    f.write_text("symbol,quantity\nAAPL,10\nNOPE,5\nCASH,100\n")
    with pytest.raises(DataError) as exc:
        risk_report_from_positions(f, make())
    assert exc.value.value == "NOPE"
    assert "price column" in (exc.value.hint or "")


def test_explicit_prices_and_the_bar_store_come_before_the_sample(
    tmp_path: Path, sample: pd.DataFrame, make: Any
) -> None:
    cfg = make()
    closes = pd.Series(100.0 * np.cumprod(1 + 0.02 * np.sin(np.arange(300))), index=sample.index[-300:])
    open_store(cfg.paths.data_dir).write("AAPL", BarSize.DAY_1, bars_from_closes(closes), source="test")
    f = tmp_path / "book.json"
    f.write_text(json.dumps({"cash": 0, "positions": {"AAPL": 10, "JPM": 10}}))
    report = risk_report_from_positions(f, cfg, methods=["historical"], lookback_days=100)
    assert report.history["sources"] == {"AAPL": "bar store", "JPM": "sample"}
    assert {p.label: p.price_source for p in report.positions}["AAPL"].startswith("last close")
    assert [r.method for r in report.var] == ["historical"]
    priced = tmp_path / "priced.json"
    rows = [{"symbol": "AAPL", "quantity": 10, "price": 150}, {"symbol": "JPM", "quantity": 10}]
    priced.write_text(json.dumps({"cash": 0, "positions": rows}))
    only_jpm = risk_report_from_positions(priced, cfg, prices=sample[["JPM"]], methods=["parametric"])
    assert only_jpm.history["sources"] == {"JPM": "prices"}
    assert any("no price history for AAPL" in w for w in only_jpm.warnings)
    assert [p.risk_key for p in only_jpm.positions] == [None, "JPM"]
    with pytest.raises(DataError):  # with explicit prices, neither the store nor the sample is read
        risk_report_from_positions(f, cfg, prices=sample[["JPM"]])


# -- from a broker ---------------------------------------------------------------------------------------------------


class ScriptedBroker:
    """Just enough of the ``Broker`` protocol for a report: a summary, positions and quotes."""

    def __init__(self, snapshot: AccountSnapshot, reports: list[PositionReport], quotes: dict[str, float]) -> None:
        self.snapshot, self.reports, self.quotes = snapshot, reports, quotes
        self.calls: list[str] = []

    async def account_summary(self, account: AccountId | None = None) -> AccountSnapshot:
        self.calls.append("account_summary")
        return self.snapshot

    async def positions(self, account: AccountId | None = None) -> list[PositionReport]:
        self.calls.append("positions")
        return self.reports

    async def quote(self, instrument: Instrument) -> Quote:
        self.calls.append(f"quote {instrument.symbol}")
        if instrument.symbol not in self.quotes:
            raise BrokerError(f"no market data for {instrument.symbol}", code=354)
        px = D(str(self.quotes[instrument.symbol]))
        return Quote(instrument.id, TS, px - D("0.01"), px + D("0.01"))


def position(inst: Instrument, qty: float, cost: float, mark: float | None = None, mult: int = 1) -> PositionReport:
    price = None if mark is None else D(str(mark))
    return PositionReport(
        account=ACCOUNT,
        instrument_id=inst.id,
        quantity=D(str(qty)),
        average_cost=D(str(cost)),
        ts=TS,
        multiplier=D(mult),
        market_price=price,
    )


def scripted(maint: float = 30_000) -> ScriptedBroker:
    snapshot = AccountSnapshot.of(ACCOUNT, TS, 100_000, maintenance_margin=maint, gross_position_value=300_000)
    es = Future("ES", date(2025, 3, 21), exchange="CME", multiplier=50)
    reports = [
        position(Stock("AAPL"), 100, 120, mark=130),
        position(Stock("MSFT"), 50, 200),  # no mark: the quote's mid
        position(Stock("SAP", currency="EUR"), 20, 90, mark=100),
        position(es, -1, 5000, mult=50),  # no mark, no quote, no history: average cost
    ]
    return ScriptedBroker(snapshot, reports, {"MSFT": 250})


def test_report_from_a_broker_prices_every_position_and_says_how(sample: pd.DataFrame, make: Any) -> None:
    cfg = make(risk={"margin_warning_pct": 0.25, "margin_critical_pct": 0.5})
    broker = scripted()
    with pytest.raises(DataError) as exc:
        asyncio.run(risk_report_from_broker(broker, cfg))  # SAP is in EUR and no rate was given
    assert exc.value.value == "EUR"
    report = asyncio.run(risk_report_from_broker(broker, cfg, fx_rates={"EUR": 1.1}, confidence=0.99))
    sources = {p.label: p.price_source for p in report.positions}
    assert sources == {
        "AAPL.STK.SMART.USD": "broker mark",
        "MSFT.STK.SMART.USD": "quote mid",
        "SAP.STK.SMART.EUR": "broker mark",
        "ES.FUT.CME.USD.20250321": "average cost",
    }
    assert "quote MSFT" in broker.calls
    assert "quote AAPL" not in broker.calls
    assert report.margin is not None
    assert report.margin.level is MarginLevel.WARNING
    assert "30.0%" in report.margin.message
    assert "25%" in report.margin.message
    assert report.account == "DU1234567"
    values = {"AAPL": 13_000.0, "MSFT": 12_500.0}  # SAP is not in the sample, ES has no history
    window = returns_from_prices(sample[list(values)]).iloc[-504:]
    want = compute_var(window, values, confidence=0.99, portfolio_value=100_000)
    assert report.var_by("parametric").var == pytest.approx(want["parametric"].var, rel=1e-12)
    assert report.var_by("historical").cvar == pytest.approx(want["historical"].cvar, rel=1e-12)
    text = " | ".join(report.warnings)
    assert "no price history for SAP.STK.SMART.EUR" in text
    assert "no price history for ES.FUT.CME.USD.20250321" in text
    assert "priced at the average cost" in text
    future = next(r for r in report.exposure.by_asset_class if r.key == "future")
    assert future.short == pytest.approx(-250_000)
    eur = next(r for r in report.exposure.by_currency if r.key == "EUR")
    assert eur.long == pytest.approx(2_200)


def test_bad_requests_fail_before_the_broker_is_asked(make: Any) -> None:
    broker = scripted()
    for kwargs, name in (
        ({"confidence": 1.5}, "confidence"),
        ({"horizon_days": 0}, "horizon_days"),
        ({"lookback_days": 1}, "lookback_days"),
        ({"methods": ["garch"]}, "methods"),
        ({"methods": []}, "methods"),
    ):
        with pytest.raises(ValidationError) as exc:
            asyncio.run(risk_report_from_broker(broker, make(), **kwargs))
        assert exc.value.field == name
    assert broker.calls == []


def test_a_report_without_positions_or_history(make: Any) -> None:
    empty = risk_report_from_holdings([], make(), net_liquidation=1000)
    assert empty.var == ()
    assert empty.exposure.total.positions == 0
    assert empty.to_dict()["var"] == {}


def test_report_from_the_gateway_end_to_end(sample: pd.DataFrame, make: Any) -> None:
    """The in-process TWS simulator with the IB adapter: buy three stocks, then report on the account."""
    wanted = {"AAPL": D(100), "MSFT": D(50), "JPM": D(-30)}

    async def main() -> Any:
        cfg = make(risk={"allow_short_selling": True})
        async with brokers.open_broker("gateway", cfg) as broker:
            for sym, qty in wanted.items():
                side = OrderSide.BUY if qty > 0 else OrderSide.SELL
                await broker.place_order(Order.market(Stock(sym), side, abs(qty)))
            for _ in range(200):  # wait for the position updates (not a timing assertion)
                held = {r.instrument_id.value.split(".")[0]: r.quantity for r in await broker.positions()}
                if held == wanted:
                    break
                await asyncio.sleep(0.05)
            return await risk_report_from_broker(broker, cfg, horizon_days=10)

    report = asyncio.run(main())
    assert {p.symbol: p.quantity for p in report.positions} == wanted
    assert all(p.price_source == "broker mark" for p in report.positions)
    assert report.margin is not None
    assert report.margin.level is MarginLevel.OK
    assert report.margin.maintenance_margin > 0
    para, mc = report.var_by("parametric"), report.var_by("monte_carlo")
    assert para.horizon_days == 10
    assert mc.var == pytest.approx(para.var, rel=0.02)
    assert sum(p.component_var or 0 for p in para.positions) == pytest.approx(para.var)
    values = {p.symbol: p.market_value for p in report.positions}
    window = returns_from_prices(sample[list(values)]).iloc[-504:]
    want = compute_var(window, values, horizon_days=10, portfolio_value=report.net_liquidation)
    assert report.var_by("historical").var == pytest.approx(want["historical"].var, rel=1e-12)
    stock = report.exposure.by_asset_class[0]
    assert stock.key == "stock"
    assert stock.short < 0 < stock.long
