"""Value at risk and expected shortfall (CVaR) of a book of positions: historical, parametric, Monte Carlo.

Every figure is a loss: a positive amount in the base currency (and, in ``VaRResult``, as a fraction of the
portfolio value), over ``horizon_days`` at confidence ``c``. P&L is linear in the returns: a position worth ``V``
gains ``V·r`` when its price returns ``r`` (futures and options are taken at their notional, without delta).

- **historical**: the empirical ``c``-quantile of the portfolio's P&L over the history, in skfolio's convention
  (see ``returns.py``); ``h > 1`` uses overlapping compounded ``h``-day returns.
- **parametric** (variance–covariance): ``σ_p = √(Vᵀ Σ V)`` with ``Σ = D·C·D`` (``C`` the correlation matrix,
  ``D`` the daily volatilities, both sample estimates with ddof = 1), scaled by ``√h``; VaR = ``z·σ_p`` and
  CVaR = ``σ_p·φ(z)/(1 − c)`` with ``z = Φ⁻¹(c)``. The mean is left out by default (conservative, RiskMetrics);
  with ``include_mean`` both figures subtract the expected P&L ``h·μᵀV``. Per position: standalone figures and the
  Euler decomposition (marginal and component VaR/CVaR), whose components sum to the portfolio figure.
- **monte_carlo**: ``n_scenarios`` draws (numpy ``Generator``, seeded) of ``h``-day returns, either multivariate
  normal ``N(h·μ, h·Σ)`` (μ = 0 unless ``include_mean``), which converges to the parametric figure, or a bootstrap
  of ``h`` historical days per scenario, compounded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy import stats  # type: ignore[import-untyped]

from quantdesk.errors import DataError, ValidationError
from quantdesk.risk.analytics.returns import (
    AlignedReturns,
    FloatArray,
    align_returns,
    check_confidence,
    check_horizon,
    horizon_returns,
    tail_loss,
)

__all__ = [
    "VAR_METHODS",
    "McSampling",
    "PositionRisk",
    "VaRMethod",
    "VaRResult",
    "compute_var",
    "historical_var",
    "monte_carlo_var",
    "parametric_var",
]

VaRMethod = Literal["historical", "parametric", "monte_carlo"]
McSampling = Literal["normal", "bootstrap"]
VAR_METHODS: tuple[VaRMethod, ...] = get_args(VaRMethod)
Values = Mapping[str, float] | pd.Series


@dataclass(frozen=True, slots=True)
class PositionRisk:
    """One position under one method: standalone VaR/CVaR and, for parametric, its Euler contributions."""

    symbol: str
    market_value: float
    var: float
    cvar: float
    marginal_var: float | None = None
    component_var: float | None = None
    component_cvar: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class VaRResult:
    """Portfolio VaR and CVaR by one method: positive loss amounts, also as fractions of ``portfolio_value``."""

    method: VaRMethod
    confidence: float
    horizon_days: int
    portfolio_value: float
    var: float
    cvar: float
    observations: int
    positions: tuple[PositionRisk, ...]
    details: Mapping[str, Any] = field(default_factory=dict, hash=False)
    notes: tuple[str, ...] = ()

    @property
    def var_pct(self) -> float:
        """VaR as a fraction of the portfolio value."""
        return self.var / self.portfolio_value

    @property
    def cvar_pct(self) -> float:
        """CVaR as a fraction of the portfolio value."""
        return self.cvar / self.portfolio_value

    def position(self, symbol: str) -> PositionRisk:
        """The figures of one position; ``KeyError`` when it is not held."""
        for p in self.positions:
            if p.symbol == symbol:
                return p
        raise KeyError(symbol)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "method": self.method,
            "confidence": self.confidence,
            "horizon_days": self.horizon_days,
            "portfolio_value": self.portfolio_value,
            "var": self.var,
            "cvar": self.cvar,
            "var_pct": self.var_pct,
            "cvar_pct": self.cvar_pct,
            "observations": self.observations,
            "details": {k: v.isoformat() if isinstance(v, datetime) else v for k, v in self.details.items()},
            "notes": list(self.notes),
            "positions": [p.to_dict() for p in self.positions],
        }


def _portfolio_value(values: FloatArray, portfolio_value: float | None) -> float:
    value = float(values.sum()) if portfolio_value is None else float(portfolio_value)
    if not math.isfinite(value) or value <= 0:
        given = "the sum of the market values" if portfolio_value is None else "portfolio_value"
        raise DataError(
            f"{given} is {value:,.2f}: VaR cannot be expressed as a fraction of it",
            field="portfolio_value",
            value=value,
            hint="pass portfolio_value = the account's net liquidation (a positive amount)",
        )
    return value


def _tail_notes(n: int, confidence: float, what: str) -> tuple[str, ...]:
    tail = (1.0 - confidence) * n
    if tail >= 10:
        return ()
    return (f"only {n} {what}: the {confidence:.1%} tail holds {tail:.1f} of them, so the figure is noisy",)


def _result(
    method: VaRMethod,
    data: AlignedReturns,
    c: float,
    h: int,
    pv: float,
    portfolio: tuple[float, float],
    per_position: tuple[FloatArray, FloatArray],
    observations: int,
    *,
    contributions: Mapping[str, FloatArray] | None = None,
    details: Mapping[str, Any] | None = None,
    notes: tuple[str, ...] = (),
) -> VaRResult:
    extra = contributions or {}
    positions = tuple(
        PositionRisk(
            symbol=s,
            market_value=float(data.values[i]),
            var=float(per_position[0][i]),
            cvar=float(per_position[1][i]),
            **{k: float(v[i]) for k, v in extra.items()},
        )
        for i, s in enumerate(data.symbols)
    )
    history = {"start": data.start, "end": data.end, "history_rows": data.observations}
    return VaRResult(
        method, c, h, pv, portfolio[0], portfolio[1], observations, positions, {**history, **(details or {})}, notes
    )


def historical_var(
    returns: pd.DataFrame,
    values: Values,
    *,
    confidence: float = 0.95,
    horizon_days: int = 1,
    portfolio_value: float | None = None,
) -> VaRResult:
    """Historical VaR/CVaR: empirical quantile of the P&L ``R·V`` over the rows of ``returns`` (daily returns).

    ``values`` are market values in the base currency by symbol; ``portfolio_value`` (the denominator of the
    fractions) defaults to their sum. ``horizon_days > 1`` uses overlapping compounded returns.
    """
    c, h = check_confidence(confidence), check_horizon(horizon_days)
    data = align_returns(returns, values)
    pv = _portfolio_value(data.values, portfolio_value)
    frame = pd.DataFrame(data.matrix, columns=list(data.symbols))
    windows = horizon_returns(frame, h).to_numpy()
    if windows.shape[0] == 0:
        raise DataError(
            f"{data.observations} return rows cannot make one {h}-day window",
            field="horizon_days",
            value=h,
            hint="pass a longer history or a shorter horizon",
        )
    pnl = windows * data.values  # (n, N): each position's P&L per window
    var, cvar = tail_loss(pnl.sum(axis=1), c)
    per_position = tail_loss(pnl, c)
    notes = _tail_notes(windows.shape[0], c, "windows" if h > 1 else "observations")
    if h > 1:
        notes = (*notes, f"{windows.shape[0]} overlapping {h}-day windows (about {data.observations // h} independent)")
    return _result("historical", data, c, h, pv, (float(var), float(cvar)), per_position, windows.shape[0], notes=notes)


def _moments(matrix: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Mean, daily volatilities (ddof = 1) and the correlation matrix (identity where a volatility is zero)."""
    mean = matrix.mean(axis=0)
    vol = matrix.std(axis=0, ddof=1)
    cov = np.atleast_2d(np.cov(matrix, rowvar=False, ddof=1))
    scale = np.where(vol > 0, vol, 1.0)
    corr = cov / np.outer(scale, scale)
    corr[vol == 0, :] = 0.0
    corr[:, vol == 0] = 0.0
    np.fill_diagonal(corr, 1.0)
    return mean, vol, corr


