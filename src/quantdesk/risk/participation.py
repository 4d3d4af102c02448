"""Participation caps: slice an order that is large against the average daily volume (ADV) over time.

In one interval of ``interval_seconds`` a regular session of ``session_seconds`` (6.5 h for US equities) trades
about ADV × interval / session; a child order may take at most ``max_participation_pct`` of that, rounded down to
whole lots and never below one lot. An order within that cap goes as it is; a larger one becomes children of the
cap, one per interval, with the remainder in the last child. The quantities sum exactly to the order's.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from quantdesk.config.risk_settings import RiskSettings
from quantdesk.errors import ValidationError
from quantdesk.risk.facts import finite

__all__ = [
    "US_SESSION_SECONDS",
    "needs_slicing",
    "participation_cap",
    "participation_schedule",
    "slice_quantity",
]

US_SESSION_SECONDS = 23_400
"""09:30 to 16:00: the regular US equity session in seconds."""


def _positive(value: object, field: str, hint: str) -> Decimal:
    result = finite(value)
    if result is None or result <= 0:
        raise ValidationError(f"must be a positive finite number, got {value!r}", field=field, value=value, hint=hint)
    return result


def participation_cap(
    adv: Decimal,
    max_participation_pct: float | Decimal,
    interval_seconds: float | Decimal,
    *,
    session_seconds: float | Decimal = US_SESSION_SECONDS,
    lot: Decimal = Decimal(1),
) -> Decimal:
    """The largest child for one interval: pct × ADV × interval / session, down to whole lots, at least one lot."""
    volume = _positive(adv, "adv", "pass the average daily volume in shares (contracts)")
    pct = _positive(max_participation_pct, "max_participation_pct", "pass a fraction such as 0.1 for 10%")
    interval = _positive(interval_seconds, "interval_seconds", "pass the slice interval in seconds, e.g. 60")
    session = _positive(session_seconds, "session_seconds", "pass the session length in seconds, e.g. 23400")
    step = _positive(lot, "lot", "pass the lot size, e.g. 1")
    if pct > 1:
        raise ValidationError(
            f"must be a fraction in (0, 1], got {pct}", field="max_participation_pct", value=pct, hint="e.g. 0.1"
        )
    expected = pct * volume * interval / session
    cap = (expected / step).to_integral_value(rounding=ROUND_FLOOR) * step
    return max(cap, step)


def participation_schedule(
    quantity: Decimal,
    adv: Decimal,
    max_participation_pct: float | Decimal,
    interval_seconds: float | Decimal,
    *,
    session_seconds: float | Decimal = US_SESSION_SECONDS,
    lot: Decimal = Decimal(1),
    max_children: int = 10_000,
) -> list[Decimal]:
    """Child quantities, one per interval, each at most the cap and summing exactly to ``quantity``."""
    total = _positive(quantity, "quantity", "pass a positive quantity")
    step = _positive(lot, "lot", "pass the lot size, e.g. 1")
    if total % step != 0:
        raise ValidationError(
            f"{total} is not a multiple of the lot size {step}",
            field="quantity",
            value=total,
            hint="round the quantity to whole lots first",
        )
    cap = participation_cap(adv, max_participation_pct, interval_seconds, session_seconds=session_seconds, lot=step)
    if total <= cap:
        return [total]
    full, rest = divmod(total, cap)
    count = int(full) + (1 if rest else 0)
    if count > max_children:
        raise ValidationError(
            f"slicing {total} at {cap} per interval needs {count} children, more than {max_children}",
            field="quantity",
            value=total,
            hint="trade a smaller quantity, raise risk.max_participation_pct or risk.participation_interval",
        )
    children = [cap] * int(full)
    if rest:
        children.append(rest)
    return children


def needs_slicing(
    quantity: Decimal,
    adv: Decimal | None,
    settings: RiskSettings,
    *,
    session_seconds: float | Decimal = US_SESSION_SECONDS,
    lot: Decimal = Decimal(1),
) -> bool:
    """True when the ``participation`` rule is on, the ADV is known and ``quantity`` exceeds one interval's cap."""
    if not settings.rule_enabled("participation") or adv is None or finite(adv) is None or adv <= 0:
        return False
    cap = participation_cap(
        adv,
        Decimal(repr(settings.max_participation_pct)),
        Decimal(repr(settings.participation_interval)),
        session_seconds=session_seconds,
        lot=lot,
    )
    return quantity > cap


def slice_quantity(
    quantity: Decimal,
    adv: Decimal | None,
    settings: RiskSettings,
    *,
    session_seconds: float | Decimal = US_SESSION_SECONDS,
    lot: Decimal = Decimal(1),
) -> list[Decimal]:
    """The schedule from ``settings`` when the order needs slicing, else ``[quantity]``."""
    if adv is None or not needs_slicing(quantity, adv, settings, session_seconds=session_seconds, lot=lot):
        return [quantity]
    return participation_schedule(
        quantity,
        adv,
        Decimal(repr(settings.max_participation_pct)),
        Decimal(repr(settings.participation_interval)),
        session_seconds=session_seconds,
        lot=lot,
    )
