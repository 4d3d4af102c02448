"""Errors of the optimisers: a solve that failed, and a problem that cannot be solved as posed."""

from __future__ import annotations

from quantdesk.errors import QuantdeskError, ValidationError

__all__ = ["InfeasibleProblem", "OptimizationError"]


class OptimizationError(QuantdeskError):
    """An optimisation failed (solver error, infeasible or unbounded problem); ``fallback=`` may recover it."""


class InfeasibleProblem(OptimizationError, ValidationError):
    """The constraints cannot all hold at once; ``field`` names the constraint set at fault, ``hint`` the fix."""
