"""Every method through the one interface: results, spec validation, Black–Litterman views, risk budgets."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from quantdesk.domain.targets import TargetWeights
from quantdesk.errors import ValidationError
from quantdesk.portfolio import METHODS, OptimizationResult, OptimizationSpec, optimize
from quantdesk.portfolio._methods import fit_to_bounds, scale_views

EXTRA: dict[str, dict[str, object]] = {
    "max-return-target-vol": {"target_volatility": 0.2},
    "min-risk-target-return": {"target_return": 0.2},
    "black-litterman": {"views": ["AAPL == 0.30", "MSFT - JPM == 0.05"]},
    "mean-variance-tc": {"current_weights": {"AAPL": 0.5, "MSFT": 0.5}, "transaction_costs": 0.002},
}


@pytest.fixture(scope="module")
def results(prices: pd.DataFrame) -> dict[str, OptimizationResult]:
    return {m: optimize(prices, OptimizationSpec(method=m, **EXTRA.get(m, {}))) for m in METHODS}  # type: ignore[arg-type]


def test_methods_tuple_is_the_cli_list() -> None:
    assert METHODS == (
        "equal-weight",
        "inverse-volatility",
        "min-variance",
        "max-sharpe",
        "max-return-target-vol",
        "min-risk-target-return",
        "risk-parity",
        "risk-budgeting",
        "hrp",
        "herc",
        "max-diversification",
        "min-cvar",
        "black-litterman",
        "mean-variance-tc",
    )


@pytest.mark.parametrize("method", METHODS)
def test_every_method_gives_valid_weights(results: dict[str, OptimizationResult], method: str) -> None:
    result = results[method]
    w = result.weights
    assert list(w.index) == list(results["equal-weight"].weights.index)
    assert w.sum() == pytest.approx(1.0, abs=1e-8)
    assert w.min() >= -1e-12
    assert w.max() <= 0.10 + 1e-8
    assert 0.05 < result.volatility < 0.5
    assert np.isfinite(result.expected_return)
    assert np.isfinite(result.sharpe)
    assert result.sharpe == pytest.approx(result.expected_return / result.volatility)
    assert result.risk_contributions.sum() == pytest.approx(1.0)
    assert result.method == method
    d = result.diagnostics
    for key in ("engine", "solver", "status", "solve_seconds", "cov_estimator", "mu_estimator", "lookback_rows"):
        assert key in d
    assert d["lookback_rows"] == 1258
    assert d["cov_estimator"].startswith(("LedoitWolf", "BlackLitterman"))
    target = result.to_target_weights()
    assert isinstance(target, TargetWeights)
    assert target.long_only
    assert float(target.net) == pytest.approx(1.0, abs=1e-9)
    json.dumps(result.summary())


def test_method_specific_numbers(results: dict[str, OptimizationResult]) -> None:
    np.testing.assert_allclose(results["equal-weight"].weights.to_numpy(), 0.05, rtol=1e-12)
    assert results["min-variance"].volatility < results["equal-weight"].volatility
    assert results["max-sharpe"].sharpe > max(r.sharpe for m, r in results.items() if m != "max-sharpe") - 1e-6
    assert results["max-return-target-vol"].volatility == pytest.approx(0.2, abs=1e-6)
    assert results["min-risk-target-return"].expected_return == pytest.approx(0.2, abs=1e-6)
    assert results["max-sharpe"].diagnostics["engine"] == "compiled"
    assert results["hrp"].diagnostics["engine"] == "skfolio"
    assert results["risk-budgeting"].warnings == ["no risk_budget given: equal budgets, the same as risk-parity"]


def test_inverse_volatility_is_one_over_sigma_then_capped(prices: pd.DataFrame) -> None:
    free = optimize(prices, OptimizationSpec(method="inverse-volatility", max_weight=1.0))
    vol = free.moments.volatility if free.moments is not None else None
    assert vol is not None
    expected = (1 / vol) / (1 / vol).sum()
    np.testing.assert_allclose(free.weights.to_numpy(), expected.to_numpy(), rtol=1e-9)
    capped = optimize(prices, OptimizationSpec(method="inverse-volatility", max_weight=0.06))
    assert capped.weights.max() == pytest.approx(0.06)
    assert any("capped" in w for w in capped.warnings)


def test_risk_budgets_set_risk_shares(returns_5y: pd.DataFrame) -> None:
    budget = dict.fromkeys(returns_5y.columns, 1.0) | {"KO": 3.0}
    result = optimize(
        returns_5y,
        OptimizationSpec(method="risk-budgeting", lookback=None, max_weight=1.0, risk_budget=budget),
        returns=True,
    )
    shares = result.risk_contributions
    assert shares["KO"] == pytest.approx(3 / 22, abs=1e-3)
    assert shares["PG"] == pytest.approx(1 / 22, abs=1e-3)
    with pytest.raises(ValidationError) as err:
        optimize(
            returns_5y, OptimizationSpec(method="risk-budgeting", lookback=None, risk_budget={"KO": 1}), returns=True
        )
    assert err.value.field == "risk_budget"


def test_max_diversification_beats_equal_weight_on_its_ratio(results: dict[str, OptimizationResult]) -> None:
    def ratio(r: OptimizationResult) -> float:
        assert r.moments is not None
        return float(r.weights @ r.moments.volatility) / r.volatility

    assert ratio(results["max-diversification"]) > ratio(results["equal-weight"]) + 0.05


def _bl(returns: pd.DataFrame, views: list[str], **options: object) -> OptimizationResult:
    spec = OptimizationSpec(
        method="black-litterman", lookback=None, mu="equilibrium", max_weight=0.3, views=views, **options
    )  # type: ignore[arg-type]
    return optimize(returns, spec, returns=True)


def test_absolute_view_shifts_weight_and_return(returns_5y: pd.DataFrame) -> None:
    bull, bear = _bl(returns_5y, ["JNJ == 0.40"]), _bl(returns_5y, ["JNJ == -0.10"])
    assert bull.weights["JNJ"] > bear.weights["JNJ"] + 0.05
    assert bull.moments is not None
    assert bear.moments is not None
    assert bull.moments.mu["JNJ"] > bear.moments.mu["JNJ"]
    assert bull.diagnostics["mu_estimator"] == "BlackLitterman(EquilibriumMu)"


def test_relative_view_shifts_the_pair(returns_5y: pd.DataFrame) -> None:
    up, down = _bl(returns_5y, ["PG - KO == 0.10"]), _bl(returns_5y, ["PG - KO == -0.10"])
    assert up.weights["PG"] - up.weights["KO"] > down.weights["PG"] - down.weights["KO"] + 0.05


def test_full_confidence_makes_the_posterior_meet_the_annual_view(returns_5y: pd.DataFrame) -> None:
    sure = _bl(returns_5y, ["JNJ == 0.40", "MSFT - JPM == 0.05"], view_confidences=[1.0, 1.0])
    assert sure.moments is not None
    assert sure.moments.mu["JNJ"] == pytest.approx(0.40, abs=1e-8)
    assert sure.moments.mu["MSFT"] - sure.moments.mu["JPM"] == pytest.approx(0.05, abs=1e-8)
    unsure = _bl(returns_5y, ["JNJ == 0.40"], view_confidences=[0.2])
    assert unsure.moments is not None
    assert unsure.moments.mu["JNJ"] < 0.40 - 0.05


def test_bad_views_name_the_field(returns_5y: pd.DataFrame) -> None:
    for views in (["FOO == 0.1"], ["AAPL >= 0.1"]):
        with pytest.raises(ValidationError) as err:
            _bl(returns_5y, views)
        assert err.value.field == "views"
    assert scale_views(["MSFT - JPM == 0.02", "2*AAPL == 0.1"], ["AAPL", "MSFT", "JPM"], 0.5) == [
        "MSFT - JPM == 0.01",
        "2.0*AAPL == 0.05",
    ]


@pytest.mark.parametrize(
    ("options", "field", "in_hint"),
    [
        ({"method": "max-sharp"}, "method", "max-sharpe"),
        ({"cov": "shrinkage"}, "cov", "ledoit-wolf"),
        ({"mu": "capm"}, "mu", "equilibrium"),
        ({"min_weight": -0.1}, "min_weight", "long_only=False"),
        ({"max_weight": 1.5}, "max_weight", "(0, 1]"),
        ({"method": "max-return-target-vol"}, "target_volatility", "target_volatility="),
        ({"method": "black-litterman"}, "views", "views="),
        ({"views": ["AAPL == 0.1"]}, "views", "black-litterman"),
        ({"method": "hrp", "groups": {"AAPL": "t"}, "group_limits": {"t": 0.2}}, "group_limits", "min-variance"),
        ({"method": "max-diversification", "turnover_limit": 0.2}, "turnover_limit", "mean-variance-tc"),
        ({"gross_cap": 0.9}, "gross_cap", "1"),
        ({"fallback": "max-sharpe"}, "fallback", "min-variance"),
        ({"lookback": "5 yrs"}, "lookback", "5y"),
        ({"engine": "fast"}, "engine", "compiled"),
        (
            {"views": ["AAPL == 0.1"], "method": "black-litterman", "view_confidences": [0.5, 0.5]},
            "view_confidences",
            "one confidence",
        ),
        ({"group_limits": {"t": 0.2}}, "groups", "groups="),
        ({"max_assets": 0}, "max_assets", "max_assets="),
    ],
)
def test_spec_errors_name_the_field_and_the_fix(options: dict[str, object], field: str, in_hint: str) -> None:
    with pytest.raises(ValidationError) as err:
        OptimizationSpec(**options)  # type: ignore[arg-type]
    assert err.value.field == field
    assert in_hint in (err.value.hint or "")


def test_compiled_engine_refuses_what_it_cannot_solve(prices: pd.DataFrame) -> None:
    with pytest.raises(ValidationError) as err:
        optimize(prices, OptimizationSpec(method="hrp", engine="compiled"))
    assert err.value.field == "engine"


def test_prices_and_returns_inputs_agree(prices: pd.DataFrame) -> None:
    from_prices = optimize(prices, OptimizationSpec(method="min-variance", lookback="252d"))
    returns = prices.pct_change().iloc[1:]
    from_returns = optimize(returns, OptimizationSpec(method="min-variance", lookback=252), returns=True)
    assert from_prices.diagnostics["lookback_rows"] == 252
    np.testing.assert_allclose(from_prices.weights.to_numpy(), from_returns.weights.to_numpy(), atol=1e-10)


def test_result_table_and_target_weights(results: dict[str, OptimizationResult]) -> None:
    result = results["max-sharpe"]
    table = result.table()
    assert list(table.columns) == ["weight", "expected_return", "volatility", "risk_contribution"]
    assert table["weight"].is_monotonic_decreasing
    target = result.to_target_weights()
    assert set(target.weights) == set(result.weights.index)
    assert float(target.weight("LLY")) == pytest.approx(result.weights["LLY"], abs=1e-10)


def test_fit_to_bounds_spreads_the_excess_pro_rata() -> None:
    out = fit_to_bounds(np.array([0.5, 0.3, 0.1, 0.1]), np.zeros(4), np.full(4, 0.4), 1.0)
    np.testing.assert_allclose(out, [0.4, 0.36, 0.12, 0.12])
