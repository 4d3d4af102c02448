"""Agreement with PyPortfolioOpt (test-only reference) on every convex problem, on the real sample.

Setting: the last 5 years of the bundled S&P 500 prices, daily simple returns, mean × 252 and sample covariance
× 252, long-only, fully invested. Weights agree within 1e-3, or ours reach an objective at least as good (asserted
explicitly). The mean–variance problems run on both engines (compiled and skfolio).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from pypfopt import EfficientCVaR, EfficientFrontier
from scipy.optimize import minimize

from quantdesk.portfolio import OptimizationSpec, optimize

ENGINES = ["compiled", "skfolio"]


@pytest.fixture(scope="module")
def mu(returns_5y: pd.DataFrame) -> pd.Series:
    return returns_5y.mean() * 252


@pytest.fixture(scope="module")
def cov(returns_5y: pd.DataFrame) -> pd.DataFrame:
    return returns_5y.cov() * 252


def _ours(returns: pd.DataFrame, method: str, **options: object) -> np.ndarray:
    options.setdefault("max_weight", 1.0)
    spec = OptimizationSpec(method=method, lookback=None, cov="sample", mu="mean", **options)  # type: ignore[arg-type]
    result = optimize(returns, spec, returns=True)
    assert result.weights.sum() == pytest.approx(1.0, abs=1e-8)
    assert (result.weights >= -1e-9).all()
    return result.weights.to_numpy()


def _ref(mu: pd.Series, cov: pd.DataFrame, call: str, bounds: tuple[float, float] = (0, 1), **kw: float) -> np.ndarray:
    ef = EfficientFrontier(mu, cov, weight_bounds=bounds)
    weights = getattr(ef, call)(**kw)
    return np.array([weights[s] for s in mu.index])


def _assert_agree(
    ours: np.ndarray, ref: np.ndarray, objective: Callable[[np.ndarray], float], *, minimize_: bool
) -> None:
    """Weights within 1e-3, or an objective at least as good; and never an objective worse by more than 1e-7."""
    f_ours, f_ref = objective(ours), objective(ref)
    slack = 1e-7 * max(1.0, abs(f_ref))
    at_least_as_good = f_ours <= f_ref + slack if minimize_ else f_ours >= f_ref - slack
    assert at_least_as_good, (f_ours, f_ref)
    if np.abs(ours - ref).max() > 1e-3:
        strictly = f_ours <= f_ref + 1e-12 if minimize_ else f_ours >= f_ref - 1e-12
        assert strictly, (f_ours, f_ref, np.abs(ours - ref).max())


@pytest.mark.parametrize("engine", ENGINES)
def test_min_variance_agrees(returns_5y: pd.DataFrame, mu: pd.Series, cov: pd.DataFrame, engine: str) -> None:
    ours = _ours(returns_5y, "min-variance", engine=engine)
    ref = _ref(mu, cov, "min_volatility")
    assert np.abs(ours - ref).max() < 1e-3
    _assert_agree(ours, ref, lambda w: float(w @ cov.to_numpy() @ w), minimize_=True)
    assert np.sqrt(ours @ cov.to_numpy() @ ours) == pytest.approx(0.16953, abs=1e-4)


@pytest.mark.parametrize("engine", ENGINES)
def test_max_sharpe_agrees(returns_5y: pd.DataFrame, mu: pd.Series, cov: pd.DataFrame, engine: str) -> None:
    ours = _ours(returns_5y, "max-sharpe", engine=engine)
    ref = _ref(mu, cov, "max_sharpe", risk_free_rate=0.0)

    def sharpe(w: np.ndarray) -> float:
        return float(w @ mu.to_numpy() / np.sqrt(w @ cov.to_numpy() @ w))

    assert np.abs(ours - ref).max() < 1e-3
    _assert_agree(ours, ref, sharpe, minimize_=False)
    assert ours[list(mu.index).index("LLY")] == pytest.approx(0.5167, abs=1e-3)


@pytest.mark.parametrize("engine", ENGINES)
def test_max_sharpe_with_cap_agrees(returns_5y: pd.DataFrame, mu: pd.Series, cov: pd.DataFrame, engine: str) -> None:
    ours = _ours(returns_5y, "max-sharpe", engine=engine, max_weight=0.10)
    ref = _ref(mu, cov, "max_sharpe", bounds=(0, 0.10), risk_free_rate=0.0)
    assert ours.max() <= 0.10 + 1e-9
    assert np.abs(ours - ref).max() < 1e-3
    _assert_agree(ours, ref, lambda w: float(w @ mu.to_numpy() / np.sqrt(w @ cov.to_numpy() @ w)), minimize_=False)


@pytest.mark.parametrize("engine", ENGINES)
def test_efficient_risk_agrees(returns_5y: pd.DataFrame, mu: pd.Series, cov: pd.DataFrame, engine: str) -> None:
    ours = _ours(returns_5y, "max-return-target-vol", engine=engine, target_volatility=0.20)
    ref = _ref(mu, cov, "efficient_risk", target_volatility=0.20)
    assert np.sqrt(ours @ cov.to_numpy() @ ours) <= 0.20 + 1e-6
    assert np.abs(ours - ref).max() < 1e-3
    _assert_agree(ours, ref, lambda w: float(w @ mu.to_numpy()), minimize_=False)


@pytest.mark.parametrize("engine", ENGINES)
def test_efficient_return_agrees(returns_5y: pd.DataFrame, mu: pd.Series, cov: pd.DataFrame, engine: str) -> None:
    w_min = _ref(mu, cov, "min_volatility")
    target = float((w_min @ mu.to_numpy() + mu.max()) / 2)  # midpoint between min variance and max return
    ours = _ours(returns_5y, "min-risk-target-return", engine=engine, target_return=target)
    ref = _ref(mu, cov, "efficient_return", target_return=target)
    assert ours @ mu.to_numpy() >= target - 1e-6
    assert np.abs(ours - ref).max() < 1e-3
    _assert_agree(ours, ref, lambda w: float(w @ cov.to_numpy() @ w), minimize_=True)


def _direct_erc(cov: np.ndarray) -> np.ndarray:
    """Equal risk contribution by Spinu's convex programme: min ½ x'Σx - Σ log x / n, then normalise."""
    n = len(cov)
    result = minimize(
        lambda x: 0.5 * x @ cov @ x - np.log(x).sum() / n,
        np.full(n, 1.0 / n),
        jac=lambda x: cov @ x - 1.0 / (n * x),
        bounds=[(1e-9, None)] * n,
        method="L-BFGS-B",
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10000},
    )
    return result.x / result.x.sum()


def test_risk_parity_has_equal_risk_contributions(returns_5y: pd.DataFrame, cov: pd.DataFrame) -> None:
    spec = OptimizationSpec(method="risk-parity", lookback=None, cov="sample", mu="mean", max_weight=1.0)
    result = optimize(returns_5y, spec, returns=True)
    shares = result.risk_contributions.to_numpy()
    assert np.abs(shares - 1 / 20).max() < 1e-3
    direct = _direct_erc(cov.to_numpy())
    assert np.abs(result.weights.to_numpy() - direct).max() < 1e-3
    w = direct
    direct_shares = w * (cov.to_numpy() @ w) / (w @ cov.to_numpy() @ w)
    assert np.abs(direct_shares - 1 / 20).max() < 1e-3


def _cvar(weights: np.ndarray, returns: np.ndarray, beta: float = 0.95) -> float:
    """Rockafellar–Uryasev CVaR of the losses, minimised over the threshold α exactly (α at a loss)."""
    losses = -(returns @ weights)
    alphas = np.sort(losses)
    excess = np.maximum(losses[None, :] - alphas[:, None], 0.0).mean(axis=1) / (1 - beta)
    return float((alphas + excess).min())


def test_min_cvar_agrees(returns_5y: pd.DataFrame, mu: pd.Series) -> None:
    ours = _ours(returns_5y, "min-cvar", cvar_beta=0.95)
    ec = EfficientCVaR(mu, returns_5y, beta=0.95)
    weights = ec.min_cvar()
    ref = np.array([weights[s] for s in mu.index])
    _assert_agree(ours, ref, lambda w: _cvar(w, returns_5y.to_numpy()), minimize_=True)
    assert _cvar(ours, returns_5y.to_numpy()) == pytest.approx(0.02463, abs=1e-4)
