"""VaR/CVaR against references: skfolio's measures (historical), a direct scipy computation (parametric), the
parametric figure (Monte Carlo), and hand-computed tiny examples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import skfolio.measures as skm
from scipy import stats
from skfolio.datasets import load_sp500_dataset

from quantdesk.errors import DataError, ValidationError
from quantdesk.risk.analytics import (
    compute_var,
    historical_var,
    horizon_returns,
    monte_carlo_var,
    parametric_var,
    returns_from_prices,
    tail_loss,
)

VALUES = {"AAPL": 120_000.0, "MSFT": 80_000.0, "JPM": -30_000.0, "XOM": 50_000.0, "PFE": 30_000.0}
PV = sum(VALUES.values())


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    """The real S&P 500 sample, straight from skfolio (the same values ``load_sample_prices`` serves)."""
    return load_sp500_dataset()


@pytest.fixture(scope="module")
def returns(prices: pd.DataFrame) -> pd.DataFrame:
    return returns_from_prices(prices).iloc[-504:]


def _weights() -> np.ndarray:
    return np.array(list(VALUES.values())) / PV


# -- the empirical tail (skfolio's convention) ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [7, 10, 20, 100, 101, 504, 1000])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.975, 0.99])
def test_tail_loss_matches_skfolio(n: int, confidence: float) -> None:
    rng = np.random.default_rng(n)
    data = rng.standard_t(4, size=(n, 3)) * 0.01
    var, cvar = tail_loss(data, confidence)
    np.testing.assert_allclose(var, skm.value_at_risk(data, confidence), rtol=0, atol=1e-15)
    np.testing.assert_allclose(cvar, skm.cvar(data, confidence), rtol=1e-12, atol=1e-15)
    for j in range(3):
        v1, c1 = tail_loss(data[:, j], confidence)
        assert float(v1) == pytest.approx(skm.value_at_risk(data[:, j], confidence), abs=1e-15)
        assert float(c1) == pytest.approx(skm.cvar(data[:, j], confidence), rel=1e-12)


def test_tail_loss_by_hand() -> None:
    """Ten outcomes at 90 %: k = 1, VaR = the 2nd worst loss, CVaR = the worst; at 85 %: k = 1.5."""
    pnl = np.array([5.0, -3.0, 2.0, -10.0, 1.0, -1.0, 4.0, -6.0, 0.0, 3.0])
    var, cvar = tail_loss(pnl, 0.90)
    assert float(var) == 6.0
    assert float(cvar) == 10.0
    var, cvar = tail_loss(pnl, 0.85)
    assert float(var) == 6.0  # floor(1.5) = 1: the 2nd worst
    assert float(cvar) == pytest.approx((10.0 + 0.5 * 6.0) / 1.5)


# -- historical ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_historical_matches_skfolio_on_the_sp500_sample(returns: pd.DataFrame, confidence: float) -> None:
    result = historical_var(returns, VALUES, confidence=confidence)
    portfolio_returns = returns[list(VALUES)].to_numpy() @ _weights()
    assert result.var_pct == pytest.approx(skm.value_at_risk(portfolio_returns, confidence), rel=1e-12)
    assert result.cvar_pct == pytest.approx(skm.cvar(portfolio_returns, confidence), rel=1e-12)
    assert result.var == pytest.approx(PV * skm.value_at_risk(portfolio_returns, confidence), rel=1e-12)
    assert result.observations == 504
    for sym, value in VALUES.items():
        pos = result.position(sym)
        col = returns[sym].to_numpy() * value
        assert pos.var == pytest.approx(skm.value_at_risk(col, confidence), rel=1e-12)
        assert pos.cvar == pytest.approx(skm.cvar(col, confidence), rel=1e-12)
        assert pos.component_var is None
    assert 0 < result.var < result.cvar


def test_historical_ten_day_uses_overlapping_returns_from_prices(prices: pd.DataFrame) -> None:
    """h = 10 equals skfolio on the 10-day price returns p_t / p_{t-10} - 1 of the same window."""
    window = prices.iloc[-505:]
    result = historical_var(returns_from_prices(window), VALUES, confidence=0.99, horizon_days=10)
    ten_day = (window / window.shift(10) - 1.0).dropna()[list(VALUES)].to_numpy() @ _weights()
    assert result.observations == len(ten_day) == 495
    assert result.var_pct == pytest.approx(skm.value_at_risk(ten_day, 0.99), rel=1e-9)
    assert result.cvar_pct == pytest.approx(skm.cvar(ten_day, 0.99), rel=1e-9)
    assert any("overlapping 10-day windows" in n for n in result.notes)


def test_horizon_returns_compound() -> None:
    r = pd.DataFrame({"A": [0.1, -0.05, 0.02, 0.03]})
    three = horizon_returns(r, 3)
    assert list(three["A"]) == pytest.approx([1.1 * 0.95 * 1.02 - 1, 0.95 * 1.02 * 1.03 - 1])
    assert horizon_returns(r, 1) is r


def test_returns_from_prices_and_bad_prices() -> None:
    p = pd.DataFrame({"A": [100.0, 110.0, 99.0]}, index=pd.date_range("2024-01-01", periods=3))
    assert list(returns_from_prices(p)["A"]) == pytest.approx([0.1, -0.1])
    with pytest.raises(DataError) as exc:
        returns_from_prices(pd.DataFrame({"A": [1.0, 0.0]}))
    assert exc.value.field == "prices"
    assert "A" in str(exc.value)


# -- parametric ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("confidence", [0.95, 0.99])
@pytest.mark.parametrize("include_mean", [False, True])
def test_parametric_matches_a_direct_scipy_computation(
    returns: pd.DataFrame, confidence: float, include_mean: bool
) -> None:
    v = np.array(list(VALUES.values()))
    r = returns[list(VALUES)].to_numpy()
    sigma = math.sqrt(v @ np.cov(r, rowvar=False) @ v)
    mu = float(r.mean(axis=0) @ v) if include_mean else 0.0
    loss = stats.norm(loc=-mu, scale=sigma)  # the P&L's loss distribution
    want_var = loss.ppf(confidence)
    want_cvar = loss.expect(lambda x: x, lb=want_var, conditional=True)  # E[L | L >= VaR] by quadrature
    result = parametric_var(returns, VALUES, confidence=confidence, include_mean=include_mean)
    assert result.var == pytest.approx(want_var, rel=1e-12)
    assert result.cvar == pytest.approx(want_cvar, rel=1e-8)
    assert result.details["sigma"] == pytest.approx(sigma, rel=1e-12)
    for sym, value in VALUES.items():
        col = returns[sym].to_numpy()
        standalone = stats.norm(loc=-(col.mean() * value if include_mean else 0.0), scale=abs(value) * col.std(ddof=1))
        assert result.position(sym).var == pytest.approx(standalone.ppf(confidence), rel=1e-12)


def test_parametric_scales_with_the_square_root_of_time(returns: pd.DataFrame) -> None:
    one = parametric_var(returns, VALUES)
    ten = parametric_var(returns, VALUES, horizon_days=10)
    assert ten.var == pytest.approx(one.var * math.sqrt(10), rel=1e-12)
    assert ten.cvar == pytest.approx(one.cvar * math.sqrt(10), rel=1e-12)


@pytest.mark.parametrize("include_mean", [False, True])
def test_euler_components_sum_to_the_portfolio_and_marginals_are_derivatives(
    returns: pd.DataFrame, include_mean: bool
) -> None:
    result = parametric_var(returns, VALUES, confidence=0.99, horizon_days=5, include_mean=include_mean)
    assert sum(p.component_var or 0.0 for p in result.positions) == pytest.approx(result.var, rel=1e-12)
    assert sum(p.component_cvar or 0.0 for p in result.positions) == pytest.approx(result.cvar, rel=1e-12)

    def var_with(sym: str, bump: float) -> float:
        values = {**VALUES, sym: VALUES[sym] + bump}
        kw = {"confidence": 0.99, "horizon_days": 5, "include_mean": include_mean, "portfolio_value": PV}
        return parametric_var(returns, values, **kw).var

    for sym in VALUES:
        central = (var_with(sym, 1.0) - var_with(sym, -1.0)) / 2.0
        assert result.position(sym).marginal_var == pytest.approx(central, rel=1e-5)
    # the hedge (JPM short) is worth less than its standalone VaR: diversification
    assert sum(p.var for p in result.positions) > result.var


def test_parametric_by_hand() -> None:
    """One asset, returns ±1 %: σ = √(4·0.0001/3); two perfectly correlated assets add; an exact hedge is riskless."""
    r = pd.DataFrame({"A": [0.01, -0.01, 0.01, -0.01]})
    sigma = 1000 * math.sqrt(0.0004 / 3)
    one = parametric_var(r, {"A": 1000.0}, confidence=0.95)
    assert one.var == pytest.approx(1.6448536269514722 * sigma, rel=1e-12)
    assert one.cvar == pytest.approx(sigma * math.exp(-(1.6448536269514722**2) / 2) / math.sqrt(2 * math.pi) / 0.05)
    pair = pd.DataFrame({"A": r["A"], "B": 2 * r["A"], "C": -r["A"]})
    both = parametric_var(pair, {"A": 1000.0, "B": 1000.0}, confidence=0.95)
    assert both.var == pytest.approx(1.6448536269514722 * 3 * sigma, rel=1e-12)
    hedged = parametric_var(pair, {"A": 1000.0, "C": 1000.0}, confidence=0.95, portfolio_value=2000.0)
    assert hedged.var == pytest.approx(0.0, abs=1e-9)
    assert hedged.position("A").component_var == pytest.approx(0.0, abs=1e-9)


# -- Monte Carlo -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("confidence", "tolerance"), [(0.95, 0.01), (0.99, 0.02)])
def test_monte_carlo_converges_to_parametric(returns: pd.DataFrame, confidence: float, tolerance: float) -> None:
    para = parametric_var(returns, VALUES, confidence=confidence, horizon_days=10)
    mc = monte_carlo_var(returns, VALUES, confidence=confidence, horizon_days=10)
    assert mc.observations == 100_000
    assert mc.var == pytest.approx(para.var, rel=tolerance)
    assert mc.cvar == pytest.approx(para.cvar, rel=tolerance)
    for sym in VALUES:
        assert mc.position(sym).var == pytest.approx(para.position(sym).var, rel=tolerance)
    with_mean = monte_carlo_var(returns, VALUES, confidence=confidence, include_mean=True)
    para_mean = parametric_var(returns, VALUES, confidence=confidence, include_mean=True)
    assert with_mean.var == pytest.approx(para_mean.var, rel=tolerance)


def test_monte_carlo_is_seeded(returns: pd.DataFrame) -> None:
    a = monte_carlo_var(returns, VALUES, n_scenarios=5_000)
    b = monte_carlo_var(returns, VALUES, n_scenarios=5_000)
    c = monte_carlo_var(returns, VALUES, n_scenarios=5_000, seed=7)
    assert (a.var, a.cvar) == (b.var, b.cvar)
    assert a.var != c.var
    assert a.details["seed"] == 42


def test_bootstrap_converges_to_historical(returns: pd.DataFrame) -> None:
    hist = historical_var(returns, VALUES, confidence=0.95)
    boot = monte_carlo_var(returns, VALUES, confidence=0.95, sampling="bootstrap")
    assert boot.var == pytest.approx(hist.var, rel=0.03)
    assert boot.cvar == pytest.approx(hist.cvar, rel=0.03)
    ten = monte_carlo_var(returns, VALUES, confidence=0.95, sampling="bootstrap", horizon_days=10)
    assert ten.var > boot.var


# -- the dispatcher and errors ---------------------------------------------------------------------------------------


def test_compute_var_runs_the_methods_asked_for(returns: pd.DataFrame) -> None:
    out = compute_var(returns, VALUES, methods=["monte-carlo", "historical"], confidence=0.99)
    assert list(out) == ["monte_carlo", "historical"]
    assert all(r.confidence == 0.99 and r.portfolio_value == PV for r in out.values())
    doc = out["historical"].to_dict()
    assert doc["var_pct"] == pytest.approx(doc["var"] / PV)
    assert isinstance(doc["details"]["start"], str)


@pytest.mark.parametrize("confidence", [1.5, 0.0, 1.0, -0.1, float("nan")])
def test_a_confidence_outside_0_1_is_refused(returns: pd.DataFrame, confidence: float) -> None:
    with pytest.raises(ValidationError) as exc:
        parametric_var(returns, VALUES, confidence=confidence)
    assert exc.value.field == "confidence"
    assert "0.95" in (exc.value.hint or "")


def test_bad_inputs_name_the_field(returns: pd.DataFrame) -> None:
    with pytest.raises(ValidationError) as exc:
        historical_var(returns, VALUES, horizon_days=0)
    assert exc.value.field == "horizon_days"
    with pytest.raises(DataError) as dexc:
        historical_var(returns, {"AAPL": 1.0, "NOPE": 2.0})
    assert dexc.value.field == "returns"
    assert "NOPE" in str(dexc.value)
    with pytest.raises(DataError) as dexc:
        parametric_var(returns, {"AAPL": 1000.0, "MSFT": -2000.0})
    assert dexc.value.field == "portfolio_value"
    with pytest.raises(ValidationError) as exc:
        compute_var(returns, VALUES, methods=["delta-gamma"])
    assert exc.value.field == "methods"
    with pytest.raises(ValidationError) as exc:
        monte_carlo_var(returns, VALUES, n_scenarios=10)
    assert exc.value.field == "n_scenarios"
    with pytest.raises(DataError):
        historical_var(returns.iloc[:1], VALUES)


def test_short_histories_say_the_tail_is_thin(returns: pd.DataFrame) -> None:
    result = historical_var(returns.iloc[-100:], VALUES, confidence=0.99)
    assert any("tail holds 1.0" in n for n in result.notes)
