"""Brokers: the ``Broker`` protocol every adapter implements, its report types and capability tables."""

from quantdesk.brokers.base import (
    Broker,
    BrokerReport,
    ConnectionReport,
    ConnectionState,
    FillReport,
    OrderStatusReport,
    PositionReport,
    ReportListener,
    Subscription,
    WhatIfReport,
)
from quantdesk.brokers.capabilities import BrokerCapabilities

__all__ = [
    "Broker",
    "BrokerCapabilities",
    "BrokerReport",
    "ConnectionReport",
    "ConnectionState",
    "FillReport",
    "OrderStatusReport",
    "PositionReport",
    "ReportListener",
    "Subscription",
    "WhatIfReport",
]
