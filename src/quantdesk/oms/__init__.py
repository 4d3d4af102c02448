"""Order management: every order goes validate → risk → durable intent → broker, and reconciles with the broker.

``OrderManager`` is the OMS; ``reconcile`` compares the database with the broker on start and after a reconnect.
Open one wired with risk, kill switch and journal through ``quantdesk.services.trading.trading_session``.
"""

from __future__ import annotations

from quantdesk.oms.manager import ManagedOrder, OrderManager
from quantdesk.oms.reconciliation import Break, ReconciliationReport, ledger_positions, reconcile

__all__ = ["Break", "ManagedOrder", "OrderManager", "ReconciliationReport", "ledger_positions", "reconcile"]
