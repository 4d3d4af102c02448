"""The probabilistic Sharpe ratio (Bailey & López de Prado, 2012), in pure Python.

PSR(SR*) = Φ( (SR − SR*) √(n − 1) / √(1 − γ₃ SR + (γ₄ − 1)/4 · SR²) )

the probability that the true Sharpe ratio exceeds the benchmark SR*, given the estimated per-period Sharpe ratio
SR (mean over sample standard deviation, ``ddof=1``) of n returns with skewness γ₃ and kurtosis γ₄ (not excess: 3
for a normal distribution; both the biased moment estimators, as ``scipy.stats.skew``/``kurtosis`` default to).
Nothing is annualised: SR and SR* are per period of the returns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from quantdesk.errors import ValidationError

__all__ = ["ReturnMoments", "normal_cdf", "probabilistic_sharpe_ratio", "psr_from_returns", "return_moments"]


def normal_cdf(x: float) -> float:
    """Φ(x), the standard normal distribution function."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@dataclass(frozen=True, slots=True)
class ReturnMoments:
    """What the PSR needs of a return series: count, Sharpe ratio, skewness and (non-excess) kurtosis."""

    observations: int
    sharpe: float
    skewness: float
    kurtosis: float


def return_moments(returns: Sequence[float]) -> ReturnMoments | None:
    """The moments of ``returns`` (at least 2, all finite); None when they do not vary (no finite Sharpe ratio)."""
    n = len(returns)
    if n < 2:
        raise ValidationError(
            f"needs at least 2 returns, got {n}", field="returns", value=n, hint="pass a longer return series"
        )
    values = [float(r) for r in returns]
    if not all(math.isfinite(v) for v in values):
        raise ValidationError(
            "returns must be finite numbers", field="returns", value=None, hint="drop NaN and infinite returns"
        )
    mean = math.fsum(values) / n
    dev = [v - mean for v in values]
    m2 = math.fsum(d * d for d in dev) / n
    if m2 <= 0.0 or math.sqrt(m2) <= 1e-15 * max(1.0, abs(mean)):
        return None
    m3 = math.fsum(d**3 for d in dev) / n
    m4 = math.fsum(d**4 for d in dev) / n
    std = math.sqrt(m2 * n / (n - 1))
    return ReturnMoments(n, mean / std, m3 / m2**1.5, m4 / (m2 * m2))


def probabilistic_sharpe_ratio(
    sharpe: float, benchmark: float, observations: int, skewness: float = 0.0, kurtosis: float = 3.0
) -> float:
    """PSR of an estimated per-period Sharpe ratio against ``benchmark`` (formula in the module docstring)."""
    if observations < 2:
        raise ValidationError(
            f"needs at least 2 observations, got {observations}",
            field="observations",
            value=observations,
            hint="pass the number of returns behind the Sharpe ratio",
        )
    numerator = (sharpe - benchmark) * math.sqrt(observations - 1)
    variance = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe * sharpe
    if variance <= 0.0:  # degenerate (γ₄ = 1 + γ₃², SR = 2/γ₃): the estimate has no spread
        return 0.5 if numerator == 0 else (1.0 if numerator > 0 else 0.0)
    return normal_cdf(numerator / math.sqrt(variance))


def psr_from_returns(returns: Sequence[float], benchmark: float = 0.0) -> float | None:
    """PSR of a return series against a per-period benchmark Sharpe ratio.

    Returns that do not vary have an infinite Sharpe ratio: PSR 1 when they are positive, 0 when negative, and
    None (undefined) when they are all zero.
    """
    moments = return_moments(returns)
    if moments is None:
        mean = math.fsum(float(r) for r in returns) / len(returns)
        return None if mean == 0 else (1.0 if mean > 0 else 0.0)
    return probabilistic_sharpe_ratio(
        moments.sharpe, benchmark, moments.observations, moments.skewness, moments.kurtosis
    )
