"""Order management: every order goes validate → risk → durable intent → broker, and reconciles with the broker.

``OrderManager`` is the OMS; ``reconcile`` compares the database with the broker on start and after a reconnect.
Both speak to the store port of ``oms.stores`` (the database's journal, or ``oms.memory_stores``), never to SQL.
Open one wired with risk, kill switch and stores through ``quantdesk.services.kernel`` (``trading_session`` for a
paper or live session).
"""

from __future__ import annotations

from quantdesk.oms.manager import ManagedOrder, OrderManager
from quantdesk.oms.reconciliation import Break, ReconciliationReport, reconcile

__all__ = ["Break", "ManagedOrder", "OrderManager", "ReconciliationReport", "reconcile"]
