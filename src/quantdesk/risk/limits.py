"""``RiskSettings`` converted once into what the checks compare against: ``Decimal`` limits and enabled rules."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from quantdesk.config.risk_settings import RiskSettings

__all__ = ["NOTIONAL_RULES", "RiskLimits", "to_decimal"]

NOTIONAL_RULES = ("max_position", "max_order_notional", "max_gross_exposure", "max_leverage")
"""The rules that need the order's value, hence a price (a market order needs a last price)."""


def to_decimal(value: float) -> Decimal:
    """A config float as the ``Decimal`` it reads as (0.1 stays 0.1)."""
    return Decimal(repr(value))


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The pre-trade limits as ``Decimal``, the short-selling switch and the restricted symbols."""

    max_position_pct: Decimal
    max_order_notional: Decimal
    price_band_pct: Decimal
    max_trades_per_day: int
    allow_short_selling: bool
    restricted_symbols: frozenset[str]
    max_gross_exposure: Decimal
    max_gross_exposure_amount: Decimal | None
    needs_price: bool

    @classmethod
    def from_settings(cls, settings: RiskSettings) -> RiskLimits:
        """Convert once; the engine keeps the result."""
        amount = settings.max_gross_exposure_amount
        return cls(
            max_position_pct=to_decimal(settings.max_position_pct),
            max_order_notional=to_decimal(settings.max_order_notional),
            price_band_pct=to_decimal(settings.price_band_pct),
            max_trades_per_day=settings.max_trades_per_day,
            allow_short_selling=settings.allow_short_selling,
            restricted_symbols=frozenset(s.upper() for s in settings.restricted_symbols),
            max_gross_exposure=to_decimal(settings.max_gross_exposure),
            max_gross_exposure_amount=None if amount is None else to_decimal(amount),
            needs_price=any(
                settings.rule_enabled(rule) and (rule != "max_gross_exposure" or amount is not None)
                for rule in NOTIONAL_RULES
            ),
        )
