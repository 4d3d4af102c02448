"""Pre-trade rules about size: max position, max order notional, max gross exposure (amount) and max leverage.

Amounts are in the instrument's currency and compared with limits in the base currency: the context carries no
exchange rates, so an order in another currency than the base is compared at par. Reducing orders (toward a flat
position, never through it) always pass the position and exposure rules; the order-notional limit applies to all.
"""

from __future__ import annotations

from decimal import Decimal

from quantdesk.risk._text import money, percent, quantity
from quantdesk.risk.checks import violation
from quantdesk.risk.context import RiskViolation
from quantdesk.risk.facts import OrderFacts
from quantdesk.risk.limits import RiskLimits

__all__ = ["check_max_gross_exposure", "check_max_leverage", "check_max_order_notional", "check_max_position"]


def _unvalued(rule: str, facts: OrderFacts, limit: str) -> RiskViolation:
    qty = "a malformed quantity" if facts.quantity is None else "no price (no limit, stop or last price)"
    return violation(
        rule,
        limit,
        "unknown",
        f"{facts.label} cannot be valued ({qty}), so the limit {limit} cannot be checked",
        "subscribe to the instrument's market data or send a limit order",
    )


def _nlv(facts: OrderFacts) -> Decimal | None:
    nlv = facts.ctx.net_liquidation
    return nlv if nlv is not None and nlv.is_finite() and nlv > 0 else None


def _no_nlv(rule: str, facts: OrderFacts, limit: str) -> RiskViolation:
    return violation(
        rule,
        limit,
        f"net liquidation {facts.ctx.net_liquidation}",
        f"net liquidation is {facts.ctx.net_liquidation} (unknown or not positive), so the limit {limit} "
        "cannot be checked",
        "wait for the account summary after connecting, or fix the account's net liquidation",
    )


def check_max_order_notional(facts: OrderFacts, limits: RiskLimits) -> RiskViolation | None:
    """No single order above risk.max_order_notional."""
    limit = limits.max_order_notional
    ccy = facts.currency
    notional = facts.notional
    if notional is None:
        return _unvalued("max_order_notional", facts, money(limit, ccy))
    if notional <= limit:
        return None
    return violation(
        "max_order_notional",
        money(limit, ccy),
        money(notional, ccy),
        f"order notional {money(notional, ccy)} is above the limit {money(limit, ccy)} ({facts.label})",
        "split the order or lower its quantity, or raise risk.max_order_notional",
    )


def check_max_position(facts: OrderFacts, limits: RiskLimits) -> RiskViolation | None:
    """|position + working + order| × price × multiplier at most risk.max_position_pct of net liquidation."""
    if facts.reducing:
        return None
    pct, ccy = limits.max_position_pct, facts.currency
    limit_text = f"{percent(pct)} of net liquidation"
    nlv, mark = _nlv(facts), facts.mark
    if nlv is None:
        return _no_nlv("max_position", facts, limit_text)
    if mark is None or facts.quantity is None:
        return _unvalued("max_position", facts, limit_text)
    value = abs(facts.after) * mark * facts.order.instrument.multiplier
    cap = pct * nlv
    if value <= cap:
        return None
    share = value / nlv
    return violation(
        "max_position",
        f"{limit_text} = {money(cap, ccy)}",
        f"{money(value, ccy)} ({percent(share)})",
        f"position after the order {quantity(facts.after)} {facts.order.instrument.id} worth {money(value, ccy)} "
        f"is {percent(share)} of net liquidation, above the limit {percent(pct)} ({money(cap, ccy)})",
        "lower the quantity, or raise risk.max_position_pct",
    )


def _gross_after(facts: OrderFacts, notional: Decimal) -> tuple[Decimal, str]:
    ctx, ccy = facts.ctx, facts.currency
    total = ctx.gross_exposure + ctx.working_gross + notional
    parts = (
        f"positions {money(ctx.gross_exposure, ccy)} + working {money(ctx.working_gross, ccy)} "
        f"+ this order {money(notional, ccy)}"
    )
    return total, parts


def check_max_gross_exposure(facts: OrderFacts, limits: RiskLimits) -> RiskViolation | None:
    """Gross exposure after the order at most risk.max_gross_exposure_amount (when set)."""
    amount = limits.max_gross_exposure_amount
    if amount is None or facts.reducing:
        return None
    ccy = facts.currency
    if facts.notional is None:
        return _unvalued("max_gross_exposure", facts, money(amount, ccy))
    total, parts = _gross_after(facts, facts.notional)
    if total <= amount:
        return None
    return violation(
        "max_gross_exposure",
        money(amount, ccy),
        money(total, ccy),
        f"gross exposure after the order {money(total, ccy)} ({parts}) is above the limit {money(amount, ccy)}",
        "reduce other positions first or lower the quantity, or raise risk.max_gross_exposure_amount",
    )


def check_max_leverage(facts: OrderFacts, limits: RiskLimits) -> RiskViolation | None:
    """Gross exposure after the order at most risk.max_gross_exposure × net liquidation."""
    if facts.reducing:
        return None
    multiple, ccy = limits.max_gross_exposure, facts.currency
    limit_text = f"{multiple.normalize():f}× net liquidation"
    nlv = _nlv(facts)
    if nlv is None:
        return _no_nlv("max_leverage", facts, limit_text)
    if facts.notional is None:
        return _unvalued("max_leverage", facts, limit_text)
    total, parts = _gross_after(facts, facts.notional)
    cap = multiple * nlv
    if total <= cap:
        return None
    leverage = total / nlv
    return violation(
        "max_leverage",
        f"{limit_text} = {money(cap, ccy)}",
        f"{leverage:.2f}× ({money(total, ccy)})",
        f"gross exposure after the order {money(total, ccy)} ({parts}) is {leverage:.2f}× net liquidation, "
        f"above the limit {limit_text} ({money(cap, ccy)})",
        "reduce other positions first or lower the quantity, or raise risk.max_gross_exposure",
    )
