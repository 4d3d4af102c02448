"""Every method as a skfolio estimator configured from a spec and resolved constraints, fitted on daily returns.

skfolio works in the returns' own periodicity, so the annual quantities of a spec are converted here: the
risk-free rate, target return and transaction costs are divided by 252, the target volatility by √252, and the
Black–Litterman views are rewritten on daily returns.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from quantdesk.errors import ValidationError
from quantdesk.portfolio._errors import OptimizationError
from quantdesk.portfolio._methods.heuristics import fit_to_bounds
from quantdesk.portfolio._methods.views import scale_views
from quantdesk.portfolio._spec import OptimizationSpec
from quantdesk.portfolio.constraints import PortfolioConstraints
from quantdesk.portfolio.estimators import ANNUALIZATION, prior_estimator

__all__ = ["MIP_CONIC_SOLVERS", "Solved", "mip_solver", "solve_skfolio"]

FloatArray = npt.NDArray[np.float64]

MIP_CONIC_SOLVERS: tuple[str, ...] = ("SCIP", "MOSEK", "GUROBI", "CPLEX", "XPRESS")
"""Mixed-integer solvers that handle the variance (conic) methods' cardinality constraints."""

_CLARABEL_PARAMS = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10}
"""Tighter than skfolio's 1e-9: flat objectives (long/short minimum variance) otherwise stop 1e-4 from the optimum."""

_SCALE_INVARIANT = frozenset({"equal-weight", "inverse-volatility", "risk-parity", "risk-budgeting", "hrp", "herc"})
_RATIO = frozenset({"max-sharpe", "black-litterman", "max-diversification"})


@dataclass
class Solved:
    """What a method produced: weights, solver facts, notes for the warnings and, for Black–Litterman, the
    posterior moments (daily) the statistics should use."""

    weights: FloatArray
    solver: str
    status: str
    notes: list[str] = field(default_factory=list)
    posterior: tuple[FloatArray, FloatArray] | None = None


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence C-level writes to stdout (HiGHS prints a banner when created, whatever its options)."""
    fd = 1  # the C library writes to file descriptor 1, whatever sys.stdout is
    sys.stdout.flush()
    try:
        saved = os.dup(fd)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def mip_solver(method: str) -> str:
    """The installed mixed-integer solver for ``method``'s cardinality constraints, or a clear ValidationError."""
    import cvxpy as cp

    installed = set(cp.installed_solvers())  # type: ignore[no-untyped-call]
    conic = [s for s in MIP_CONIC_SOLVERS if s in installed]
    if conic:
        return conic[0]
    if method == "min-cvar" and "HIGHS" in installed:
        return "HIGHS"
    raise ValidationError(
        f"max_assets / min_nonzero_weight with {method!r} needs a mixed-integer conic solver "
        f"({', '.join(MIP_CONIC_SOLVERS)}); none is installed",
        field="max_assets",
        value=method,
        hint="use method 'min-cvar' (a linear problem HIGHS solves), or install SCIP (pip install pyscipopt)",
    )


def _group_inequalities(c: PortfolioConstraints) -> tuple[FloatArray, FloatArray] | None:
    if not c.has_groups:
        return None
    left: list[FloatArray] = []
    right: list[float] = []
    for g, lo, hi in zip(c.group_matrix, c.group_lower, c.group_upper, strict=True):
        if np.isfinite(hi):
            left.append(g)
            right.append(float(hi))
        if np.isfinite(lo):
            left.append(-g)
            right.append(float(-lo))
    return np.array(left), np.array(right)


