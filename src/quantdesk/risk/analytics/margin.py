"""Margin utilisation of an account: maintenance margin / net liquidation against two thresholds.

The level is OK below ``risk.margin_warning_pct``, WARNING from it, CRITICAL from ``risk.margin_critical_pct``
(both inclusive). An account whose net liquidation is zero or negative while it carries margin is CRITICAL (there
is no ratio, and it is in deficit); one with neither net liquidation nor margin is OK.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from quantdesk.config.risk_settings import RiskSettings
from quantdesk.domain.accounts import AccountSnapshot
from quantdesk.errors import ValidationError

__all__ = ["MarginLevel", "MarginStatus", "margin_status", "margin_status_from_settings"]


class MarginLevel(StrEnum):
    """How close the account is to a margin call."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class MarginStatus:
    """An account's margin utilisation, cushion and leverage, the level they reach and a message saying why."""

    account: str
    currency: str
    level: MarginLevel
    utilisation: float | None
    warning_pct: float
    critical_pct: float
    net_liquidation: float
    maintenance_margin: float
    initial_margin: float
    excess_liquidity: float
    cushion: float | None
    leverage: float | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "account": self.account,
            "currency": self.currency,
            "level": self.level.value,
            "utilisation": self.utilisation,
            "warning_pct": self.warning_pct,
            "critical_pct": self.critical_pct,
            "net_liquidation": self.net_liquidation,
            "maintenance_margin": self.maintenance_margin,
            "initial_margin": self.initial_margin,
            "excess_liquidity": self.excess_liquidity,
            "cushion": self.cushion,
            "leverage": self.leverage,
            "message": self.message,
        }


def _opt(value: object) -> float | None:
    return None if value is None else float(str(value))


def _check_thresholds(warning_pct: float, critical_pct: float) -> None:
    for name, value in (("margin_warning_pct", warning_pct), ("margin_critical_pct", critical_pct)):
        if not 0.0 <= value <= 1.0:
            raise ValidationError(
                f"must be a fraction between 0 and 1, got {value!r}",
                field=f"risk.{name}",
                value=value,
                hint="write 0.5 for 50 %",
            )
    if warning_pct > critical_pct:
        raise ValidationError(
            f"warning threshold {warning_pct:g} is above the critical one {critical_pct:g}",
            field="risk.margin_warning_pct",
            value=warning_pct,
            hint="make risk.margin_warning_pct at most risk.margin_critical_pct",
        )


def margin_status(snapshot: AccountSnapshot, warning_pct: float = 0.50, critical_pct: float = 0.80) -> MarginStatus:
    """Classify ``snapshot``'s margin utilisation (maintenance / net liquidation) as OK, WARNING or CRITICAL."""
    _check_thresholds(warning_pct, critical_pct)
    ccy = snapshot.base_currency.code
    net = float(snapshot.net_liquidation.amount)
    maint = float(snapshot.maintenance_margin.amount)
    utilisation = _opt(snapshot.margin_utilisation)
    limits = f"warning at {warning_pct:.0%}, critical at {critical_pct:.0%}"
    if utilisation is None:
        if maint > 0 or net < 0:
            level = MarginLevel.CRITICAL
            message = (
                f"net liquidation is {net:,.2f} {ccy} with {maint:,.2f} {ccy} maintenance margin: "
                "the account is in deficit, no utilisation can be computed"
            )
        else:
            level = MarginLevel.OK
            message = "no net liquidation and no margin in use"
    else:
        if utilisation >= critical_pct:
            level, reached = MarginLevel.CRITICAL, f"at or above the critical threshold {critical_pct:.0%}"
        elif utilisation >= warning_pct:
            level, reached = MarginLevel.WARNING, f"at or above the warning threshold {warning_pct:.0%}"
        else:
            level, reached = MarginLevel.OK, f"below the warning threshold {warning_pct:.0%}"
        message = (
            f"margin utilisation {utilisation:.1%} ({maint:,.2f} / {net:,.2f} {ccy} maintenance margin / "
            f"net liquidation) is {reached} ({limits})"
        )
    return MarginStatus(
        account=snapshot.account.value,
        currency=ccy,
        level=level,
        utilisation=utilisation,
        warning_pct=warning_pct,
        critical_pct=critical_pct,
        net_liquidation=net,
        maintenance_margin=maint,
        initial_margin=float(snapshot.initial_margin.amount),
        excess_liquidity=float(snapshot.excess_liquidity.amount),
        cushion=_opt(snapshot.cushion),
        leverage=_opt(snapshot.leverage),
        message=message,
    )


def margin_status_from_settings(snapshot: AccountSnapshot, risk: RiskSettings) -> MarginStatus:
    """``margin_status`` with the thresholds ``risk.margin_warning_pct`` and ``risk.margin_critical_pct``."""
    return margin_status(snapshot, risk.margin_warning_pct, risk.margin_critical_pct)
