"""Helpers of the OMS tests: ``Desk``, the stores a test's trading sessions run on, in memory, on SQLite or on
PostgreSQL (skipped when no server answers, required under ``CI=true``).

On SQL a session is ``trading_session`` on the configured database (migrated, a run started); in memory it is the
same session (``session_on_stores``) on one set of ``memory_stores()`` that outlives the sessions, so a "restart"
is a new OMS over the same stores. The tests that kill processes or reopen a database file stay on SQL alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from quantdesk.brokers.base import Broker
from quantdesk.config import Settings
from quantdesk.domain.identifiers import AccountId, ClientOrderId
from quantdesk.persistence import create_db_engine, upgrade
from quantdesk.persistence.repositories import OrderIntentRepository
from quantdesk.services.kernel import Stores
from quantdesk.services.trading import TradingSession, session_on_stores, trading_session
from store_backends import Backend, memory_backend, sql_backend

ACCOUNT = "DU1234567"


def settings_for(url: str, **risk: Any) -> Settings:
    """Settings of a paper session on ``url`` for ``ACCOUNT`` with the ``risk`` overrides."""
    return Settings.model_validate({"database": {"url": url}, "ib": {"account": ACCOUNT}, "risk": risk})


class Desk:
    """Where a test's sessions keep their orders; see the module docstring."""

    def __init__(self, name: str, url: str | None) -> None:
        self.name, self.url = name, url
        self._memory: Backend | None = memory_backend() if url is None else None
        self._opened: list[Backend] = []

    @property
    def stores(self) -> Stores:
        """The memory stores every session of the test shares (memory only)."""
        assert self._memory is not None, "only the memory desk keeps its stores between sessions"
        return self._memory.stores

    def session(
        self, broker: Broker, *, account: str = ACCOUNT, monitor_interval: float = 1.0, **risk: Any
    ) -> contextlib.AbstractAsyncContextManager[TradingSession]:
        """A trading session for ``account`` on ``broker`` with the ``risk`` settings."""
        if self.url is not None:
            settings = settings_for(self.url, **risk)
            return trading_session(settings, broker, account=account, monitor_interval=monitor_interval)
        return self._memory_session(broker, account, monitor_interval, risk)

    @contextlib.asynccontextmanager
    async def _memory_session(
        self, broker: Broker, account: str, monitor_interval: float, risk: dict[str, Any]
    ) -> AsyncIterator[TradingSession]:
        settings = settings_for("sqlite://", **risk)  # the same validation; the url is not used
        async with session_on_stores(
            self.stores, broker, settings.risk, account=AccountId(account), monitor_interval=monitor_interval
        ) as session:
            yield session

    async def has_intent(self, client_order_id: ClientOrderId) -> bool:
        """Whether the intent is stored durably now (SQL: seen by another connection)."""
        if self.url is None:
            return await self.stores.orders.find_intent(client_order_id) is not None
        engine = create_db_engine(self.url)
        try:
            return OrderIntentRepository(engine).find(client_order_id) is not None
        finally:
            engine.dispose()

    def read(self) -> Backend:
        """The stored data as it is now (SQL: through new stores on the database, closed at the test's end)."""
        if self._memory is not None:
            return self._memory
        assert self.url is not None
        upgrade(self.url)
        return sql_backend(self.name, self.url, self._opened)

    async def record_equity(self, ts: datetime, net_liquidation: Decimal) -> None:
        """An account snapshot of ``ACCOUNT`` written through the equity store, as the session's monitor writes."""
        await self.read().stores.equity.record_equity(ts, ACCOUNT, "USD", net_liquidation)

    def dispose(self) -> None:
        for backend in reversed(self._opened):
            backend.dispose()
