"""A warm-started parametric active-set solver for the mean–variance family with linear constraints.

It solves ``min ½ w'Σw - λ m'w`` subject to ``E w = e``, ``l ≤ w ≤ u`` and ``G w ≤ h`` by the primal active-set
method (Nocedal & Wright, algorithm 16.3) on dense matrices, keeping the working set between calls. Within a
working set the solution is affine in λ, ``w(λ) = a + λ d``, so the four problems are scalar searches over λ that
are exact on each piece of the path:

* minimum variance: λ = 0;
* efficient return (minimum risk with ``m'w ≥ r``): the λ where ``m'w(λ) = r``;
* efficient risk (maximum return with ``w'Σw ≤ σ²``): the λ where ``w(λ)'Σw(λ) = σ²``;
* maximum Sharpe: the λ where ``λ m'w = w'Σw`` (``m`` = excess returns), by the KKT conditions of the ratio.

A walk-forward re-solve changes Σ and m only: the previous weights stay feasible and the previous working set and
λ are usually right or one or two pivots away, so a re-solve costs a few small dense solves. Every answer is
checked against the KKT conditions; a failed check raises, and the caller falls back to the conic solver.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["ActiveSetFailed", "Infeasible", "ParametricQP"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int8]


class ActiveSetFailed(RuntimeError):
    """The active-set method did not reach a verified optimum (the caller uses the conic solver instead)."""


class Infeasible(ActiveSetFailed):
    """The constraints (or the target) cannot be met."""


@dataclass
class _Piece:
    """The solution on the final working set: ``w(λ) = a + λ d`` (exact for every λ on this piece)."""

    w: FloatArray
    a: FloatArray
    d: FloatArray
    lam: float


class ParametricQP:
    """``min ½ w'Σw - λ m'w`` s.t. ``E w = e``, ``l ≤ w ≤ u``, ``G w ≤ h``; warm-started across calls."""

    def __init__(
        self,
        lower: FloatArray,
        upper: FloatArray,
        eq: FloatArray,
        eq_rhs: FloatArray,
        ineq: FloatArray,
        ineq_rhs: FloatArray,
    ) -> None:
        self.lower, self.upper = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
        self.n = len(self.lower)
        self.eq, self.eq_rhs = np.asarray(eq, dtype=np.float64).reshape(-1, self.n), np.asarray(eq_rhs, np.float64)
        self.ineq = np.asarray(ineq, dtype=np.float64).reshape(-1, self.n)
        self.ineq_rhs = np.asarray(ineq_rhs, dtype=np.float64)
        self.pinned = self.upper - self.lower <= 1e-15
        self.w: FloatArray | None = None
        self.side: IntArray = np.zeros(self.n, dtype=np.int8)  # -1 at lower, +1 at upper, 0 free
        self.working: BoolArray = np.zeros(len(self.ineq), dtype=np.bool_)
        self.lam = 0.0
        self.iterations = 0
        self.cov = np.zeros((self.n, self.n))
        self.m = np.zeros(self.n)

    # -- start ----------------------------------------------------------------------------------------------------
    def _cold_start(self) -> None:
        from scipy.optimize import linprog  # type: ignore[import-untyped]

        res = linprog(
            np.zeros(self.n),
            A_ub=self.ineq if len(self.ineq) else None,
            b_ub=self.ineq_rhs if len(self.ineq) else None,
            A_eq=self.eq if len(self.eq) else None,
            b_eq=self.eq_rhs if len(self.eq) else None,
            bounds=list(zip(self.lower, self.upper, strict=True)),
            method="highs",
        )
        if res.status != 0:
            raise Infeasible("the constraints admit no portfolio")
        w = np.clip(np.asarray(res.x, dtype=np.float64), self.lower, self.upper)
        side = np.zeros(self.n, dtype=np.int8)
        side[w <= self.lower + 1e-12] = -1
        side[(w >= self.upper - 1e-12) & (side == 0)] = 1
        w = np.where(side == -1, self.lower, np.where(side == 1, self.upper, w))
        for row in self.eq:  # every equality needs a free variable, or its KKT row is empty
            support = (row != 0) & ~self.pinned
            if support.any() and not (support & (side == 0)).any():
                side[np.flatnonzero(support)[0]] = 0
        self.w, self.side, self.working = w, side, np.zeros(len(self.ineq), dtype=np.bool_)

    def crash(self, guess: FloatArray) -> bool:
        """Warm-start from an approximate optimum (an interior-point answer): snap the weights near a bound onto
        it, make the rest feasible by a least-norm correction and guess λ from the piece; False if that fails."""
        guess = np.clip(np.asarray(guess, dtype=np.float64), self.lower, self.upper)
        delta = 1e-7 * max(1.0, float(np.abs(guess).max()))
        side = np.zeros(self.n, dtype=np.int8)
        side[guess <= self.lower + delta] = -1
        side[(guess >= self.upper - delta) & (side == 0)] = 1
        working = self.ineq @ guess >= self.ineq_rhs - delta if len(self.ineq) else np.zeros(0, dtype=np.bool_)
        w = guess
        feasible = False
        for _ in range(5):  # snap, correct the free weights onto the equalities; re-snap any that cross a bound
            w = np.where(side == -1, self.lower, np.where(side == 1, self.upper, w))
            free = side == 0
            rows = np.vstack([self.eq, self.ineq[working]])
            rhs = np.concatenate([self.eq_rhs, self.ineq_rhs[working]])
            if free.any() and len(rows):
                w = w.copy()
                w[free] += np.linalg.lstsq(rows[:, free], rhs - rows @ w, rcond=None)[0]
            below, above = free & (w <= self.lower), free & (w >= self.upper)
            if below.any() or above.any():
                side[below], side[above] = -1, 1
                continue
            feasible = (
                np.abs(rows @ w - rhs).max(initial=0.0) <= 1e-10
                and (self.ineq @ w - self.ineq_rhs).max(initial=0.0) <= 1e-10
            )
            break
        if not feasible:
            return False
        self.w, self.side, self.working = w, side, working.astype(np.bool_)
        _, a, d, _, _, _ = self._kkt(w)
        dd = float(d @ d)
        self.lam = max(float(d @ (guess - a)) / dd, 0.0) if dd > 0 else 0.0
        return True

    def set_data(self, cov: FloatArray, m: FloatArray) -> None:
        """New Σ and m; the working set and weights of the last solve are kept as the warm start."""
        self.cov, self.m = cov, m

    # -- inner solve at fixed λ -----------------------------------------------------------------------------------
    def _kkt(self, w: FloatArray) -> tuple[BoolArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        free = self.side == 0
        rows = np.vstack([self.eq, self.ineq[self.working]])
        rhs = np.concatenate([self.eq_rhs, self.ineq_rhs[self.working]])
        fixed_w = np.where(free, 0.0, w)
        c_f = rows[:, free]
        f, k = int(free.sum()), len(rows)
        b_f = np.column_stack([-(self.cov[free] @ fixed_w), self.m[free]])
        b_c = np.column_stack([rhs - rows @ fixed_w, np.zeros(k)])
        sol = self._solve_kkt(self.cov[np.ix_(free, free)], c_f, b_f, b_c)
        a, d = fixed_w.copy(), np.zeros(self.n)
        a[free], d[free] = sol[:f, 0], sol[:f, 1]
        return free, a, d, sol[f:, 0], sol[f:, 1], rows

    @staticmethod
    def _solve_kkt(h: FloatArray, c: FloatArray, b_f: FloatArray, b_c: FloatArray) -> FloatArray:
        """Solve ``[[H, C'], [C, 0]] [x; ν] = [b_f; b_c]`` by a Cholesky factor of H and the Schur complement."""
        import scipy.linalg as sla  # type: ignore[import-untyped]

        f, k = h.shape[0], c.shape[0]
        try:
            factor = sla.cho_factor(h, check_finite=False)
            hinv_b = sla.cho_solve(factor, b_f, check_finite=False)
            if k == 0:
                return np.asarray(hinv_b, dtype=np.float64)
            hinv_ct = sla.cho_solve(factor, c.T, check_finite=False)
            schur = c @ hinv_ct
            nu = np.linalg.solve(schur, c @ hinv_b - b_c)
            return np.vstack([hinv_b - hinv_ct @ nu, nu])
        except (np.linalg.LinAlgError, sla.LinAlgError):  # H singular (fewer observations than assets)
            kkt = np.zeros((f + k, f + k))
            kkt[:f, :f], kkt[:f, f:], kkt[f:, :f] = h, c.T, c
            rhs = np.vstack([b_f, b_c])
            try:  # still regular when H is positive definite on the null space of C
                return np.asarray(np.linalg.solve(kkt, rhs), dtype=np.float64)
            except np.linalg.LinAlgError:
                return np.asarray(np.linalg.lstsq(kkt, rhs, rcond=None)[0], dtype=np.float64)

    def solve_at(self, lam: float) -> _Piece:
        """The optimum at ``lam`` and its affine piece; raises ActiveSetFailed when it cannot verify one."""
        if self.w is None:
            self._cold_start()
        assert self.w is not None
        w = self.w
        scale = max(float(np.abs(np.diag(self.cov)).max()), 1e-12) * max(1.0, float(np.abs(w).max()))
        tol = 1e-11 * scale + 1e-13 * abs(lam) * float(np.abs(self.m).max())
        fast = self._block_pivots(lam, tol)
        if fast is not None:
            return fast
        for _ in range(4 * self.n + 50):
            self.iterations += 1
            free, a, d, nu_a, nu_d, rows = self._kkt(w)
            target = a + lam * d
            step = target - w
            if np.abs(step).max() <= 1e-13:
                nu = nu_a + lam * nu_d
                grad = self.cov @ w - lam * self.m + rows.T @ nu
                mult = np.where(self.side == -1, grad, -grad)
                mult[free | self.pinned] = np.inf
                row_mult = nu[len(self.eq) :]
                i_var = int(np.argmin(mult))
                i_row = int(np.argmin(row_mult)) if len(row_mult) else -1
                worst_row = row_mult[i_row] if i_row >= 0 else np.inf
                if min(mult[i_var], worst_row) >= -tol:
                    try:
                        self._verify(w, grad, free, tol)
                    except ActiveSetFailed:
                        self.w = None
                        raise
                    self.w, self.lam = w, lam
                    return _Piece(w=w.copy(), a=a, d=d, lam=lam)
                if mult[i_var] <= worst_row:  # release every variable pushing against its bound (block pivoting)
                    self.side[mult < -tol] = 0
                else:
                    self.working[np.flatnonzero(self.working)[i_row]] = False
                continue
            alpha, block_var, block_row = 1.0, -1, -1
            down, up = free & (step < -1e-15), free & (step > 1e-15)
            if down.any():
                ratios = (self.lower[down] - w[down]) / step[down]
                j = int(np.argmin(ratios))
                if ratios[j] < alpha:
                    alpha, block_var, block_row = float(ratios[j]), int(np.flatnonzero(down)[j]), -1
            if up.any():
                ratios = (self.upper[up] - w[up]) / step[up]
                j = int(np.argmin(ratios))
                if ratios[j] < alpha:
                    alpha, block_var, block_row = float(ratios[j]), int(np.flatnonzero(up)[j]), -1
            idle = ~self.working
            if idle.any():
                g_step = self.ineq[idle] @ step
                rising = g_step > 1e-15
                if rising.any():
                    slack = self.ineq_rhs[idle][rising] - self.ineq[idle][rising] @ w
                    ratios = slack / g_step[rising]
                    j = int(np.argmin(ratios))
                    if ratios[j] < alpha:
                        alpha, block_var = float(ratios[j]), -1
                        block_row = int(np.flatnonzero(idle)[np.flatnonzero(rising)[j]])
            alpha = max(alpha, 0.0)
            w = w + alpha * step
            if block_var >= 0:
                at_lower = step[block_var] < 0
                self.side[block_var] = -1 if at_lower else 1
                w[block_var] = self.lower[block_var] if at_lower else self.upper[block_var]
            elif block_row >= 0:
                self.working[block_row] = True
            w = np.clip(w, self.lower, self.upper)
        self.w = None  # the warm start is no longer trustworthy
        raise ActiveSetFailed("no convergence within the iteration limit")

    def _block_pivots(self, lam: float, tol: float, max_iter: int = 12) -> _Piece | None:
        """Primal–dual active-set iterations (block pivoting): fix every free weight that overshoots a bound,
        release every fixed one whose multiplier has the wrong sign, until neither happens. Iterates may be
        infeasible, so only a verified answer is returned; otherwise the working set is restored and None says
        "use the primal method from the last feasible point"."""
        saved_side, saved_working = self.side.copy(), self.working.copy()
        eps = 1e-13
        for _ in range(max_iter):
            self.iterations += 1
            bounds_w = np.where(self.side == -1, self.lower, np.where(self.side == 1, self.upper, 0.0))
            free, a, d, nu_a, nu_d, rows = self._kkt(bounds_w)
            w = a + lam * d
            nu = nu_a + lam * nu_d
            grad = self.cov @ w - lam * self.m + rows.T @ nu
            mult = np.where(self.side == -1, grad, -grad)
            low, high = free & (w < self.lower - eps), free & (w > self.upper + eps)
            release = ~free & ~self.pinned & (mult < -tol)
            idle = ~self.working
            rows_over = np.zeros_like(idle)
            if idle.any():
                rows_over[idle] = self.ineq[idle] @ w > self.ineq_rhs[idle] + 1e-12
            row_mult = np.zeros(len(self.working))
            row_mult[self.working] = nu[len(self.eq) :]
            rows_slack = self.working & (row_mult < -tol)
            if not (low.any() or high.any() or release.any() or rows_over.any() or rows_slack.any()):
                try:
                    self._verify(w, grad, free, tol)
                except ActiveSetFailed:
                    break
                self.w, self.lam = w, lam
                return _Piece(w=w.copy(), a=a, d=d, lam=lam)
            self.side[low], self.side[high], self.side[release] = -1, 1, 0
            self.working[rows_over], self.working[rows_slack] = True, False
        self.side, self.working = saved_side, saved_working
        return None

    def _verify(self, w: FloatArray, grad: FloatArray, free: BoolArray, tol: float) -> None:
        """Primal feasibility and stationarity on the free variables, or ActiveSetFailed."""
        feasible = (
            np.abs(self.eq @ w - self.eq_rhs).max(initial=0.0) <= 1e-9
            and (self.ineq @ w - self.ineq_rhs).max(initial=0.0) <= 1e-9
            and bool(np.all(w >= self.lower - 1e-12))
            and bool(np.all(w <= self.upper + 1e-12))
        )
        if not feasible or np.abs(grad[free]).max(initial=0.0) > 1e3 * tol:
            raise ActiveSetFailed("the active-set answer fails the KKT check")

    # -- the four problems ----------------------------------------------------------------------------------------
    def _search(self, residual: str, target: float) -> _Piece:
        """Find λ ≥ 0 where the residual (increasing in λ) is zero: exact root on each piece, bracketed, starting
        from the last λ. At λ = 0 a non-negative residual means the target is met by minimum variance ("return")
        or cannot be met ("risk")."""
        lo, hi = 0.0, math.inf
        lam = self.lam if self.lam > 0 else 1.0
        # beyond this λ the return term swamps the risk term: the path has reached the maximum-return end
        lam_cap = 1e4 * float(np.abs(np.diag(self.cov)).max()) / max(float(np.abs(self.m).max()), 1e-300)
        for _ in range(200):
            piece = self.solve_at(lam)
            value, root = self._residual(piece, residual, target)
            if abs(value) <= 1e-12 * max(1.0, abs(target)) + 1e-14:
                return piece
            if value < 0 and lam >= lam_cap:
                if residual == "risk":  # the volatility cap may not bind: then any maximum-return portfolio is optimal
                    return self._max_return(target, lam)
                raise Infeasible(f"no λ reaches the {residual} target")
            if value < 0:
                lo = lam
            elif lam == 0.0:
                if residual == "risk":
                    raise Infeasible("the volatility target is below the minimum volatility")
                return piece
            else:
                hi = lam
            if root is not None and root <= 0.0 and lo == 0.0 and residual != "sharpe":
                lam = 0.0
            elif root is not None and lo < root < hi and abs(root - lam) > 1e-15 * max(1.0, lam):
                lam = min(root, lam_cap)
            elif math.isinf(hi):
                lam = min(max(4.0 * lam, 1e-3), lam_cap)
            else:
                lam = 0.5 * (lo + hi)
                if hi - lo <= 1e-14 * max(1.0, hi):
                    return piece
        raise ActiveSetFailed("the λ search did not converge")

    def _max_return(self, variance: float, lam: float) -> _Piece:
        """The maximum-return vertex (a linear program), when its variance is within ``variance``."""
        from scipy.optimize import linprog

        res = linprog(
            -self.m,
            A_ub=self.ineq if len(self.ineq) else None,
            b_ub=self.ineq_rhs if len(self.ineq) else None,
            A_eq=self.eq,
            b_eq=self.eq_rhs,
            bounds=list(zip(self.lower, self.upper, strict=True)),
            method="highs",
        )
        if res.status != 0:
            raise ActiveSetFailed("no maximum-return vertex")
        w = np.clip(np.asarray(res.x, dtype=np.float64), self.lower, self.upper)
        if float(w @ self.cov @ w) > variance * (1 + 1e-9):
            raise ActiveSetFailed("the volatility target binds beyond the λ range")
        return _Piece(w=w, a=w, d=np.zeros(self.n), lam=lam)

    def _residual(self, piece: _Piece, kind: str, target: float) -> tuple[float, float | None]:
        cov, m, w, a, d = self.cov, self.m, piece.w, piece.a, piece.d
        r0, r1 = float(m @ a), float(m @ d)
        sa, sd = cov @ a, cov @ d
        q0, q1, q2 = float(a @ sa), float(2 * a @ sd), float(d @ sd)
        if kind == "return":
            return float(m @ w) - target, (target - r0) / r1 if r1 > 1e-300 else None
        if kind == "risk":
            roots = _roots(q2, q1, q0 - target)
            return float(w @ cov @ w) - target, max(roots) if roots else None
        lam = piece.lam  # sharpe: h(λ) = λ m'w - w'Σw
        roots = [r for r in _roots(r1 - q2, r0 - q1, -q0) if r > 0]
        return lam * float(m @ w) - float(w @ cov @ w), min(roots, key=lambda r: abs(r - lam)) if roots else None

    def min_variance(self) -> FloatArray:
        """``λ = 0``."""
        return self.solve_at(0.0).w

    def efficient_return(self, target: float) -> FloatArray:
        """Minimum variance with ``m'w ≥ target``."""
        return self._search("return", target).w

    def efficient_risk(self, variance: float) -> FloatArray:
        """Maximum ``m'w`` with ``w'Σw ≤ variance``."""
        return self._search("risk", variance).w

    def max_sharpe(self) -> FloatArray:
        """Maximum ``m'w / √(w'Σw)`` (``m`` are excess returns)."""
        return self._search("sharpe", 0.0).w


def _roots(a: float, b: float, c: float) -> list[float]:
    """Real roots of ``a x² + b x + c`` (linear when ``a`` is negligible)."""
    if abs(a) <= 1e-14 * max(abs(b), abs(c), 1e-300):
        return [] if b == 0 else [-c / b]
    disc = b * b - 4 * a * c
    if disc < 0:
        return []
    sq = math.sqrt(disc)
    q = -0.5 * (b + math.copysign(sq, b))
    out = [q / a]
    if q != 0:
        out.append(c / q)
    return out
