"""The gateway server: an asyncio TCP server that speaks the TWS API at server versions up to 178.

It keeps the sockets, the sessions on them, the handler table and the pump; everything shared between clients (the
contract catalogue, the market model and its clock, the accounts, pacing, the client-id registry, the next order
ids, the fault switchboard, the order desk) is its :class:`~quantdesk.gateway.venue_context.VenueContext`, which the
handlers are given. Start it with ``async with GatewayServer(config) as gw`` and connect ``ib_async.IB`` to
``gw.port``. Each client is answered in the layout of the server version agreed at its handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from quantdesk.gateway.account_handlers import install_account_handlers, publish_account
from quantdesk.gateway.accounts import AccountBook, InstrumentInfo
from quantdesk.gateway.client import ClientSession
from quantdesk.gateway.clock import SessionCalendar, SimClock
from quantdesk.gateway.codec import SERVER_VERSION
from quantdesk.gateway.config import DEFAULT_ACCOUNTS, GatewayConfig
from quantdesk.gateway.contracts import ContractCatalog
from quantdesk.gateway.dispatch import HandlerTable
from quantdesk.gateway.faults import Faults
from quantdesk.gateway.flood import install_flood
from quantdesk.gateway.handlers import install_core_handlers
from quantdesk.gateway.history import HistoryBuilder
from quantdesk.gateway.market_data import MarketModel
from quantdesk.gateway.market_handlers import install_market_handlers
from quantdesk.gateway.order_handlers import install_orders
from quantdesk.gateway.pacing import HistoricalPacer, LineCounter
from quantdesk.gateway.session import Session
from quantdesk.gateway.venue_context import build_venue
from quantdesk.gateway.writer import CoalescingWriter

__all__ = ["Extension", "GatewayServer", "serve"]

Extension = Callable[["GatewayServer"], None]
_log = logging.getLogger("quantdesk.gateway")


class GatewayServer:
    """A TWS-API simulator; see the package documentation for what it serves."""

    def __init__(self, config: GatewayConfig | None = None, *, extensions: Iterable[Extension] = ()) -> None:
        self.config = config = config or GatewayConfig()
        self.venue = venue = build_venue(config, restart=self.restart)
        self.handlers = HandlerTable()
        for install in (install_core_handlers, install_account_handlers, install_market_handlers):
            install(self.handlers, venue)
        self._connections: set[Session] = set()
        self._server: asyncio.Server | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = config.port
        venue.accounts.on_change(lambda account_id, con_id: publish_account(venue, account_id, con_id))
        install_orders(venue, self.handlers)
        if config.tick_flood:
            install_flood(venue)
        for extension in extensions:
            extension(self)

    # --- the venue, for tests, tools and extensions --------------------------------------------------------

    @property
    def calendar(self) -> SessionCalendar:
        """The venue's session calendar."""
        return self.venue.calendar

    @property
    def clock(self) -> SimClock:
        """The venue's simulated clock."""
        return self.venue.clock

    @property
    def catalog(self) -> ContractCatalog:
        """The venue's contract catalogue."""
        return self.venue.catalog

    @property
    def market(self) -> MarketModel:
        """The venue's market model."""
        return self.venue.market

    @property
    def history(self) -> HistoryBuilder:
        """The venue's bar builder."""
        return self.venue.history

    @property
    def accounts(self) -> AccountBook:
        """The venue's accounts."""
        return self.venue.accounts

    @property
    def pacer(self) -> HistoricalPacer:
        """The venue's historical-data pacing (assign one to change the rules, e.g. in a test)."""
        return self.venue.pacer

    @pacer.setter
    def pacer(self, pacer: HistoricalPacer) -> None:
        self.venue.pacer = pacer

    @property
    def lines(self) -> LineCounter:
        """The venue's market-data lines."""
        return self.venue.lines

    @property
    def faults(self) -> Faults:
        """The venue's fault switchboard."""
        return self.venue.faults

    @property
    def sessions(self) -> dict[int, ClientSession]:
        """Client id → the session holding it."""
        return self.venue.sessions

    @property
    def state(self) -> dict[str, Any]:
        """What the state file holds (extensions add their own keys)."""
        return self.venue.state

    @property
    def next_order_ids(self) -> dict[int, int]:
        """Client id → its next valid order id."""
        return self.venue.next_order_ids

    # --- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> GatewayServer:
        """Bind and listen (port 0 picks a free port, readable as :attr:`port` afterwards)."""
        if self._server is not None:
            return self
        self._server = await asyncio.start_server(self._on_connect, self.config.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        if self._pump_task is None or self._pump_task.done():
            self._pump_task = asyncio.get_running_loop().create_task(self._pump())
        _log.info("gateway listening on %s:%s (server version %s)", self.config.host, self.port, SERVER_VERSION)
        return self

    async def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            for session in list(self._connections):
                session.abort()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def stop(self) -> None:
        """Close every connection, stop listening and save the state file."""
        await self._stop_listening()
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
            self._pump_task = None
        if self._tasks:  # aborted sockets end their sessions; cancel only what does not end by itself
            _done, pending = await asyncio.wait(list(self._tasks), timeout=1.0)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        self.save_state()

    async def restart(self, downtime: float = 0.0) -> None:
        """Drop every client, stay away ``downtime`` seconds, then listen on the same port again."""
        await self._stop_listening()
        self.save_state()
        if downtime > 0:
            await asyncio.sleep(downtime)
        await self.start()

    async def __aenter__(self) -> GatewayServer:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def is_listening(self) -> bool:
        """Whether the server accepts connections."""
        return self._server is not None

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(self.venue, self.handlers, reader, cast(asyncio.StreamWriter, CoalescingWriter(writer)))
        self._connections.add(session)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await session.run()
        except asyncio.CancelledError:
            # End quietly: asyncio's stream server reports a cancelled connection task as an unhandled error.
            session.abort()
        finally:
            self._connections.discard(session)
            if task is not None:
                self._tasks.discard(task)

    async def _pump(self) -> None:
        interval = self.config.tick_interval
        while True:
            await asyncio.sleep(interval)
            tt = self.clock.now_tt()
            for hook in list(self.venue.pump_hooks):
                try:
                    hook(tt)
                except Exception:
                    _log.exception("pump hook %r failed", hook)
            for session in self.venue.clients.live():
                try:
                    session.streams.pump(tt)
                except Exception:
                    _log.exception("streaming to client %s failed", session.client_id)

    def add_pump_hook(self, hook: Callable[[float], None]) -> Callable[[], None]:
        """Call ``hook(trading_time)`` every ``tick_interval``, before streaming (e.g. to match resting orders);
        returns a function that removes it."""
        return self.venue.add_pump_hook(hook)

    def add_save_hook(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` before every save of the state file (extensions put their state into :attr:`state`)."""
        self.venue.add_save_hook(hook)

    # --- clients, order ids, prices, state -------------------------------------------------------------------

    def next_order_id(self, client_id: int) -> int:
        """The next valid order id of a client id (IB keeps one sequence per client id)."""
        return self.venue.next_order_id(client_id)

    def use_order_id(self, client_id: int, order_id: int) -> None:
        """Record that ``order_id`` was used, so nextValidId moves past it."""
        self.venue.use_order_id(client_id, order_id)

    def price_of(self, con_id: int) -> float:
        """A contract's current price (NaN for an unknown conId)."""
        return self.venue.price_of(con_id)

    def instrument_info(self, con_id: int) -> InstrumentInfo:
        """Security type and multiplier of a conId, for valuation."""
        return self.venue.instrument_info(con_id)

    def trading_hours(self) -> str:
        """IB's trading-hours text for the coming sessions."""
        return self.venue.trading_hours()

    def publish_account(self, account_id: str, con_id: int | None = None) -> None:
        """Push an account's values (and the position of ``con_id``) to every subscriber."""
        publish_account(self.venue, account_id, con_id)

    def save_state(self) -> None:
        """Write accounts and order ids (and whatever extensions put in :attr:`state`) to the state file."""
        self.venue.save_state()


async def serve(
    host: str = "127.0.0.1",
    port: int = 4002,
    accounts: Iterable[str] = DEFAULT_ACCOUNTS,
    cash: float | Mapping[str, float] = 1_000_000.0,
    speed: float = 60.0,
    seed: int = 7,
    state_file: Path | str | None = None,
    *,
    replay_from: date | None = None,
    extensions: Iterable[Extension] = (),
    ready: Callable[[GatewayServer], None] | None = None,
) -> None:
    """Run a gateway until cancelled (the entry point for ``quantdesk gateway``); ``ready`` is called once it
    listens."""
    config = GatewayConfig(
        host=host,
        port=port,
        accounts=tuple(accounts),
        cash=cash,
        speed=speed,
        seed=seed,
        replay_from=replay_from,
        state_file=Path(state_file) if state_file is not None else None,
    )
    async with GatewayServer(config, extensions=extensions) as gateway:
        if ready is not None:
            ready(gateway)
        await asyncio.Event().wait()
