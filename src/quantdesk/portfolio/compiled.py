"""The fast re-solve path for the mean–variance family: the problem is laid out once, then re-solved with new inputs.

A walk-forward backtest re-solves the same optimisation hundreds of times with a new window of returns. Going
through a modelling layer each time (cvxpy canonicalisation, skfolio's estimator plumbing) costs far more than the
solve itself. :class:`CompiledMeanVariance` lays the problem out once for a method and a constraint set, and on
each :meth:`~CompiledMeanVariance.solve` only hands over the new covariance and expected returns:

* weight bounds, the budget (cash buffer) and group limits go to a dense parametric active-set solver
  (:mod:`._active_set`) that keeps its working set, its weights and its λ between solves: a re-solve is a few
  small dense linear solves, and every answer is checked against the KKT conditions;
* a gross cap (long/short) or a turnover limit adds auxiliary variables; those problems, and any answer the
  active-set solver cannot verify, go to Clarabel with matrices whose sparsity pattern was built once (max Sharpe
  homogenised: ``min y'Σy`` s.t. ``(μ - r_f)'y = 1``, constraints scaled by ``κ``, ``w = y/κ``; efficient risk as a
  second-order cone ``‖Fw‖ ≤ σ`` with ``F'F = Σ``).

Inputs and outputs are annualised, like the rest of the package.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp  # type: ignore[import-untyped]

from quantdesk.errors import ValidationError
from quantdesk.portfolio._active_set import ActiveSetFailed, Infeasible, ParametricQP
from quantdesk.portfolio._errors import OptimizationError
from quantdesk.portfolio._spec import MEAN_VARIANCE_METHODS
from quantdesk.portfolio.constraints import PortfolioConstraints, diagnose

__all__ = ["COMPILED_METHODS", "CompiledMeanVariance", "min_variance_volatility_bound"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

COMPILED_METHODS: tuple[str, ...] = MEAN_VARIANCE_METHODS
"""Methods :class:`CompiledMeanVariance` solves."""


@dataclass
class _Rows:
    """Linear rows ``lo ≤ A x ≤ hi`` collected as triplets; ``mu_row`` is the row whose values change with μ."""

    n_vars: int
    rows: list[IntArray]
    cols: list[IntArray]
    vals: list[FloatArray]
    lo: list[float]
    hi: list[float]
    mu_row: int | None = None

    def add(self, cols: IntArray, vals: FloatArray, lo: float, hi: float) -> int:
        index = len(self.lo)
        self.rows.append(np.full(len(cols), index, dtype=np.int64))
        self.cols.append(np.asarray(cols, dtype=np.int64))
        self.vals.append(np.asarray(vals, dtype=np.float64))
        self.lo.append(lo)
        self.hi.append(hi)
        return index


def _csc(rows: IntArray, cols: IntArray, vals: FloatArray, shape: tuple[int, int]) -> tuple[sp.csc_matrix, IntArray]:
    """A CSC matrix that keeps every given entry (zeros too) and the CSC slot of each triplet."""
    order = np.lexsort((rows, cols))
    slot = np.empty_like(order)
    slot[order] = np.arange(len(order))
    indptr = np.zeros(shape[1] + 1, dtype=np.int64)
    np.cumsum(np.bincount(cols, minlength=shape[1]), out=indptr[1:])
    matrix = sp.csc_matrix((vals[order], rows[order], indptr), shape=shape)
    return matrix, slot


class CompiledMeanVariance:
    """A mean–variance problem laid out once and re-solved with new ``(mu, cov)``; see the module docstring.

    Parameters
    ----------
    n_assets : int
        Number of assets; every :meth:`solve` takes ``mu`` of shape (n,) and ``cov`` of shape (n, n).
    method : str, default "min-variance"
        One of :data:`COMPILED_METHODS`.
    constraints : PortfolioConstraints, optional
        Default: long-only, fully invested, weights in [0, 1].
    risk_free_rate : float, default 0.0
        Annual rate, for max Sharpe.
    target : float, optional
        Annual volatility ("max-return-target-vol") or return ("min-risk-target-return"); can also be passed
        to each :meth:`solve`, which is how the efficient frontier walks its points.

    Attributes
    ----------
    solver, status, iterations, solve_seconds : str, str, int, float
        Of the last solve: ``"active-set"`` or ``"CLARABEL"``, the solver's status, its iterations, wall time.
    n_solves, fallbacks : int
        Solves so far, and how many of them the active set handed to Clarabel.
    """

    def __init__(
        self,
        n_assets: int,
        method: str = "min-variance",
        constraints: PortfolioConstraints | None = None,
        *,
        risk_free_rate: float = 0.0,
        target: float | None = None,
    ) -> None:
        if method not in COMPILED_METHODS:
            raise ValidationError(
                f"the compiled engine does not solve {method!r}",
                field="method",
                value=method,
                hint=f"use one of {', '.join(COMPILED_METHODS)}",
            )
        c = constraints if constraints is not None else PortfolioConstraints.simple(n_assets)
        if c.n_assets != n_assets:
            raise ValidationError(
                f"constraints are for {c.n_assets} assets, not {n_assets}",
                field="constraints",
                value=c.n_assets,
                hint="build the constraints for the same universe",
            )
        self.n_assets = n_assets
        self.method = method
        self.constraints = c
        self.risk_free_rate = float(risk_free_rate)
        self.target = target
        self.homogeneous = method == "max-sharpe"
        self.status = "unsolved"
        self.solver = ""
        self.iterations = 0
        self.solve_seconds = 0.0
        self.n_solves = 0
        self._fast: ParametricQP | None = None
        self.fallbacks = 0
        self._layout()

    # -- layout ---------------------------------------------------------------------------------------------------
    def _layout(self) -> None:
        n, c = self.n_assets, self.constraints
        use_gross = c.gross_cap is not None
        use_turn = c.turnover_limit is not None and c.current is not None
        self._fast_layout = not (use_gross or use_turn)
        self._gross0 = n if use_gross else -1
        self._turn0 = n * (1 + int(use_gross)) if use_turn else -1
        n_vars = n * (1 + int(use_gross) + int(use_turn))
        self._kappa = n_vars if self.homogeneous else -1
        n_vars += int(self.homogeneous)
        self.n_vars = n_vars
        generic = _Rows(n_vars, [], [], [], [], [])
        idx = np.arange(n)
        ones = np.ones(n)
        generic.add(idx, ones, c.budget, c.budget)
        for i in range(n):
            generic.add(idx[i : i + 1], ones[:1], float(c.lower[i]), float(c.upper[i]))
        for g, lo, hi in zip(c.group_matrix, c.group_lower, c.group_upper, strict=True):
            members = np.flatnonzero(g)
            generic.add(members, g[members], float(lo), float(hi))
        for start, center, cap in (
            (self._gross0, np.zeros(n), c.gross_cap),
            (self._turn0, c.current, c.turnover_limit),
        ):
            if start < 0 or center is None or cap is None:
                continue
            for i in range(n):  # aux_i - w_i ≥ -center_i and aux_i + w_i ≥ center_i, i.e. aux_i ≥ |w_i - center_i|
                generic.add(np.array([i, start + i]), np.array([-1.0, 1.0]), -float(center[i]), np.inf)
                generic.add(np.array([i, start + i]), np.array([1.0, 1.0]), float(center[i]), np.inf)
            generic.add(start + idx, ones, -np.inf, float(cap))
        rows = _Rows(n_vars, [], [], [], [], [])
        if self.homogeneous:  # (μ - r_f)'y - … = 1, every constant bound scaled by κ, κ ≥ 0
            rows.mu_row = rows.add(np.r_[idx, self._kappa], np.r_[ones, 1.0], 1.0, 1.0)
            k = np.array([self._kappa])
            for r_cols, r_vals, lo, hi in zip(generic.cols, generic.vals, generic.lo, generic.hi, strict=True):
                if lo == hi:
                    rows.add(np.r_[r_cols, k], np.r_[r_vals, -lo], 0.0, 0.0)
                    continue
                if np.isfinite(lo):
                    rows.add(np.r_[r_cols, k], np.r_[r_vals, -lo], 0.0, np.inf)
                if np.isfinite(hi):
                    rows.add(np.r_[r_cols, k], np.r_[r_vals, -hi], -np.inf, 0.0)
            rows.add(k, np.ones(1), 0.0, np.inf)
        else:
            if self.method == "min-risk-target-return":
                rows.mu_row = rows.add(idx, ones, 0.0, np.inf)
            for r_cols, r_vals, lo, hi in zip(generic.cols, generic.vals, generic.lo, generic.hi, strict=True):
                rows.add(r_cols, r_vals, lo, hi)
        all_rows = np.concatenate(rows.rows)
        all_cols = np.concatenate(rows.cols)
        self._a, slot = _csc(all_rows, all_cols, np.concatenate(rows.vals), (len(rows.lo), n_vars))
        self._mu_slots: IntArray | None = None
        if rows.mu_row is not None:
            self._mu_slots = slot[: len(rows.cols[0])]  # the μ row was added first
        self._lo = np.array(rows.lo)
        self._hi = np.array(rows.hi)
        self._mu_row = rows.mu_row
        jj, ii = np.tril_indices(n)  # (row ii ≤ col jj), column-major: the CSC order of an upper triangle
        self._p_rows, self._p_cols = ii.astype(np.int64), jj.astype(np.int64)
        indptr = np.zeros(n_vars + 1, dtype=np.int64)
        np.cumsum(np.bincount(jj, minlength=n_vars), out=indptr[1:])
        self._p_indptr = indptr

    # -- solving --------------------------------------------------------------------------------------------------
    def _check_inputs(self, mu: object, cov: object) -> tuple[FloatArray, FloatArray]:
        mu_a = np.asarray(mu, dtype=np.float64).reshape(-1)
        cov_a = np.asarray(cov, dtype=np.float64)
        n = self.n_assets
        if mu_a.shape != (n,) or cov_a.shape != (n, n):
            raise ValidationError(
                f"expected mu ({n},) and cov ({n}, {n}), got {mu_a.shape} and {cov_a.shape}",
                field="cov",
                hint="pass inputs for the universe the problem was compiled for",
            )
        if not (np.isfinite(mu_a).all() and np.isfinite(cov_a).all()):
            raise ValidationError("mu or cov holds NaN or inf", field="cov", hint="estimate on complete returns")
        return mu_a, cov_a

    def _p(self, cov: FloatArray) -> sp.csc_matrix:
        data = cov[self._p_rows, self._p_cols]
        return sp.csc_matrix((data, self._p_rows, self._p_indptr), shape=(self.n_vars, self.n_vars))

    def _update_rows(self, mu: FloatArray, target: float | None) -> None:
        if self._mu_slots is None or self._mu_row is None:
            return
        if self.homogeneous:
            self._a.data[self._mu_slots] = np.r_[mu, -self.risk_free_rate]
        else:
            self._a.data[self._mu_slots] = mu
            self._lo[self._mu_row] = float("nan") if target is None else target

    def solve(self, mu: object, cov: object, *, target: float | None = None) -> FloatArray:
        """Optimal weights, shape (n,), for annualised ``mu`` and ``cov``; raises OptimizationError on failure."""
        started = time.perf_counter()
        mu_a, cov_a = self._check_inputs(mu, cov)
        target = self.target if target is None else target
        if self.method in ("max-return-target-vol", "min-risk-target-return") and target is None:
            field = "target_volatility" if self.method == "max-return-target-vol" else "target_return"
            raise ValidationError(f"{self.method} needs a target", field=field, hint=f"pass {field}=…")
        try:
            weights = self._solve_fast(mu_a, cov_a, target) if self._fast_layout else None
            if weights is None:
                weights = self._solve_generic(mu_a, cov_a, target)
        except OptimizationError as error:
            self.status = error.message
            raise self._explain(error, mu_a, cov_a, target) from None
        finally:
            self.solve_seconds = time.perf_counter() - started
            self.n_solves += 1
        return weights

    def _solve_generic(self, mu: FloatArray, cov: FloatArray, target: float | None) -> FloatArray:
        """Clarabel on the matrices laid out once (every constraint set; the fallback of the active set)."""
        self._update_rows(mu, target)
        if self.method == "max-return-target-vol":
            x = self._solve_socp(mu, cov, float(target))  # type: ignore[arg-type]
        else:
            x = self._clarabel(self._p(cov), np.zeros(self.n_vars), None)
        return self._weights(x)

    def _solve_fast(self, mu: FloatArray, cov: FloatArray, target: float | None) -> FloatArray | None:
        """The active-set answer, or None when it could not be verified (the caller solves with Clarabel)."""
        c = self.constraints
        if self._fast is None:
            eq_rows = [np.ones(self.n_assets)]
            eq_rhs = [c.budget]
            ineq_rows: list[FloatArray] = []
            ineq_rhs: list[float] = []
            for g, lo, hi in zip(c.group_matrix, c.group_lower, c.group_upper, strict=True):
                if lo == hi:
                    eq_rows.append(g)
                    eq_rhs.append(float(lo))
                    continue
                if np.isfinite(hi):
                    ineq_rows.append(g)
                    ineq_rhs.append(float(hi))
                if np.isfinite(lo):
                    ineq_rows.append(-g)
                    ineq_rhs.append(float(-lo))
            self._fast = ParametricQP(
                c.lower,
                c.upper,
                np.array(eq_rows),
                np.array(eq_rhs),
                np.array(ineq_rows).reshape(-1, self.n_assets),
                np.array(ineq_rhs),
            )
        fast = self._fast
        m = mu - self.risk_free_rate / c.budget if self.homogeneous else mu
        fast.set_data(cov, m)
        if fast.w is None:  # cold: start from the interior-point answer, polished to the exact active set below
            guess = self._solve_generic(mu, cov, target)
            if not fast.crash(guess):
                return guess  # Clarabel's answer; the active set stays cold and tries again next time
        before = fast.iterations
        try:
            match self.method:
                case "min-variance":
                    w = fast.min_variance()
                case "max-sharpe":
                    w = fast.max_sharpe()
                case "min-risk-target-return":
                    w = fast.efficient_return(float(target))  # type: ignore[arg-type]
                case _:
                    w = fast.efficient_risk(float(target) ** 2)  # type: ignore[arg-type]
        except Infeasible as error:
            raise OptimizationError(f"active set: {error}", field="constraints") from None
        except ActiveSetFailed:
            self.fallbacks += 1
            return None
        finally:
            self.iterations = fast.iterations - before
        self.solver, self.status = "active-set", "solved"
        w = np.clip(w, c.lower, c.upper)
        w[np.abs(w) < 1e-12] = 0.0
        return w

    def _weights(self, x: FloatArray) -> FloatArray:
        n = self.n_assets
        w = x[:n]
        if self.homogeneous:
            kappa = x[self._kappa]
            if not kappa > 1e-12:
                raise OptimizationError("max Sharpe: the homogenising factor vanished", field="method")
            w = w / kappa
        w = np.clip(w, self.constraints.lower, self.constraints.upper)
        w[np.abs(w) < 1e-12] = 0.0
        return w

    def _clarabel(self, p: sp.csc_matrix, q: FloatArray, soc: sp.csc_matrix | None, sigma: float = 0.0) -> FloatArray:
        import clarabel  # type: ignore[import-untyped]

        a, lo, hi = self._a, np.where(np.isnan(self._lo), -np.inf, self._lo), self._hi
        eq = np.flatnonzero(lo == hi)
        up = np.flatnonzero((lo != hi) & np.isfinite(hi))
        down = np.flatnonzero((lo != hi) & np.isfinite(lo))
        blocks = [a[eq], a[up], -a[down]]
        b = [lo[eq], hi[up], -lo[down]]
        cones = [clarabel.ZeroConeT(len(eq)), clarabel.NonnegativeConeT(len(up) + len(down))]
        if soc is not None:
            blocks.append(sp.vstack([sp.csc_matrix((1, self.n_vars)), -soc]))
            b.append(np.r_[sigma, np.zeros(soc.shape[0])])
            cones.append(clarabel.SecondOrderConeT(soc.shape[0] + 1))
        settings = clarabel.DefaultSettings()
        settings.verbose = False
        settings.tol_gap_abs = settings.tol_gap_rel = 1e-12
        settings.tol_feas = 1e-12
        solver = clarabel.DefaultSolver(p, q, sp.vstack(blocks).tocsc(), np.concatenate(b), cones, settings)
        solution = solver.solve()
        status = str(solution.status)
        self.solver = "CLARABEL"
        self.status = status
        self.iterations = int(solution.iterations)
        if status not in ("Solved", "AlmostSolved"):
            raise OptimizationError(f"CLARABEL: {status}", field="constraints")
        return np.asarray(solution.x, dtype=np.float64)

    def _solve_socp(self, mu: FloatArray, cov: FloatArray, sigma: float) -> FloatArray:
        try:
            factor = np.linalg.cholesky(cov).T
        except np.linalg.LinAlgError:
            values, vectors = np.linalg.eigh(cov)
            factor = np.sqrt(np.clip(values, 0.0, None))[:, None] * vectors.T
        soc = sp.hstack([sp.csc_matrix(factor), sp.csc_matrix((self.n_assets, self.n_vars - self.n_assets))]).tocsc()
        q = np.zeros(self.n_vars)
        q[: self.n_assets] = -mu
        return self._clarabel(sp.csc_matrix((self.n_vars, self.n_vars)), q, soc, sigma)

    def _explain(self, error: OptimizationError, mu: FloatArray, cov: FloatArray, target: float | None) -> Exception:
        named = diagnose(
            self.constraints,
            method=self.method,
            mu=mu,
            cov=cov,
            risk_free_rate=self.risk_free_rate,
            target_return=target if self.method == "min-risk-target-return" else None,
            target_volatility=target if self.method == "max-return-target-vol" else None,
            volatility_floor=lambda: min_variance_volatility_bound(self.constraints, cov),
        )
        if named is not None:
            return named
        return OptimizationError(
            f"{self.method} failed: {error.message}",
            field="method",
            value=self.method,
            hint="check the inputs, or pass fallback= to use another method",
        )


def min_variance_volatility_bound(c: PortfolioConstraints, cov: FloatArray) -> float:
    """Lowest annualised volatility reachable under ``c`` (a lower bound used to explain target-vol failures)."""
    try:
        w = CompiledMeanVariance(c.n_assets, "min-variance", c).solve(np.zeros(c.n_assets), cov)
    except Exception:
        return float("nan")
    return math.sqrt(max(float(w @ cov @ w), 0.0))