def parametric_var(
    returns: pd.DataFrame,
    values: Values,
    *,
    confidence: float = 0.95,
    horizon_days: int = 1,
    include_mean: bool = False,
    portfolio_value: float | None = None,
) -> VaRResult:
    """Variance–covariance VaR/CVaR with the Euler decomposition per position (see the module docstring)."""
    c, h = check_confidence(confidence), check_horizon(horizon_days)
    data = align_returns(returns, values)
    pv = _portfolio_value(data.values, portfolio_value)
    v = data.values
    mean, vol, corr = _moments(data.matrix)
    cov = corr * np.outer(vol, vol)  # Σ = D·C·D
    z = float(stats.norm.ppf(c))
    es_factor = float(stats.norm.pdf(z)) / (1.0 - c)
    root_h = math.sqrt(h)
    drift = h * mean if include_mean else np.zeros_like(mean)
    sigma = math.sqrt(max(float(v @ cov @ v), 0.0))  # one-day portfolio σ in money
    sigma_h = sigma * root_h
    expected = float(drift @ v)
    var = z * sigma_h - expected
    cvar = es_factor * sigma_h - expected
    standalone_sigma = np.abs(v) * vol * root_h
    pos_var = z * standalone_sigma - drift * v
    pos_cvar = es_factor * standalone_sigma - drift * v
    d_sigma = (cov @ v) * root_h / sigma if sigma > 0 else np.zeros_like(v)  # ∂σ_h/∂V
    marginal_var = z * d_sigma - drift
    marginal_cvar = es_factor * d_sigma - drift
    details = {
        "z": z,
        "sigma": sigma_h,
        "expected_pnl": expected,
        "include_mean": include_mean,
        "volatility": dict(zip(data.symbols, (float(x) for x in vol), strict=True)),
    }
    return _result(
        "parametric",
        data,
        c,
        h,
        pv,
        (var, cvar),
        (pos_var, pos_cvar),
        data.observations,
        contributions={
            "marginal_var": marginal_var,
            "component_var": v * marginal_var,
            "component_cvar": v * marginal_cvar,
        },
        details=details,
    )


