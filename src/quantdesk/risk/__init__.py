"""Pre-trade risk: the rules engine, the kill switch, order-rate throttling and participation slicing.

Every order goes OMS → ``RiskEngine.check`` → broker. The engine refuses with ``RiskRejected`` naming the rule,
the limit and the value; the ``KillSwitch`` holds the persisted trading state (ACTIVE / REDUCING / HALTED) the OMS
puts into each ``RiskContext``; ``OrderRateLimiter`` paces orders toward IB and ``participation_schedule`` slices
orders that are large against the average daily volume. See ``docs/risk.md``.
"""

from __future__ import annotations

from quantdesk.risk.context import RiskContext, RiskDecision, RiskViolation
from quantdesk.risk.engine import PRE_TRADE_RULES, RiskEngine
from quantdesk.risk.events import RISK_ACTIONS, RiskAction, RiskEvent, RiskEventListener
from quantdesk.risk.facts import OrderFacts, is_reducing
from quantdesk.risk.hours import TradingHours, executes_at_once, trading_exchange
from quantdesk.risk.kill_switch import KillSwitch, StatusListener
from quantdesk.risk.limits import RiskLimits
from quantdesk.risk.participation import (
    US_SESSION_SECONDS,
    needs_slicing,
    participation_cap,
    participation_schedule,
    slice_quantity,
)
from quantdesk.risk.psr import probabilistic_sharpe_ratio, psr_from_returns, return_moments
from quantdesk.risk.throttle import OrderRateLimiter

__all__ = [
    "PRE_TRADE_RULES",
    "RISK_ACTIONS",
    "US_SESSION_SECONDS",
    "KillSwitch",
    "OrderFacts",
    "OrderRateLimiter",
    "RiskAction",
    "RiskContext",
    "RiskDecision",
    "RiskEngine",
    "RiskEvent",
    "RiskEventListener",
    "RiskLimits",
    "RiskViolation",
    "StatusListener",
    "TradingHours",
    "executes_at_once",
    "is_reducing",
    "needs_slicing",
    "participation_cap",
    "participation_schedule",
    "probabilistic_sharpe_ratio",
    "psr_from_returns",
    "return_moments",
    "slice_quantity",
    "trading_exchange",
]
