"""Constraints resolved for one universe: bounds, budget, gross cap, group limits and turnover as arrays.

:func:`build_constraints` turns a spec and the asset names into :class:`PortfolioConstraints`; its checks catch
what no solver needs to be asked (bounds that cannot sum to the budget, groups that cannot meet their limits).
When a solver still fails, :func:`diagnose` re-checks the constraint sets one by one with small linear programs
and names the first set that cannot hold, so the error says which constraint to relax.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from quantdesk.portfolio._errors import InfeasibleProblem
from quantdesk.portfolio._spec import OptimizationSpec

__all__ = [
    "PortfolioConstraints",
    "build_constraints",
    "diagnose",
    "max_expected_return",
]

FloatArray = npt.NDArray[np.float64]
_TOL = 1e-9


def _fixed(array: FloatArray) -> FloatArray:
    array = np.asarray(array, dtype=np.float64).copy()
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class PortfolioConstraints:
    """Linear constraints on a weight vector ``w`` of ``len(assets)`` assets.

    ``lower ≤ w ≤ upper``, ``Σw = budget``, ``Σ|w| ≤ gross_cap`` (long/short only), ``group_lower ≤ G w ≤
    group_upper`` (rows of ``group_matrix``, ±inf where open) and ``Σ|w - current| ≤ turnover_limit``.
    """

    assets: tuple[str, ...]
    lower: FloatArray
    upper: FloatArray
    budget: float = 1.0
    gross_cap: float | None = None
    group_names: tuple[str, ...] = ()
    group_matrix: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    group_lower: FloatArray = field(default_factory=lambda: np.zeros(0))
    group_upper: FloatArray = field(default_factory=lambda: np.zeros(0))
    current: FloatArray | None = None
    turnover_limit: float | None = None

    def __post_init__(self) -> None:
        n = len(self.assets)
        set_ = object.__setattr__
        set_(self, "assets", tuple(self.assets))
        set_(self, "lower", _fixed(np.broadcast_to(self.lower, (n,))))
        set_(self, "upper", _fixed(np.broadcast_to(self.upper, (n,))))
        matrix = np.asarray(self.group_matrix, dtype=np.float64).reshape(-1, n) if n else np.zeros((0, 0))
        set_(self, "group_matrix", _fixed(matrix))
        set_(self, "group_lower", _fixed(np.asarray(self.group_lower, dtype=np.float64).reshape(-1)))
        set_(self, "group_upper", _fixed(np.asarray(self.group_upper, dtype=np.float64).reshape(-1)))
        if self.current is not None:
            set_(self, "current", _fixed(np.asarray(self.current, dtype=np.float64).reshape(n)))
        if self.turnover_limit is not None and self.current is None:
            set_(self, "current", _fixed(np.zeros(n)))

    @classmethod
    def simple(
        cls, n_assets: int, *, max_weight: float = 1.0, min_weight: float = 0.0, budget: float = 1.0
    ) -> PortfolioConstraints:
        """Long-only (or boxed) fully invested constraints on ``n_assets`` unnamed assets, for benchmarks and tests."""
        return cls(
            tuple(f"A{i}" for i in range(n_assets)),
            np.full(n_assets, min_weight),
            np.full(n_assets, max_weight),
            budget,
        )

    @property
    def n_assets(self) -> int:
        """Number of assets."""
        return len(self.assets)

    @property
    def long_only(self) -> bool:
        """True when no weight may go below zero."""
        return bool(np.all(self.lower >= 0))

    @property
    def has_groups(self) -> bool:
        """True when group limits are set."""
        return bool(self.group_matrix.shape[0] > 0)

    def scaled(self, factor: float) -> PortfolioConstraints:
        """The same constraints on ``w / factor`` (used to solve a fully invested problem, then scale by a budget)."""
        return PortfolioConstraints(
            self.assets,
            self.lower / factor,
            self.upper / factor,
            self.budget / factor,
            None if self.gross_cap is None else self.gross_cap / factor,
            self.group_names,
            self.group_matrix,
            self.group_lower / factor,
            self.group_upper / factor,
            None if self.current is None else self.current / factor,
            None if self.turnover_limit is None else self.turnover_limit / factor,
        )

    def violations(self, weights: FloatArray, tol: float = 1e-6) -> list[str]:
        """Human-readable list of the constraints ``weights`` breaks by more than ``tol``."""
        w = np.asarray(weights, dtype=np.float64)
        out: list[str] = []
        for i in np.flatnonzero(w > self.upper + tol):
            out.append(f"{self.assets[i]} weight {w[i]:.6f} above {self.upper[i]:g}")
        for i in np.flatnonzero(w < self.lower - tol):
            out.append(f"{self.assets[i]} weight {w[i]:.6f} below {self.lower[i]:g}")
        if abs(w.sum() - self.budget) > tol:
            out.append(f"weights sum to {w.sum():.6f}, not {self.budget:g}")
        if self.gross_cap is not None and np.abs(w).sum() > self.gross_cap + tol:
            out.append(f"gross {np.abs(w).sum():.6f} above {self.gross_cap:g}")
        if self.has_groups:
            sums = self.group_matrix @ w
            for name, s, lo, hi in zip(self.group_names, sums, self.group_lower, self.group_upper, strict=True):
                if s < lo - tol or s > hi + tol:
                    out.append(f"group {name} weight {s:.6f} outside [{lo:g}, {hi:g}]")
        if self.turnover_limit is not None and self.current is not None:
            turnover = np.abs(w - self.current).sum()
            if turnover > self.turnover_limit + tol:
                out.append(f"turnover {turnover:.6f} above {self.turnover_limit:g}")
        return out


def _vector(values: Mapping[str, float] | None, assets: Sequence[str], default: float = 0.0) -> FloatArray | None:
    if values is None:
        return None
    return np.array([float(values.get(a, default)) for a in assets])


def build_constraints(spec: OptimizationSpec, assets: Sequence[str]) -> PortfolioConstraints:
    """Resolve ``spec`` for ``assets``; raises :class:`InfeasibleProblem` when the bounds or groups cannot hold."""
    assets = tuple(assets)
    n = len(assets)
    budget = spec.budget
    lower, upper = np.full(n, spec.lower_bound), np.full(n, spec.max_weight)
    if upper.sum() < budget - _TOL:
        need = budget / n
        raise InfeasibleProblem(
            f"infeasible: max_weight={spec.max_weight:g} with {n} assets cannot sum to {budget:g}",
            field="max_weight",
            value=spec.max_weight,
            hint=f"raise max_weight to at least {need:.4g}, add assets, or raise cash_buffer",
        )
    if lower.sum() > budget + _TOL:
        raise InfeasibleProblem(
            f"infeasible: min_weight={spec.min_weight:g} with {n} assets sums above {budget:g}",
            field="min_weight",
            value=spec.min_weight,
            hint=f"lower min_weight to at most {budget / n:.4g}",
        )
    names: list[str] = []
    rows: list[FloatArray] = []
    lows: list[float] = []
    highs: list[float] = []
    if spec.group_limits is not None and spec.groups is not None:
        for group, (lo, hi) in spec.group_limits.items():  # type: ignore[misc]
            member = np.array([1.0 if spec.groups.get(a) == group else 0.0 for a in assets])
            if not member.any():
                raise InfeasibleProblem(
                    f"no asset of the universe belongs to group {group!r}",
                    field=f"group_limits[{group}]",
                    value=group,
                    hint="drop the limit or add the group's symbols to the universe",
                )
            reach_lo, reach_hi = float(member @ lower), float(member @ upper)
            lo_v, hi_v = (-np.inf if lo is None else lo), (np.inf if hi is None else hi)
            if lo_v > reach_hi + _TOL or hi_v < reach_lo - _TOL:
                raise InfeasibleProblem(
                    f"infeasible: group {group!r} has {int(member.sum())} assets whose bounds allow "
                    f"[{reach_lo:g}, {reach_hi:g}], outside its limits [{lo_v:g}, {hi_v:g}]",
                    field=f"group_limits[{group}]",
                    value=(lo, hi),
                    hint="widen the group limits or the weight bounds",
                )
            names.append(group)
            rows.append(member)
            lows.append(lo_v)
            highs.append(hi_v)
    gross = None if spec.long_only else spec.gross_cap
    current = _vector(spec.current_weights, assets)
    return PortfolioConstraints(
        assets,
        lower,
        upper,
        budget,
        gross,
        tuple(names),
        np.array(rows) if rows else np.zeros((0, n)),
        np.array(lows),
        np.array(highs),
        current,
        spec.turnover_limit,
    )


def _linprog_feasible(
    c: PortfolioConstraints,
    *,
    groups: bool,
    gross: bool,
    turnover: bool,
    objective: FloatArray | None = None,
    sense: float = 1.0,
) -> tuple[bool, float]:
    """Feasibility (and optionally min sense·objective'w) of a subset of the constraint sets, as an LP."""
    from scipy.optimize import linprog  # type: ignore[import-untyped]

    n = c.n_assets
    use_gross = gross and c.gross_cap is not None
    use_turn = turnover and c.turnover_limit is not None and c.current is not None
    blocks = 1 + int(use_gross) + int(use_turn)
    nv = n * blocks
    a_ub: list[FloatArray] = []
    b_ub: list[float] = []
    eye = np.eye(n)

    def row(w_part: FloatArray, aux_part: FloatArray | None = None, block: int = 0) -> FloatArray:
        r = np.zeros(nv)
        r[:n] = w_part
        if aux_part is not None:
            r[n * block : n * (block + 1)] = aux_part
        return r

    if groups and c.has_groups:
        for g, lo, hi in zip(c.group_matrix, c.group_lower, c.group_upper, strict=True):
            if np.isfinite(hi):
                a_ub.append(row(g))
                b_ub.append(float(hi))
            if np.isfinite(lo):
                a_ub.append(row(-g))
                b_ub.append(float(-lo))
    block = 1
    for used, center, cap in ((use_gross, np.zeros(n), c.gross_cap), (use_turn, c.current, c.turnover_limit)):
        if not used or center is None or cap is None:
            continue
        for i in range(n):  # aux_i >= |w_i - center_i|
            a_ub.append(row(eye[i], -eye[i], block))
            b_ub.append(float(center[i]))
            a_ub.append(row(-eye[i], -eye[i], block))
            b_ub.append(float(-center[i]))
        a_ub.append(row(np.zeros(n), np.ones(n), block))
        b_ub.append(float(cap))
        block += 1
    cost = np.zeros(nv)
    if objective is not None:
        cost[:n] = sense * objective
    bounds = [(float(lo), float(hi)) for lo, hi in zip(c.lower, c.upper, strict=True)] + [(0.0, None)] * (nv - n)
    res = linprog(
        cost,
        A_ub=np.array(a_ub) if a_ub else None,
        b_ub=np.array(b_ub) if b_ub else None,
        A_eq=row(np.ones(n))[None, :],
        b_eq=[c.budget],
        bounds=bounds,
        method="highs",
    )
    return bool(res.status == 0), float(res.fun) if res.status == 0 else float("nan")


def diagnose(
    c: PortfolioConstraints,
    *,
    method: str,
    mu: FloatArray | None = None,
    cov: FloatArray | None = None,
    target_return: float | None = None,
    target_volatility: float | None = None,
    risk_free_rate: float = 0.0,
    volatility_floor: Callable[[], float] | None = None,
) -> InfeasibleProblem | None:
    """Name the first constraint set that cannot hold (groups, gross cap, turnover, then the method's target).

    ``volatility_floor`` gives the lowest volatility reachable under ``c`` (the solver's minimum-variance solve,
    which lives in :mod:`.compiled`, above this module); a ``target_volatility`` is checked against it when given.
    """
    checks = (
        ("group_limits", (True, False, False), "widen the group limits"),
        ("gross_cap", (True, True, False), "raise gross_cap"),
        (
            "turnover_limit",
            (True, True, True),
            "raise turnover_limit: moving from the current weights into the bounds and groups needs more trading",
        ),
    )
    for name, (groups, gross, turnover), hint in checks:
        if not _linprog_feasible(c, groups=groups, gross=gross, turnover=turnover)[0]:
            return InfeasibleProblem(
                f"infeasible: the {name} cannot hold together with the weight bounds and the constraints before it",
                field=name,
                hint=hint,
            )
    if mu is not None and method in ("max-sharpe", "black-litterman"):
        ok, best = _linprog_feasible(c, groups=True, gross=True, turnover=True, objective=mu, sense=-1.0)
        if ok and -best <= risk_free_rate + 1e-12:
            return InfeasibleProblem(
                f"infeasible: no portfolio within the constraints earns more than risk_free_rate="
                f"{risk_free_rate:g} (best expected return {-best:.4g})",
                field="risk_free_rate",
                value=risk_free_rate,
                hint="lower risk_free_rate, or use min-variance",
            )
    if mu is not None and target_return is not None:
        ok, best = _linprog_feasible(c, groups=True, gross=True, turnover=True, objective=mu, sense=-1.0)
        if ok and -best < target_return - 1e-9:
            return InfeasibleProblem(
                f"infeasible: target_return={target_return:g} is above the highest expected return {-best:.4g} "
                "reachable within the constraints",
                field="target_return",
                value=target_return,
                hint=f"ask for at most {math.floor(-best * 1e4) / 1e4:.4f}, or loosen max_weight",
            )
    if volatility_floor is not None and target_volatility is not None:
        floor = volatility_floor()
        if np.isfinite(floor) and target_volatility < floor - 1e-9:
            return InfeasibleProblem(
                f"infeasible: target_volatility={target_volatility:g} is below the minimum volatility {floor:.4g} "
                "reachable within the constraints",
                field="target_volatility",
                value=target_volatility,
                hint=f"ask for at least {math.ceil(floor * 1e4) / 1e4:.4f}",
            )
    return None


def max_expected_return(c: PortfolioConstraints, mu: FloatArray) -> float:
    """Highest ``mu'w`` reachable under ``c`` (a linear program); raises InfeasibleProblem when nothing is."""
    ok, best = _linprog_feasible(c, groups=True, gross=True, turnover=True, objective=np.asarray(mu), sense=-1.0)
    if not ok:
        problem = diagnose(c, method="max-return")
        raise (
            problem
            if problem is not None
            else InfeasibleProblem(
                "infeasible: the constraints cannot hold together", field="constraints", hint="relax the constraints"
            )
        )
    return -best
