"""What an optimisation gives back: weights, annualised statistics, risk contributions and diagnostics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quantdesk.domain.targets import TargetWeights
from quantdesk.portfolio._spec import OptimizationSpec
from quantdesk.portfolio.estimators import Moments

__all__ = ["OptimizationResult", "portfolio_statistics", "risk_contributions"]


def risk_contributions(weights: pd.Series, cov: pd.DataFrame) -> pd.Series:
    """Each asset's share of portfolio variance, ``w_i (Σw)_i / w'Σw`` (sums to 1; zero when the variance is)."""
    w = weights.to_numpy(dtype=np.float64)
    sigma_w = cov.to_numpy(dtype=np.float64) @ w
    variance = float(w @ sigma_w)
    shares = w * sigma_w / variance if variance > 0 else np.zeros_like(w)
    return pd.Series(shares, index=weights.index, name="risk_contribution")


def portfolio_statistics(weights: pd.Series, moments: Moments, risk_free_rate: float) -> tuple[float, float, float]:
    """Annualised expected return, volatility and Sharpe ratio ``(E[r] - r_f) / σ`` of ``weights``."""
    w = weights.to_numpy(dtype=np.float64)
    expected = float(w @ moments.mu.to_numpy())
    volatility = math.sqrt(max(float(w @ moments.cov.to_numpy() @ w), 0.0))
    sharpe = (expected - risk_free_rate) / volatility if volatility > 0 else float("nan")
    return expected, volatility, sharpe


@dataclass(frozen=True, eq=False)
class OptimizationResult:
    """Weights (a Series by symbol, summing to ``1 - cash_buffer``) with annualised statistics and diagnostics.

    ``method`` is the method that produced the weights: the requested one, the fallback method, or
    ``"previous-weights"`` when ``fallback=`` weights were used (``diagnostics["requested_method"]`` keeps the
    request). ``risk_contributions`` are shares of portfolio variance. ``moments`` are the annualised μ and Σ the
    statistics were computed with (the posterior for Black–Litterman).
    """

    weights: pd.Series
    expected_return: float
    volatility: float
    sharpe: float
    method: str
    risk_contributions: pd.Series
    diagnostics: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    spec: OptimizationSpec = field(default_factory=OptimizationSpec)
    moments: Moments | None = None

    @property
    def cash_weight(self) -> float:
        """1 − Σw: the fraction left in cash."""
        return 1.0 - float(self.weights.sum())

    @property
    def used_fallback(self) -> bool:
        """True when the weights come from ``fallback=``."""
        return self.diagnostics.get("fallback") is not None

    def to_target_weights(self) -> TargetWeights:
        """The weights as a domain :class:`~quantdesk.domain.targets.TargetWeights` (rounded to 1e-10)."""
        rounded = {str(k): round(float(v), 10) + 0.0 for k, v in self.weights.items()}
        if rounded:  # rounding must not move the sum: put the residual on the largest weight
            largest = max(rounded, key=lambda k: abs(rounded[k]))
            residual = round(float(self.weights.sum()), 10) - sum(rounded.values())
            rounded[largest] = round(rounded[largest] + residual, 10) + 0.0
        gross = sum(abs(v) for v in rounded.values())
        cap = max(self.spec.gross_cap if not self.spec.long_only else 1.0, gross)
        return TargetWeights.of(
            rounded, long_only=self.spec.long_only and min(rounded.values()) >= 0, gross_cap=round(cap, 10)
        )

    def table(self) -> pd.DataFrame:
        """Per asset: weight, annualised expected return and volatility, share of risk; sorted by weight."""
        frame = pd.DataFrame({"weight": self.weights, "risk_contribution": self.risk_contributions})
        if self.moments is not None:
            frame.insert(1, "expected_return", self.moments.mu.reindex(frame.index))
            frame.insert(2, "volatility", self.moments.volatility.reindex(frame.index))
        frame.index.name = "symbol"
        return frame.sort_values("weight", ascending=False)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description: statistics, weights, warnings and diagnostics."""
        return {
            "method": self.method,
            "expected_return": self.expected_return,
            "volatility": self.volatility,
            "sharpe": self.sharpe,
            "cash_weight": self.cash_weight,
            "weights": {str(k): float(v) for k, v in self.weights.items()},
            "risk_contributions": {str(k): float(v) for k, v in self.risk_contributions.items()},
            "warnings": list(self.warnings),
            "diagnostics": dict(self.diagnostics),
        }
