"""The journal's operations, defined by the OMS's store port (``quantdesk.oms.store_ops``) and re-exported here for
the journal and its callers."""

from __future__ import annotations

from quantdesk.oms.store_ops import (
    AccountSnapshotOp,
    AdoptIntent,
    DuplicateIntent,
    InsertIntent,
    JournalClosed,
    JournalOp,
    OrderEventOp,
    RecordCommission,
    RecordFill,
    RiskEventOp,
    UpdateIntent,
)

__all__ = [
    "AccountSnapshotOp",
    "AdoptIntent",
    "DuplicateIntent",
    "InsertIntent",
    "JournalClosed",
    "JournalOp",
    "OrderEventOp",
    "RecordCommission",
    "RecordFill",
    "RiskEventOp",
    "UpdateIntent",
]
