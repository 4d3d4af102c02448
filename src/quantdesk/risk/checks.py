"""Pre-trade rules about the order itself: sanity, price band, trades per day, short selling, restricted symbols,
and the kill-switch gate.

Each rule is a function ``(facts, limits) -> RiskViolation | None`` named after its rule in ``RISK_RULES``. The
exposure rules live in ``quantdesk.risk.exposure`` and the trading-hours rule in ``quantdesk.risk.hours``.
"""

from __future__ import annotations

from collections.abc import Callable

from quantdesk.domain.orders import Order
from quantdesk.domain.trading_state import TradingState
from quantdesk.risk._text import percent, price, quantity
from quantdesk.risk.context import ZERO, RiskViolation
from quantdesk.risk.facts import OrderFacts, finite
from quantdesk.risk.limits import RiskLimits

__all__ = [
    "Check",
    "check_kill_switch",
    "check_max_trades_per_day",
    "check_order_sanity",
    "check_price_band",
    "check_restricted_symbols",
    "check_short_selling",
    "violation",
]

Check = Callable[[OrderFacts, RiskLimits], RiskViolation | None]
"""A pre-trade rule: the violation it finds, or None."""

_TICK_FIELDS = ("limit_price", "stop_price", "trailing_amount", "discretionary_amount")


def violation(rule: str, limit: str, actual: str, message: str, hint: str) -> RiskViolation:
    """A violation whose message starts with the rule name."""
    return RiskViolation(rule, limit, actual, f"{rule}: {message}", hint)


def _disable(rule: str) -> str:
    return f'or add "{rule}" to risk.disabled_rules'


# --- kill switch (not disableable) -------------------------------------------------------------------------------


def check_kill_switch(facts: OrderFacts, limits: RiskLimits) -> RiskViolation | None:
    """HALTED refuses every order; REDUCING refuses orders that do not shrink |position + working|."""
    state = facts.ctx.trading_state
    if state is TradingState.ACTIVE:
        return None
    if state is TradingState.HALTED:
        return violation(
            "kill_switch",
            "HALTED: no new orders",
            facts.label,
            f"trading is HALTED, so {facts.label} is refused",
            "find the cause, then resume trading (quantdesk kill-switch resume)",
        )
    if facts.reducing:
        return None
    before, after = quantity(facts.before), quantity(facts.after)
    return violation(
        "kill_switch",
        "REDUCING: |position + working| must shrink",
        f"{before} -> {after}",
        f"trading is REDUCING (only risk-reducing orders), and {facts.label} takes position + working "
        f"from {before} to {after}",
        "send an order that reduces the position without reversing it, or resume trading once the cause is fixed",
    )


# --- order sanity --------------------------------------------------------------------------------------------------


def _price_problem(order: Order, name: str) -> RiskViolation | None:
    raw = getattr(order, name)
    if raw is None:
        return None
    value = finite(raw)
    inst = order.instrument
    if value is None or value <= 0:
        return violation(
            "order_sanity",
            "finite and > 0",
            str(raw),
            f"{name} {raw} of {order.instrument.id} is not a positive finite number",
            f"pass a positive {name}",
        )
    if value % inst.tick_size != 0:
        nearest = inst.round_to_tick(value)
        return violation(
            "order_sanity",
            f"a multiple of the tick size {price(inst.tick_size)}",
            price(value),
            f"{name} {price(value)} is not on the tick grid of {inst.id} (tick size {price(inst.tick_size)})",
            f"round it with instrument.round_to_tick (nearest: {price(nearest)})",
        )
    return None


def _quantity_problem(order: Order) -> RiskViolation | None:
    raw = order.quantity
    value = finite(raw)
    inst = order.instrument
    if value is None or value <= 0:
        return violation(
            "order_sanity",
            "finite and > 0",
            str(raw),
            f"quantity {raw} of {order.side.value} {inst.id} is not a positive finite number",
            "pass a positive quantity; the side carries the direction",
        )
    if value % inst.lot_size != 0:  # a whole lot size (no fractions) also refuses fractional quantities
        return violation(
            "order_sanity",
            f"a multiple of the lot size {quantity(inst.lot_size)}",
            quantity(value),
            f"quantity {quantity(value)} is not a multiple of the lot size {quantity(inst.lot_size)} of {inst.id}",
            "round the quantity to whole lots",
        )
    return None


