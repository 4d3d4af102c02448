"""Properties of every plan (hypothesis): the cash after sells is never overspent, the max position size is never
breached at the plan's prices, and each target is reached within one lot wherever the constraints allow."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from quantdesk.domain.instruments import Stock
from quantdesk.domain.side import OrderSide
from quantdesk.domain.targets import TargetWeights
from quantdesk.execution.fees import IbFixed, IbTiered
from quantdesk.portfolio.rebalance import Holdings, RebalanceResult, RebalanceSettings, plan_rebalance

D = Decimal
TS = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
SYMBOLS = ["A", "B", "C", "D", "E", "F"]

prices_st = st.decimals(min_value=D("1.00"), max_value=D("900.00"), places=2)
qty_st = st.integers(min_value=0, max_value=400)
cash_st = st.decimals(min_value=D("-2000"), max_value=D("250000"), places=2)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(min_value=1, max_value=len(SYMBOLS)))
    syms = SYMBOLS[:n]
    prices = {s: draw(prices_st) for s in syms}
    held = {s: D(draw(qty_st)) for s in syms if draw(st.booleans())}
    raw = [draw(st.integers(min_value=0, max_value=100)) for _ in syms]
    gross = draw(st.sampled_from([D("0.5"), D("0.9"), D(1)]))
    total = sum(raw) or 1
    weights = {
        s: (D(r) / total * gross).quantize(D("0.0001"), rounding="ROUND_FLOOR") for s, r in zip(syms, raw, strict=True)
    }
    lots = {s: D(draw(st.sampled_from([1, 1, 1, 10]))) for s in syms}
    s = RebalanceSettings(
        max_position_pct=draw(st.sampled_from([None, D("0.10"), D("0.25"), D("0.5")])),
        band=draw(st.sampled_from([D(0), D(0), D("0.01")])),
        band_mode=draw(st.sampled_from(["absolute", "relative"])),
        min_trade_value=draw(st.sampled_from([D(0), D(0), D(250)])),
        cash_buffer=draw(st.sampled_from([D(0), D("0.02")])),
        buy_price_allowance=draw(st.sampled_from([D(0), D("0.001")])),
        fee_model=draw(st.sampled_from([IbFixed(), IbTiered()])),
    )
    return {"prices": prices, "held": held, "cash": draw(cash_st), "weights": weights, "lots": lots, "settings": s}


def run(sc: dict[str, Any]) -> RebalanceResult:
    holdings = Holdings.of(sc["held"], sc["cash"])
    pv = holdings.cash + sum((q * sc["prices"][s] for s, q in holdings.positions.items()), D(0))
    assume(pv > 100)
    instruments = {s: Stock(s, lot_size=lot) for s, lot in sc["lots"].items()}
    target = TargetWeights.of(sc["weights"], long_only=True)
    return plan_rebalance(holdings, sc["prices"], target, sc["settings"], instruments=instruments, ts=TS)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_never_spends_more_than_the_cash_available_after_sells(sc: dict[str, Any]) -> None:
    r = run(sc)
    p, s = r.plan, sc["settings"]
    sells = [t for t in p.trades if t.side is OrderSide.SELL]
    buys = [t for t in p.trades if t.side is OrderSide.BUY]
    available = p.cash_before + sum((t.notional - t.estimated_commission for t in sells), D(0)) - r.cash_reserve
    spent = sum((t.notional * (1 + s.buy_price_allowance) + t.estimated_commission for t in buys), D(0))
    assert spent <= max(available, D(0))
    if buys:
        assert p.cash_after >= r.cash_reserve


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_never_breaches_the_max_position_size(sc: dict[str, Any]) -> None:
    r = run(sc)
    cap = sc["settings"].max_position_pct
    if cap is None:
        return
    for line in r.lines:
        assert abs(line.target_quantity) * line.price <= cap * r.plan.portfolio_value, line


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_targets_within_one_lot_where_the_constraints_allow(sc: dict[str, Any]) -> None:
    r = run(sc)
    for line in r.lines:
        assert line.target_quantity >= 0  # long only: nothing sold below zero
        binding = ("within the band", "skipped", "capped", "cut from")
        if line.requested_weight == 0:
            assert line.target_quantity == 0
        elif not any(n.startswith(binding) for n in line.notes):
            assert abs(line.target_quantity - line.ideal_quantity) <= line.lot, line
        elif any(n.startswith("cut from") for n in line.notes):
            assert line.current_quantity <= line.target_quantity <= line.ideal_quantity + line.lot, line


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_with_room_to_spare_every_target_is_met_within_one_lot(sc: dict[str, Any]) -> None:
    """No cap, band or minimum, weights summing to at most 90 % and cash enough: nothing may bind."""
    sc["settings"] = RebalanceSettings(max_position_pct=None, fee_model=sc["settings"].fee_model)
    sc["weights"] = {s: w * D("0.9") for s, w in sc["weights"].items()}
    sc["cash"] = abs(sc["cash"]) + D(100_000)
    sc["lots"] = dict.fromkeys(sc["lots"], D(1))
    r = run(sc)
    assert r.warnings == ()
    for line in r.lines:
        assert abs(line.target_quantity - line.ideal_quantity) <= line.lot, line
