"""Hand-computed rebalance plans: lots, bands, cash buffer, short selling, whole shares, order of execution, fees."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantdesk.brokers.base import PositionReport
from quantdesk.config import OrderSettings, Settings
from quantdesk.domain.accounts import AccountSnapshot
from quantdesk.domain.identifiers import AccountId, InstrumentId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import Quote
from quantdesk.domain.order_types import OrderType, TimeInForce
from quantdesk.domain.side import OrderSide
from quantdesk.domain.targets import TargetWeights
from quantdesk.errors import DataError, RiskRejected, ValidationError
from quantdesk.execution.fees import IbFixed, NoFees
from quantdesk.portfolio.holdings import load_target_file
from quantdesk.portfolio.rebalance import (
    Holdings,
    RebalanceSettings,
    load_holdings_file,
    plan_rebalance,
    plan_to_orders,
    quotes_from_broker,
    snapshot_from_broker,
    symbol_of,
)

D = Decimal
TS = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
NO_CAP = RebalanceSettings(max_position_pct=None)


def plan(holdings: Holdings, prices: dict[str, Any], weights: dict[str, Any], s: RebalanceSettings = NO_CAP, **kw: Any):
    return plan_rebalance(holdings, prices, TargetWeights.of(weights), s, ts=TS, **kw)


def test_buys_from_cash_whole_shares_and_fixed_commission() -> None:
    r = plan(Holdings.of({}, 10_000), {"A": 100, "B": 50}, {"A": 0.5, "B": 0.3})
    p = r.plan
    assert [(t.instrument, t.trade_quantity) for t in p.trades] == [("A", 50), ("B", 60)]
    # IB fixed: 50 × 0.005 = 0.25 → the USD 1.00 minimum per order
    assert [t.estimated_commission for t in p.trades] == [D("1.00"), D("1.00")]
    assert p.portfolio_value == 10_000
    assert p.buy_notional == 8_000
    assert p.cash_after == D("1998.00")
    assert p.turnover == D("0.8")
    assert r.line("A").target_weight == D("0.5")
    assert r.warnings == ()


def test_sells_come_before_buys_and_sale_fees_include_sec_and_finra() -> None:
    h = Holdings.of({"A": 100}, 1_000)
    r = plan(h, {"A": 50, "B": 25}, {"B": 0.5, "A": 0.3})  # PV 6,000
    p = r.plan
    assert [(t.instrument, t.side) for t in p.trades] == [("B", OrderSide.BUY), ("A", OrderSide.SELL)]
    assert [t.instrument for t in p.orders_in_execution_order] == ["A", "B"]
    sell, buy = p.orders_in_execution_order
    assert (sell.current_quantity, sell.target_quantity) == (100, 36)  # 0.3 × 6,000 / 50
    assert buy.target_quantity == 120  # 0.5 × 6,000 / 25
    # sell 64 @ 50: 1.00 minimum + SEC 0.0000278 × 3,200 (0.08896) + FINRA 64 × 0.000166 (0.010624) = 1.10
    assert sell.estimated_commission == D("1.10")
    assert buy.estimated_commission == D("1.00")
    assert p.cash_after == D("1000") + 3_200 - 3_000 - D("2.10")


def test_lot_size_rounds_the_trade_to_whole_lots_with_a_note() -> None:
    board = Stock("LOT", lot_size=D(100))
    r = plan(Holdings.of({}, 100_000), {"LOT": 20}, {"LOT": 0.05}, instruments={"LOT": board})
    line = r.line("LOT")
    assert line.ideal_quantity == 250
    assert line.target_quantity == 200  # 2.5 lots, half to even → 2 lots
    assert line.target_weight == D("0.04")
    assert any("nearest feasible quantity 200" in n for n in line.notes)
    orders = plan_to_orders(r.plan, OrderSettings(), {"LOT": board})
    assert orders[0].quantity == 200


def test_fractional_only_when_asked_and_allowed() -> None:
    frac = Stock("FR", lot_size=D("0.0001"), allows_fractional=True)
    h = Holdings.of({}, 10_000)
    whole = plan(h, {"FR": "333.33"}, {"FR": 0.1}, instruments={"FR": frac})
    assert whole.line("FR").target_quantity == 3
    s = RebalanceSettings(max_position_pct=None, fractional=True)
    part = plan(h, {"FR": "333.33"}, {"FR": 0.1}, s, instruments={"FR": frac})
    assert part.line("FR").target_quantity == D("3.0000")  # 3.00003 rounds to the 0.0001 step
    plain = plan(h, {"X": "333.33"}, {"X": 0.1}, s)  # Stock default: no fractions
    assert plain.line("X").target_quantity == 3


@pytest.mark.parametrize(
    ("band", "mode", "trades"),
    [
        (D("0.03"), "absolute", False),  # drift 2 pp < 3 pp
        (D("0.02"), "absolute", True),  # not under the band: trade
        (D("0.01"), "absolute", True),
        (D("0.05"), "relative", False),  # 2 pp < 5 % of 52 % = 2.6 pp
        (D("0.03"), "relative", True),  # 2 pp >= 1.56 pp
    ],
)
def test_tolerance_bands(band: Decimal, mode: str, trades: bool) -> None:
    s = RebalanceSettings(max_position_pct=None, band=band, band_mode=mode)  # type: ignore[arg-type]
    r = plan(Holdings.of({"A": 50}, 5_000), {"A": 100}, {"A": 0.52}, s)
    assert bool(r.plan.trades) is trades
    if trades:
        assert r.line("A").target_quantity == 52
    else:
        assert "within the band" in r.line("A").notes[0]


def test_a_dropped_holding_is_closed_even_inside_the_band_and_below_the_minimum_trade() -> None:
    s = RebalanceSettings(max_position_pct=None, band=D("0.10"), min_trade_value=D(1_000))
    r = plan(Holdings.of({"A": 50, "C": 5}, 4_500), {"A": 100, "C": 100}, {"A": 0.5}, s)
    assert [(t.instrument, t.target_quantity) for t in r.plan.trades] == [("C", 0)]
    assert r.line("C").notes == ("closed: the target weight is zero",)


def test_minimum_trade_value_skips_small_resizing() -> None:
    s = RebalanceSettings(max_position_pct=None, min_trade_value=D(500))
    r = plan(Holdings.of({"A": 50}, 5_000), {"A": 100}, {"A": 0.52}, s)
    assert r.plan.trades == ()
    assert "below the minimum trade value 500.00" in r.line("A").notes[0]


def test_cash_buffer_scales_targets_and_is_never_spent() -> None:
    s = RebalanceSettings(max_position_pct=None, cash_buffer=D("0.05"))
    r = plan(Holdings.of({}, 10_000), {"A": 100}, {"A": 1})
    assert r.line("A").target_quantity == 100 - 1  # 100 shares cost 10,001 with commission: one share less
    r = plan(Holdings.of({}, 10_000), {"A": 100}, {"A": 1}, s)
    line = r.line("A")
    assert line.ideal_quantity == 95  # 1.0 × 10,000 × (1 − 5 %) / 100
    # 95 shares cost 9,501 with commission, 1 more than the 9,500 above the reserve: one share less
    assert line.target_quantity == 94
    assert r.cash_reserve == 500
    assert r.plan.cash_after == D("10000") - 9_400 - 1 >= r.cash_reserve
    assert "cut from 95 to 94" in line.notes[0]


def test_cash_short_scales_buys_then_adds_lots_back() -> None:
    r = plan(Holdings.of({}, 1_000), {"A": 10, "B": 10}, {"A": 0.6, "B": 0.4})
    # wanted 60 + 40 cost 1,002 with fees; scaled to 59 + 39 (982), then A gets its lot back (992), B does not
    assert [t.target_quantity for t in r.plan.trades] == [60, 39]
    assert r.plan.cash_after == D(8)
    assert "cut from 40 to 39" in r.line("B").notes[0]
    assert r.warnings
    assert r.warnings[0].startswith("cash short")


def test_no_buys_without_cash() -> None:
    s = RebalanceSettings(max_position_pct=None, band=D("0.5"), band_mode="relative")
    # PV 900; A at 111 % is inside ±50 % of 90 %, B (0 % for 10 %) is not
    r = plan(Holdings.of({"A": 10}, -100), {"A": 100, "B": 10}, {"A": 0.9, "B": 0.1}, s)
    assert r.plan.trades == ()
    assert r.plan.cash_after == r.plan.cash_before == -100
    assert "cut from 9 to 0" in r.line("B").notes[0]


def test_max_position_caps_targets_and_trims_holdings_inside_the_band() -> None:
    s = RebalanceSettings(max_position_pct=D("0.10"), band=D("0.5"))
    r = plan(Holdings.of({"B": 30}, 7_000), {"A": 100, "B": 100}, {"A": 0.5, "B": 0.3}, s)  # PV 10,000
    assert r.line("A").target_quantity == 10
    assert r.line("B").target_quantity == 10  # inside the band, but 3,000 > the 1,000 cap
    assert "capped at the max position size 10.00 %" in r.line("A").notes[-1]
    assert all(abs(ln.target_quantity) * ln.price <= 1_000 for ln in r.lines)


def test_max_position_from_settings_and_disabled_rule() -> None:
    cfg = Settings()
    s = RebalanceSettings.from_settings(cfg)
    assert s.max_position_pct == D("0.1")
    assert s.buy_price_allowance == D("0.001")
    assert not s.allow_short_selling
    off = Settings.model_validate({"risk": {"disabled_rules": ["max_position", "short_selling"]}})
    s2 = RebalanceSettings.from_settings(off, band=D("0.01"), fractional=None)
    assert s2.max_position_pct is None
    assert s2.allow_short_selling
    assert s2.band == D("0.01")


def test_a_target_that_whole_shares_cannot_meet_takes_the_nearest_feasible_quantity() -> None:
    h = Holdings.of({}, 5_000)
    small = plan(h, {"BIG": 500}, {"BIG": 0.01})  # 0.1 share → 0
    assert small.plan.trades == ()
    assert "nearest feasible quantity 0" in small.line("BIG").notes[0]
    assert "one lot of 1 is 10.00 % of the portfolio" in small.line("BIG").notes[0]
    up = plan(h, {"BIG": 500}, {"BIG": 0.07})  # 0.7 share → 1 share = 10 %
    assert up.line("BIG").target_quantity == 1
    capped = plan(h, {"BIG": 500}, {"BIG": 0.07}, RebalanceSettings(max_position_pct=D("0.08")))
    assert capped.line("BIG").target_quantity == 0
    assert "capped" in capped.line("BIG").notes[-1]


def test_short_selling_refused_when_off() -> None:
    weights = TargetWeights.of({"A": -0.1, "B": 0.5})
    with pytest.raises(RiskRejected) as exc:
        plan_rebalance(Holdings.of({}, 10_000), {"A": 100, "B": 10}, weights, NO_CAP)
    assert exc.value.field == "short_selling"
    assert "A" in exc.value.message
    assert "allow_short_selling" in (exc.value.hint or "")


def test_existing_short_is_covered_when_shorts_are_off() -> None:
    s = RebalanceSettings(max_position_pct=None, band=D("0.5"))
    r = plan(Holdings.of({"A": -10}, 11_000), {"A": 100}, {"A": 0.05}, s)  # drift inside the band, still covered
    assert r.line("A").target_quantity == 5
    assert r.plan.trades[0].side is OrderSide.BUY


def test_shorts_when_allowed() -> None:
    s = RebalanceSettings(max_position_pct=None, allow_short_selling=True, fee_model=NoFees())
    r = plan(Holdings.of({}, 10_000), {"A": 100, "B": 50}, {"A": -0.1, "B": 0.9}, s)
    assert r.line("A").target_quantity == -10
    assert r.line("B").target_quantity == 180
    assert r.plan.cash_after == 10_000 + 1_000 - 9_000  # short proceeds count as cash


def test_missing_price_and_non_positive_value_name_the_field() -> None:
    with pytest.raises(DataError) as exc:
        plan(Holdings.of({"Z": 1}, 100), {}, {})
    assert exc.value.field == "prices[Z]"
    with pytest.raises(ValidationError) as exc2:
        plan(Holdings.of({}, 0), {"A": 1}, {"A": 0.5})
    assert exc2.value.field == "portfolio_value"
    with pytest.raises(ValidationError):
        RebalanceSettings(cash_buffer=D(1))
    with pytest.raises(ValidationError):
        RebalanceSettings(band_mode="percent")  # type: ignore[arg-type]


def test_marks_serve_as_prices_and_instrument_ids_map_to_symbols() -> None:
    h = Holdings.of({"AAPL.STK.SMART.USD": 10}, 1_000, marks={"AAPL": 100})
    r = plan(h, {}, {"AAPL.STK.SMART.USD": 0.5})
    assert r.line("AAPL").target_quantity == 10  # already at 50 %
    assert r.plan.trades == ()
    assert symbol_of(InstrumentId("BRK.B.STK.SMART.USD")) == "BRK.B"
    assert symbol_of("ES.FUT.CME.USD.20250321") == "ES.FUT.CME.USD.20250321"


def test_plan_to_orders_follows_the_order_settings() -> None:
    h = Holdings.of({"A": 10}, 1_000, account=AccountId("DU1000001"))
    r = plan(h, {"A": 100, "B": "50.005"}, {"B": 0.5})
    orders = plan_to_orders(r.plan, OrderSettings())
    sell, buy = orders
    assert (sell.instrument.symbol, sell.side, sell.quantity) == ("A", OrderSide.SELL, 10)
    assert sell.order_type is OrderType.LIMIT
    assert sell.limit_price == D("99.90")  # 100 × 0.999, rounded up to the tick
    assert buy.limit_price == D("50.05")  # 50.005 × 1.001 = 50.055005, rounded down to the tick
    assert sell.tif is TimeInForce.DAY
    assert not sell.outside_rth
    assert sell.account == AccountId("DU1000001")
    assert sell.client_order_id.value.startswith("rb-")
    mkt = plan_to_orders(r.plan, OrderSettings(default_type="MARKET", tif="GTC", outside_rth=True))
    assert [o.order_type for o in mkt] == [OrderType.MARKET, OrderType.MARKET]
    assert mkt[0].tif is TimeInForce.GTC
    assert mkt[0].outside_rth


def test_result_to_dict_is_json_ready() -> None:
    r = plan(Holdings.of({}, 10_000), {"A": 100}, {"A": 0.5})
    doc = json.loads(json.dumps(r.to_dict()))
    assert doc["trades"] == 1
    assert doc["lines"][0]["trade"] == "50"
    assert doc["estimated_commission"] == "1.00"


# -- holdings from files and brokers ---------------------------------------------------------------------------------


def test_holdings_from_csv_with_cash_row_and_prices(tmp_path: Path) -> None:
    f = tmp_path / "positions.csv"
    f.write_text("symbol,quantity,price\nAAPL,10,150.5\nMSFT,5,\nCASH,2500\n")
    h = load_holdings_file(f)
    assert dict(h.positions) == {"AAPL": D(10), "MSFT": D(5)}
    assert h.cash == D(2500)
    assert dict(h.marks) == {"AAPL": D("150.5")}
    assert load_holdings_file(f, cash=99).cash == 99


def test_holdings_from_json(tmp_path: Path) -> None:
    f = tmp_path / "positions.json"
    f.write_text(json.dumps({"cash": 1000, "account": "DU1", "positions": {"AAPL": 3, "X": 0}}))
    h = load_holdings_file(f)
    assert dict(h.positions) == {"AAPL": D(3)}
    assert h.account == AccountId("DU1")
    f.write_text(json.dumps({"cash": 5, "positions": [{"symbol": "JPM", "quantity": 2, "price": 200}]}))
    assert load_holdings_file(f).marks["JPM"] == 200


def test_bad_holdings_files_name_the_problem(tmp_path: Path) -> None:
    f = tmp_path / "p.csv"
    f.write_text("ticker,qty\nAAPL,1\n")
    with pytest.raises(DataError, match="symbol,quantity"):
        load_holdings_file(f)
    f.write_text("symbol,quantity\nAAPL,1\n")
    with pytest.raises(DataError) as exc:
        load_holdings_file(f)
    assert exc.value.field == "cash"
    f.write_text("symbol,quantity\nAAPL,lots\nCASH,1\n")
    with pytest.raises(ValidationError) as exc2:
        load_holdings_file(f)
    assert exc2.value.field == "positions_file line 2 quantity"
    with pytest.raises(DataError):
        load_holdings_file(tmp_path / "missing.csv")


def test_a_target_file_maps_symbols_to_the_held_instruments_and_keeps_zeros(tmp_path: Path) -> None:
    f = tmp_path / "target.csv"
    f.write_text("symbol,quantity\nAAPL,10\nMSFT,0\nSAP,5\nES.FUT.CME.USD.20250321,-2\nAAPL,5\nCASH,100\n")
    held = [InstrumentId("AAPL.STK.NASDAQ.USD"), InstrumentId("ES.FUT.CME.USD.20250321")]
    target = load_target_file(f, held)
    assert target == {
        InstrumentId("AAPL.STK.NASDAQ.USD"): D(15),  # the held listing, both rows summed
        InstrumentId("MSFT.STK.SMART.USD"): D(0),  # flat is a target too
        InstrumentId("SAP.STK.SMART.USD"): D(5),
        InstrumentId("ES.FUT.CME.USD.20250321"): D(-2),
    }
    f.write_text("symbol,quantity\nAAPL,ten\n")
    with pytest.raises(ValidationError) as exc:
        load_target_file(f, held)
    assert exc.value.field == "target line 2 quantity"
    with pytest.raises(DataError) as missing:
        load_target_file(tmp_path / "nope.csv", held, option="--target")
    assert missing.value.field == "--target"


class FakeBroker:
    """Just what the holdings helpers use of the Broker protocol."""

    def __init__(self) -> None:
        self.account = AccountId("DU1000001")

    async def account_summary(self, account: AccountId | None = None) -> AccountSnapshot:
        return AccountSnapshot.of(self.account, TS, 12_000, cash={"USD": 2_000}, gross_position_value=10_000)

    async def positions(self, account: AccountId | None = None) -> list[PositionReport]:
        def pos(iid: str, qty: int, px: int | None) -> PositionReport:
            return PositionReport(
                account=self.account,
                instrument_id=InstrumentId(iid),
                quantity=D(qty),
                average_cost=D(1),
                ts=TS,
                market_price=None if px is None else D(px),
            )

        return [
            pos("AAPL.STK.SMART.USD", 50, 200),
            pos("ES.FUT.CME.USD.20250321", 1, 5000),
            pos("SAP.STK.SMART.EUR", 3, 100),
            pos("MSFT.STK.SMART.USD", 0, 300),
        ]

    async def quote(self, instrument: Stock) -> Quote:
        return Quote(instrument.id, TS, D("99.98"), D("100.02"))


def test_snapshot_from_broker_keeps_base_currency_stocks() -> None:
    broker = FakeBroker()
    h = asyncio.run(snapshot_from_broker(broker, "DU1000001"))  # type: ignore[arg-type]
    assert dict(h.positions) == {"AAPL": D(50)}
    assert h.cash == 2_000
    assert h.marks["AAPL"] == 200
    assert h.account == AccountId("DU1000001")
    assert len(h.excluded) == 2
    assert "ES.FUT" in h.excluded[0]
    quotes = asyncio.run(quotes_from_broker(broker, [Stock("AAPL"), Stock("JPM")]))  # type: ignore[arg-type]
    assert quotes == {"AAPL": D(100), "JPM": D(100)}
    r = plan(h, quotes, {"AAPL": 0.1}, RebalanceSettings(fee_model=IbFixed()))
    assert r.plan.account == AccountId("DU1000001")
    assert r.warnings[:2] == h.excluded
