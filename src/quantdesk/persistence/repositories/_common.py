"""Helpers shared by the repositories: exact-decimal tidying, JSON text columns, filters and errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, or_
from sqlalchemy.orm import InstrumentedAttribute

from quantdesk.errors import NotFound, ValidationError

__all__ = [
    "dumps",
    "loads",
    "newest",
    "not_found",
    "now",
    "plain",
    "plain_or_none",
    "symbol_clause",
    "text_or_json",
    "utc",
]

AnySelect = TypeVar("AnySelect", bound=Select[*tuple[Any, ...]])


def plain(value: Decimal) -> Decimal:
    """The same number without trailing zeros or exponent (PostgreSQL returns NUMERIC(38, 12) padded to 12 places)."""
    if value == 0:
        return Decimal(0)
    return Decimal(format(value.normalize(), "f"))


def plain_or_none(value: Decimal | None) -> Decimal | None:
    """``plain`` that lets ``None`` through."""
    return None if value is None else plain(value)


def utc(ts: datetime, field: str = "ts") -> datetime:
    """Require an aware timestamp and return it in UTC."""
    if not isinstance(ts, datetime) or ts.tzinfo is None or ts.utcoffset() is None:
        raise ValidationError(
            f"must be a timezone-aware datetime, got {ts!r}",
            field=field,
            value=ts,
            hint="pass datetime(..., tzinfo=UTC)",
        )
    return ts.astimezone(UTC)


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def dumps(document: Mapping[str, Any]) -> str:
    """Compact, sorted JSON; decimals, times and other values are written as text."""
    return json.dumps(document, separators=(",", ":"), sort_keys=True, default=str)


def loads(text: str | None) -> dict[str, Any] | None:
    """The JSON object stored by ``dumps`` (``None`` stays ``None``)."""
    if text is None:
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else {"value": value}


def text_or_json(value: str | Mapping[str, Any] | None) -> str | None:
    """Store text as it is and a mapping as ``dumps`` JSON."""
    if value is None or isinstance(value, str):
        return value
    return dumps(value)


def symbol_clause(column: InstrumentedAttribute[str], symbol: str) -> ColumnElement[bool]:
    """Match an instrument id exactly, or every instrument of a symbol (``AAPL`` matches ``AAPL.STK.SMART.USD``)."""
    wanted = symbol.strip().upper()
    escaped = wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(column == wanted, column.like(f"{escaped}.%", escape="\\"))


def not_found(what: str, field: str, value: object, hint: str) -> NotFound:
    """A ``NotFound`` naming the field and the fix."""
    return NotFound(f"no {what} {value}", field=field, value=str(value), hint=hint)


def newest(stmt: AnySelect, limit: int | None, *order: Any) -> AnySelect:
    """Order by ``order`` ascending; with a ``limit``, descending and limited (reverse the rows to get oldest first)."""
    if limit is None:
        return stmt.order_by(*order)
    return stmt.order_by(*(o.desc() for o in order)).limit(limit)
