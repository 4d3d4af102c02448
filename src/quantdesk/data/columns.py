"""The bar frame's column names and timestamp unit: plain constants, importable without pandas."""

from __future__ import annotations

from typing import Final

__all__ = ["ADJUSTED", "BAR_COLUMNS", "INDEX_NAME", "PRICE_COLUMNS", "TS_UNIT"]

INDEX_NAME = "ts"
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
BAR_COLUMNS: tuple[str, ...] = (*PRICE_COLUMNS, "volume")
ADJUSTED = "adjusted"
TS_UNIT: Final = "us"
