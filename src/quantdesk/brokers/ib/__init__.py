"""The Interactive Brokers adapter on ``ib_async``: the only package of quantdesk that imports ``ib_async``.

``IBBroker`` implements the ``Broker`` protocol; ``SyncIBBroker`` is its blocking facade for scripts and notebooks;
``run_validation`` is the connection check behind ``quantdesk validate``. The modules behind may move; import from
here.
"""

from quantdesk.brokers.ib.bar_aggregation import BarAggregator, aggregate_bars, bucket_start
from quantdesk.brokers.ib.broker import IBBroker
from quantdesk.brokers.ib.chains import OptionChain, RollRule, active_contract, roll_date
from quantdesk.brokers.ib.connection import ConnectionConfig, ConnectionRole, IBConnection, IBErrorEvent
from quantdesk.brokers.ib.contract_cache import CachedContract, ContractCache
from quantdesk.brokers.ib.contracts import (
    AmbiguousContract,
    Candidate,
    ContractResolver,
    QualifiedContract,
    instrument_from_contract,
    to_ib_contract,
)
from quantdesk.brokers.ib.error_codes import CODES, ErrorAction, ErrorClass, ErrorStats, IBErrorCode, classify
from quantdesk.brokers.ib.historical import MAX_CHUNK, BackfillResult, HistoricalDataService, plan_chunks
from quantdesk.brokers.ib.market_data import MarketDataService, MarketDataType, MarketSnapshot
from quantdesk.brokers.ib.orders import fill_report, order_status_report, status_after_error, to_ib_order, to_ib_orders
from quantdesk.brokers.ib.pacing import HistoricalPacer, PacingKey, PacingRules
from quantdesk.brokers.ib.supervisor import ConnectionSupervisor, ReconnectEvent, backoff_delays
from quantdesk.brokers.ib.sync_facade import LoopThread, SyncIBBroker
from quantdesk.brokers.ib.validate import CheckResult, ValidationOptions, ValidationReport, run_validation

__all__ = [
    "CODES",
    "MAX_CHUNK",
    "AmbiguousContract",
    "BackfillResult",
    "BarAggregator",
    "CachedContract",
    "Candidate",
    "CheckResult",
    "ConnectionConfig",
    "ConnectionRole",
    "ConnectionSupervisor",
    "ContractCache",
    "ContractResolver",
    "ErrorAction",
    "ErrorClass",
    "ErrorStats",
    "HistoricalDataService",
    "HistoricalPacer",
    "IBBroker",
    "IBConnection",
    "IBErrorCode",
    "IBErrorEvent",
    "LoopThread",
    "MarketDataService",
    "MarketDataType",
    "MarketSnapshot",
    "OptionChain",
    "PacingKey",
    "PacingRules",
    "QualifiedContract",
    "ReconnectEvent",
    "RollRule",
    "SyncIBBroker",
    "ValidationOptions",
    "ValidationReport",
    "active_contract",
    "aggregate_bars",
    "backoff_delays",
    "bucket_start",
    "classify",
    "fill_report",
    "instrument_from_contract",
    "order_status_report",
    "plan_chunks",
    "roll_date",
    "run_validation",
    "status_after_error",
    "to_ib_contract",
    "to_ib_order",
    "to_ib_orders",
]
