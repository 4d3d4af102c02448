"""The optimisers behind :func:`quantdesk.portfolio.optimize`: skfolio estimators configured from a spec."""

from quantdesk.portfolio._methods.heuristics import fit_to_bounds
from quantdesk.portfolio._methods.skfolio_path import Solved, solve_skfolio
from quantdesk.portfolio._methods.views import scale_views

__all__ = ["Solved", "fit_to_bounds", "scale_views", "solve_skfolio"]
