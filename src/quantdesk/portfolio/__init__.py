"""Portfolio construction: optimisers on skfolio (and a compiled engine for re-solves), estimators, constraints,
efficient frontiers and risk-contribution reports.

Import from here or from :mod:`quantdesk.portfolio.optimize`; the private modules behind may move.
"""

from quantdesk.portfolio._errors import InfeasibleProblem, OptimizationError
from quantdesk.portfolio._result import OptimizationResult
from quantdesk.portfolio._spec import ENGINES, MEAN_VARIANCE_METHODS, METHOD_OPTIONS, METHODS, OptimizationSpec
from quantdesk.portfolio.compiled import COMPILED_METHODS, CompiledMeanVariance
from quantdesk.portfolio.constraints import PortfolioConstraints, build_constraints
from quantdesk.portfolio.estimators import (
    ANNUALIZATION,
    COVARIANCE_ESTIMATORS,
    MU_ESTIMATORS,
    Moments,
    estimate_covariance,
    estimate_moments,
    estimate_mu,
    prices_to_returns,
)
from quantdesk.portfolio.frontier import EfficientFrontier, efficient_frontier, risk_contribution_table
from quantdesk.portfolio.optimize import Optimizer, choose_engine, optimize

__all__ = [
    "ANNUALIZATION",
    "COMPILED_METHODS",
    "COVARIANCE_ESTIMATORS",
    "ENGINES",
    "MEAN_VARIANCE_METHODS",
    "METHODS",
    "METHOD_OPTIONS",
    "MU_ESTIMATORS",
    "CompiledMeanVariance",
    "EfficientFrontier",
    "InfeasibleProblem",
    "Moments",
    "OptimizationError",
    "OptimizationResult",
    "OptimizationSpec",
    "Optimizer",
    "PortfolioConstraints",
    "build_constraints",
    "choose_engine",
    "efficient_frontier",
    "estimate_covariance",
    "estimate_moments",
    "estimate_mu",
    "optimize",
    "prices_to_returns",
    "risk_contribution_table",
]
