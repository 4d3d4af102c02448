"""The result types of a risk report: the valued positions and the report itself (built by
``quantdesk.services.risk_report``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from quantdesk.risk.analytics.exposure import ExposureReport
from quantdesk.risk.analytics.margin import MarginStatus
from quantdesk.risk.analytics.var import VaRResult

__all__ = ["PositionLine", "RiskReport"]


@dataclass(frozen=True, slots=True)
class PositionLine:
    """One held position as the report values it; ``risk_key`` names its price history (None: none found)."""

    label: str
    symbol: str
    asset_class: str
    currency: str
    quantity: Decimal
    price: Decimal
    multiplier: Decimal
    market_value: float
    weight: float | None
    price_source: str
    risk_key: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "instrument": self.label,
            "symbol": self.symbol,
            "asset_class": self.asset_class,
            "currency": self.currency,
            "quantity": str(self.quantity),
            "price": str(self.price),
            "multiplier": str(self.multiplier),
            "market_value": self.market_value,
            "weight": self.weight,
            "price_source": self.price_source,
            "in_var": self.risk_key is not None,
        }


@dataclass(frozen=True, slots=True)
class RiskReport:
    """Everything ``quantdesk risk`` shows: VaR/CVaR by method, positions, margin (brokers only) and exposure."""

    source: str
    account: str | None
    base_currency: str
    ts: datetime
    confidence: float
    horizon_days: int
    lookback_days: int
    net_liquidation: float
    positions: tuple[PositionLine, ...]
    var: tuple[VaRResult, ...]
    exposure: ExposureReport
    margin: MarginStatus | None
    history: Mapping[str, Any] = field(default_factory=dict, hash=False)
    warnings: tuple[str, ...] = ()

    def var_by(self, method: str) -> VaRResult:
        """The result of one method; ``KeyError`` when it was not computed."""
        for r in self.var:
            if r.method == method:
                return r
        raise KeyError(method)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "source": self.source,
            "account": self.account,
            "base_currency": self.base_currency,
            "ts": self.ts.isoformat(),
            "confidence": self.confidence,
            "horizon_days": self.horizon_days,
            "lookback_days": self.lookback_days,
            "net_liquidation": self.net_liquidation,
            "var": {r.method: r.to_dict() for r in self.var},
            "positions": [p.to_dict() for p in self.positions],
            "margin": None if self.margin is None else self.margin.to_dict(),
            "exposure": self.exposure.to_dict(),
            "history": {k: v.isoformat() if isinstance(v, datetime) else v for k, v in self.history.items()},
            "warnings": list(self.warnings),
        }
