"""The connection supervisor: reconnect with exponential backoff, then re-sync, re-subscribe and reconcile.

What real users hit every week (the nightly and weekly TWS/Gateway restarts, dropped sockets, IB's own outages)
must not need a human. The supervisor watches one :class:`~quantdesk.brokers.ib.connection.IBConnection`:

* **socket lost** (not requested): state ``RECONNECTING``; wait 2, 4, 8, 16, 32 s … (``backoff_base`` doubling,
  capped at ``backoff_max`` = ``ib.reconnect_backoff_max``) between attempts, at most ``max_attempts``
  (``ib.reconnect_max_attempts``). A successful connect re-synchronises (``ib_async`` fetches positions, open
  orders, executions again) and then calls every ``on_reconnected`` hook with ``data_lost=True``: market data
  re-subscribes every stream, the broker reconciles orders and executions. When every attempt fails the state
  goes ``DISCONNECTED`` and ``on_gave_up`` hooks run (alert someone).
* **1100** (TWS lost IB, our socket is fine): state ``RECONNECTING`` until TWS reports back.
* **1101** (restored, data lost): state ``CONNECTED`` and the hooks run with ``data_lost=True``: every market
  data and bar subscription is requested again.
* **1102** (restored, data maintained): state ``CONNECTED`` and the hooks run with ``data_lost=False``: nothing is
  re-subscribed (reconciliation still runs, it is cheap and orders may have moved).
* **1300 / 100** (TWS drops the socket): handled as a lost socket when it goes.

The base delay and the sleep function are injectable so tests reconnect in milliseconds.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from quantdesk.brokers.base import ConnectionState
from quantdesk.brokers.ib.connection import DisconnectInfo, IBConnection, IBErrorEvent
from quantdesk.errors import BrokerError

__all__ = ["ConnectionSupervisor", "ReconnectEvent", "ReconnectHook", "backoff_delays"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReconnectEvent:
    """What the hooks are told after a recovery."""

    data_lost: bool
    socket_reconnected: bool
    attempts: int
    downtime: float
    code: int | None = None
    ts: datetime = field(default_factory=lambda: datetime.now(UTC))


ReconnectHook = Callable[[ReconnectEvent], Awaitable[None] | None]


def backoff_delays(max_attempts: int, base: float = 2.0, cap: float = 32.0) -> list[float]:
    """The waits before each attempt: ``base``, 2×, 4×, … capped at ``cap`` (2, 4, 8, 16, 32, 32 … by default)."""
    return [min(base * 2**i, cap) for i in range(max(max_attempts, 0))]


class ConnectionSupervisor:
    """Keeps one connection alive; see the module docstring for the rules."""

    def __init__(
        self,
        connection: IBConnection,
        *,
        max_attempts: int = 10,
        backoff_base: float = 2.0,
        backoff_max: float = 32.0,
        enabled: bool = True,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.connection = connection
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.enabled = enabled
        self._sleep = sleep
        self._hooks: list[ReconnectHook] = []
        self._gave_up: list[Callable[[BaseException | None], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._lost_at: datetime | None = None
        self.attempt_log: list[tuple[float, str]] = []
        self.reconnects = 0
        self.resubscriptions = 0
        self._unsubscribe = [connection.on_disconnected(self._on_disconnected), connection.on_error(self._on_error)]

    @property
    def delays(self) -> list[float]:
        """The backoff schedule this supervisor follows."""
        return backoff_delays(self.max_attempts, self.backoff_base, self.backoff_max)

    @property
    def is_reconnecting(self) -> bool:
        """True while a reconnect loop runs."""
        return self._task is not None and not self._task.done()

    def on_reconnected(self, hook: ReconnectHook) -> Callable[[], None]:
        """Run ``hook(event)`` (plain or async) after every recovery; returns a function that removes it."""
        self._hooks.append(hook)

        def remove() -> None:
            if hook in self._hooks:
                self._hooks.remove(hook)

        return remove

    def on_gave_up(self, callback: Callable[[BaseException | None], None]) -> Callable[[], None]:
        """Call ``callback(last_error)`` when every reconnect attempt failed."""
        self._gave_up.append(callback)

        def remove() -> None:
            if callback in self._gave_up:
                self._gave_up.remove(callback)

        return remove

    async def stop(self) -> None:
        """Stop supervising: cancel a running reconnect loop and forget the connection's events."""
        self.enabled = False
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def wait_reconnected(self, timeout: float | None = None) -> None:
        """Wait until a running reconnect loop ends (immediately when none runs)."""
        if self._task is not None:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._task)

    # --- reactions ---------------------------------------------------------------------------------------

    def _on_disconnected(self, info: DisconnectInfo) -> None:
        if info.requested or not self.enabled or self.is_reconnecting:
            return
        self._lost_at = info.ts
        self.connection.set_state(ConnectionState.RECONNECTING, message="connection lost: reconnecting")
        self._task = asyncio.get_running_loop().create_task(self._reconnect_loop())

    def _on_error(self, event: IBErrorEvent) -> None:
        if not event.is_system or not self.enabled:
            return
        conn = self.connection
        if event.code == 1100:
            self._lost_at = event.ts
            conn.set_state(ConnectionState.RECONNECTING, code=1100, message=event.message)
        elif event.code in (1101, 1102):
            data_lost = event.code == 1101
            conn.set_state(ConnectionState.CONNECTED, code=event.code, message=event.message, data_lost=data_lost)
            downtime = (event.ts - self._lost_at).total_seconds() if self._lost_at else 0.0
            self._lost_at = None
            recovered = ReconnectEvent(data_lost, False, 0, downtime, event.code)
            asyncio.get_running_loop().create_task(self._run_hooks(recovered))

    async def _reconnect_loop(self) -> None:
        last_error: BaseException | None = None
        conn = self.connection
        for attempt, delay in enumerate(self.delays, start=1):
            await self._sleep(delay)
            if not self.enabled:
                return
            if not conn.is_connected:
                try:
                    await conn.connect()
                except asyncio.CancelledError:
                    raise
                except (BrokerError, OSError, ConnectionError, TimeoutError) as exc:
                    last_error = exc
                    self.attempt_log.append((delay, f"attempt {attempt} failed: {exc}"))
                    log.warning("reconnect attempt %d to %s failed: %s", attempt, conn.config.address, exc)
                    continue
            self.attempt_log.append((delay, f"attempt {attempt} connected"))
            self.reconnects += 1
            downtime = (datetime.now(UTC) - self._lost_at).total_seconds() if self._lost_at else 0.0
            self._lost_at = None
            await self._run_hooks(ReconnectEvent(True, True, attempt, downtime))
            return
        conn.set_state(
            ConnectionState.DISCONNECTED,
            message=f"gave up reconnecting to {conn.config.address} after {self.max_attempts} attempts",
        )
        for callback in list(self._gave_up):
            try:
                callback(last_error)
            except Exception:
                log.exception("gave-up callback %r failed", callback)

    async def _run_hooks(self, event: ReconnectEvent) -> None:
        if event.data_lost:
            self.resubscriptions += 1
        for hook in list(self._hooks):
            try:
                result = hook(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("reconnect hook %r failed", hook)
