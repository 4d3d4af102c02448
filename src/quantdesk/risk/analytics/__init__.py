"""Risk analytics: VaR and CVaR (historical, parametric, Monte Carlo), margin utilisation, exposure by asset class
and currency.

Import from here; the modules behind may move. Conventions (signs, quantiles, horizons) are in each module's
docstring and in ``docs/risk.md``.
"""

from quantdesk.risk.analytics.exposure import (
    ExposureReport,
    ExposureRow,
    HeldPosition,
    exposure_report,
    fx_rate,
    parse_instrument_id,
)
from quantdesk.risk.analytics.margin import MarginLevel, MarginStatus, margin_status, margin_status_from_settings
from quantdesk.risk.analytics.report import PositionLine, RiskReport
from quantdesk.risk.analytics.returns import (
    AlignedReturns,
    align_returns,
    check_confidence,
    check_horizon,
    horizon_returns,
    returns_from_prices,
    tail_loss,
)
from quantdesk.risk.analytics.var import (
    VAR_METHODS,
    McSampling,
    PositionRisk,
    VaRMethod,
    VaRResult,
    compute_var,
    historical_var,
    monte_carlo_var,
    parametric_var,
)

__all__ = [
    "VAR_METHODS",
    "AlignedReturns",
    "ExposureReport",
    "ExposureRow",
    "HeldPosition",
    "MarginLevel",
    "MarginStatus",
    "McSampling",
    "PositionLine",
    "PositionRisk",
    "RiskReport",
    "VaRMethod",
    "VaRResult",
    "align_returns",
    "check_confidence",
    "check_horizon",
    "compute_var",
    "exposure_report",
    "fx_rate",
    "historical_var",
    "horizon_returns",
    "margin_status",
    "margin_status_from_settings",
    "monte_carlo_var",
    "parametric_var",
    "parse_instrument_id",
    "returns_from_prices",
    "tail_loss",
]
