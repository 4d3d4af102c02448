"""The rebalance's vocabulary: how a plan is built (``RebalanceSettings``) and what it answers (``PlanLine``,
``RebalanceResult``); the rules themselves are in :mod:`quantdesk.portfolio.rebalance`."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from quantdesk.domain.targets import RebalancePlan
from quantdesk.domain.values import ZERO, to_decimal, to_non_negative
from quantdesk.errors import ValidationError
from quantdesk.execution.fees import FeeModel, IbFixed

if TYPE_CHECKING:
    from quantdesk.config import Settings

__all__ = ["BandMode", "PlanLine", "RebalanceResult", "RebalanceSettings"]

BandMode = Literal["absolute", "relative"]
_ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class RebalanceSettings:
    """How a plan is built (module docstring); ``from_settings`` reads the risk and order sections of the config."""

    max_position_pct: Decimal | None = Decimal("0.10")
    allow_short_selling: bool = False
    fractional: bool = False
    band: Decimal = ZERO
    band_mode: BandMode = "absolute"
    min_trade_value: Decimal = ZERO
    cash_buffer: Decimal = ZERO
    buy_price_allowance: Decimal = ZERO
    max_order_notional: Decimal | None = None
    fee_model: FeeModel = field(default_factory=IbFixed)

    def __post_init__(self) -> None:
        if self.max_position_pct is not None:
            cap = to_decimal(self.max_position_pct, "max_position_pct")
            if not ZERO < cap <= _ONE:
                raise ValidationError(
                    f"must lie in (0, 1], got {cap}", field="max_position_pct", value=cap, hint="0.10 = 10 %"
                )
            object.__setattr__(self, "max_position_pct", cap)
        for name in ("band", "min_trade_value", "cash_buffer", "buy_price_allowance"):
            object.__setattr__(self, name, to_non_negative(getattr(self, name), name))
        if self.cash_buffer >= _ONE:
            raise ValidationError(
                f"must be below 1, got {self.cash_buffer}",
                field="cash_buffer",
                value=self.cash_buffer,
                hint="0.02 = 2 %",
            )
        if self.band_mode not in ("absolute", "relative"):
            raise ValidationError(
                f"unknown band mode {self.band_mode!r}",
                field="band_mode",
                value=self.band_mode,
                hint="absolute or relative",
            )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> RebalanceSettings:
        """Defaults from the config: risk.max_position_pct (unless the rule is off), short selling, limit offset."""
        risk = settings.risk
        values: dict[str, Any] = {
            "max_position_pct": Decimal(repr(risk.max_position_pct)) if risk.rule_enabled("max_position") else None,
            "allow_short_selling": risk.allow_short_selling or not risk.rule_enabled("short_selling"),
            "buy_price_allowance": Decimal(repr(settings.orders.limit_offset_pct)),
            "max_order_notional": (
                Decimal(repr(risk.max_order_notional)) if risk.rule_enabled("max_order_notional") else None
            ),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})  # None keeps the config's value
        return cls(**values)


@dataclass(frozen=True, slots=True)
class PlanLine:
    """One symbol held or targeted, traded or not: the row of the plan table, with the reasons in ``notes``."""

    symbol: str
    price: Decimal
    current_quantity: Decimal
    current_weight: Decimal
    requested_weight: Decimal
    ideal_quantity: Decimal
    target_quantity: Decimal
    target_weight: Decimal
    lot: Decimal
    estimated_commission: Decimal = ZERO
    notes: tuple[str, ...] = ()

    @property
    def trade_quantity(self) -> Decimal:
        """Signed quantity to trade (positive buys)."""
        return self.target_quantity - self.current_quantity

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "symbol": self.symbol,
            "price": str(self.price),
            "current_quantity": str(self.current_quantity),
            "current_weight": float(self.current_weight),
            "requested_weight": float(self.requested_weight),
            "target_quantity": str(self.target_quantity),
            "target_weight": float(self.target_weight),
            "trade": str(self.trade_quantity),
            "notional": str(abs(self.trade_quantity) * self.price),
            "estimated_commission": str(self.estimated_commission),
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class RebalanceResult:
    """The plan, every line considered (with notes), the cash reserve and plan-wide warnings."""

    plan: RebalancePlan
    lines: tuple[PlanLine, ...]
    cash_reserve: Decimal
    warnings: tuple[str, ...] = ()

    def line(self, symbol: str) -> PlanLine:
        """The line of ``symbol``; ``KeyError`` when it was neither held nor targeted."""
        for ln in self.lines:
            if ln.symbol == symbol:
                return ln
        raise KeyError(symbol)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: totals and every line."""
        p = self.plan
        return {
            "account": None if p.account is None else p.account.value,
            "ts": p.ts.isoformat(),
            "currency": p.currency.code,
            "portfolio_value": str(p.portfolio_value),
            "cash_before": str(p.cash_before),
            "cash_after": str(p.cash_after),
            "cash_reserve": str(self.cash_reserve),
            "buy_notional": str(p.buy_notional),
            "sell_notional": str(p.sell_notional),
            "estimated_commission": str(p.estimated_commission),
            "turnover": float(p.turnover),
            "trades": len(p.trades),
            "lines": [ln.to_dict() for ln in self.lines],
            "warnings": list(self.warnings),
        }
