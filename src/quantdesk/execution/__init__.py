"""Execution: the one fill model (``MatchingEngine``), slippage, sessions and IB's commission schedules.

The backtester, the simulated broker and the gateway simulator all fill orders through ``MatchingEngine``; see
``quantdesk.execution.matching`` for the contract and ``fill_rules``/``contingent`` for the rules it applies.
Names load on first use, so importing ``execution.fees`` does not load the matching engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantdesk.execution.fees import (
        IB_TIERS,
        ByAssetClass,
        FeeModel,
        FlatFee,
        IbFixed,
        IbTiered,
        NoFees,
        PerContractFee,
        RegulatoryFees,
        round_cents,
    )
    from quantdesk.execution.fill_rules import TriggerMethod, bar_path
    from quantdesk.execution.matching import AuctionKind, CalendarSource, MatchingConfig, MatchingEngine
    from quantdesk.execution.order_book import OrderView
    from quantdesk.execution.reports import OrderActivated, OrderTriggered, fills_of
    from quantdesk.execution.sessions import (
        ALWAYS_OPEN,
        AlwaysOpen,
        ExchangeSessions,
        FixedHours,
        Session,
        SessionCalendar,
    )
    from quantdesk.execution.slippage import FixedBps, NoSlippage, SlippageModel, SpreadShare

__all__ = [
    "ALWAYS_OPEN",
    "IB_TIERS",
    "AlwaysOpen",
    "AuctionKind",
    "ByAssetClass",
    "CalendarSource",
    "ExchangeSessions",
    "FeeModel",
    "FixedBps",
    "FixedHours",
    "FlatFee",
    "IbFixed",
    "IbTiered",
    "MatchingConfig",
    "MatchingEngine",
    "NoFees",
    "NoSlippage",
    "OrderActivated",
    "OrderTriggered",
    "OrderView",
    "PerContractFee",
    "RegulatoryFees",
    "Session",
    "SessionCalendar",
    "SlippageModel",
    "SpreadShare",
    "TriggerMethod",
    "bar_path",
    "fills_of",
    "round_cents",
]

_WHERE: dict[str, str] = {
    "ByAssetClass": "quantdesk.execution.fees",
    "FeeModel": "quantdesk.execution.fees",
    "FlatFee": "quantdesk.execution.fees",
    "IB_TIERS": "quantdesk.execution.fees",
    "IbFixed": "quantdesk.execution.fees",
    "IbTiered": "quantdesk.execution.fees",
    "NoFees": "quantdesk.execution.fees",
    "PerContractFee": "quantdesk.execution.fees",
    "RegulatoryFees": "quantdesk.execution.fees",
    "round_cents": "quantdesk.execution.fees",
    "TriggerMethod": "quantdesk.execution.fill_rules",
    "bar_path": "quantdesk.execution.fill_rules",
    "AuctionKind": "quantdesk.execution.matching",
    "CalendarSource": "quantdesk.execution.matching",
    "MatchingConfig": "quantdesk.execution.matching",
    "MatchingEngine": "quantdesk.execution.matching",
    "OrderView": "quantdesk.execution.order_book",
    "OrderActivated": "quantdesk.execution.reports",
    "OrderTriggered": "quantdesk.execution.reports",
    "fills_of": "quantdesk.execution.reports",
    "ALWAYS_OPEN": "quantdesk.execution.sessions",
    "AlwaysOpen": "quantdesk.execution.sessions",
    "ExchangeSessions": "quantdesk.execution.sessions",
    "FixedHours": "quantdesk.execution.sessions",
    "Session": "quantdesk.execution.sessions",
    "SessionCalendar": "quantdesk.execution.sessions",
    "FixedBps": "quantdesk.execution.slippage",
    "NoSlippage": "quantdesk.execution.slippage",
    "SlippageModel": "quantdesk.execution.slippage",
    "SpreadShare": "quantdesk.execution.slippage",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value
