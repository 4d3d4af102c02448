"""Checks of the inputs of an optimisation or a rebalance, run before any expensive work.

A universe file is read with errors that name the line and the column; an optimisation spec is built (and so
validated) before prices are estimated; a weight cap that cannot add up is refused with a fix that works.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from quantdesk.config import Settings
from quantdesk.errors import DataError, RiskRejected, ValidationError

if TYPE_CHECKING:
    from quantdesk.portfolio.optimize import OptimizationSpec

__all__ = ["check_optimization", "check_positions_file", "check_weight_cap", "optimization_spec", "read_closes"]

_CLOSES_HINT = "first line date,SYMBOL,SYMBOL,…; then one line per date with a close per symbol"


def read_closes(path: Path) -> pd.DataFrame:
    """Wide closes from a CSV or Parquet file (dates first, one column per symbol); errors name line and column."""
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path)
    else:
        try:
            frame = pd.read_csv(path, index_col=0, dtype=str, keep_default_na=False)
        except pd.errors.EmptyDataError:
            raise DataError(f"{path.name} is empty", field="universe", value=str(path), hint=_CLOSES_HINT) from None
        frame = _numeric(frame, path)
    if frame.empty or frame.shape[1] < 2:
        raise DataError(
            f"{path.name} holds {len(frame)} row(s) of {frame.shape[1]} price column(s)",
            field="universe",
            value=str(path),
            hint="one column of closes per symbol, at least two symbols, at least two dates",
        )
    try:
        frame.index = pd.to_datetime(frame.index, utc=True)
    except (ValueError, TypeError):
        bad = next(i for i, v in enumerate(frame.index) if pd.isna(pd.to_datetime(v, errors="coerce")))
        raise DataError(
            f"{path.name} line {bad + 2}: {frame.index[bad]!r} is not a date",
            field="universe",
            value=str(path),
            hint="write dates as YYYY-MM-DD in the first column",
        ) from None
    return frame.sort_index().astype("float64")


def _numeric(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The text cells as floats (empty cells become NaN); a cell that is not a number fails naming it."""
    out = {}
    for col in frame.columns:
        text = frame[col].str.strip()
        values = pd.to_numeric(text.where(text != ""), errors="coerce")
        bad = values.isna() & (text != "")
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise DataError(
                f"{path.name} line {row + 2}, column {col}: {text.iloc[row]!r} is not a number",
                field="universe",
                value=str(path),
                hint="fix that cell (a close such as 187.25), or leave it empty for a missing price",
            )
        out[col] = values
    return pd.DataFrame(out, index=frame.index)


def optimization_spec(settings: Settings, **values: Any) -> OptimizationSpec:
    """The spec for ``values`` under the config's risk limits (``risk.max_position_pct`` caps ``max_weight``
    unless the ``max_position`` rule is disabled); building it validates every option."""
    from quantdesk.portfolio.optimize import OptimizationSpec

    if settings.risk.rule_enabled("max_position"):
        return OptimizationSpec.from_settings(settings, **values)
    return OptimizationSpec(**{"max_weight": 1.0, **values})


def check_weight_cap(spec: OptimizationSpec, symbols: int, settings: Settings) -> None:
    """Refuse a cap per weight that cannot add up to the invested fraction, with fixes that each work."""
    if symbols <= 0 or spec.max_weight * symbols >= spec.budget - 1e-9:
        return
    need = math.ceil(spec.budget / symbols * 100) / 100
    cash = math.ceil((1 - spec.max_weight * symbols) * 100) / 100
    capped = settings.risk.rule_enabled("max_position") and need > settings.risk.max_position_pct
    raise_cap = f"risk.max_position_pct = {need:g} (which max_weight follows)" if capped else f"max_weight = {need:g}"
    keep_cash = f", or keep cash_buffer = {cash:g} in cash" if cash <= 0.99 else ""
    raise ValidationError(
        f"infeasible: a cap of {spec.max_weight:g} per weight over {symbols} symbols cannot reach {spec.budget:g}",
        field="max_weight",
        value=spec.max_weight,
        hint=f"set {raise_cap}, add symbols{keep_cash}",
    )


def check_optimization(
    method: str = "max-sharpe",
    lookback: str | int | None = "5y",
    *,
    max_weight: float | None = None,
    min_weight: float = 0.0,
    cov: str = "ledoit-wolf",
    mu: str = "mean",
    long_only: bool = True,
    settings: Settings | None = None,
    **spec_options: Any,
) -> OptimizationSpec:
    """The validated spec ``optimize_universe`` would solve, built without prices: cheap, so run it first."""
    cfg = settings or Settings()
    if not long_only and not cfg.risk.allow_short_selling and cfg.risk.rule_enabled("short_selling"):
        raise RiskRejected(
            "a long/short optimisation needs short selling, and short selling is off",
            field="short_selling",
            value=False,
            hint="set risk.allow_short_selling = true, or optimise long-only",
        )
    values: dict[str, Any] = {
        "method": method,
        "lookback": lookback,
        "cov": cov,
        "mu": mu,
        "min_weight": min_weight,
        "long_only": long_only,
        **spec_options,
    }
    if max_weight is not None:
        values["max_weight"] = max_weight
    return optimization_spec(cfg, **values)


def check_positions_file(path: Path | str, *, cash: Any = None) -> None:
    """Read a positions file once, so a bad one fails before the optimiser runs; errors name ``positions_file``."""
    from quantdesk.portfolio.rebalance import load_holdings_file

    load_holdings_file(path, cash=cash, option="positions_file")