def check_order_sanity(facts: OrderFacts, limits: RiskLimits) -> RiskViolation | None:
    """Quantity and prices positive, finite, on the lot and tick grids; a market order needs a last price to value."""
    order = facts.order
    problem = _quantity_problem(order)
    if problem is not None:
        return problem
    for name in _TICK_FIELDS:
        problem = _price_problem(order, name)
        if problem is not None:
            return problem
    pct = order.trailing_percent
    if pct is not None and ((value := finite(pct)) is None or not 0 < value < 100):
        return violation(
            "order_sanity",
            "in (0, 100)",
            str(pct),
            f"trailing_percent {pct} of {order.instrument.id} is not a percentage in (0, 100)",
            "pass e.g. 2.5 for 2.5%",
        )
    offset = order.limit_offset
    if offset is not None and ((value := finite(offset)) is None or value < 0):
        return violation(
            "order_sanity",
            "finite and >= 0",
            str(offset),
            f"limit_offset {offset} of {order.instrument.id} is not a non-negative finite number",
            "pass a non-negative limit_offset",
        )
    if limits.needs_price and facts.price is None:
        return violation(
            "order_sanity",
            "a last price to value the order",
            "no last price",
            f"no last price for {order.instrument.id}, so the {order.order_type.label} order cannot be valued "
            "for the notional limits",
            "subscribe to its market data or send a limit order, or name the notional rules (max_position, "
            "max_order_notional, max_gross_exposure, max_leverage) in risk.disabled_rules",
        )
    return None


# --- price band (fat finger) ---------------------------------------------------------------------------------------


def check_price_band(facts: OrderFacts, limits: RiskLimits) -> RiskViolation | None:
    """Limit and stop prices within ±risk.price_band_pct of the last price; no last price, no priced order."""
    order = facts.order
    band = limits.price_band_pct
    for name in ("limit_price", "stop_price"):
        value = finite(getattr(order, name))
        if value is None:
            continue
        last = facts.last
        if last is None:
            return violation(
                "price_band",
                f"within {percent(band)} of the last price",
                "no last price",
                f"no last price for {order.instrument.id} to compare {name} {price(value)} with",
                "subscribe to its market data, " + _disable("price_band"),
            )
        deviation = abs(value - last) / last
        if deviation > band:
            low, high = last * (1 - band), last * (1 + band)
            return violation(
                "price_band",
                f"±{percent(band)} of {price(last)} ({low:.2f} to {high:.2f})",
                f"{price(value)} ({percent(deviation)} away)",
                f"{name} {price(value)} is {percent(deviation)} away from the last price {price(last)} of "
                f"{order.instrument.id}, beyond the band ±{percent(band)}",
                "check the price (fat finger?), or widen risk.price_band_pct",
            )
    return None


# --- trades per day, short selling, restricted symbols ------------------------------------------------------------


def check_max_trades_per_day(facts: OrderFacts, limits: RiskLimits) -> RiskViolation | None:
    """At most risk.max_trades_per_day accepted orders a day."""
    count = facts.ctx.trades_today + 1
    if count <= limits.max_trades_per_day:
        return None
    return violation(
        "max_trades_per_day",
        str(limits.max_trades_per_day),
        str(count),
        f"{facts.label} would be order {count} today, above the limit {limits.max_trades_per_day}",
        "wait for the next trading day, or raise risk.max_trades_per_day",
    )


def check_short_selling(facts: OrderFacts, limits: RiskLimits) -> RiskViolation | None:
    """No sell beyond the long position net of working sells, unless risk.allow_short_selling."""
    order, qty = facts.order, facts.quantity
    if limits.allow_short_selling or not order.is_sell or qty is None:
        return None
    iid = order.instrument.id
    held = facts.ctx.positions.get(iid, ZERO)
    selling = min(facts.ctx.working.get(iid, ZERO), ZERO)
    after = held + selling - qty
    if after >= 0:
        return None
    available = max(held + selling, ZERO)
    return violation(
        "short_selling",
        "no short position (short selling is off)",
        quantity(after),
        f"{facts.label} would leave {quantity(after)} (held {quantity(held)}, working sells "
        f"{quantity(-selling)}), and short selling is off",
        f"sell at most {quantity(available)}, or set risk.allow_short_selling = true",
    )


def check_restricted_symbols(facts: OrderFacts, limits: RiskLimits) -> RiskViolation | None:
    """No order in a symbol of risk.restricted_symbols."""
    symbol = facts.order.instrument.symbol.upper()
    if symbol not in limits.restricted_symbols:
        return None
    return violation(
        "restricted_symbols",
        "not in risk.restricted_symbols",
        symbol,
        f"{symbol} is on the restricted list, so {facts.label} is refused",
        f"remove {symbol} from risk.restricted_symbols if it may be traded again",
    )
