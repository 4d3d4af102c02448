"""The probabilistic Sharpe ratio against scipy and against numbers worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from quantdesk.errors import ValidationError
from quantdesk.risk import probabilistic_sharpe_ratio, psr_from_returns, return_moments


def reference_psr(returns: list[float], benchmark: float) -> float:
    """Bailey & López de Prado's formula, with scipy's moments and normal distribution."""
    x = np.asarray(returns, dtype=float)
    sr = x.mean() / x.std(ddof=1)
    g3, g4 = stats.skew(x), stats.kurtosis(x, fisher=False)
    z = (sr - benchmark) * math.sqrt(len(x) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    return float(stats.norm.cdf(z))


def test_hand_worked_two_point_returns() -> None:
    # returns +3%, -1%, +3%, -1%: mean 1%, sample std sqrt(4 * 0.02^2 / 3) = 0.04/sqrt(3), so SR = sqrt(3)/4;
    # skewness 0, kurtosis 1 (two equally likely points), hence z = SR * sqrt(3) / sqrt(1 + 0 + 0) = 3/4.
    returns = [0.03, -0.01, 0.03, -0.01]
    moments = return_moments(returns)
    assert moments is not None
    assert moments.sharpe == pytest.approx(math.sqrt(3) / 4, rel=1e-12)
    assert moments.skewness == pytest.approx(0.0, abs=1e-12)
    assert moments.kurtosis == pytest.approx(1.0, rel=1e-12)
    assert psr_from_returns(returns) == pytest.approx(0.7733726476231317, rel=1e-12)  # Φ(0.75)


def test_hand_worked_formula() -> None:
    # SR 0.1 over 101 returns, no skew, kurtosis 1: z = 0.1 * 10 / 1 = 1, PSR = Φ(1)
    assert probabilistic_sharpe_ratio(0.1, 0.0, 101, 0.0, 1.0) == pytest.approx(0.8413447460685429, rel=1e-12)
    # normal returns (kurtosis 3): z = 0.1 * 10 / sqrt(1 + 0.005)
    assert probabilistic_sharpe_ratio(0.1, 0.0, 101) == pytest.approx(stats.norm.cdf(1 / math.sqrt(1.005)))
    assert probabilistic_sharpe_ratio(0.2, 0.2, 50, -1.0, 6.0) == 0.5  # SR equal to the benchmark


@settings(max_examples=200, deadline=None)
@given(
    returns=st.lists(st.floats(-0.2, 0.2, allow_nan=False), min_size=3, max_size=120),
    benchmark=st.floats(-0.3, 0.3),
)
def test_matches_the_scipy_reference(returns: list[float], benchmark: float) -> None:
    x = np.asarray(returns)
    if x.std() < 1e-6:
        return  # no finite Sharpe ratio
    assert psr_from_returns(returns, benchmark) == pytest.approx(reference_psr(returns, benchmark), abs=1e-9)


def test_matches_scipy_on_fat_tailed_skewed_returns() -> None:
    rng = np.random.default_rng(7)
    returns = list(0.001 + 0.01 * rng.standard_t(3, size=500) - 0.02 * (rng.random(500) < 0.02))
    for benchmark in (-0.05, 0.0, 0.05):
        assert psr_from_returns(returns, benchmark) == pytest.approx(reference_psr(returns, benchmark), rel=1e-10)


def test_constant_returns_and_bad_input() -> None:
    assert psr_from_returns([0.01] * 30) == 1.0
    assert psr_from_returns([-0.01] * 30) == 0.0
    assert psr_from_returns([0.0] * 30) is None
    with pytest.raises(ValidationError, match="at least 2"):
        psr_from_returns([0.01])
    with pytest.raises(ValidationError, match="finite"):
        psr_from_returns([0.01, float("nan"), 0.02])
    with pytest.raises(ValidationError, match="at least 2 observations"):
        probabilistic_sharpe_ratio(0.1, 0.0, 1)
