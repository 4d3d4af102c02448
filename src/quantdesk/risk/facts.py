"""``OrderFacts``: what every check needs about one order, computed once (price, notional, exposure before/after).

The order's *price* is its limit price, else its stop price, else the last price; its *notional* is
quantity × price × multiplier in the instrument's currency, and :meth:`OrderFacts.in_base` converts such an amount
into the account's base currency, where the limits are. *Exposure* is position plus working orders (signed);
an order is *reducing* when it moves that exposure toward zero without crossing it.

Orders normally arrive validated, but the checks do not trust that: a quantity or price that is not a finite
``Decimal`` leaves ``quantity``/``price``/``notional`` as ``None`` instead of raising, and the rules refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from quantdesk.domain.orders import Order
from quantdesk.risk._text import money
from quantdesk.risk.context import ZERO, RiskContext

__all__ = ["OrderFacts", "finite", "is_reducing"]


def finite(value: object) -> Decimal | None:
    """``value`` as a finite ``Decimal``, or None (NaN, infinity, not a number)."""
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, float):
        result = Decimal(repr(value))
        return result if result.is_finite() else None
    return None


def _positive(value: object) -> Decimal | None:
    result = finite(value)
    return result if result is not None and result > 0 else None


def is_reducing(before: Decimal, after: Decimal) -> bool:
    """True when ``after`` lies strictly closer to zero than ``before`` on the same side (or at zero)."""
    if before > 0:
        return 0 <= after < before
    if before < 0:
        return before < after <= 0
    return False


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """One order in its context, with the derived numbers every rule reads."""

    order: Order
    ctx: RiskContext
    quantity: Decimal | None
    last: Decimal | None
    price: Decimal | None
    notional: Decimal | None
    before: Decimal
    after: Decimal
    reducing: bool
    rate: Decimal | None

    @classmethod
    def of(cls, order: Order, ctx: RiskContext) -> OrderFacts:
        """Derive the facts; never raises on malformed numbers (they become ``None``)."""
        inst = order.instrument
        iid = inst.id
        qty = _positive(order.quantity)
        last = _positive(ctx.last_prices.get(iid))
        price = _positive(order.limit_price) or _positive(order.stop_price) or last
        notional = None if qty is None or price is None else qty * price * inst.multiplier
        before = ctx.positions.get(iid, ZERO) + ctx.working.get(iid, ZERO)
        after = before if qty is None else before + (qty if order.is_buy else -qty)
        reducing = qty is not None and is_reducing(before, after)
        rate = ctx.rate(inst.currency.code)
        return cls(order, ctx, qty, last, price, notional, before, after, reducing, rate)

    @property
    def mark(self) -> Decimal | None:
        """The price positions are valued at: the last price, else the order's price."""
        return self.last if self.last is not None else self.price

    @property
    def currency(self) -> str:
        """The instrument's currency code."""
        return self.order.instrument.currency.code

    @property
    def base(self) -> str:
        """The currency the limits are in: the account's base, else the instrument's."""
        return self.ctx.base_currency or self.currency

    def in_base(self, amount: Decimal) -> Decimal | None:
        """An amount in the instrument's currency, in the base currency (None without an exchange rate)."""
        return None if self.rate is None else amount * self.rate

    def amount_text(self, amount: Decimal) -> str:
        """``64,800.00 USD (60,000.00 EUR at 1.08)`` for a converted amount, ``60,000.00 USD`` otherwise."""
        if self.currency == self.base or self.rate is None:
            return money(amount, self.currency)
        return f"{money(amount * self.rate, self.base)} ({money(amount, self.currency)} at {self.rate.normalize():f})"

    @property
    def label(self) -> str:
        """``BUY 100 AAPL.STK.SMART.USD``, for messages."""
        qty = "?" if self.quantity is None else f"{self.quantity.normalize():f}"
        return f"{self.order.side.value} {qty} {self.order.instrument.id}"
