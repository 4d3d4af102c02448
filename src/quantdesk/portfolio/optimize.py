"""One interface to every optimiser: prices (or returns) and a spec in, target weights with diagnostics out.

>>> from quantdesk.data import load_sample_prices
>>> from quantdesk.portfolio.optimize import OptimizationSpec, optimize
>>> result = optimize(load_sample_prices(), OptimizationSpec(method="max-sharpe", lookback="5y"))
>>> result.weights.sum()  # doctest: +SKIP
1.0

The mean–variance family (:data:`~quantdesk.portfolio._spec.MEAN_VARIANCE_METHODS`) runs on the compiled engine
(:mod:`quantdesk.portfolio.compiled`) unless the spec needs something only skfolio has (transaction costs,
cardinality) or asks for ``engine="skfolio"``; every other method is a skfolio estimator. Both see the same
estimates (:func:`~quantdesk.portfolio.estimators.estimate_moments`).

A failed or infeasible solve raises :class:`OptimizationError` (:class:`InfeasibleProblem` names the constraint
set at fault); with ``fallback=`` the fallback method or weights are used instead, and a warning says so in
``result.warnings`` and through :mod:`logging`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from quantdesk.errors import ValidationError
from quantdesk.portfolio._errors import InfeasibleProblem, OptimizationError
from quantdesk.portfolio._methods import solve_skfolio
from quantdesk.portfolio._result import OptimizationResult, portfolio_statistics, risk_contributions
from quantdesk.portfolio._spec import MEAN_VARIANCE_METHODS, METHOD_OPTIONS, METHODS, OptimizationSpec
from quantdesk.portfolio.compiled import CompiledMeanVariance, min_variance_volatility_bound
from quantdesk.portfolio.constraints import PortfolioConstraints, build_constraints, diagnose
from quantdesk.portfolio.estimators import ANNUALIZATION, Moments, estimate_moments, prepare_returns

__all__ = [
    "METHODS",
    "InfeasibleProblem",
    "OptimizationError",
    "OptimizationResult",
    "OptimizationSpec",
    "Optimizer",
    "choose_engine",
    "optimize",
]

logger = logging.getLogger(__name__)

_DEFAULTS = OptimizationSpec()
_OPTION_RESETS: dict[str, tuple[str, ...]] = {
    "long_short": ("long_only", "gross_cap"),
    "cash_buffer": ("cash_buffer",),
    "groups": ("groups", "group_limits"),
    "transaction_costs": ("transaction_costs",),
    "turnover_limit": ("turnover_limit",),
    "cardinality": ("max_assets", "min_nonzero_weight"),
    "target_volatility": ("target_volatility",),
    "target_return": ("target_return",),
    "views": ("views", "view_confidences"),
    "risk_budget": ("risk_budget",),
}


def choose_engine(spec: OptimizationSpec) -> str:
    """``"compiled"`` or ``"skfolio"``: which engine :func:`optimize` runs ``spec`` on."""
    compilable = (
        spec.method in MEAN_VARIANCE_METHODS
        and spec.transaction_costs is None
        and spec.max_assets is None
        and spec.min_nonzero_weight is None
    )
    if spec.engine == "compiled" and not compilable:
        raise ValidationError(
            f"the compiled engine does not solve {spec.method!r} with these options",
            field="engine",
            value=spec.engine,
            hint=f"use engine='auto' (compiled covers {', '.join(MEAN_VARIANCE_METHODS)} "
            "without transaction_costs, max_assets or min_nonzero_weight)",
        )
    if spec.engine == "skfolio" or not compilable:
        return "skfolio"
    return "compiled"


def _finish(weights: np.ndarray[Any, Any], c: PortfolioConstraints, notes: list[str]) -> np.ndarray[Any, Any]:
    """Zero the dust, clip into the bounds, put any budget residual where there is room, and check the rest."""
    w = np.asarray(weights, dtype=np.float64).copy()
    w[np.abs(w) < 1e-10] = 0.0
    w = np.clip(w, c.lower, c.upper)
    residual = c.budget - w.sum()
    if 0 < abs(residual) < 1e-5:
        room = (c.upper - w) if residual > 0 else (w - c.lower)
        i = int(np.argmax(room))
        if room[i] >= abs(residual):
            w[i] += residual
    broken = c.violations(w, tol=1e-4)
    if broken:
        raise OptimizationError(
            f"the solver returned weights that break the constraints: {'; '.join(broken[:3])}",
            field="constraints",
            hint="pass fallback= or relax the constraints",
        )
    slight = c.violations(w, tol=1e-7)
    if slight:
        notes.append(f"constraints met to within 1e-4 only: {'; '.join(slight[:3])}")
    return w


def _solve(
    spec: OptimizationSpec,
    returns: pd.DataFrame,
    moments: Moments,
    cache: dict[tuple[str, ...], CompiledMeanVariance] | None = None,
) -> tuple[pd.Series, Moments, dict[str, Any], list[str]]:
    assets = [str(a) for a in returns.columns]
    c = build_constraints(spec, assets)
    engine = choose_engine(spec)
    notes: list[str] = []
    started = time.perf_counter()
    mu, cov = moments.mu.to_numpy(), moments.cov.to_numpy()
    info: dict[str, Any] = {"engine": engine}
    if engine == "compiled":
        target = spec.target_volatility if spec.method == "max-return-target-vol" else spec.target_return
        key = tuple(assets)
        problem = cache.get(key) if cache is not None else None
        if problem is None:
            problem = CompiledMeanVariance(
                len(assets), spec.method, c, risk_free_rate=spec.risk_free_rate, target=target
            )
            if cache is not None:
                cache[key] = problem
        raw = problem.solve(mu, cov)
        info.update(solver=problem.solver, status=problem.status, iterations=problem.iterations)
    else:
        try:
            solved = solve_skfolio(spec, returns, c)
        except OptimizationError as error:
            named = diagnose(
                c,
                method=spec.method,
                mu=mu,
                cov=cov,
                risk_free_rate=spec.risk_free_rate,
                target_return=spec.target_return,
                target_volatility=spec.target_volatility,
                volatility_floor=lambda: min_variance_volatility_bound(c, cov),
            )
            if named is not None:
                raise named from None
            raise OptimizationError(
                error.message,
                field=error.field,
                value=error.value,
                hint="relax the constraints, or pass fallback= to use another method",
            ) from None
        raw = solved.weights
        notes.extend(solved.notes)
        info.update(solver=solved.solver, status=solved.status)
        if solved.posterior is not None:
            post_mu, post_cov = solved.posterior
            moments = Moments(
                mu=pd.Series(post_mu * ANNUALIZATION, index=assets, name="mu"),
                cov=pd.DataFrame(post_cov * ANNUALIZATION, index=assets, columns=assets),
                mu_estimator=f"BlackLitterman({moments.mu_estimator})",
                cov_estimator=f"BlackLitterman({moments.cov_estimator})",
            )
    info["solve_seconds"] = time.perf_counter() - started
    weights = pd.Series(_finish(raw, c, notes), index=assets, name="weight")
    return weights, moments, info, notes


def _fallback_spec(spec: OptimizationSpec, method: str) -> tuple[OptimizationSpec, list[str]]:
    """``spec`` for the fallback ``method``: options that method does not take are reset (and reported)."""
    changes: dict[str, Any] = {"method": method, "fallback": None}
    dropped: list[str] = []
    for option, names in _OPTION_RESETS.items():
        if option in METHOD_OPTIONS[method]:
            continue
        for name in names:
            if getattr(spec, name) != getattr(_DEFAULTS, name):
                changes[name] = getattr(_DEFAULTS, name)
                dropped.append(name)
    return dataclasses.replace(spec, **changes), dropped


def _result(
    spec: OptimizationSpec, method: str, weights: pd.Series, moments: Moments, info: dict[str, Any], warnings: list[str]
) -> OptimizationResult:
    expected, volatility, sharpe = portfolio_statistics(weights, moments, spec.risk_free_rate)
    return OptimizationResult(
        weights=weights,
        expected_return=expected,
        volatility=volatility,
        sharpe=sharpe,
        method=method,
        risk_contributions=risk_contributions(weights, moments.cov),
        diagnostics=info,
        warnings=warnings,
        spec=spec,
        moments=moments,
    )


class Optimizer:
    """A spec bound to solver state that persists between calls: call it on each window of a walk-forward and the
    mean–variance family re-solves warm (the compiled problem is kept per universe of symbols).

    >>> step = Optimizer(OptimizationSpec(method="max-sharpe", lookback="2y"))
    >>> results = [step(prices.loc[:end]) for end in rebalance_dates]  # doctest: +SKIP
    """

    def __init__(self, spec: OptimizationSpec | None = None) -> None:
        spec = spec if spec is not None else OptimizationSpec()
        if not isinstance(spec, OptimizationSpec):
            raise ValidationError(
                f"spec must be an OptimizationSpec, got {type(spec).__name__}",
                field="spec",
                hint="build one with OptimizationSpec(method=...)",
            )
        self.spec = spec
        self._compiled: dict[tuple[str, ...], CompiledMeanVariance] = {}

    def __call__(self, prices_or_returns: pd.DataFrame, *, returns: bool = False) -> OptimizationResult:
        """Optimise the spec on ``prices_or_returns`` (see :func:`optimize`)."""
        spec = self.spec
        started = time.perf_counter()
        data, notes = prepare_returns(prices_or_returns, returns=returns, lookback=spec.lookback)
        moments = estimate_moments(data, cov=spec.cov, mu=spec.mu, half_life=spec.half_life)
        info: dict[str, Any] = {
            "requested_method": spec.method,
            "cov_estimator": moments.cov_estimator,
            "mu_estimator": moments.mu_estimator,
            "lookback": spec.lookback,
            "lookback_rows": len(data),
            "start": str(data.index[0]),
            "end": str(data.index[-1]),
            "n_assets": data.shape[1],
            "annualization": ANNUALIZATION,
            "fallback": None,
        }
        try:
            weights, used_moments, solve_info, solve_notes = _solve(spec, data, moments, self._compiled)
            method = spec.method
        except OptimizationError as error:
            if spec.fallback is None:
                raise
            weights, used_moments, solve_info, solve_notes, method = _run_fallback(spec, data, moments, error, info)
        info.update(solve_info, mu_estimator=used_moments.mu_estimator, cov_estimator=used_moments.cov_estimator)
        info["total_seconds"] = time.perf_counter() - started
        return _result(spec, method, weights, used_moments, info, notes + solve_notes)


def optimize(
    prices_or_returns: pd.DataFrame, spec: OptimizationSpec | None = None, *, returns: bool = False
) -> OptimizationResult:
    """Optimise ``spec`` (default: max Sharpe, 5 years, Ledoit–Wolf, 10 % cap) on wide prices or returns.

    Parameters
    ----------
    prices_or_returns : DataFrame of shape (n_dates, n_assets)
        Wide adjusted closes (or simple returns with ``returns=True``), one column per symbol.
    spec : OptimizationSpec, optional
        Method, estimators, lookback and constraints.
    returns : bool, default False
        True when the frame already holds returns.

    Raises
    ------
    ValidationError
        The input or the spec is unusable (the message names the field and the fix).
    InfeasibleProblem, OptimizationError
        The solve failed and no ``fallback`` was given.
    """
    return Optimizer(spec)(prices_or_returns, returns=returns)


def _run_fallback(
    spec: OptimizationSpec, data: pd.DataFrame, moments: Moments, error: OptimizationError, info: dict[str, Any]
) -> tuple[pd.Series, Moments, dict[str, Any], list[str], str]:
    info["error"] = str(error)
    assets = [str(a) for a in data.columns]
    if isinstance(spec.fallback, str):
        fb_spec, dropped = _fallback_spec(spec, spec.fallback)
        message = f"{spec.method} failed ({error}); fell back to {spec.fallback}"
        if dropped:
            message += f" without {', '.join(dropped)}"
        try:
            weights, used, solve_info, notes = _solve(fb_spec, data, moments)
        except OptimizationError as second:
            raise OptimizationError(
                f"{spec.method} failed ({error}) and the fallback {spec.fallback} too ({second})",
                field=second.field,
                value=second.value,
                hint=second.hint,
            ) from None
        logger.warning(message)
        info["fallback"] = spec.fallback
        return weights, used, solve_info, [message, *notes], spec.fallback
    previous = dict(spec.fallback or {})
    outside = sorted(set(previous) - set(assets))
    weights = pd.Series([float(previous.get(a, 0.0)) for a in assets], index=assets, name="weight")
    message = f"{spec.method} failed ({error}); kept the previous weights"
    if outside:
        message += f" (dropped {', '.join(outside)}, not in the universe)"
    logger.warning(message)
    info["fallback"] = "previous-weights"
    return (
        weights,
        moments,
        {"engine": None, "solver": None, "status": "fallback", "solve_seconds": 0.0},
        [message],
        "previous-weights",
    )
