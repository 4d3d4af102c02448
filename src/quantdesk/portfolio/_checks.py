"""Small validators shared by the spec: numbers in a range and symbol→weight mappings, failing with the fix."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from quantdesk.errors import ValidationError

__all__ = ["fail", "number", "weights_map"]


def fail(field: str, message: str, value: Any, hint: str) -> ValidationError:
    """A ValidationError naming ``field`` and the fix."""
    return ValidationError(message, field=field, value=value, hint=hint)


def number(
    value: Any,
    field: str,
    *,
    low: float | None = None,
    high: float | None = None,
    open_low: bool = False,
    hint: str = "",
) -> float:
    """``value`` as a float in ``[low, high]`` (``(low, high]`` with ``open_low``), or a ValidationError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise fail(field, f"must be a finite number, got {value!r}", value, hint or "pass a number")
    result = float(value)
    too_low = low is not None and (result <= low if open_low else result < low)
    if too_low or (high is not None and result > high):
        lo = "-inf" if low is None else f"{low:g}"
        bracket = "(" if open_low else "["
        raise fail(
            field,
            f"{result:g} lies outside {bracket}{lo}, {high if high is not None else 'inf'}]",
            value,
            hint or "pass a value in range",
        )
    return result


def weights_map(value: Any, field: str) -> Mapping[str, float]:
    """A read-only ``{symbol: weight}`` from a mapping or Series, each weight in [-1, 1]."""
    items = value.items() if hasattr(value, "items") else None
    if items is None:
        raise fail(
            field,
            f"must map symbol to weight, got {type(value).__name__}",
            value,
            "pass {'AAPL': 0.05, ...} or a pandas Series indexed by symbol",
        )
    clean = {
        str(k): number(v, f"{field}[{k}]", low=-1.0, high=1.0, hint="weights are fractions: 0.05 = 5 %")
        for k, v in items
    }
    return MappingProxyType(clean)
