"""The ``[risk]`` section: pre-trade rules by name, kill-switch triggers, throttles and margin warnings.

Every rule is on by default; ``risk.enabled = false`` turns all of them off and ``risk.disabled_rules`` names the
ones to skip. The kill switch (ACTIVE / REDUCING / HALTED) is persisted in the database, not configured here; this
section only says what trips it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from quantdesk.config.fields import StrList, SymbolList, fraction_field, hint, lower, rule_error, seconds_field

__all__ = ["RISK_RULES", "KillSwitchAction", "RiskSettings"]

RISK_RULES: Mapping[str, str] = {
    "order_sanity": "quantity and prices positive, finite, on the lot and tick grids; market orders need a price",
    "max_position": "a position may not exceed risk.max_position_pct of net liquidation (reducing orders pass)",
    "max_order_notional": "no single order above risk.max_order_notional",
    "price_band": "limit and stop prices within risk.price_band_pct of the last price (fat finger)",
    "max_trades_per_day": "at most risk.max_trades_per_day orders a day",
    "short_selling": "no sell beyond the long position (net of working sells) unless risk.allow_short_selling",
    "restricted_symbols": "no order in a symbol of risk.restricted_symbols",
    "max_gross_exposure": "gross exposure at most risk.max_gross_exposure_amount (in the base currency)",
    "max_leverage": "gross exposure at most risk.max_gross_exposure times net liquidation",
    "trading_hours": "orders that execute at once (market, IOC, FOK) only while the exchange is open",
    "daily_loss_limit": "the kill switch halts once the day's loss reaches risk.daily_loss_limit_pct",
    "max_drawdown": "the kill switch halts once the drawdown from the peak reaches risk.max_drawdown_pct",
    "psr": "the kill switch moves to risk.psr_action once the probabilistic Sharpe ratio falls below risk.psr_floor",
    "disconnect": "the kill switch halts after a disconnect longer than risk.disconnect_halt_seconds",
    "order_rate": "at most risk.max_orders_per_second orders a second toward the broker (IB allows 50)",
    "participation": "an order above risk.max_participation_pct of the average daily volume is sliced over time",
}
"""The risk rules by name (the names ``risk.disabled_rules`` accepts) and what each one enforces."""

KillSwitchAction = Literal["reducing", "halted"]


class RiskSettings(BaseModel):
    """Pre-trade limits, kill-switch triggers and throttles; on unless ``enabled = false`` or a rule is disabled."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    # pre-trade limits
    max_position_pct: float = fraction_field(0.10)
    max_order_notional: float = Field(
        100_000.0, gt=0, json_schema_extra=hint("write a positive amount in the account's base currency")
    )
    price_band_pct: float = fraction_field(0.05)
    max_trades_per_day: int = Field(100, ge=1, json_schema_extra=hint("use a whole number >= 1"))
    allow_short_selling: bool = False
    restricted_symbols: SymbolList = ()
    max_gross_exposure: float = Field(
        1.0, gt=0, json_schema_extra=hint("write a positive multiple of net liquidation, e.g. 1.0 (no leverage)")
    )
    max_gross_exposure_amount: float | None = Field(
        None, gt=0, json_schema_extra=hint("write a positive amount in the base currency, or leave it unset")
    )
    # kill-switch triggers
    daily_loss_limit_pct: float = fraction_field(0.02)
    max_drawdown_pct: float = fraction_field(0.10)
    psr_floor: float = fraction_field(0.05)
    psr_min_observations: int = Field(
        20, ge=3, json_schema_extra=hint("use a whole number of returns >= 3 before the PSR can trip")
    )
    psr_benchmark_sharpe: float = Field(0.0, json_schema_extra=hint("write the per-period Sharpe ratio to beat"))
    psr_action: Annotated[KillSwitchAction, BeforeValidator(lower)] = "reducing"
    disconnect_halt_seconds: float = seconds_field(60.0)
    # throttles
    max_orders_per_second: float = Field(
        45.0, gt=0, le=50, json_schema_extra=hint("write a rate in (0, 50]; IB drops connections above 50 msg/s")
    )
    max_participation_pct: float = fraction_field(0.10)
    participation_interval: float = seconds_field(60.0)
    adv_days: int = Field(
        20, ge=1, le=250, json_schema_extra=hint("use a whole number of daily bars in [1, 250] for the ADV")
    )
    # margin monitoring
    margin_warning_pct: float = fraction_field(0.50)
    margin_critical_pct: float = fraction_field(0.80)
    disabled_rules: StrList = ()

    @field_validator("disabled_rules", mode="after")
    @classmethod
    def _known_rules(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(v.strip().lower() for v in value)
        for name in names:
            if name not in RISK_RULES:
                close = difflib.get_close_matches(name, list(RISK_RULES), n=1)
                guess = f"did you mean {close[0]!r}? " if close else ""
                raise rule_error(f"names an unknown risk rule {name!r}", f"{guess}known rules: {', '.join(RISK_RULES)}")
        return names

    @model_validator(mode="after")
    def _margin_thresholds_ordered(self) -> RiskSettings:
        if self.margin_warning_pct > self.margin_critical_pct:
            raise rule_error(
                f"is above risk.margin_critical_pct ({self.margin_critical_pct:g})",
                "make risk.margin_warning_pct at most risk.margin_critical_pct",
                key="margin_warning_pct",
                value=self.margin_warning_pct,
            )
        return self

    def rule_enabled(self, name: str) -> bool:
        """Whether the rule ``name`` (a key of :data:`RISK_RULES`) applies: risk on and the rule not disabled."""
        if name not in RISK_RULES:
            raise ValueError(f"unknown risk rule {name!r}; known: {', '.join(RISK_RULES)}")
        return self.enabled and name not in self.disabled_rules
