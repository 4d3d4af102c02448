"""One API connection to TWS / IB Gateway: connect with clear errors, state, events and error statistics.

``ib_async`` reports a refused connection late and vaguely: a duplicate client id (error 326) ends in a
``TimeoutError`` after the whole connect timeout, and a closed port in a bare ``ConnectionRefusedError``.
:class:`IBConnection` fails at once and says what to do:

* nothing listening → ``ConnectionLost`` naming host and port, the API setting and the usual ports;
* client id in use (326, seen through ``errorEvent`` while the handshake is still running) → ``BrokerError``
  with ``code=326`` in well under a second;
* the socket closed during the handshake (TWS refused us: untrusted IP, too many clients) → ``ConnectionLost``;
* no handshake within the timeout (TWS waiting on its "accept incoming connection" dialog) → ``ConnectionLost``.

A platform holds two of these with separate client ids (``ib.client_id_data`` for market data,
``ib.client_id_execution`` for orders and accounts). Reconnecting is the :mod:`supervisor`'s job; this class only
connects, disconnects and tells listeners what happened. It is also an async context manager.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from types import TracebackType
from typing import Any, TypeVar

from ib_async import IB, Contract
from ib_async.ib import StartupFetch, StartupFetchALL, StartupFetchNONE

from quantdesk.brokers.base import ConnectionReport, ConnectionState
from quantdesk.brokers.ib.error_codes import ErrorAction, ErrorStats, IBErrorCode
from quantdesk.errors import BrokerError, ConnectionLost

__all__ = [
    "API_SETTINGS",
    "PORT_HINT",
    "ConnectionConfig",
    "ConnectionRole",
    "DisconnectInfo",
    "IBConnection",
    "IBErrorEvent",
]

log = logging.getLogger(__name__)
API_SETTINGS = "File → Global Configuration → API → Settings → Enable ActiveX and Socket Clients"
PORT_HINT = "TWS 7497 paper/7496 live, Gateway 4002/4001"
_RECENT_ERRORS = 1000
_T = TypeVar("_T")


class ConnectionRole(Enum):
    """What a connection is for; it decides what ``ib_async`` synchronises at connect."""

    DATA = "data"
    EXECUTION = "execution"
    CHECK = "check"


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """Where and as whom to connect; built from ``settings.ib`` by the broker."""

    host: str = "127.0.0.1"
    port: int = 7497
    client_id: int = 1
    timeout: float = 10.0
    readonly: bool = False
    account: str = ""
    role: ConnectionRole = ConnectionRole.EXECUTION

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"

    @property
    def startup_fetch(self) -> StartupFetch:
        """What ``ib_async`` fetches at connect: everything for execution, only positions (always sent) for data."""
        return StartupFetchNONE if self.role is ConnectionRole.DATA else StartupFetchALL


@dataclass(frozen=True, slots=True)
class IBErrorEvent:
    """One ``error`` message from TWS, classified."""

    req_id: int
    code: int
    message: str
    entry: IBErrorCode
    ts: datetime
    con_id: int = 0

    @property
    def is_system(self) -> bool:
        """True for messages not tied to a request or order (id -1)."""
        return self.req_id < 0


@dataclass(frozen=True, slots=True)
class DisconnectInfo:
    """Why a connection went: ``requested`` when we closed it ourselves."""

    requested: bool
    ts: datetime


def _remover(items: list[_T], item: _T) -> Callable[[], None]:
    def remove() -> None:
        if item in items:
            items.remove(item)

    return remove


class IBConnection:
    """One ``ib_async.IB`` for one client id, with fast, specific connect errors and a queryable state."""

    def __init__(self, config: ConnectionConfig, *, ib: IB | None = None) -> None:
        self.config = config
        self.ib = ib or IB()
        self.state = ConnectionState.DISCONNECTED
        self.stats = ErrorStats()
        self.connect_count = 0
        self.connected_at: datetime | None = None
        self.last_report: ConnectionReport | None = None
        self._closing = False
        self._connecting = False
        self._recent: OrderedDict[int, IBErrorEvent] = OrderedDict()
        self._on_connected: list[Callable[[], None]] = []
        self._on_disconnected: list[Callable[[DisconnectInfo], None]] = []
        self._on_error: list[Callable[[IBErrorEvent], None]] = []
        self._on_state: list[Callable[[ConnectionReport], None]] = []
        self.ib.errorEvent += self._ib_error
        self.ib.disconnectedEvent += self._ib_disconnected

    def __repr__(self) -> str:
        cfg = self.config
        return f"IBConnection({cfg.role.value}, {cfg.address}, client_id={cfg.client_id}, {self.state.value})"

    # --- events ------------------------------------------------------------------------------------------

    def on_connected(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` after every successful connect; returns a function that removes it."""
        self._on_connected.append(callback)
        return _remover(self._on_connected, callback)

    def on_disconnected(self, callback: Callable[[DisconnectInfo], None]) -> Callable[[], None]:
        """Call ``callback(info)`` when the socket goes (``info.requested`` if we closed it)."""
        self._on_disconnected.append(callback)
        return _remover(self._on_disconnected, callback)

    def on_error(self, callback: Callable[[IBErrorEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every error message TWS sends (warnings and notices included)."""
        self._on_error.append(callback)
        return _remover(self._on_error, callback)

    def on_state(self, callback: Callable[[ConnectionReport], None]) -> Callable[[], None]:
        """Call ``callback(report)`` on every change of connection state."""
        self._on_state.append(callback)
        return _remover(self._on_state, callback)

    def set_state(
        self, state: ConnectionState, *, code: int | None = None, message: str = "", data_lost: bool = False
    ) -> None:
        """Move to ``state`` and tell the state listeners (a repeated state with a code is reported too)."""
        if state is self.state and code is None:
            return
        self.state = state
        report = ConnectionReport(state=state, ts=datetime.now(UTC), code=code, message=message, data_lost=data_lost)
        self.last_report = report
        for callback in list(self._on_state):
            _safely(callback, report)

    # --- queries -----------------------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        """True while the API session is up (requests can be sent)."""
        return bool(self.ib.isConnected())

    @property
    def client_id(self) -> int:
        """The client id this connection uses."""
        return self.config.client_id

    def request_error(self, req_id: int) -> IBErrorEvent | None:
        """The last error TWS sent for ``req_id`` (kept for the last 1000 request ids)."""
        return self._recent.get(req_id)

    def report(self) -> dict[str, Any]:
        """A JSON-ready description: role, address, client id, state, connects and error statistics."""
        return {
            "role": self.config.role.value,
            "address": self.config.address,
            "client_id": self.config.client_id,
            "state": self.state.value,
            "connected": self.is_connected,
            "connect_count": self.connect_count,
            "connected_at": None if self.connected_at is None else self.connected_at.isoformat(),
            "errors": self.stats.snapshot(),
        }

    # --- connect / disconnect ----------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect and synchronise; raise ``ConnectionLost`` / ``BrokerError`` with the fix, fast."""
        if self.is_connected:
            return
        cfg = self.config
        self._closing = False
        if self.state is not ConnectionState.RECONNECTING:
            self.set_state(ConnectionState.CONNECTING)
        loop = asyncio.get_running_loop()
        refused: asyncio.Future[tuple[int, str]] = loop.create_future()

        def on_error(req_id: int, code: int, message: str, contract: Contract | None) -> None:
            if code in (326, 502) and not refused.done():
                refused.set_result((code, message))

        def on_api_error(message: str) -> None:
            if not refused.done() and not self.ib.client.isReady():
                refused.set_result((0, message))

        # A socket closed before the handshake ends is not reported by ib_async (it waits for its timeout).
        wire: Any = self.ib.client.conn
        stale = [wire.transport is not None]  # the previous transport's close may still be on its way

        def on_socket_lost(message: str) -> None:
            if stale[0]:
                stale[0] = False
            elif not refused.done() and not self.ib.client.isReady():
                refused.set_result((0, message or "connection closed"))

        self.ib.errorEvent += on_error
        self.ib.client.apiError += on_api_error
        wire.disconnected += on_socket_lost
        self._connecting = True
        task = asyncio.ensure_future(
            self.ib.connectAsync(
                cfg.host,
                cfg.port,
                clientId=cfg.client_id,
                timeout=cfg.timeout,
                readonly=cfg.readonly,
                account=cfg.account,
                raiseSyncErrors=True,
                fetchFields=cfg.startup_fetch,
            )
        )
        try:
            await asyncio.wait({task, refused}, return_when=asyncio.FIRST_COMPLETED)
            if refused.done() and (refused.result()[0] or not task.done()):
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                self.ib.disconnect()
                raise self._refusal(*refused.result())
            try:
                task.result()
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except BaseException as exc:
                raise self._connect_error(exc) from exc
        except BaseException:
            if not task.done():
                task.cancel()
            if self.state is ConnectionState.CONNECTING:
                self.set_state(ConnectionState.DISCONNECTED)
            raise
        finally:
            self._connecting = False
            self.ib.errorEvent -= on_error
            self.ib.client.apiError -= on_api_error
            wire.disconnected -= on_socket_lost
        self.connect_count += 1
        self.connected_at = datetime.now(UTC)
        self.set_state(ConnectionState.CONNECTED, message=f"connected to {cfg.address} as client {cfg.client_id}")
        for callback in list(self._on_connected):
            _safely(callback)

    async def disconnect(self) -> None:
        """Close the connection (idempotent); listeners see ``requested=True``."""
        self._closing = True
        client: Any = self.ib.client  # ib_async's Client is untyped
        if self.ib.isConnected() or client.isConnected():
            self.ib.disconnect()
        else:
            client.disconnect()
        self.set_state(ConnectionState.DISCONNECTED, message="disconnected on request")

    async def __aenter__(self) -> IBConnection:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.disconnect()

    # --- errors ------------------------------------------------------------------------------------------

    def _refusal(self, code: int, message: str) -> BrokerError:
        cfg = self.config
        if code == 326:
            return BrokerError(
                f"IB error 326: client id {cfg.client_id} is already in use at {cfg.address} ({message.strip()})",
                code=326,
                field=f"ib.client_id_{cfg.role.value}" if cfg.role is not ConnectionRole.CHECK else "client_id",
                value=cfg.client_id,
                hint="another program (or another quantdesk) holds this client id: stop it, or choose an unused "
                "client id (each connection needs its own)",
            )
        if code:
            return ConnectionLost(
                f"IB error {code} while connecting to {cfg.address}: {message.strip()}",
                code=code,
                field="ib.port",
                value=cfg.port,
                hint=f"enable the API in TWS ({API_SETTINGS}) and check the port ({PORT_HINT})",
            )
        return ConnectionLost(
            f"{cfg.address} closed the connection during the API handshake (client id {cfg.client_id})",
            field="ib.host",
            value=cfg.host,
            hint="TWS refused us: the client id may be in use, this machine may not be a trusted IP (TWS API "
            "settings: 'Allow connections from localhost only' / Trusted IPs), or 32 clients are connected",
        )

    def _connect_error(self, exc: BaseException) -> BrokerError:
        cfg = self.config
        if isinstance(exc, BrokerError):
            return exc
        if isinstance(exc, ConnectionRefusedError) or (isinstance(exc, OSError) and exc.errno == errno.ECONNREFUSED):
            return ConnectionLost(
                f"nothing is listening on {cfg.address} — is TWS/IB Gateway running, is the API enabled "
                f"({API_SETTINGS}), is the port right ({PORT_HINT})?",
                code=502,
                field="ib.port",
                value=cfg.port,
                hint="start TWS or IB Gateway, enable the API, and set ib.host / ib.port (or --host / --port)",
            )
        if isinstance(exc, TimeoutError):
            return ConnectionLost(
                f"no API handshake from {cfg.address} within {cfg.timeout:g} s",
                field="ib.connect_timeout",
                value=cfg.timeout,
                hint="TWS may be showing its 'accept incoming connection' dialog: accept it (or add this machine "
                "to the Trusted IPs); check that the port belongs to TWS/Gateway; raise ib.connect_timeout",
            )
        if isinstance(exc, ConnectionError):
            return ConnectionLost(
                f"connected to {cfg.address} but the start-up synchronisation failed: {exc}",
                field="ib.connect_timeout",
                value=cfg.timeout,
                hint="TWS is slow to answer (many orders or accounts?): raise ib.connect_timeout and retry",
            )
        if isinstance(exc, OSError):
            return ConnectionLost(
                f"cannot reach {cfg.address}: {exc.strerror or exc}",
                field="ib.host",
                value=cfg.host,
                hint="check ib.host (a name or address this machine can reach) and the network",
            )
        return ConnectionLost(f"connecting to {cfg.address} failed: {exc!r}", field="ib.host", value=cfg.host)

    # --- ib_async events ---------------------------------------------------------------------------------

    def _ib_error(self, req_id: int, code: int, message: str, contract: Contract | None) -> None:
        entry = self.stats.record(code, message)
        event = IBErrorEvent(req_id, code, message, entry, datetime.now(UTC), int(getattr(contract, "conId", 0) or 0))
        if req_id >= 0:
            self._recent[req_id] = event
            self._recent.move_to_end(req_id)
            while len(self._recent) > _RECENT_ERRORS:
                self._recent.popitem(last=False)
        if entry.action is ErrorAction.IGNORE:
            log.debug("IB %s (client %s): %s", code, self.config.client_id, message)
        for callback in list(self._on_error):
            _safely(callback, event)

    def _ib_disconnected(self) -> None:
        if self._connecting:
            return  # a failed connect attempt: connect() raises, nobody was connected
        requested = self._closing
        if self.state is not ConnectionState.DISCONNECTED:
            self.set_state(
                ConnectionState.DISCONNECTED,
                message="disconnected on request" if requested else f"connection to {self.config.address} lost",
            )
        info = DisconnectInfo(requested=requested, ts=datetime.now(UTC))
        for callback in list(self._on_disconnected):
            _safely(callback, info)


def _safely(callback: Callable[..., Any], *args: Any) -> None:
    """Run a listener; a failing listener is logged, never allowed to break the connection's bookkeeping."""
    try:
        callback(*args)
    except Exception:
        log.exception("IB connection listener %r failed", callback)
