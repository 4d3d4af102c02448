"""Execution: the one fill model (``MatchingEngine``), slippage, sessions and IB's commission schedules.

The backtester, the simulated broker and the gateway simulator all fill orders through ``MatchingEngine``; see
``quantdesk.execution.matching`` for the contract and ``fill_rules``/``contingent`` for the rules it applies.
"""

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
from quantdesk.execution.sessions import ALWAYS_OPEN, AlwaysOpen, ExchangeSessions, FixedHours, Session, SessionCalendar
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
