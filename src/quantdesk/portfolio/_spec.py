"""The optimisation request: method, estimators, window and constraints, validated when built."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from quantdesk.portfolio._checks import fail as _fail
from quantdesk.portfolio._checks import number as _number
from quantdesk.portfolio._checks import weights_map as _weights_map
from quantdesk.portfolio.estimators import (
    COVARIANCE_ESTIMATORS,
    DEFAULT_HALF_LIFE,
    MU_ESTIMATORS,
    Lookback,
    parse_lookback,
)

if TYPE_CHECKING:
    from quantdesk.config import Settings

__all__ = ["ENGINES", "MEAN_VARIANCE_METHODS", "METHODS", "METHOD_OPTIONS", "OptimizationSpec"]

METHODS: tuple[str, ...] = (
    "equal-weight",
    "inverse-volatility",
    "min-variance",
    "max-sharpe",
    "max-return-target-vol",
    "min-risk-target-return",
    "risk-parity",
    "risk-budgeting",
    "hrp",
    "herc",
    "max-diversification",
    "min-cvar",
    "black-litterman",
    "mean-variance-tc",
)
"""Every optimiser, by the name the CLI and the spec use."""

MEAN_VARIANCE_METHODS: tuple[str, ...] = (
    "min-variance",
    "max-sharpe",
    "max-return-target-vol",
    "min-risk-target-return",
)
"""The methods the compiled engine re-solves (see :mod:`quantdesk.portfolio.compiled`)."""

ENGINES: tuple[str, ...] = ("auto", "compiled", "skfolio")
"""``auto`` uses the compiled engine where it covers the spec, skfolio otherwise."""

_CONVEX = frozenset({"long_short", "cash_buffer", "groups", "transaction_costs", "turnover_limit"})
_RATIO = _CONVEX - {"turnover_limit"}
_CASH_ONLY = frozenset({"cash_buffer"})
METHOD_OPTIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "equal-weight": _CASH_ONLY,
        "inverse-volatility": _CASH_ONLY,
        "min-variance": _CONVEX | {"cardinality"},
        "max-sharpe": _CONVEX | {"cardinality"},
        "max-return-target-vol": _CONVEX | {"target_volatility", "cardinality"},
        "min-risk-target-return": _CONVEX | {"target_return", "cardinality"},
        "risk-parity": _CASH_ONLY | {"groups"},
        "risk-budgeting": _CASH_ONLY | {"groups", "risk_budget"},
        "hrp": _CASH_ONLY,
        "herc": _CASH_ONLY,
        "max-diversification": _RATIO - {"transaction_costs"},
        "min-cvar": _CONVEX | {"target_return", "cardinality"},
        "black-litterman": _RATIO | {"views", "cardinality"},
        "mean-variance-tc": _CONVEX | {"cardinality"},
    }
)
"""Which optional constraints each method accepts (weight bounds are accepted by all): a table, not branches."""

_OPTION_FIELDS = {
    "long_short": "long_only",
    "cash_buffer": "cash_buffer",
    "groups": "group_limits",
    "transaction_costs": "transaction_costs",
    "turnover_limit": "turnover_limit",
    "cardinality": "max_assets",
    "target_volatility": "target_volatility",
    "target_return": "target_return",
    "views": "views",
    "risk_budget": "risk_budget",
}


@dataclass(frozen=True, kw_only=True)
class OptimizationSpec:
    """What to optimise and under which constraints; every field is validated here, with the fix in the error.

    Parameters
    ----------
    method : str, default "max-sharpe"
        One of :data:`METHODS`.
    lookback : str | int | None, default "5y"
        Window of returns ending at the last row: "5y", "6m", "8w" (calendar), "252d" or an int (rows), None (all).
    cov, mu : str
        Covariance (:data:`~quantdesk.portfolio.estimators.COVARIANCE_ESTIMATORS`) and expected-return
        (:data:`~quantdesk.portfolio.estimators.MU_ESTIMATORS`) estimators.
    max_weight, min_weight : float
        Bounds on every weight. With ``long_only=False`` the default ``min_weight=0.0`` means ``-max_weight``.
    long_only : bool, gross_cap : float
        Long-only, or long/short with Σ|w| ≤ ``gross_cap`` (the net, Σw, is always ``1 - cash_buffer``).
    cash_buffer : float
        Fraction kept in cash: weights sum to ``1 - cash_buffer``.
    risk_free_rate, target_volatility, target_return : float
        Annualised. Targets are required by (and only accepted by) the methods that use them.
    groups, group_limits : mapping
        ``{symbol: group}`` and ``{group: (min, max)}`` (or ``{group: max}``); sums of group weights.
    current_weights, turnover_limit, transaction_costs
        Holdings now (``{symbol: weight}``), a cap on Σ|w - current|, and a cost per unit of weight traded
        (0.001 = 10 bp, float or ``{symbol: cost}``) deducted once from the annual expected return.
    views, view_confidences, tau
        Black–Litterman views on annual returns ("AAPL == 0.10", "MSFT - JPM == 0.02"), Idzorek confidences in
        (0, 1] per view, and the prior's uncertainty.
    min_nonzero_weight, max_assets
        Each weight is zero or at least ``min_nonzero_weight``; at most ``max_assets`` holdings. These need a
        mixed-integer solver: HIGHS solves the linear ones (min-cvar); variance-based ones need SCIP/MOSEK/GUROBI.
    fallback : str | mapping | None
        On a failed or infeasible solve, use another method (its name) or these weights; a warning says so.
    risk_budget : mapping, risk_aversion : float, cvar_beta : float, half_life : float, engine : str
        Risk budgets for "risk-budgeting" (default equal), λ of "mean-variance-tc" (μ'w − λ w'Σw − costs),
        the CVaR confidence, the EW estimators' half-life in observations, and the engine (:data:`ENGINES`).
    """

    method: str = "max-sharpe"
    lookback: Lookback = "5y"
    cov: str = "ledoit-wolf"
    mu: str = "mean"
    max_weight: float = 0.10
    min_weight: float = 0.0
    long_only: bool = True
    gross_cap: float = 1.0
    cash_buffer: float = 0.0
    risk_free_rate: float = 0.0
    target_volatility: float | None = None
    target_return: float | None = None
    groups: Mapping[str, str] | None = None
    group_limits: Mapping[str, tuple[float | None, float | None] | float] | None = None
    current_weights: Mapping[str, float] | None = None
    turnover_limit: float | None = None
    transaction_costs: float | Mapping[str, float] | None = None
    views: Sequence[str] | None = None
    min_nonzero_weight: float | None = None
    max_assets: int | None = None
    fallback: str | Mapping[str, float] | None = None
    view_confidences: Sequence[float] | None = None
    tau: float = 0.05
    risk_budget: Mapping[str, float] | None = None
    risk_aversion: float = 1.0
    cvar_beta: float = 0.95
    half_life: float = DEFAULT_HALF_LIFE
    engine: str = "auto"

    def __post_init__(self) -> None:
        self._check_names()
        parse_lookback(self.lookback)
        self._check_bounds()
        set_ = object.__setattr__
        set_(
            self,
            "risk_free_rate",
            _number(
                self.risk_free_rate, "risk_free_rate", low=-1.0, high=1.0, hint="annual rate as a fraction: 0.04 = 4 %"
            ),
        )
        for name in ("target_volatility", "turnover_limit"):
            value = getattr(self, name)
            if value is not None:
                set_(self, name, _number(value, name, low=0.0, open_low=True, hint="pass a positive fraction"))
        if self.target_return is not None:
            set_(self, "target_return", _number(self.target_return, "target_return", hint="annual, 0.12 = 12 %"))
        self._check_groups()
        self._check_mappings()
        self._check_views()
        self._check_cardinality()
        for name, low, high in (
            ("tau", 0.0, None),
            ("risk_aversion", 0.0, None),
            ("half_life", 0.0, None),
            ("cvar_beta", 0.0, 0.9999),
        ):
            set_(self, name, _number(getattr(self, name), name, low=low, high=high, open_low=True))
        self._check_method_options()

    def _check_names(self) -> None:
        if self.method not in METHODS:
            raise _fail("method", f"unknown method {self.method!r}", self.method, f"use one of {', '.join(METHODS)}")
        if self.cov not in COVARIANCE_ESTIMATORS:
            raise _fail(
                "cov",
                f"unknown covariance estimator {self.cov!r}",
                self.cov,
                f"use one of {', '.join(COVARIANCE_ESTIMATORS)}",
            )
        if self.mu not in MU_ESTIMATORS:
            raise _fail(
                "mu",
                f"unknown expected-return estimator {self.mu!r}",
                self.mu,
                f"use one of {', '.join(MU_ESTIMATORS)}",
            )
        if self.engine not in ENGINES:
            raise _fail("engine", f"unknown engine {self.engine!r}", self.engine, f"use one of {', '.join(ENGINES)}")

    def _check_bounds(self) -> None:
        set_ = object.__setattr__
        set_(
            self,
            "max_weight",
            _number(
                self.max_weight,
                "max_weight",
                low=0.0,
                high=1.0,
                open_low=True,
                hint="a fraction of the portfolio in (0, 1]: 0.10 = 10 %",
            ),
        )
        set_(
            self,
            "min_weight",
            _number(
                self.min_weight, "min_weight", low=-1.0, high=self.max_weight, hint="a fraction in [-1, max_weight]"
            ),
        )
        if not isinstance(self.long_only, bool):
            raise _fail("long_only", f"must be True or False, got {self.long_only!r}", self.long_only, "pass a bool")
        if self.long_only and self.min_weight < 0:
            raise _fail(
                "min_weight",
                f"negative minimum weight {self.min_weight:g} in a long-only spec",
                self.min_weight,
                "set long_only=False to allow shorts, or min_weight >= 0",
            )
        set_(
            self,
            "cash_buffer",
            _number(
                self.cash_buffer,
                "cash_buffer",
                low=0.0,
                high=0.99,
                hint="a fraction kept in cash in [0, 0.99]: 0.02 = 2 %",
            ),
        )
        set_(
            self,
            "gross_cap",
            _number(
                self.gross_cap,
                "gross_cap",
                low=0.0,
                open_low=True,
                high=10.0,
                hint="Σ|w| as a multiple of equity, e.g. 1.0 or 1.6 for 130/30",
            ),
        )
        if self.gross_cap < self.budget - 1e-12:
            raise _fail(
                "gross_cap",
                f"gross cap {self.gross_cap:g} is below the invested fraction {self.budget:g}",
                self.gross_cap,
                f"raise gross_cap to at least {self.budget:g} or raise cash_buffer",
            )

    def _check_groups(self) -> None:
        if self.group_limits is None:
            if self.groups is not None:
                object.__setattr__(self, "groups", MappingProxyType({str(k): str(v) for k, v in self.groups.items()}))
            return
        if not self.groups:
            raise _fail("groups", "group_limits needs groups", None, "pass groups={'AAPL': 'tech', ...}")
        groups = {str(k): str(v) for k, v in self.groups.items()}
        limits: dict[str, tuple[float | None, float | None]] = {}
        for name, raw in self.group_limits.items():
            lo, hi = (None, raw) if not isinstance(raw, tuple | list) else tuple(raw)
            field = f"group_limits[{name}]"
            lo_f = None if lo is None else _number(lo, field, low=-10.0, high=10.0)
            hi_f = None if hi is None else _number(hi, field, low=-10.0, high=10.0)
            if lo_f is not None and hi_f is not None and lo_f > hi_f:
                raise _fail(field, f"minimum {lo_f:g} above maximum {hi_f:g}", raw, "write (min, max) with min <= max")
            if name not in groups.values():
                raise _fail(
                    field,
                    f"no symbol belongs to group {name!r}",
                    name,
                    f"use one of the groups {sorted(set(groups.values()))}",
                )
            limits[str(name)] = (lo_f, hi_f)
        object.__setattr__(self, "groups", MappingProxyType(groups))
        object.__setattr__(self, "group_limits", MappingProxyType(limits))

    def _check_mappings(self) -> None:
        set_ = object.__setattr__
        if self.current_weights is not None:
            set_(self, "current_weights", _weights_map(self.current_weights, "current_weights"))
        tc = self.transaction_costs
        if tc is not None:
            if hasattr(tc, "items"):
                set_(
                    self,
                    "transaction_costs",
                    MappingProxyType(
                        {str(k): _number(v, f"transaction_costs[{k}]", low=0.0, high=1.0) for k, v in tc.items()}
                    ),
                )
            else:
                set_(
                    self,
                    "transaction_costs",
                    _number(tc, "transaction_costs", low=0.0, high=1.0, hint="a cost per unit traded: 0.001 = 10 bp"),
                )
        if self.risk_budget is not None:
            if not hasattr(self.risk_budget, "items") or not self.risk_budget:
                raise _fail(
                    "risk_budget",
                    "must map symbol to a positive budget",
                    self.risk_budget,
                    "pass {'AAPL': 2, 'MSFT': 1, ...}",
                )
            set_(
                self,
                "risk_budget",
                MappingProxyType(
                    {
                        str(k): _number(v, f"risk_budget[{k}]", low=0.0, open_low=True)
                        for k, v in self.risk_budget.items()
                    }
                ),
            )
        fb = self.fallback
        if isinstance(fb, str):
            if fb not in METHODS or fb == self.method:
                raise _fail(
                    "fallback",
                    f"unknown fallback method {fb!r}",
                    fb,
                    f"use another method ({', '.join(m for m in METHODS if m != self.method)}) or weights",
                )
        elif fb is not None:
            set_(self, "fallback", _weights_map(fb, "fallback"))

    def _check_views(self) -> None:
        if self.views is None:
            if self.view_confidences is not None:
                raise _fail("view_confidences", "confidences without views", None, "pass views too")
            return
        if isinstance(self.views, str) or not all(isinstance(v, str) and v.strip() for v in self.views):
            raise _fail(
                "views", "must be a list of view strings", self.views, "write ['AAPL == 0.10', 'MSFT - JPM == 0.02']"
            )
        views = tuple(v.strip() for v in self.views)
        if not views:
            raise _fail("views", "no views given", views, "write at least one view, e.g. 'AAPL == 0.10'")
        object.__setattr__(self, "views", views)
        if self.view_confidences is not None:
            conf = tuple(
                _number(c, "view_confidences", low=0.0, high=1.0, open_low=True) for c in self.view_confidences
            )
            if len(conf) != len(views):
                raise _fail(
                    "view_confidences",
                    f"{len(conf)} confidences for {len(views)} views",
                    conf,
                    "give one confidence in (0, 1] per view",
                )
            object.__setattr__(self, "view_confidences", conf)

    def _check_cardinality(self) -> None:
        if self.max_assets is not None and (
            isinstance(self.max_assets, bool) or not isinstance(self.max_assets, int) or self.max_assets < 1
        ):
            raise _fail(
                "max_assets",
                f"must be a positive whole number, got {self.max_assets!r}",
                self.max_assets,
                "pass e.g. max_assets=10",
            )
        if self.min_nonzero_weight is not None:
            object.__setattr__(
                self,
                "min_nonzero_weight",
                _number(
                    self.min_nonzero_weight,
                    "min_nonzero_weight",
                    low=0.0,
                    high=self.max_weight,
                    open_low=True,
                    hint=f"a fraction in (0, max_weight={self.max_weight:g}]",
                ),
            )

    def _check_method_options(self) -> None:
        used = {
            "long_short": not self.long_only,
            "cash_buffer": self.cash_buffer > 0,
            "groups": self.group_limits is not None,
            "transaction_costs": self.transaction_costs is not None,
            "turnover_limit": self.turnover_limit is not None,
            "cardinality": self.max_assets is not None or self.min_nonzero_weight is not None,
            "target_volatility": self.target_volatility is not None,
            "target_return": self.target_return is not None,
            "views": self.views is not None,
            "risk_budget": self.risk_budget is not None,
        }
        supported = METHOD_OPTIONS[self.method]
        for option, on in used.items():
            if on and option not in supported:
                field = (
                    "min_nonzero_weight"
                    if option == "cardinality" and self.max_assets is None
                    else _OPTION_FIELDS[option]
                )
                able = [m for m in METHODS if option in METHOD_OPTIONS[m]]
                raise _fail(
                    field,
                    f"method {self.method!r} does not support {field}",
                    getattr(self, field),
                    f"drop {field}, or use one of {', '.join(able)}",
                )
        required = {
            "max-return-target-vol": "target_volatility",
            "min-risk-target-return": "target_return",
            "black-litterman": "views",
        }
        need = required.get(self.method)
        if need is not None and getattr(self, need) is None:
            example = {"target_volatility": "0.15", "target_return": "0.12", "views": "['AAPL == 0.10']"}[need]
            raise _fail(need, f"method {self.method!r} needs {need}", None, f"pass {need}={example}")

    @property
    def budget(self) -> float:
        """Σw: the invested fraction, ``1 - cash_buffer``."""
        return 1.0 - self.cash_buffer

    @property
    def lower_bound(self) -> float:
        """The lower bound on each weight (``-max_weight`` for long/short with the default ``min_weight``)."""
        if not self.long_only and self.min_weight == 0.0:
            return -self.max_weight
        return self.min_weight

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> OptimizationSpec:
        """A spec with the config's risk limits as defaults: max weight = ``risk.max_position_pct``; shorts only
        when ``risk.allow_short_selling``."""
        values: dict[str, Any] = {"max_weight": settings.risk.max_position_pct}
        values.update(overrides)
        spec = cls(**values)
        if not spec.long_only and not settings.risk.allow_short_selling:
            raise _fail(
                "long_only",
                "short selling is disabled by the config",
                False,
                "set risk.allow_short_selling = true, or optimise long-only",
            )
        if spec.max_weight > settings.risk.max_position_pct + 1e-12:
            raise _fail(
                "max_weight",
                f"max_weight {spec.max_weight:g} exceeds risk.max_position_pct {settings.risk.max_position_pct:g}",
                spec.max_weight,
                f"use at most {settings.risk.max_position_pct:g}, or raise risk.max_position_pct",
            )
        return spec

    def describe(self) -> dict[str, Any]:
        """The spec as a JSON-ready dict (mappings as dicts, for ``--json`` and diagnostics)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = (
                dict(value) if isinstance(value, Mapping) else list(value) if isinstance(value, tuple) else value
            )
        return out