def _convex_kwargs(spec: OptimizationSpec, c: PortfolioConstraints, assets: list[str]) -> dict[str, Any]:
    """Keyword arguments shared by MeanRisk and MaximumDiversification."""
    kwargs: dict[str, Any] = {"min_weights": c.lower.copy(), "max_weights": c.upper.copy(), "budget": c.budget}
    if c.gross_cap is not None:
        max_short = (c.gross_cap - c.budget) / 2
        kwargs["max_long"] = (c.gross_cap + c.budget) / 2
        if max_short > 1e-12:
            kwargs["max_short"] = max_short
        else:
            kwargs["min_weights"] = np.maximum(c.lower, 0.0)
    inequalities = _group_inequalities(c)
    if inequalities is not None:
        kwargs["left_inequality"], kwargs["right_inequality"] = inequalities
    if c.current is not None:
        kwargs["previous_weights"] = c.current.copy()
    tc = spec.transaction_costs
    if tc is not None:
        costs = np.array([tc.get(a, 0.0) for a in assets]) if hasattr(tc, "get") else np.full(len(assets), tc)
        kwargs["transaction_costs"] = costs / ANNUALIZATION
        kwargs.setdefault("previous_weights", np.zeros(len(assets)))
    kwargs["solver_params"] = dict(_CLARABEL_PARAMS)
    if spec.max_assets is not None or spec.min_nonzero_weight is not None:
        kwargs["solver"] = mip_solver(spec.method)
        kwargs["solver_params"] = None
        if spec.max_assets is not None:
            kwargs["cardinality"] = spec.max_assets
        if spec.min_nonzero_weight is not None:
            kwargs["threshold_long"] = spec.min_nonzero_weight
    return kwargs


def _turnover(spec: OptimizationSpec, c: PortfolioConstraints) -> Any:
    if c.turnover_limit is None or c.current is None:
        return None
    if spec.method in _RATIO:
        raise ValidationError(
            f"turnover_limit with {spec.method!r} is solved by the compiled engine only",
            field="turnover_limit",
            value=spec.turnover_limit,
            hint="use engine='auto' without max_assets/transaction_costs, or method 'mean-variance-tc'",
        )
    import cvxpy as cp

    current, limit = c.current.copy(), float(c.turnover_limit)
    return lambda w: cp.sum(cp.abs(w - current)) <= limit  # type: ignore[attr-defined]


def _estimator(spec: OptimizationSpec, c: PortfolioConstraints, assets: list[str]) -> Any:
    from skfolio import RiskMeasure
    from skfolio import optimization as opt
    from skfolio.prior import BlackLitterman

    prior = prior_estimator(spec.cov, spec.mu, half_life=spec.half_life)
    method = spec.method
    bounds = {"min_weights": c.lower.copy(), "max_weights": c.upper.copy()}
    match method:
        case "equal-weight":
            return opt.EqualWeighted()
        case "inverse-volatility":
            return opt.InverseVolatility(prior_estimator=prior)
        case "hrp":
            return opt.HierarchicalRiskParity(prior_estimator=prior, **bounds)
        case "herc":
            return opt.HierarchicalEqualRiskContribution(prior_estimator=prior, **bounds)
        case "risk-parity" | "risk-budgeting":
            budget = None
            if spec.risk_budget is not None:
                missing = [a for a in assets if a not in spec.risk_budget]
                if missing:
                    raise ValidationError(
                        f"no risk budget for {missing}",
                        field="risk_budget",
                        value=missing,
                        hint="give every symbol of the universe a positive budget",
                    )
                budget = np.array([spec.risk_budget[a] for a in assets])
            inequalities = _group_inequalities(c)
            left, right = inequalities if inequalities is not None else (None, None)
            return opt.RiskBudgeting(
                risk_budget=budget, prior_estimator=prior, left_inequality=left, right_inequality=right, **bounds
            )
    kwargs = _convex_kwargs(spec, c, assets)
    if method == "max-diversification":
        return opt.MaximumDiversification(prior_estimator=prior, **kwargs)
    objective, risk = opt.ObjectiveFunction, RiskMeasure
    rf = spec.risk_free_rate / ANNUALIZATION
    turnover = _turnover(spec, c)
    if turnover is not None:
        kwargs["add_constraints"] = turnover
    match method:
        case "min-variance":
            return opt.MeanRisk(risk_measure=risk.VARIANCE, prior_estimator=prior, **kwargs)
        case "max-sharpe":
            return opt.MeanRisk(
                objective_function=objective.MAXIMIZE_RATIO,
                risk_measure=risk.STANDARD_DEVIATION,
                risk_free_rate=rf,
                prior_estimator=prior,
                **kwargs,
            )
        case "max-return-target-vol":
            assert spec.target_volatility is not None
            return opt.MeanRisk(
                objective_function=objective.MAXIMIZE_RETURN,
                prior_estimator=prior,
                max_standard_deviation=spec.target_volatility / np.sqrt(ANNUALIZATION),
                **kwargs,
            )
        case "min-risk-target-return":
            assert spec.target_return is not None
            return opt.MeanRisk(
                risk_measure=risk.VARIANCE,
                min_return=spec.target_return / ANNUALIZATION,
                prior_estimator=prior,
                **kwargs,
            )
        case "min-cvar":
            target = None if spec.target_return is None else spec.target_return / ANNUALIZATION
            return opt.MeanRisk(
                risk_measure=risk.CVAR, cvar_beta=spec.cvar_beta, min_return=target, prior_estimator=prior, **kwargs
            )
        case "black-litterman":
            assert spec.views is not None
            views = scale_views(spec.views, assets, 1.0 / ANNUALIZATION)
            bl = BlackLitterman(
                views=views,
                prior_estimator=prior,
                tau=spec.tau,
                view_confidences=None if spec.view_confidences is None else list(spec.view_confidences),
            )
            return opt.MeanRisk(
                objective_function=objective.MAXIMIZE_RATIO,
                risk_measure=risk.STANDARD_DEVIATION,
                risk_free_rate=rf,
                prior_estimator=bl,
                **kwargs,
            )
        case "mean-variance-tc":
            return opt.MeanRisk(
                objective_function=objective.MAXIMIZE_UTILITY,
                risk_measure=risk.VARIANCE,
                risk_aversion=spec.risk_aversion,
                prior_estimator=prior,
                **kwargs,
            )
    raise ValidationError(f"unknown method {method!r}", field="method", value=method)  # pragma: no cover


