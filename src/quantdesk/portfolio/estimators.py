"""Estimators of the optimisers' inputs: returns from prices, the lookback window, covariance and expected returns.

Covariance: ``sample``, ``ledoit-wolf`` and ``oas`` shrinkage, ``ew`` (exponentially weighted) and ``denoised``
(random-matrix denoising of the sample covariance). Expected returns: ``mean``, ``ew`` and ``equilibrium`` (the
CAPM returns implied by equal market weights). All are skfolio's estimators, so the optimisers and these reports
see exactly the same numbers. Estimates are per observation (daily); :func:`estimate_moments` annualises with 252.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quantdesk.errors import DataError, ValidationError

__all__ = [
    "ANNUALIZATION",
    "COVARIANCE_ESTIMATORS",
    "DEFAULT_HALF_LIFE",
    "MU_ESTIMATORS",
    "Lookback",
    "Moments",
    "apply_lookback",
    "covariance_estimator",
    "estimate_covariance",
    "estimate_moments",
    "estimate_mu",
    "mu_estimator",
    "parse_lookback",
    "prepare_returns",
    "prices_to_returns",
    "prior_estimator",
]

ANNUALIZATION = 252
"""Trading days a year: daily means and covariances are multiplied by it, volatilities by its square root."""

COVARIANCE_ESTIMATORS: tuple[str, ...] = ("sample", "ledoit-wolf", "oas", "ew", "denoised")
"""Names accepted by ``cov=``."""

MU_ESTIMATORS: tuple[str, ...] = ("mean", "ew", "equilibrium")
"""Names accepted by ``mu=``."""

DEFAULT_HALF_LIFE = 40.0
"""Half-life, in observations, of the exponentially weighted estimators."""

Lookback = str | int | None
"""A window: ``"5y"``, ``"6m"``, ``"8w"`` (calendar, ending at the last row), ``"252d"`` or int (rows), None (all)."""

_LOOKBACK = re.compile(r"^\s*(\d+)\s*([dwmy])\s*$", re.IGNORECASE)
_LOOKBACK_HINT = "write '5y', '6m', '8w', '252d', a positive number of rows, or None for all rows"


def parse_lookback(lookback: Lookback) -> tuple[str, int] | None:
    """Validate a lookback: ``None`` for all rows, else ``(unit, count)`` with unit ``rows``, ``w``, ``m`` or ``y``."""
    if lookback is None:
        return None
    if isinstance(lookback, bool):
        raise ValidationError(
            f"must be a window, got {lookback!r}", field="lookback", value=lookback, hint=_LOOKBACK_HINT
        )
    if isinstance(lookback, int | np.integer):
        if lookback < 2:
            raise ValidationError(
                f"a window of {lookback} rows is too short", field="lookback", value=lookback, hint=_LOOKBACK_HINT
            )
        return ("rows", int(lookback))
    if isinstance(lookback, str):
        if lookback.strip().lower() in ("all", "max"):
            return None
        match = _LOOKBACK.match(lookback)
        if match and int(match.group(1)) > 0:
            count, unit = int(match.group(1)), match.group(2).lower()
            return ("rows", count) if unit == "d" else (unit, count)
    raise ValidationError(f"cannot read the window {lookback!r}", field="lookback", value=lookback, hint=_LOOKBACK_HINT)


def apply_lookback(frame: pd.DataFrame, lookback: Lookback) -> pd.DataFrame:
    """The rows of ``frame`` inside the window that ends at its last row (calendar windows need a DatetimeIndex)."""
    parsed = parse_lookback(lookback)
    if parsed is None or frame.empty:
        return frame
    unit, count = parsed
    if unit == "rows":
        return frame.iloc[-count:]
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise ValidationError(
            f"a calendar window ({lookback!r}) needs rows indexed by timestamp",
            field="lookback",
            value=lookback,
            hint="index the frame by date, or give the window in rows ('252d' or 252)",
        )
    offset = {"w": pd.DateOffset(weeks=count), "m": pd.DateOffset(months=count), "y": pd.DateOffset(years=count)}[unit]
    start = frame.index[-1] - offset
    return frame.loc[frame.index > start]


def _check_frame(frame: object, what: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(
            f"must be a DataFrame of {what} (rows = dates, columns = symbols), got {type(frame).__name__}",
            field=what,
            hint="load wide closes with quantdesk.data.load_sample_prices() or BarStore.read_many(..., field='close')",
        )
    if frame.shape[1] < 1:
        raise DataError(f"the {what} frame has no columns", field=what, hint="pass at least one symbol")
    if frame.columns.has_duplicates:
        dupes = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise DataError(f"duplicate symbols {dupes}", field=what, value=dupes, hint="keep one column per symbol")
    bad = [str(c) for c in frame.columns if not isinstance(c, str) or not c]
    if bad:
        raise DataError(f"columns must be symbols, got {bad}", field=what, value=bad, hint="name each column by symbol")
    non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise DataError(
            f"non-numeric columns {non_numeric}", field=what, value=non_numeric, hint="keep only numeric columns"
        )
    return frame.astype("float64")


def prices_to_returns(prices: pd.DataFrame) -> pd.DataFrame:
    """Simple returns ``p_t / p_{t-1} - 1`` of wide prices; the first row (no previous price) is dropped."""
    prices = _check_frame(prices, "prices")
    values = prices.to_numpy()
    if np.any(values[np.isfinite(values)] <= 0):
        bad = sorted(str(c) for c in prices.columns[(prices <= 0).any()])
        raise DataError(
            f"non-positive prices in {bad}", field="prices", value=bad, hint="pass adjusted closes, which are positive"
        )
    return (prices / prices.shift(1) - 1.0).iloc[1:]


def prepare_returns(data: pd.DataFrame, *, returns: bool, lookback: Lookback) -> tuple[pd.DataFrame, list[str]]:
    """Returns inside the lookback window, NaN rows dropped; also notes on what was dropped, for the warnings."""
    frame = _check_frame(data, "returns" if returns else "prices")
    rets = frame if returns else prices_to_returns(frame)
    rets = apply_lookback(rets, lookback)
    notes: list[str] = []
    if np.isinf(rets.to_numpy()).any():
        raise DataError("infinite returns", field="returns", hint="check the prices for zeros and gaps")
    empty = [str(c) for c in rets.columns if rets[c].isna().all()]
    if empty:
        raise DataError(
            f"no data in the window for {empty}",
            field="returns",
            value=empty,
            hint="drop these symbols or widen the lookback",
        )
    complete = rets.dropna(how="any")
    if len(complete) < len(rets):
        notes.append(f"dropped {len(rets) - len(complete)} of {len(rets)} rows with missing returns")
    if len(complete) < 2:
        raise DataError(
            f"{len(complete)} complete rows of returns in the window; at least 2 are needed",
            field="lookback",
            value=lookback,
            hint="widen the lookback or drop the symbols with short histories",
        )
    if len(complete) <= complete.shape[1]:
        notes.append(
            f"{len(complete)} observations for {complete.shape[1]} assets: the sample covariance is singular "
            "(use cov='ledoit-wolf' or 'oas', or a longer lookback)"
        )
    return complete, notes


def covariance_estimator(name: str, *, half_life: float = DEFAULT_HALF_LIFE) -> Any:
    """The skfolio covariance estimator called ``name`` (see :data:`COVARIANCE_ESTIMATORS`)."""
    from skfolio.moments import OAS, DenoiseCovariance, EmpiricalCovariance, EWCovariance, LedoitWolf

    match name:
        case "sample":
            return EmpiricalCovariance()
        case "ledoit-wolf":
            return LedoitWolf()
        case "oas":
            return OAS()
        case "ew":
            return EWCovariance(half_life=half_life, min_observations=1)
        case "denoised":
            return DenoiseCovariance(covariance_estimator=EmpiricalCovariance())
    raise ValidationError(
        f"unknown covariance estimator {name!r}",
        field="cov",
        value=name,
        hint=f"use one of {', '.join(COVARIANCE_ESTIMATORS)}",
    )


def mu_estimator(name: str, *, half_life: float = DEFAULT_HALF_LIFE, cov: str = "sample") -> Any:
    """The skfolio expected-return estimator called ``name``; ``equilibrium`` implies returns from ``cov``."""
    from skfolio.moments import EmpiricalMu, EquilibriumMu, EWMu

    match name:
        case "mean":
            return EmpiricalMu()
        case "ew":
            return EWMu(half_life=half_life)
        case "equilibrium":
            return EquilibriumMu(covariance_estimator=covariance_estimator(cov, half_life=half_life))
    raise ValidationError(
        f"unknown expected-return estimator {name!r}",
        field="mu",
        value=name,
        hint=f"use one of {', '.join(MU_ESTIMATORS)}",
    )


def prior_estimator(cov: str = "sample", mu: str = "mean", *, half_life: float = DEFAULT_HALF_LIFE) -> Any:
    """A skfolio ``EmpiricalPrior`` with these estimators, for the optimisers that take a prior."""
    from skfolio.prior import EmpiricalPrior

    return EmpiricalPrior(
        mu_estimator=mu_estimator(mu, half_life=half_life, cov=cov),
        covariance_estimator=covariance_estimator(cov, half_life=half_life),
    )


def estimate_covariance(
    returns: pd.DataFrame, name: str = "sample", *, half_life: float = DEFAULT_HALF_LIFE, annualize: bool = True
) -> pd.DataFrame:
    """Covariance of ``returns`` by the estimator ``name``; × 252 when ``annualize``."""
    returns = _check_frame(returns, "returns")
    estimator = covariance_estimator(name, half_life=half_life).fit(returns.to_numpy())
    scale = ANNUALIZATION if annualize else 1
    return pd.DataFrame(estimator.covariance_ * scale, index=returns.columns, columns=returns.columns)


def estimate_mu(
    returns: pd.DataFrame,
    name: str = "mean",
    *,
    half_life: float = DEFAULT_HALF_LIFE,
    cov: str = "sample",
    annualize: bool = True,
) -> pd.Series:
    """Expected returns of ``returns`` by the estimator ``name``; × 252 when ``annualize``."""
    returns = _check_frame(returns, "returns")
    estimator = mu_estimator(name, half_life=half_life, cov=cov).fit(returns.to_numpy())
    scale = ANNUALIZATION if annualize else 1
    return pd.Series(estimator.mu_ * scale, index=returns.columns, name="mu")


@dataclass(frozen=True, eq=False)
class Moments:
    """Annualised expected returns and covariance, with the names of the estimators that made them."""

    mu: pd.Series
    cov: pd.DataFrame
    mu_estimator: str
    cov_estimator: str

    @property
    def volatility(self) -> pd.Series:
        """Annualised volatility of each asset."""
        return pd.Series(np.sqrt(np.diag(self.cov.to_numpy())), index=self.cov.index, name="volatility")


def estimate_moments(
    returns: pd.DataFrame, *, cov: str = "sample", mu: str = "mean", half_life: float = DEFAULT_HALF_LIFE
) -> Moments:
    """Annualised mu and covariance of ``returns`` from one fitted prior (the optimisers' own numbers)."""
    returns = _check_frame(returns, "returns")
    prior = prior_estimator(cov, mu, half_life=half_life).fit(returns.to_numpy())
    dist = prior.return_distribution_
    return Moments(
        mu=pd.Series(np.asarray(dist.mu) * ANNUALIZATION, index=returns.columns, name="mu"),
        cov=pd.DataFrame(np.asarray(dist.covariance) * ANNUALIZATION, index=returns.columns, columns=returns.columns),
        mu_estimator=type(prior.mu_estimator_).__name__,
        cov_estimator=type(prior.covariance_estimator_).__name__,
    )
