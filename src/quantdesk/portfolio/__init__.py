"""Portfolio construction: optimisers on skfolio (and a compiled engine for re-solves), estimators, constraints,
efficient frontiers and risk-contribution reports.

Import from here or from :mod:`quantdesk.portfolio.optimize`; the private modules behind may move. The names are
loaded on first use, so importing a light module such as ``portfolio.holdings`` does not load pandas and skfolio.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_WHERE: dict[str, str] = {
    "InfeasibleProblem": "quantdesk.portfolio._errors",
    "OptimizationError": "quantdesk.portfolio._errors",
    "OptimizationResult": "quantdesk.portfolio._result",
    "ENGINES": "quantdesk.portfolio._spec",
    "MEAN_VARIANCE_METHODS": "quantdesk.portfolio._spec",
    "METHODS": "quantdesk.portfolio._spec",
    "METHOD_OPTIONS": "quantdesk.portfolio._spec",
    "OptimizationSpec": "quantdesk.portfolio._spec",
    "COMPILED_METHODS": "quantdesk.portfolio.compiled",
    "CompiledMeanVariance": "quantdesk.portfolio.compiled",
    "PortfolioConstraints": "quantdesk.portfolio.constraints",
    "build_constraints": "quantdesk.portfolio.constraints",
    "ANNUALIZATION": "quantdesk.portfolio.estimators",
    "COVARIANCE_ESTIMATORS": "quantdesk.portfolio.estimators",
    "MU_ESTIMATORS": "quantdesk.portfolio.estimators",
    "Moments": "quantdesk.portfolio.estimators",
    "estimate_covariance": "quantdesk.portfolio.estimators",
    "estimate_moments": "quantdesk.portfolio.estimators",
    "estimate_mu": "quantdesk.portfolio.estimators",
    "prices_to_returns": "quantdesk.portfolio.estimators",
    "EfficientFrontier": "quantdesk.portfolio.frontier",
    "efficient_frontier": "quantdesk.portfolio.frontier",
    "risk_contribution_table": "quantdesk.portfolio.frontier",
    "Optimizer": "quantdesk.portfolio.optimize",
    "choose_engine": "quantdesk.portfolio.optimize",
    "optimize": "quantdesk.portfolio.optimize",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """Keeps a re-exported name (``optimize``) from being replaced by the submodule of the same name on import."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _WHERE and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