def solve_skfolio(spec: OptimizationSpec, returns: pd.DataFrame, c: PortfolioConstraints) -> Solved:
    """Fit the skfolio estimator of ``spec.method`` on daily ``returns`` under ``c``."""
    from skfolio.exceptions import OptimizationError as SkfolioOptimizationError

    assets = [str(a) for a in returns.columns]
    scale = spec.method in _SCALE_INVARIANT
    solve_c = c.scaled(c.budget) if scale else c
    estimator = _estimator(spec, solve_c, assets)
    quiet = _quiet_stdout() if getattr(estimator, "solver", "") == "HIGHS" else contextlib.nullcontext()
    with warnings.catch_warnings(record=True) as caught, quiet:
        warnings.simplefilter("always")
        try:
            estimator.fit(returns)
        except SkfolioOptimizationError as error:
            raise OptimizationError(f"{spec.method} failed: {error}", field="method", value=spec.method) from None
        except ValueError as error:
            raise OptimizationError(
                f"{spec.method} rejected the problem: {error}", field="method", value=spec.method
            ) from None
    notes = sorted({f"skfolio: {w.message}" for w in caught if issubclass(w.category, UserWarning)})
    weights = np.asarray(estimator.weights_, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(weights)):
        raise OptimizationError(f"{spec.method} returned non-finite weights", field="method", value=spec.method)
    if spec.method == "risk-budgeting" and spec.risk_budget is None:
        notes.append("no risk_budget given: equal budgets, the same as risk-parity")
    if spec.method == "inverse-volatility":
        fitted = fit_to_bounds(weights, solve_c.lower, solve_c.upper, 1.0)
        if np.abs(fitted - weights).max() > 1e-12:
            notes.append("inverse-volatility weights capped at the weight bounds; the excess was spread pro rata")
        weights = fitted
    if scale:
        weights = weights * c.budget
    posterior = None
    if spec.method == "black-litterman":
        dist = estimator.prior_estimator_.return_distribution_
        posterior = (np.asarray(dist.mu, dtype=np.float64), np.asarray(dist.covariance, dtype=np.float64))
    solver = str(getattr(estimator, "solver", "") or "closed form")
    return Solved(weights=weights, solver=solver, status="solved", notes=notes, posterior=posterior)
