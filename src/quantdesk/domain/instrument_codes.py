"""Instrument vocabulary and field rules: asset classes, option rights, security-id schemes, and the validators
for symbols, exchanges, expiries and CUSIP/ISIN check digits."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

from quantdesk.errors import ValidationError

__all__ = [
    "CUSIP_PATTERN",
    "EXCHANGE_PATTERN",
    "ISIN_PATTERN",
    "SYMBOL_PATTERN",
    "AssetClass",
    "OptionRight",
    "SecIdType",
    "cusip_is_valid",
    "isin_is_valid",
    "parse_expiry",
    "plain_decimal",
    "set_field",
    "validate_code",
]


class AssetClass(Enum):
    """The kind of instrument; values are IB's ``secType`` strings."""

    STOCK = "STK"
    OPTION = "OPT"
    FUTURE = "FUT"
    CONTINUOUS_FUTURE = "CONTFUT"
    FOREX = "CASH"
    BOND = "BOND"
    CFD = "CFD"
    INDEX = "IND"
    WARRANT = "WAR"
    CRYPTO = "CRYPTO"


class OptionRight(Enum):
    """Call or put, written as IB writes them (``C``/``P``)."""

    CALL = "C"
    PUT = "P"

    @classmethod
    def parse(cls, text: OptionRight | str) -> OptionRight:
        """Accept an ``OptionRight``, ``C``/``P`` or ``CALL``/``PUT`` in any case."""
        if isinstance(text, OptionRight):
            return text
        t = text.strip().upper() if isinstance(text, str) else ""
        if t in ("C", "CALL"):
            return cls.CALL
        if t in ("P", "PUT"):
            return cls.PUT
        raise ValidationError(f"unknown option right {text!r}", field="right", value=text, hint="use C/CALL or P/PUT")


class SecIdType(Enum):
    """Security identifier schemes a bond can be named by (IB ``secIdType``)."""

    CUSIP = "CUSIP"
    ISIN = "ISIN"


SYMBOL_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9._/\-]{0,31}$")
EXCHANGE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9._\-]{0,23}$")
CUSIP_PATTERN = re.compile(r"^[0-9A-Z*@#]{8}[0-9]$")
ISIN_PATTERN = re.compile(r"^[A-Z]{2}[0-9A-Z]{9}[0-9]$")


def set_field(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def validate_code(value: object, field_name: str, pattern: re.Pattern[str], example: str) -> str:
    """Validate a symbol-like code: a non-empty string without whitespace, returned upper case."""
    if not isinstance(value, str) or not value:
        raise ValidationError(
            f"must be a non-empty string, got {value!r}", field=field_name, value=value, hint=f"pass e.g. {example!r}"
        )
    if any(ch.isspace() for ch in value):
        raise ValidationError(
            f"must not contain whitespace, got {value!r}",
            field=field_name,
            value=value,
            hint=f"remove the spaces (e.g. {example!r}); write class shares as BRK.B",
        )
    upper = value.upper()
    if not pattern.match(upper):
        raise ValidationError(
            f"has unsupported characters or is too long: {value!r}",
            field=field_name,
            value=value,
            hint=f"use letters, digits and . _ / - such as {example!r}",
        )
    return upper


def parse_expiry(value: object, field_name: str = "expiry") -> date:
    """Accept a ``date`` or ``YYYYMMDD`` / ``YYYY-MM-DD`` text; refuse datetimes (which date would they mean?)."""
    if isinstance(value, datetime):
        raise ValidationError(
            f"must be a date, not a datetime: {value!r}", field=field_name, value=value, hint="pass value.date()"
        )
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        for fmt in ("%Y%m%d", "%Y-%m-%d"):
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                continue
    raise ValidationError(
        f"needs an expiry date, got {value!r}",
        field=field_name,
        value=value,
        hint="pass a datetime.date or 'YYYYMMDD' such as date(2025, 3, 21)",
    )


def plain_decimal(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: ``150``, ``152.5``."""
    return format(value.normalize(), "f")


def cusip_is_valid(code: str) -> bool:
    total = 0
    for i, ch in enumerate(code[:8]):
        v = int(ch) if ch.isdigit() else {"*": 36, "@": 37, "#": 38}.get(ch, ord(ch) - 55)
        if i % 2 == 1:
            v *= 2
        total += v // 10 + v % 10
    return (10 - total % 10) % 10 == int(code[8])


def isin_is_valid(code: str) -> bool:
    digits = "".join(str(int(ch, 36)) for ch in code)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        v = int(ch) * (2 if i % 2 == 1 else 1)
        total += v // 10 + v % 10
    return total % 10 == 0
