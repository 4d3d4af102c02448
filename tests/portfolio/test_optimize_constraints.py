"""Constraints on the real sample: bounds, groups, cash buffer, long/short, turnover, costs, cardinality,
infeasibility named by constraint, and fallbacks."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from quantdesk.config import Settings
from quantdesk.errors import ValidationError
from quantdesk.portfolio import InfeasibleProblem, OptimizationError, OptimizationSpec, optimize

TECH = {
    "AAPL": "tech",
    "AMD": "tech",
    "MSFT": "tech",
    "JNJ": "health",
    "LLY": "health",
    "MRK": "health",
    "PFE": "health",
    "UNH": "health",
}


def _run(returns: pd.DataFrame, **options: object) -> pd.Series:
    options.setdefault("lookback", None)
    return optimize(returns, OptimizationSpec(**options), returns=True).weights  # type: ignore[arg-type]


def test_default_spec_caps_each_position_at_ten_percent(prices: pd.DataFrame) -> None:
    result = optimize(prices)  # max Sharpe, 5 years, Ledoit-Wolf, 10 %
    assert result.weights.max() == pytest.approx(0.10, abs=1e-9)
    assert result.weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert (result.weights > 1e-6).sum() >= 10
    assert result.diagnostics["lookback_rows"] == 1258


@pytest.mark.parametrize(
    "method",
    [
        "min-variance",
        "max-sharpe",
        "min-cvar",
        "max-diversification",
        "hrp",
        "herc",
        "risk-parity",
        "inverse-volatility",
    ],
)
def test_weight_bounds_hold(returns_5y: pd.DataFrame, method: str) -> None:
    w = _run(returns_5y, method=method, max_weight=0.08, min_weight=0.01)
    assert w.max() <= 0.08 + 1e-8
    assert w.min() >= 0.01 - 1e-8
    assert w.sum() == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize(
    "method", ["min-variance", "max-sharpe", "min-cvar", "risk-parity", "mean-variance-tc", "max-diversification"]
)
def test_group_limits_hold(returns_5y: pd.DataFrame, method: str) -> None:
    w = _run(
        returns_5y, method=method, max_weight=0.2, groups=TECH, group_limits={"tech": (0.15, 0.20), "health": 0.25}
    )
    tech = w[[s for s, g in TECH.items() if g == "tech"]].sum()
    health = w[[s for s, g in TECH.items() if g == "health"]].sum()
    assert 0.15 - 1e-7 <= tech <= 0.20 + 1e-7
    assert health <= 0.25 + 1e-7


@pytest.mark.parametrize(
    "method",
    [
        "equal-weight",
        "inverse-volatility",
        "hrp",
        "herc",
        "risk-parity",
        "min-variance",
        "max-sharpe",
        "min-cvar",
        "max-diversification",
    ],
)
def test_cash_buffer_leaves_cash(returns_5y: pd.DataFrame, method: str) -> None:
    result = optimize(returns_5y, OptimizationSpec(method=method, lookback=None, cash_buffer=0.05), returns=True)
    assert result.weights.sum() == pytest.approx(0.95, abs=1e-8)
    assert result.weights.max() <= 0.10 + 1e-8
    target = result.to_target_weights()
    assert float(target.cash_weight) == pytest.approx(0.05, abs=1e-8)


def test_long_short_needs_the_config_to_allow_shorts() -> None:
    with pytest.raises(ValidationError) as err:
        OptimizationSpec.from_settings(Settings(), long_only=False, gross_cap=1.6)
    assert err.value.field == "long_only"
    assert "allow_short_selling" in (err.value.hint or "")
    allowed = Settings(risk={"allow_short_selling": True, "max_position_pct": 0.15})
    spec = OptimizationSpec.from_settings(allowed, long_only=False, gross_cap=1.6)
    assert spec.max_weight == 0.15
    assert spec.lower_bound == -0.15
    assert OptimizationSpec.from_settings(Settings()).max_weight == 0.10
    with pytest.raises(ValidationError) as err:
        OptimizationSpec.from_settings(Settings(), max_weight=0.2)
    assert err.value.field == "max_weight"


def test_long_short_respects_the_gross_cap(returns_5y: pd.DataFrame) -> None:
    for method in ("max-sharpe", "min-cvar", "mean-variance-tc"):
        w = _run(returns_5y, method=method, max_weight=0.2, long_only=False, gross_cap=1.5)
        assert w.abs().sum() <= 1.5 + 1e-7
        assert w.sum() == pytest.approx(1.0, abs=1e-8)
        assert w.min() >= -0.2 - 1e-8
    assert _run(returns_5y, method="max-sharpe", max_weight=0.2, long_only=False, gross_cap=1.5).min() < -0.01


def test_infeasible_bounds_name_max_weight(returns_5y: pd.DataFrame) -> None:
    with pytest.raises(InfeasibleProblem) as err:
        _run(returns_5y, method="min-variance", max_weight=0.04)
    assert err.value.field == "max_weight"
    assert "max_weight=0.04 with 20 assets cannot sum to 1" in str(err.value)
    assert "0.05" in (err.value.hint or "")
    assert isinstance(err.value, ValidationError)  # infeasible specs are validation errors too


def test_infeasible_groups_name_the_group(returns_5y: pd.DataFrame) -> None:
    with pytest.raises(InfeasibleProblem) as err:
        _run(returns_5y, method="min-variance", groups=TECH, group_limits={"tech": (0.35, 0.5)})
    assert err.value.field == "group_limits[tech]"  # 3 tech assets capped at 10 % each cannot reach 35 %


def test_infeasible_turnover_is_named(returns_5y: pd.DataFrame) -> None:
    current = {"AAPL": 0.5, "MSFT": 0.5}  # moving into 10 % caps needs a turnover of at least 0.8
    with pytest.raises(InfeasibleProblem) as err:
        _run(returns_5y, method="min-variance", current_weights=current, turnover_limit=0.5, engine="skfolio")
    assert err.value.field == "turnover_limit"
    with pytest.raises(InfeasibleProblem) as err:
        _run(returns_5y, method="min-variance", current_weights=current, turnover_limit=0.5)
    assert err.value.field == "turnover_limit"


@pytest.mark.parametrize("method", ["min-risk-target-return", "min-cvar"])
def test_unreachable_target_return_is_named(returns_5y: pd.DataFrame, method: str) -> None:
    with pytest.raises(InfeasibleProblem) as err:
        _run(returns_5y, method=method, target_return=0.6, engine="skfolio" if method != "min-cvar" else "auto")
    assert err.value.field == "target_return"
    assert "highest expected return" in str(err.value)


def test_fallback_to_previous_weights_warns(returns_5y: pd.DataFrame, caplog: pytest.LogCaptureFixture) -> None:
    previous = pd.Series(0.05, index=returns_5y.columns)
    spec = OptimizationSpec(method="min-variance", lookback=None, max_weight=0.04, fallback=previous)
    with caplog.at_level(logging.WARNING, logger="quantdesk.portfolio.optimize"):
        result = optimize(returns_5y, spec, returns=True)
    assert (result.weights == 0.05).all()
    assert result.method == "previous-weights"
    assert result.diagnostics["requested_method"] == "min-variance"
    assert result.used_fallback
    assert any("kept the previous weights" in w and "max_weight" in w for w in result.warnings)
    assert "kept the previous weights" in caplog.text
    assert result.volatility > 0


def test_fallback_to_another_method(returns_5y: pd.DataFrame, caplog: pytest.LogCaptureFixture) -> None:
    spec = OptimizationSpec(method="max-sharpe", lookback=None, risk_free_rate=0.9, fallback="min-variance")
    with caplog.at_level(logging.WARNING):
        result = optimize(returns_5y, spec, returns=True)
    reference = _run(returns_5y, method="min-variance", risk_free_rate=0.9)
    assert np.abs(result.weights - reference).max() < 1e-9
    assert result.method == "min-variance"
    assert "fell back to min-variance" in result.warnings[0]
    assert "risk_free_rate" in result.warnings[0]
    assert "fell back" in caplog.text


def test_fallback_that_fails_too_raises(returns_5y: pd.DataFrame) -> None:
    spec = OptimizationSpec(method="min-variance", lookback=None, max_weight=0.04, fallback="hrp")
    with pytest.raises(OptimizationError, match="and the fallback hrp too"):
        optimize(returns_5y, spec, returns=True)


def test_fallback_drops_options_the_fallback_method_lacks(returns_5y: pd.DataFrame) -> None:
    spec = OptimizationSpec(
        method="min-variance",
        lookback=None,
        groups=TECH,
        group_limits={"tech": (0.35, 0.5)},
        max_weight=0.4,
        turnover_limit=0.01,
        fallback="hrp",
    )
    result = optimize(returns_5y, spec, returns=True)
    assert result.method == "hrp"
    assert "without group_limits" in result.warnings[0] or "without groups" in result.warnings[0]


def test_transaction_costs_reduce_turnover(returns_5y: pd.DataFrame) -> None:
    current = dict.fromkeys(returns_5y.columns, 0.05)
    turnovers = []
    for cost in (0.0, 0.05, 0.2, 0.5):
        w = _run(returns_5y, method="mean-variance-tc", current_weights=current, transaction_costs=cost, max_weight=0.3)
        turnovers.append(float((w - pd.Series(current)).abs().sum()))
    assert turnovers[0] > turnovers[1] > turnovers[2] > turnovers[3]
    assert turnovers[2] < 0.2 * turnovers[0]
    assert turnovers[3] < 1e-6  # costs above every gain: stay put


def test_turnover_limit_is_respected(returns_5y: pd.DataFrame) -> None:
    current = dict.fromkeys(returns_5y.columns, 0.05)
    for limit in (0.1, 0.25):
        w = _run(
            returns_5y,
            method="mean-variance-tc",
            current_weights=current,
            turnover_limit=limit,
            transaction_costs=0.001,
            max_weight=0.3,
        )
        assert float((w - pd.Series(current)).abs().sum()) <= limit + 1e-7


def test_cardinality_on_min_cvar_with_highs(returns_5y: pd.DataFrame, capfd: pytest.CaptureFixture[str]) -> None:
    window = returns_5y.iloc[-250:]
    result = optimize(
        window, OptimizationSpec(method="min-cvar", lookback=None, max_weight=0.4, max_assets=5), returns=True
    )
    assert (result.weights > 1e-8).sum() <= 5
    assert result.diagnostics["solver"] == "HIGHS"
    threshold = optimize(
        window,
        OptimizationSpec(method="min-cvar", lookback=None, max_weight=0.4, min_nonzero_weight=0.08),
        returns=True,
    ).weights
    held = threshold[threshold > 1e-8]
    assert held.min() >= 0.08 - 1e-7
    assert "HiGHS" not in capfd.readouterr().out  # the solver banner is silenced


def test_cardinality_on_variance_needs_a_conic_mip_solver(returns_5y: pd.DataFrame) -> None:
    with pytest.raises(ValidationError) as err:
        _run(returns_5y, method="min-variance", max_assets=5)
    assert err.value.field == "max_assets"
    assert "min-cvar" in (err.value.hint or "")
