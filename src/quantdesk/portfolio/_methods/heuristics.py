"""Weights of the heuristic methods brought inside the weight bounds."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["fit_to_bounds"]

FloatArray = npt.NDArray[np.float64]


def fit_to_bounds(weights: FloatArray, lower: FloatArray, upper: FloatArray, budget: float) -> FloatArray:
    """Scale ``weights`` to sum to ``budget``, then pin those outside ``[lower, upper]`` to the bound and spread the
    remainder over the others in proportion to their weights (repeated until none is outside)."""
    w: FloatArray = np.asarray(weights, dtype=np.float64)
    w = w * (budget / w.sum())
    free = np.ones(len(w), dtype=bool)
    out = w.copy()
    for _ in range(len(w) + 1):
        over = free & (out > upper + 1e-15)
        under = free & (out < lower - 1e-15)
        if not over.any() and not under.any():
            break
        out[over] = upper[over]
        out[under] = lower[under]
        free &= ~(over | under)
        remaining = budget - out[~free].sum()
        base = w[free].sum()
        if not free.any() or base <= 0:
            break
        out[free] = w[free] * (remaining / base)
    return out
