"""The efficient frontier (N points) and risk-contribution reports, as tables; :mod:`.charts` draws them.

The frontier walks from the minimum-variance portfolio to the highest reachable expected return under the spec's
constraints, solving "minimum risk for a target return" at each point with one compiled problem re-solved N times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from quantdesk.errors import ValidationError
from quantdesk.portfolio._errors import OptimizationError
from quantdesk.portfolio._result import OptimizationResult
from quantdesk.portfolio._spec import OptimizationSpec
from quantdesk.portfolio.compiled import CompiledMeanVariance
from quantdesk.portfolio.constraints import build_constraints, max_expected_return
from quantdesk.portfolio.estimators import Moments, estimate_moments, prepare_returns

__all__ = ["EfficientFrontier", "efficient_frontier", "risk_contribution_table"]


@dataclass(frozen=True, eq=False)
class EfficientFrontier:
    """Frontier points (annualised ``expected_return``, ``volatility``, ``sharpe``) and the weights of each point.

    ``points`` is indexed 0..N-1 from minimum variance up; ``weights`` has one row per point and one column per
    asset; ``max_sharpe`` is the index of the point with the best Sharpe ratio.
    """

    points: pd.DataFrame
    weights: pd.DataFrame
    moments: Moments
    spec: OptimizationSpec
    notes: tuple[str, ...] = ()

    @property
    def max_sharpe(self) -> int:
        """Index of the frontier point with the highest Sharpe ratio."""
        return int(self.points["sharpe"].to_numpy().argmax())

    def table(self) -> pd.DataFrame:
        """Points and their weights side by side, one row per point."""
        return pd.concat([self.points, self.weights], axis=1)

    def assets(self) -> pd.DataFrame:
        """Each asset's annualised expected return and volatility (the dots around the frontier)."""
        return pd.DataFrame({"expected_return": self.moments.mu, "volatility": self.moments.volatility})

    def write_html(self, path: str | Path, *, result: OptimizationResult | None = None, plotlyjs: str = "file") -> Path:
        """Write the frontier chart (and ``result``'s portfolio and risk contributions) to an HTML file; plotly.js
        from a shared file next to it by default, or ``"cdn"``, or ``"inline"``."""
        from quantdesk.portfolio.charts import write_frontier_html

        return write_frontier_html(path, self, result=result, plotlyjs=plotlyjs)


def efficient_frontier(
    prices_or_returns: pd.DataFrame,
    spec: OptimizationSpec | None = None,
    *,
    points: int = 20,
    returns: bool = False,
) -> EfficientFrontier:
    """``points`` mean–variance efficient portfolios under ``spec``'s estimators, window and constraints."""
    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise ValidationError(
            f"need at least 2 points, got {points!r}", field="points", value=points, hint="ask for e.g. 20 points"
        )
    spec = spec if spec is not None else OptimizationSpec(method="min-variance")
    data, notes = prepare_returns(prices_or_returns, returns=returns, lookback=spec.lookback)
    moments = estimate_moments(data, cov=spec.cov, mu=spec.mu, half_life=spec.half_life)
    assets = [str(a) for a in data.columns]
    c = build_constraints(spec, assets)
    mu, cov = moments.mu.to_numpy(), moments.cov.to_numpy()
    w_min = CompiledMeanVariance(len(assets), "min-variance", c).solve(mu, cov)
    r_min, r_max = float(w_min @ mu), max_expected_return(c, mu)
    targets = np.linspace(r_min, r_max - 1e-7 * max(r_max - r_min, 1e-12), points)
    problem = CompiledMeanVariance(len(assets), "min-risk-target-return", c, target=r_min)
    rows: list[np.ndarray] = [w_min]
    for target in targets[1:]:
        try:
            rows.append(problem.solve(mu, cov, target=float(target)))
        except OptimizationError as error:
            notes.append(f"frontier point at return {target:.4g} skipped: {error.message}")
    weights = pd.DataFrame(np.vstack(rows), columns=assets)
    expected = weights.to_numpy() @ mu
    vol = np.sqrt(np.einsum("ij,jk,ik->i", weights.to_numpy(), cov, weights.to_numpy()).clip(min=0.0))
    sharpe = np.where(vol > 0, (expected - spec.risk_free_rate) / np.where(vol > 0, vol, 1.0), math.nan)
    table = pd.DataFrame({"expected_return": expected, "volatility": vol, "sharpe": sharpe})
    table.index.name = "point"
    weights.index.name = "point"
    return EfficientFrontier(points=table, weights=weights, moments=moments, spec=spec, notes=tuple(notes))


def risk_contribution_table(result: OptimizationResult) -> pd.DataFrame:
    """Per asset: weight, volatility, marginal risk ``(Σw)_i/σ``, contribution ``w_i (Σw)_i/σ`` (annualised, sums
    to the portfolio volatility) and share of risk (sums to 1); sorted by contribution."""
    if result.moments is None:
        raise ValidationError(
            "the result carries no moments", field="result", hint="pass a result returned by optimize()"
        )
    w = result.weights.to_numpy(dtype=np.float64)
    cov = result.moments.cov.reindex(index=result.weights.index, columns=result.weights.index).to_numpy()
    sigma_w = cov @ w
    vol = math.sqrt(max(float(w @ sigma_w), 0.0))
    marginal = sigma_w / vol if vol > 0 else np.zeros_like(w)
    contribution = w * marginal
    frame = pd.DataFrame(
        {
            "weight": w,
            "volatility": np.sqrt(np.diag(cov)),
            "marginal_risk": marginal,
            "risk_contribution": contribution,
            "risk_share": contribution / vol if vol > 0 else np.zeros_like(w),
        },
        index=result.weights.index,
    )
    frame.index.name = "symbol"
    return frame.sort_values("risk_contribution", ascending=False)
