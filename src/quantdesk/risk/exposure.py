"""Pre-trade rules about size: max position, max order notional, max gross exposure (amount) and max leverage.

Limits are in the account's base currency. An order's amounts are in its instrument's currency and converted at
the account's exchange rate; without a rate the rules refuse (and say which rate is missing) rather than compare
amounts in different currencies. Reducing orders (toward a flat position, never through it) always pass the
position and exposure rules; the order-notional limit applies to all.
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
    if facts.quantity is not None and facts.price is not None and facts.rate is None:
        return _no_rate(rule, facts, limit)
    qty = "a malformed quantity" if facts.quantity is None else "no price (no limit, stop or last price)"
    return violation(
        rule,
        limit,
        "unknown",
        f"{facts.label} cannot be valued ({qty}), so the limit {limit} cannot be checked",
        "subscribe to the instrument's market data or send a limit order",
    )


def _no_rate(rule: str, facts: OrderFacts, limit: str) -> RiskViolation:
    """The refusal when the order's currency has no exchange rate into the base currency."""
    return violation(
        rule,
        limit,
        f"no {facts.currency}/{facts.base} rate",
        f"{facts.label} is in {facts.currency} and the account has no exchange rate from {facts.currency} to "
        f"{facts.base}, so the limit {limit} cannot be checked",
        f"wait for the account summary (IB sends an ExchangeRate for every currency the account holds), or hold "
        f"some {facts.currency} so the account reports its rate",
    )


def _unconverted(rule: str, facts: OrderFacts, limit: str) -> RiskViolation | None:
    """The refusal when held or working instruments could not be valued in the base currency."""
    missing = facts.ctx.unconverted
    if not missing:
        return None
    names = ", ".join(f"{iid} ({ccy})" for iid, ccy in sorted(missing.items(), key=lambda kv: kv[0].value))
    currencies = ", ".join(sorted(set(missing.values())))
    return violation(
        rule,
        limit,
        f"no {currencies}/{facts.base} rate",
        f"gross exposure cannot be valued in {facts.base}: no exchange rate for {names}, so the limit {limit} "
        "cannot be checked",
        "wait for the account summary, which carries the exchange rate of every currency the account holds",
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
    ccy = facts.base
    notional = facts.notional
    value = None if notional is None else facts.in_base(notional)
    if notional is None or value is None:
        return _unvalued("max_order_notional", facts, money(limit, ccy))
    if value <= limit:
        return None
    return violation(
        "max_order_notional",
        money(limit, ccy),
        money(value, ccy),
        f"order notional {facts.amount_text(notional)} is above the limit {money(limit, ccy)} ({facts.label})",
        "split the order or lower its quantity, or raise risk.max_order_notional",
    )


def check_max_position(facts: OrderFacts, limits: RiskLimits) -> RiskViolation | None:
    """|position + working + order| × price × multiplier at most risk.max_position_pct of net liquidation."""
    if facts.reducing:
        return None
    pct, ccy = limits.max_position_pct, facts.base
    limit_text = f"{percent(pct)} of net liquidation"
    nlv, mark = _nlv(facts), facts.mark
    if nlv is None:
        return _no_nlv("max_position", facts, limit_text)
    if mark is None or facts.quantity is None or facts.rate is None:
        return _unvalued("max_position", facts, limit_text)
    local = abs(facts.after) * mark * facts.order.instrument.multiplier
    value = local * facts.rate
    cap = pct * nlv
    if value <= cap:
        return None
    share = value / nlv
    return violation(
        "max_position",
        f"{limit_text} = {money(cap, ccy)}",
        f"{money(value, ccy)} ({percent(share)})",
        f"position after the order {quantity(facts.after)} {facts.order.instrument.id} worth "
        f"{facts.amount_text(local)} is {percent(share)} of net liquidation, "
        f"above the limit {percent(pct)} ({money(cap, ccy)})",
        "lower the quantity, or raise risk.max_position_pct",
    )


def _gross_after(facts: OrderFacts, notional: Decimal) -> tuple[Decimal, str]:
    """Gross exposure after the order (``notional`` in the base currency), and the sum spelled out."""
    ctx, ccy = facts.ctx, facts.base
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
    ccy = facts.base
    notional = None if facts.notional is None else facts.in_base(facts.notional)
    if notional is None:
        return _unvalued("max_gross_exposure", facts, money(amount, ccy))
    if (refused := _unconverted("max_gross_exposure", facts, money(amount, ccy))) is not None:
        return refused
    total, parts = _gross_after(facts, notional)
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
    multiple, ccy = limits.max_gross_exposure, facts.base
    limit_text = f"{multiple.normalize():f}× net liquidation"
    nlv = _nlv(facts)
    if nlv is None:
        return _no_nlv("max_leverage", facts, limit_text)
    notional = None if facts.notional is None else facts.in_base(facts.notional)
    if notional is None:
        return _unvalued("max_leverage", facts, limit_text)
    if (refused := _unconverted("max_leverage", facts, limit_text)) is not None:
        return refused
    total, parts = _gross_after(facts, notional)
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
