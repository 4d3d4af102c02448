"""How risk messages write numbers: amounts with thousands separators, quantities as given, short percentages."""

from __future__ import annotations

from decimal import Decimal

__all__ = ["money", "percent", "price", "quantity", "seconds"]


def money(amount: Decimal, currency: str) -> str:
    """``250,000.00 USD``."""
    return f"{amount:,.2f} {currency}"


def quantity(value: Decimal) -> str:
    """``1,200`` or ``0.5``: no exponent, no trailing zeros."""
    return f"{value.normalize():,f}" if value.is_finite() else str(value)


def price(value: Decimal) -> str:
    """A price exactly as it is (``101.25``)."""
    return f"{value:f}" if value.is_finite() else str(value)


def percent(fraction: Decimal | float) -> str:
    """``12.5%`` from 0.125, with at most two decimals and no trailing zeros."""
    text = f"{Decimal(str(fraction)) * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def seconds(value: float) -> str:
    """``75s`` or ``2.5s``."""
    return f"{value:.1f}".rstrip("0").rstrip(".") + "s"