def _cov_root(cov: FloatArray) -> FloatArray:
    """A matrix ``L`` with ``L·Lᵀ = cov``: Cholesky, or from the eigen-decomposition when ``cov`` is singular."""
    try:
        return np.asarray(np.linalg.cholesky(cov), dtype=np.float64)
    except np.linalg.LinAlgError:
        w, q = np.linalg.eigh(cov)
        root: FloatArray = q * np.sqrt(np.clip(w, 0.0, None))
        return root


def _scenarios(
    matrix: FloatArray, h: int, n: int, rng: np.random.Generator, sampling: McSampling, include_mean: bool
) -> FloatArray:
    """``n`` simulated ``h``-day returns (rows) of the columns of ``matrix``."""
    if sampling == "bootstrap":
        log_sum = np.zeros((n, matrix.shape[1]))
        logs = np.log1p(matrix)
        for _ in range(h):
            log_sum += logs[rng.integers(0, matrix.shape[0], size=n)]
        return np.expm1(log_sum)
    mean, vol, corr = _moments(matrix)
    root = _cov_root(corr * np.outer(vol, vol) * h)
    draws = rng.standard_normal((n, matrix.shape[1])) @ root.T
    return draws + h * mean if include_mean else draws


def monte_carlo_var(
    returns: pd.DataFrame,
    values: Values,
    *,
    confidence: float = 0.95,
    horizon_days: int = 1,
    n_scenarios: int = 100_000,
    seed: int | None = 42,
    sampling: McSampling = "normal",
    include_mean: bool = False,
    portfolio_value: float | None = None,
) -> VaRResult:
    """Monte Carlo VaR/CVaR: empirical tail of ``n_scenarios`` simulated ``h``-day P&Ls (see the module docstring).

    Memory is about ``16 · n_scenarios · positions`` bytes; the same ``seed`` gives the same figures.
    """
    c, h = check_confidence(confidence), check_horizon(horizon_days)
    if sampling not in get_args(McSampling):
        raise ValidationError(
            f"unknown sampling {sampling!r}", field="sampling", value=sampling, hint="use 'normal' or 'bootstrap'"
        )
    if isinstance(n_scenarios, bool) or not isinstance(n_scenarios, int) or n_scenarios < 100:
        raise ValidationError(
            f"must be a whole number >= 100, got {n_scenarios!r}",
            field="n_scenarios",
            value=n_scenarios,
            hint="use 100000 (the default) or more for a stable 99% figure",
        )
    data = align_returns(returns, values)
    pv = _portfolio_value(data.values, portfolio_value)
    rng = np.random.default_rng(seed)
    pnl = _scenarios(data.matrix, h, n_scenarios, rng, sampling, include_mean) * data.values
    var, cvar = tail_loss(pnl.sum(axis=1), c)
    details = {"seed": seed, "sampling": sampling, "include_mean": include_mean if sampling == "normal" else True}
    return _result(
        "monte_carlo",
        data,
        c,
        h,
        pv,
        (float(var), float(cvar)),
        tail_loss(pnl, c),
        n_scenarios,
        details=details,
        notes=_tail_notes(n_scenarios, c, "scenarios"),
    )


def compute_var(
    returns: pd.DataFrame,
    values: Values,
    *,
    methods: Sequence[str] = VAR_METHODS,
    confidence: float = 0.95,
    horizon_days: int = 1,
    include_mean: bool = False,
    portfolio_value: float | None = None,
    n_scenarios: int = 100_000,
    seed: int | None = 42,
    sampling: McSampling = "normal",
) -> dict[VaRMethod, VaRResult]:
    """VaR/CVaR by each of ``methods`` (in the order given), with shared confidence, horizon and denominator."""
    chosen: list[VaRMethod] = []
    for m in methods:
        name = str(m).strip().lower().replace("-", "_")
        if name not in VAR_METHODS:
            raise ValidationError(
                f"unknown VaR method {m!r}", field="methods", value=m, hint=f"use one of {', '.join(VAR_METHODS)}"
            )
        chosen.append(name)
    if not chosen:
        raise ValidationError("no VaR method chosen", field="methods", hint=f"use one of {', '.join(VAR_METHODS)}")
    common: dict[str, Any] = {
        "confidence": confidence,
        "horizon_days": horizon_days,
        "portfolio_value": portfolio_value,
    }
    out: dict[VaRMethod, VaRResult] = {}
    for name in dict.fromkeys(chosen):
        if name == "historical":
            out[name] = historical_var(returns, values, **common)
        elif name == "parametric":
            out[name] = parametric_var(returns, values, include_mean=include_mean, **common)
        else:
            out[name] = monte_carlo_var(
                returns,
                values,
                n_scenarios=n_scenarios,
                seed=seed,
                sampling=sampling,
                include_mean=include_mean,
                **common,
            )
    return out
