"""Exact values: prices, quantities and money as ``Decimal``, currencies as validated ISO codes.

Constructors across the domain accept ``int``, ``str``, ``float`` or ``Decimal`` and convert with the helpers here,
which refuse NaN, infinities and booleans and name the field at fault.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

from quantdesk.errors import ValidationError

__all__ = [
    "USD",
    "ZERO",
    "Currency",
    "Money",
    "Numeric",
    "Price",
    "Quantity",
    "to_decimal",
    "to_non_negative",
    "to_positive",
]

Numeric: TypeAlias = int | float | str | Decimal
Price: TypeAlias = Decimal
Quantity: TypeAlias = Decimal

ZERO = Decimal(0)


def to_decimal(value: Numeric, field: str) -> Decimal:
    """Convert ``value`` to a finite ``Decimal``; floats go through ``repr`` so 0.1 stays 0.1."""
    if type(value) is Decimal and value.is_finite():  # the common case, and Decimal(value) would be an equal copy
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValidationError(
            f"must be a number, got {type(value).__name__} {value!r}",
            field=field,
            value=value,
            hint="pass an int, float, Decimal or numeric string",
        )
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(
                f"must be a finite number, got {value!r}", field=field, value=value, hint="pass a real price"
            )
        result = Decimal(repr(value))
    else:
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise ValidationError(
                f"is not a number: {value!r}", field=field, value=value, hint="pass a numeric value such as 101.25"
            ) from None
    if not result.is_finite():
        raise ValidationError(
            f"must be a finite number, got {value!r}", field=field, value=value, hint="pass a real value"
        )
    return result


def to_positive(value: Numeric, field: str) -> Decimal:
    """Convert and require ``> 0``."""
    result = to_decimal(value, field)
    if result <= 0:
        raise ValidationError(
            f"must be greater than zero, got {result}", field=field, value=value, hint="pass a positive value"
        )
    return result


def to_non_negative(value: Numeric, field: str) -> Decimal:
    """Convert and require ``>= 0``."""
    result = to_decimal(value, field)
    if result < 0:
        raise ValidationError(
            f"must not be negative, got {result}", field=field, value=value, hint="pass zero or a positive value"
        )
    return result


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency code such as ``USD`` (three upper-case letters)."""

    code: str

    def __post_init__(self) -> None:
        code = self.code
        if not (isinstance(code, str) and len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()):
            raise ValidationError(
                f"is not an ISO 4217 currency code: {code!r}",
                field="currency",
                value=code,
                hint="use three upper-case letters such as USD, EUR or GBP",
            )

    def __str__(self) -> str:
        return self.code

    @classmethod
    def of(cls, value: Currency | str) -> Currency:
        """Accept a ``Currency`` or its code."""
        return value if isinstance(value, Currency) else cls(value)


USD = Currency("USD")


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency; arithmetic across currencies raises instead of mixing them."""

    amount: Decimal
    currency: Currency

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount, "amount"))
        object.__setattr__(self, "currency", Currency.of(self.currency))

    @classmethod
    def of(cls, amount: Numeric, currency: Currency | str = "USD") -> Money:
        """Build from any numeric and a currency or its code."""
        return cls(to_decimal(amount, "amount"), Currency.of(currency))

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValidationError(
                f"cannot combine {self.currency} with {other.currency}",
                field="currency",
                value=other.currency.code,
                hint="convert to one currency first",
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        return Money(self.amount * Decimal(factor), self.currency)

    def __str__(self) -> str:
        return f"{self.amount:,.2f} {self.currency}"
