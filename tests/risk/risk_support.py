"""Helpers of the risk tests: a calm default account to build ``RiskContext`` values from."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from quantdesk.domain.instruments import Stock
from quantdesk.domain.trading_state import TradingState
from quantdesk.risk import RiskContext

NOW = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York: XNYS is open
AAPL_ID = Stock("AAPL").id

ContextFactory = Callable[..., RiskContext]


def make_context(**overrides: Any) -> RiskContext:
    """NLV 1,000,000, flat, AAPL last 100, ACTIVE, Monday 15:00 UTC; ``overrides`` replace fields."""
    fields: dict[str, Any] = {
        "now": NOW,
        "net_liquidation": Decimal(1_000_000),
        "positions": {},
        "working": {},
        "last_prices": {AAPL_ID: Decimal(100)},
        "trades_today": 0,
        "gross_exposure": Decimal(0),
        "trading_state": TradingState.ACTIVE,
        "average_daily_volume": {},
    }
    fields.update(overrides)
    return RiskContext(**fields)
