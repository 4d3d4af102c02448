"""Positions built from fills: signed quantity, average cost, realised P&L and commissions, all exact.

The position keeps its open cost as ``cost_basis`` (Σ signed quantity × price of the open lots, without the
multiplier) rather than the average, so unrealised P&L and cash always reconcile to the cent: with ``cash`` moved
by every fill, ``cash + market_value − initial cash == realised + unrealised − commissions`` holds exactly.
Reducing a position takes a proportional share of the cost, rounded to ``COST_QUANTUM`` when it does not divide.
A position does not de-duplicate fills: ``OrderState.apply_fill`` (by execution id) is the guard.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import Enum

from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import InstrumentId
from quantdesk.domain.market import require_utc
from quantdesk.domain.values import USD, ZERO, Currency, Money, Numeric, to_decimal, to_positive
from quantdesk.errors import ValidationError

__all__ = ["COST_QUANTUM", "Position", "PositionSide", "apply_fills"]

COST_QUANTUM = Decimal("1e-12")
_QUANTUM_EXPONENT = -12
"""Rounding step of the cost taken off by a partial close, when the proportional share does not divide exactly."""


class PositionSide(Enum):
    """Long, short or flat."""

    LONG = "LONG"
    SHORT = "SHORT"
    FLAT = "FLAT"


def _sign(x: Decimal) -> int:
    return (x > 0) - (x < 0)


def _share(total: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """``total × part / whole``, rounded to ``COST_QUANTUM`` when the division is not exact."""
    value = total * part / whole
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < _QUANTUM_EXPONENT:
        try:
            return value.quantize(COST_QUANTUM)
        except InvalidOperation:  # too many digits to quantize: keep the context's rounding
            return value
    return value


_ZERO_USD = Money(ZERO, USD)


@dataclass(frozen=True, slots=True)
class Position:
    """A position in one instrument: ``quantity`` > 0 long, < 0 short; ``apply`` returns a new position.

    ``realised_pnl`` is gross; ``commissions`` accumulates separately (positive is a cost). Both are in
    ``currency``; a zero default in another currency is re-expressed in it.
    """

    instrument_id: InstrumentId
    currency: Currency = USD
    multiplier: Decimal = Decimal(1)
    quantity: Decimal = ZERO
    cost_basis: Decimal = ZERO
    realised_pnl: Money = _ZERO_USD
    commissions: Money = _ZERO_USD
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.instrument_id, InstrumentId):
            raise ValidationError(
                f"must be an InstrumentId, got {self.instrument_id!r}",
                field="instrument_id",
                value=self.instrument_id,
                hint="wrap it in InstrumentId(...)",
            )
        object.__setattr__(self, "currency", Currency.of(self.currency))
        object.__setattr__(self, "multiplier", to_positive(self.multiplier, "multiplier"))
        object.__setattr__(self, "quantity", to_decimal(self.quantity, "quantity"))
        object.__setattr__(self, "cost_basis", to_decimal(self.cost_basis, "cost_basis"))
        if _sign(self.cost_basis) != _sign(self.quantity):
            raise ValidationError(
                f"cost basis {self.cost_basis} does not match quantity {self.quantity}",
                field="cost_basis",
                value=self.cost_basis,
                hint="cost basis is quantity × average cost: zero when flat, same sign as the quantity",
            )
        for name in ("realised_pnl", "commissions"):
            money = getattr(self, name)
            if isinstance(money, Money) and money.amount == 0:
                object.__setattr__(self, name, Money(ZERO, self.currency))
            elif not isinstance(money, Money) or money.currency != self.currency:
                raise ValidationError(
                    f"must be Money in {self.currency}, got {money!r}",
                    field=name,
                    value=money,
                    hint=f"pass Money.of(amount, {self.currency.code!r})",
                )
        if self.updated_at is not None:
            object.__setattr__(self, "updated_at", require_utc(self.updated_at, "updated_at"))

    @classmethod
    def flat(
        cls, instrument_id: InstrumentId | str, currency: Currency | str = USD, multiplier: Numeric = 1
    ) -> Position:
        """An empty position, ready to ``apply`` fills."""
        iid = instrument_id if isinstance(instrument_id, InstrumentId) else InstrumentId(instrument_id)
        return cls(iid, Currency.of(currency), to_decimal(multiplier, "multiplier"))

    @classmethod
    def opened(
        cls,
        instrument_id: InstrumentId | str,
        quantity: Numeric,
        average_cost: Numeric,
        *,
        currency: Currency | str = USD,
        multiplier: Numeric = 1,
    ) -> Position:
        """A position as a broker reports it: signed quantity and average cost per unit (without multiplier)."""
        qty = to_decimal(quantity, "quantity")
        avg = to_decimal(average_cost, "average_cost") if qty == 0 else to_positive(average_cost, "average_cost")
        iid = instrument_id if isinstance(instrument_id, InstrumentId) else InstrumentId(instrument_id)
        return cls(iid, Currency.of(currency), to_decimal(multiplier, "multiplier"), qty, qty * avg if qty else ZERO)

    @classmethod
    def from_fills(cls, fills: Iterable[Fill]) -> Position:
        """The position the fills build from flat; instrument, currency and multiplier come from the first fill."""
        items = list(fills)
        if not items:
            raise ValidationError(
                "cannot build a position from no fills",
                field="fills",
                value=items,
                hint="use Position.flat(instrument_id) for an empty position",
            )
        first = items[0]
        return apply_fills(cls(first.instrument_id, first.currency, first.multiplier), items)

    @property
    def side(self) -> PositionSide:
        """LONG, SHORT or FLAT."""
        if self.quantity > 0:
            return PositionSide.LONG
        return PositionSide.SHORT if self.quantity < 0 else PositionSide.FLAT

    @property
    def is_flat(self) -> bool:
        """True when nothing is held."""
        return self.quantity == 0

    @property
    def average_cost(self) -> Decimal:
        """Average open price per unit (without multiplier); zero when flat."""
        return ZERO if self.quantity == 0 else self.cost_basis / self.quantity

    @property
    def realised_pnl_net(self) -> Money:
        """Realised P&L minus commissions."""
        return self.realised_pnl - self.commissions

    def market_value(self, price: Numeric) -> Money:
        """Signed value at ``price``: quantity × price × multiplier."""
        px = to_positive(price, "price")
        return Money(self.quantity * px * self.multiplier, self.currency)

    def unrealised_pnl(self, price: Numeric) -> Money:
        """P&L of the open quantity if closed at ``price``."""
        px = to_positive(price, "price")
        return Money((self.quantity * px - self.cost_basis) * self.multiplier, self.currency)

    def _check(self, fill: Fill) -> None:
        for name, mine, theirs in (
            ("instrument_id", self.instrument_id, fill.instrument_id),
            ("currency", self.currency, fill.currency),
            ("multiplier", self.multiplier, fill.multiplier),
        ):
            if mine != theirs:
                raise ValidationError(
                    f"fill {fill.execution_id} has {name} {theirs}, the position has {mine}",
                    field=name,
                    value=theirs,
                    hint="apply a fill only to the position of its own instrument (convert currencies first)",
                )
        if fill.commission.amount != 0 and fill.commission.currency != self.currency:
            raise ValidationError(
                f"commission in {fill.commission.currency} on a {self.currency} position",
                field="commission",
                value=fill.commission,
                hint="convert the commission to the position's currency first",
            )

    def apply(self, fill: Fill) -> Position:
        """The position after ``fill``: open, add (weighted cost), reduce, close or reverse through zero."""
        self._check(fill)
        qty, cost, pnl = self.quantity, self.cost_basis, ZERO
        remaining = fill.quantity
        if qty != 0 and _sign(qty) != fill.side.sign:
            closed = min(remaining, abs(qty))
            removed = cost if closed == abs(qty) else _share(cost, closed, abs(qty))
            pnl = (_sign(qty) * closed * fill.price - removed) * self.multiplier
            qty += fill.side.sign * closed
            cost -= removed
            remaining -= closed
        if remaining > 0:
            qty += fill.side.sign * remaining
            cost += fill.side.sign * remaining * fill.price
        return replace(
            self,
            quantity=qty,
            cost_basis=cost,
            realised_pnl=self.realised_pnl + Money(pnl, self.currency),
            commissions=self.commissions + Money(fill.commission.amount, self.currency),
            updated_at=fill.ts if self.updated_at is None else max(self.updated_at, fill.ts),
        )

    def apply_commission(self, commission: Money) -> Position:
        """Add a commission that arrived after its fill (IB's commissionReport)."""
        if commission.amount != 0 and commission.currency != self.currency:
            raise ValidationError(
                f"commission in {commission.currency} on a {self.currency} position",
                field="commission",
                value=commission,
                hint="convert the commission to the position's currency first",
            )
        return replace(self, commissions=self.commissions + Money(commission.amount, self.currency))


def apply_fills(position: Position, fills: Iterable[Fill]) -> Position:
    """Apply ``fills`` in order to ``position``."""
    for fill in fills:
        position = position.apply(fill)
    return position
