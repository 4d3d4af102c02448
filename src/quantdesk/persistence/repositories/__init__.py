"""Repositories: small, typed, and they speak domain objects (or small frozen dataclasses) only; ORM rows never
leave ``quantdesk.persistence``.

* ``OrderIntentRepository`` (``intents``): intents persisted before sending, idempotent on ``ClientOrderId``, the
  whole order kept as JSON; reasons, adoption of orders placed outside quantdesk (``ext-<permId>``).
* ``FillRepository``, ``ledger_positions``, ``recorded_fills`` (``fills``): each execution once per account;
  commissions on the same row; net positions from the fills.
* ``KillSwitchRepository`` (``kill_switch``): ACTIVE / REDUCING / HALTED, persisted, every change a risk event.
* ``AccountRepository`` (``accounts``), ``StrategyRepository`` and ``RunRepository`` (``runs``).
* ``BrokerOrderRepository`` (``broker_orders``): the broker's view of each order, keyed by ``permId``.
* ``OrderEventRepository`` (``events``), ``RiskEventRepository`` (``risk_events``),
  ``ReconciliationBreakRepository`` (``breaks``): append-only logs.
* ``SnapshotRepository`` (``snapshots``): position and account snapshots, day-start and peak equity.
* ``query_orders``, ``query_fills`` (``queries``) and ``query_trade_history`` (``history``): the read side of
  ``quantdesk orders | fills | history``.
"""

from __future__ import annotations

from quantdesk.persistence.repositories.accounts import AccountRepository, StoredAccount
from quantdesk.persistence.repositories.breaks import (
    BreakKind,
    BreakResolution,
    ReconciliationBreak,
    ReconciliationBreakRepository,
)
from quantdesk.persistence.repositories.broker_orders import BrokerOrder, BrokerOrderRepository
from quantdesk.persistence.repositories.events import OrderEvent, OrderEventRepository
from quantdesk.persistence.repositories.fills import (
    FillRecord,
    FillRepository,
    LedgerKey,
    ledger_positions,
    net_positions,
    recorded_fills,
)
from quantdesk.persistence.repositories.history import (
    PNL_METHOD,
    CurrencyTotals,
    InstrumentTotals,
    TradeHistory,
    TradeRow,
    query_trade_history,
)
from quantdesk.persistence.repositories.intent_records import (
    DuplicateClientOrderId,
    IntentRecord,
    IntentSource,
    StoredIntent,
    adopted_client_order_id,
)
from quantdesk.persistence.repositories.intents import OrderIntentRepository
from quantdesk.persistence.repositories.kill_switch import KillSwitchRepository, KillSwitchStatus, TradingState
from quantdesk.persistence.repositories.queries import (
    FillView,
    OrderStatusFilter,
    OrderView,
    QueryFilter,
    columns_of,
    csv_record,
    csv_value,
    query_fills,
    query_orders,
)
from quantdesk.persistence.repositories.risk_events import RiskEvent, RiskEventRepository
from quantdesk.persistence.repositories.runs import (
    RunMode,
    RunRepository,
    RunStatus,
    StoredRun,
    StoredStrategy,
    StrategyRepository,
)
from quantdesk.persistence.repositories.snapshots import (
    PositionLine,
    PositionSnapshot,
    SnapshotRepository,
    SnapshotSource,
)

__all__ = [
    "PNL_METHOD",
    "AccountRepository",
    "BreakKind",
    "BreakResolution",
    "BrokerOrder",
    "BrokerOrderRepository",
    "CurrencyTotals",
    "DuplicateClientOrderId",
    "FillRecord",
    "FillRepository",
    "FillView",
    "InstrumentTotals",
    "IntentRecord",
    "IntentSource",
    "KillSwitchRepository",
    "KillSwitchStatus",
    "LedgerKey",
    "OrderEvent",
    "OrderEventRepository",
    "OrderIntentRepository",
    "OrderStatusFilter",
    "OrderView",
    "PositionLine",
    "PositionSnapshot",
    "QueryFilter",
    "ReconciliationBreak",
    "ReconciliationBreakRepository",
    "RiskEvent",
    "RiskEventRepository",
    "RunMode",
    "RunRepository",
    "RunStatus",
    "SnapshotRepository",
    "SnapshotSource",
    "StoredAccount",
    "StoredIntent",
    "StoredRun",
    "StoredStrategy",
    "StrategyRepository",
    "TradeHistory",
    "TradeRow",
    "TradingState",
    "adopted_client_order_id",
    "columns_of",
    "csv_record",
    "csv_value",
    "ledger_positions",
    "net_positions",
    "query_fills",
    "query_orders",
    "query_trade_history",
    "recorded_fills",
]
