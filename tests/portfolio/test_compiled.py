"""The compiled engine gives the skfolio path's weights (1e-4) under every constraint set it covers, re-solves."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantdesk.errors import ValidationError
from quantdesk.portfolio import (
    COMPILED_METHODS,
    CompiledMeanVariance,
    InfeasibleProblem,
    OptimizationSpec,
    Optimizer,
    PortfolioConstraints,
    build_constraints,
    estimate_moments,
    optimize,
)
from quantdesk.portfolio._active_set import ActiveSetFailed, ParametricQP

SECTORS = {
    "AAPL": "tech",
    "AMD": "tech",
    "MSFT": "tech",
    "BAC": "fin",
    "JPM": "fin",
    "CVX": "energy",
    "XOM": "energy",
    "RRC": "energy",
    "JNJ": "health",
    "LLY": "health",
    "MRK": "health",
    "PFE": "health",
    "UNH": "health",
}
TARGETS: dict[str, dict[str, float]] = {
    "min-variance": {},
    "max-sharpe": {},
    "max-return-target-vol": {"target_volatility": 0.19},
    "min-risk-target-return": {"target_return": 0.22},
}
CASES: dict[str, dict[str, Any]] = {
    "bounds": {"max_weight": 0.10},
    "cash-buffer": {"max_weight": 0.12, "cash_buffer": 0.05},
    "groups": {"max_weight": 0.15, "groups": SECTORS, "group_limits": {"tech": (0.10, 0.20), "health": 0.25}},
    "long-short": {"max_weight": 0.15, "long_only": False, "gross_cap": 1.6},
}


def _both(returns: pd.DataFrame, method: str, options: dict[str, Any]) -> tuple[pd.Series, pd.Series]:
    base = {
        "method": method,
        "lookback": None,
        "cov": "ledoit-wolf",
        "risk_free_rate": 0.02,
        **TARGETS[method],
        **options,
    }
    compiled = optimize(returns, OptimizationSpec(engine="compiled", **base), returns=True)
    reference = optimize(returns, OptimizationSpec(engine="skfolio", **base), returns=True)
    assert compiled.diagnostics["engine"] == "compiled"
    assert reference.diagnostics["engine"] == "skfolio"
    return compiled.weights, reference.weights


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("method", COMPILED_METHODS)
def test_compiled_matches_skfolio(returns_5y: pd.DataFrame, method: str, case: str) -> None:
    ours, reference = _both(returns_5y, method, CASES[case])
    assert np.abs(ours - reference).max() < 1e-4
    spec = OptimizationSpec(method=method, lookback=None, **TARGETS[method], **CASES[case])
    assert build_constraints(spec, list(returns_5y.columns)).violations(ours.to_numpy(), tol=1e-7) == []


def test_long_short_uses_shorts_within_the_gross_cap(returns_5y: pd.DataFrame) -> None:
    ours, _ = _both(returns_5y, "max-sharpe", CASES["long-short"])
    assert ours.min() < -0.01
    assert ours.abs().sum() <= 1.6 + 1e-7
    assert ours.sum() == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("method", ["min-variance", "min-risk-target-return", "max-return-target-vol"])
def test_turnover_limit_matches_skfolio(returns_5y: pd.DataFrame, method: str) -> None:
    current = dict.fromkeys(returns_5y.columns, 0.05)
    ours, reference = _both(returns_5y, method, {"current_weights": current, "turnover_limit": 0.3, "max_weight": 0.2})
    assert np.abs(ours - reference).max() < 1e-4
    assert (ours - pd.Series(current)).abs().sum() <= 0.3 + 1e-7


def test_max_sharpe_turnover_is_homogenised_correctly(returns_5y: pd.DataFrame) -> None:
    current = dict.fromkeys(returns_5y.columns, 0.05)
    spec = OptimizationSpec(method="max-sharpe", lookback=None, max_weight=0.2, current_weights=current)
    free = optimize(returns_5y, spec, returns=True).weights
    limited = optimize(returns_5y, OptimizationSpec(**{**spec.describe(), "turnover_limit": 0.4}), returns=True)
    turnover = (limited.weights - pd.Series(current)).abs().sum()
    assert turnover == pytest.approx(0.4, abs=1e-6)  # binding: the free solution trades more
    assert (free - pd.Series(current)).abs().sum() > 0.4
    assert limited.sharpe < optimize(returns_5y, spec, returns=True).sharpe


def test_resolves_on_rolling_windows_match_fresh_skfolio_solves(returns_5y: pd.DataFrame) -> None:
    assets = list(returns_5y.columns)
    c = build_constraints(OptimizationSpec(max_weight=0.15), assets)
    problem = CompiledMeanVariance(len(assets), "max-sharpe", c, risk_free_rate=0.01)
    for end in (600, 900, 1258):
        window = returns_5y.iloc[end - 500 : end]
        moments = estimate_moments(window, cov="ledoit-wolf", mu="mean")
        weights = problem.solve(moments.mu.to_numpy(), moments.cov.to_numpy())
        spec = OptimizationSpec(
            method="max-sharpe", lookback=None, max_weight=0.15, risk_free_rate=0.01, engine="skfolio"
        )
        reference = optimize(window, spec, returns=True).weights.to_numpy()
        assert np.abs(weights - reference).max() < 1e-4
    assert problem.n_solves == 3
    assert problem.solver == "active-set"
    assert problem.status == "solved"
    assert problem.fallbacks == 0
    assert problem.iterations <= 30  # warm: a few block pivots per λ step


def test_frontier_targets_resolve_one_problem(returns_5y: pd.DataFrame) -> None:
    moments = estimate_moments(returns_5y, cov="sample", mu="mean")
    mu, cov = moments.mu.to_numpy(), moments.cov.to_numpy()
    problem = CompiledMeanVariance(20, "min-risk-target-return", PortfolioConstraints.simple(20))
    vols = []
    for target in (0.2, 0.3, 0.4):
        w = problem.solve(mu, cov, target=target)
        assert w @ mu >= target - 1e-7
        vols.append(float(np.sqrt(w @ cov @ w)))
    assert vols == sorted(vols)


def test_infeasible_target_is_named(returns_5y: pd.DataFrame) -> None:
    moments = estimate_moments(returns_5y, cov="sample", mu="mean")
    mu, cov = moments.mu.to_numpy(), moments.cov.to_numpy()
    with pytest.raises(InfeasibleProblem) as err:
        CompiledMeanVariance(20, "min-risk-target-return", target=0.9).solve(mu, cov)
    assert err.value.field == "target_return"
    with pytest.raises(InfeasibleProblem) as err:
        CompiledMeanVariance(20, "max-return-target-vol", target=0.05).solve(mu, cov)
    assert err.value.field == "target_volatility"
    assert "0.169" in str(err.value)  # the minimum reachable volatility is reported
    with pytest.raises(InfeasibleProblem) as err:
        CompiledMeanVariance(20, "max-sharpe", risk_free_rate=0.9).solve(mu, cov)
    assert err.value.field == "risk_free_rate"


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValidationError) as err:
        CompiledMeanVariance(3, "hrp")
    assert err.value.field == "method"
    problem = CompiledMeanVariance(3)
    with pytest.raises(ValidationError):
        problem.solve(np.zeros(2), np.eye(2))
    with pytest.raises(ValidationError):
        problem.solve(np.zeros(3), np.full((3, 3), np.nan))
    w = problem.solve(np.zeros(3), np.diag([0.04, 0.09, 0.16]))
    inverse_variance = np.array([1 / 0.04, 1 / 0.09, 1 / 0.16])
    np.testing.assert_allclose(w, inverse_variance / inverse_variance.sum(), atol=1e-8)


def test_active_set_cold_start_and_pinned_and_equality_groups(returns_5y: pd.DataFrame) -> None:
    moments = estimate_moments(returns_5y, cov="sample", mu="mean")
    mu, cov = moments.mu.to_numpy(), moments.cov.to_numpy()
    n = 20
    lower, upper = np.zeros(n), np.full(n, 0.3)
    lower[0] = upper[0] = 0.05  # AAPL pinned at 5 %
    group = np.zeros(n)
    group[[1, 2, 3]] = 1.0  # AMD + BAC + BBY == 12 %
    qp = ParametricQP(
        lower, upper, np.vstack([np.ones(n), group]), np.array([1.0, 0.12]), np.zeros((0, n)), np.zeros(0)
    )
    qp.set_data(cov, mu)
    w = qp.max_sharpe()  # cold: starts from a linear-programming vertex
    c = PortfolioConstraints(
        tuple(returns_5y.columns), lower, upper, 1.0, None, ("g",), group[None, :], np.array([0.12]), np.array([0.12])
    )
    reference = CompiledMeanVariance(n, "max-sharpe", c)._solve_generic(mu, cov, None)
    assert np.abs(w - reference).max() < 1e-4
    assert w[0] == 0.05
    assert w[[1, 2, 3]].sum() == pytest.approx(0.12, abs=1e-12)


def test_unverified_active_set_answers_fall_back_to_clarabel(
    returns_5y: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    moments = estimate_moments(returns_5y, cov="sample", mu="mean")
    mu, cov = moments.mu.to_numpy(), moments.cov.to_numpy()
    expected = CompiledMeanVariance(20, "max-sharpe").solve(mu, cov)

    def broken(self: ParametricQP, lam: float) -> None:
        raise ActiveSetFailed("simulated")

    monkeypatch.setattr(ParametricQP, "solve_at", broken)
    problem = CompiledMeanVariance(20, "max-sharpe")
    w = problem.solve(mu, cov)
    assert problem.fallbacks == 1
    assert problem.solver == "CLARABEL"
    assert np.abs(w - expected).max() < 1e-5


def test_optimizer_keeps_the_compiled_problem_warm_between_windows(prices: pd.DataFrame) -> None:
    spec = OptimizationSpec(method="max-sharpe", lookback="2y", max_weight=0.2)
    step = Optimizer(spec)
    for end in ("2020-12-31", "2021-06-30", "2021-12-31"):
        window = prices.loc[:end]
        warm = step(window)
        cold = optimize(window, spec)
        assert np.abs(warm.weights - cold.weights).max() < 1e-10
        assert warm.diagnostics["solver"] == "active-set"
    assert len(step._compiled) == 1
    assert next(iter(step._compiled.values())).n_solves == 3


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("method", COMPILED_METHODS)
def test_active_set_matches_clarabel_on_random_problems(seed: int, method: str) -> None:
    rng = np.random.default_rng(seed)
    n = 30
    loadings = rng.normal(0, 1, (n, 3))
    cov = (loadings @ loadings.T * 0.02 + np.diag(rng.uniform(0.01, 0.09, n))) * rng.uniform(0.5, 2)
    mu = rng.normal(0.08, 0.06, n)
    upper = np.full(n, rng.choice([0.08, 0.15, 1.0]))
    group = (rng.uniform(size=n) < 0.3).astype(float)
    c = PortfolioConstraints(
        tuple(f"A{i}" for i in range(n)),
        np.zeros(n),
        upper,
        1.0,
        None,
        ("g",),
        group[None, :],
        np.array([0.1]),
        np.array([0.35]),
    )
    targets = {"max-return-target-vol": 0.16, "min-risk-target-return": float(np.quantile(mu, 0.6))}
    problem = CompiledMeanVariance(n, method, c, risk_free_rate=0.01, target=targets.get(method))
    reference = problem._solve_generic(mu, cov, targets.get(method))
    for _ in range(2):  # cold (crash start), then warm on perturbed inputs
        weights = problem.solve(mu, cov)
        assert problem.solver == "active-set"
        assert c.violations(weights, tol=1e-9) == []
        slack = 0.16 - np.sqrt(reference @ cov @ reference)
        if method == "max-return-target-vol" and slack > 1e-6:  # cap not binding: the max-return LP may tie
            assert weights @ mu == pytest.approx(reference @ mu, abs=1e-7)
        else:
            assert np.abs(weights - reference).max() < 1e-5
        mu = mu + rng.normal(0, 0.01, n)
        cov = cov * rng.uniform(0.9, 1.1)
        reference = problem._solve_generic(mu, cov, targets.get(method))
