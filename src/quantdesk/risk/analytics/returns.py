"""Return series for risk: simple returns from closes, overlapping h-day returns, the held symbols' return matrix and
the empirical tail measures (VaR and CVaR) in skfolio's convention.

Quantile convention (the one of ``skfolio.measures.value_at_risk`` and ``cvar``): with ``n`` outcomes sorted from
worst to best and ``k = (1 − c)·n``, VaR is the loss of the ``(⌊k⌋ + 1)``-th worst outcome, and CVaR is the mean of
the worst ``k`` outcomes, the outcome straddling ``k`` counted with the fraction ``k − ⌈k⌉ + 1`` (Rockafellar and
Uryasev). Example: 504 daily returns at c = 0.95 give k = 25.2, VaR = the 26th worst loss, CVaR = (sum of the 25
worst losses + 0.2 × the 26th) / 25.2.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from quantdesk.errors import DataError, ValidationError

__all__ = [
    "AlignedReturns",
    "align_returns",
    "check_confidence",
    "check_horizon",
    "horizon_returns",
    "returns_from_prices",
    "tail_loss",
]

FloatArray = npt.NDArray[np.float64]


def check_confidence(confidence: float) -> float:
    """Return ``confidence`` as a float when it lies strictly between 0 and 1; else raise naming the field."""
    value = float(confidence)
    if not 0.0 < value < 1.0:  # NaN fails the comparison too
        raise ValidationError(
            f"must lie strictly between 0 and 1, got {confidence!r}",
            field="confidence",
            value=confidence,
            hint="pass a level such as 0.95 or 0.99",
        )
    return value


def check_horizon(horizon_days: int) -> int:
    """Return ``horizon_days`` when it is a whole number of days >= 1; else raise naming the field."""
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int | np.integer) or horizon_days < 1:
        raise ValidationError(
            f"must be a whole number of days >= 1, got {horizon_days!r}",
            field="horizon_days",
            value=horizon_days,
            hint="pass 1 for a one-day VaR, 10 for the Basel ten-day horizon",
        )
    return int(horizon_days)


def returns_from_prices(prices: pd.DataFrame) -> pd.DataFrame:
    """Simple daily returns ``p_t / p_{t−1} − 1`` of wide closes (dates × symbols); the first row is dropped.

    A gap (NaN close) gives NaN returns around it, never a return across the gap; ``align_returns`` drops such rows.
    """
    if prices.empty:
        raise DataError("the price history is empty", field="prices", hint="pass daily closes, one column per symbol")
    frame = prices.sort_index().astype("float64")
    bad = [str(c) for c in frame.columns if bool((frame[c] <= 0).any())]
    if bad:
        raise DataError(
            f"non-positive closes in {', '.join(bad)}",
            field="prices",
            value=bad,
            hint="pass adjusted closes, which are always positive",
        )
    returns = frame / frame.shift(1) - 1.0
    return returns.iloc[1:]


def horizon_returns(returns: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """Overlapping compounded ``h``-day returns ``Π(1 + r) − 1`` over each window of ``h`` rows ending at a date.

    ``n`` daily rows give ``n − h + 1`` windows; neighbouring windows share ``h − 1`` days, so they are serially
    correlated and hold about ``n / h`` independent observations. ``h = 1`` returns the frame unchanged.
    """
    h = check_horizon(horizon_days)
    if h == 1:
        return returns
    logs = pd.DataFrame(np.log1p(returns.to_numpy(dtype="float64")), index=returns.index, columns=returns.columns)
    summed = logs.rolling(h, min_periods=h).sum().iloc[h - 1 :]
    return summed.apply(np.expm1)


@dataclass(frozen=True, slots=True)
class AlignedReturns:
    """The held symbols' returns as a matrix (rows = dates, columns = ``symbols``) and their position values."""

    symbols: tuple[str, ...]
    matrix: FloatArray
    values: FloatArray
    start: pd.Timestamp | None
    end: pd.Timestamp | None

    @property
    def observations(self) -> int:
        """Number of return rows."""
        return int(self.matrix.shape[0])


def align_returns(returns: pd.DataFrame, values: Mapping[str, float] | pd.Series[float]) -> AlignedReturns:
    """The rows of ``returns`` where every held symbol has a return, as arrays, with the values in the same order.

    ``values`` are the positions' market values in the base currency (negative for shorts), keyed by symbol. A
    held symbol without a column raises ``DataError`` naming it; rows with a NaN in a held column are dropped.
    """
    series = pd.Series(values, dtype="float64") if not isinstance(values, pd.Series) else values.astype("float64")
    if series.empty:
        raise DataError("there are no positions to measure", field="values", hint="pass market values by symbol")
    if not np.isfinite(series.to_numpy()).all():
        bad = [str(s) for s, v in series.items() if not math.isfinite(float(v))]
        raise DataError(f"non-finite market value for {', '.join(bad)}", field="values", value=bad)
    symbols = [str(s) for s in series.index]
    missing = [s for s in symbols if s not in returns.columns]
    if missing:
        raise DataError(
            f"no return history for {', '.join(missing)}",
            field="returns",
            value=missing,
            hint="add a column of returns for every held symbol, or leave those positions out",
        )
    frame = returns[symbols].astype("float64").dropna(how="any")
    if len(frame) < 2:
        raise DataError(
            f"only {len(frame)} return row(s) where every held symbol has data",
            field="returns",
            value=len(frame),
            hint="pass a longer history (at least two common dates, a year or two for a useful VaR)",
        )
    index = frame.index
    start = pd.Timestamp(index[0]) if isinstance(index, pd.DatetimeIndex) else None
    end = pd.Timestamp(index[-1]) if isinstance(index, pd.DatetimeIndex) else None
    matrix: FloatArray = frame.to_numpy(dtype=np.float64, copy=True)
    vector: FloatArray = np.array(series, dtype=np.float64)
    return AlignedReturns(tuple(symbols), matrix, vector, start, end)


def tail_loss(outcomes: FloatArray, confidence: float) -> tuple[FloatArray, FloatArray]:
    """Empirical VaR and CVaR (positive = loss) of P&L or return samples along axis 0, in skfolio's convention.

    ``outcomes`` has shape ``(n,)`` or ``(n, m)``; the results have shape ``()`` or ``(m,)``. See the module
    docstring for the quantile convention.
    """
    c = check_confidence(confidence)
    data = np.asarray(outcomes, dtype=np.float64)
    n = data.shape[0]
    if n == 0:
        raise DataError("no outcomes to take a quantile of", field="outcomes", hint="pass at least one observation")
    k = (1.0 - c) * n
    eps = float(np.finfo(np.float64).eps)
    i_var = min(n - 1, math.floor(k + 4 * eps * n))  # the tolerance keeps an integer k such as 0.1·10 whole
    i_cvar = max(0, math.ceil(k) - 1)
    part = np.partition(data, sorted({i_var, i_cvar}), axis=0)
    var = -part[i_var]
    cvar = -(part[:i_cvar].sum(axis=0) + part[i_cvar] * (k - i_cvar)) / k
    return np.asarray(var, dtype=np.float64), np.asarray(cvar, dtype=np.float64)
