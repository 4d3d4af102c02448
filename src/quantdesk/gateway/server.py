"""The gateway server: an asyncio TCP server that speaks the TWS API at server version 178.

It owns everything shared between clients: the contract catalogue, the market model and its clock, the accounts,
the pacing state, the client-id registry (a duplicate id gets error 326 and is closed), the next order ids and the
fault switchboard. Start it with ``async with GatewayServer(config) as gw`` and connect ``ib_async.IB`` to
``gw.port``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from quantdesk.gateway.account_handlers import install_account_handlers, publish_account
from quantdesk.gateway.accounts import AccountBook, InstrumentInfo, cash_by_account, load_state, save_state
from quantdesk.gateway.clock import NEW_YORK, SESSION_SECONDS, SessionCalendar, SimClock, last_weekday
from quantdesk.gateway.config import DEFAULT_ACCOUNTS, GatewayConfig
from quantdesk.gateway.contracts import ContractCatalog, build_catalog
from quantdesk.gateway.faults import Faults
from quantdesk.gateway.flood import install_flood
from quantdesk.gateway.handlers import HandlerTable, install_core_handlers
from quantdesk.gateway.history import HistoryBuilder
from quantdesk.gateway.market_data import MarketModel
from quantdesk.gateway.market_handlers import install_market_handlers
from quantdesk.gateway.order_handlers import install_orders
from quantdesk.gateway.pacing import HistoricalPacer, LineCounter
from quantdesk.gateway.sample import build_series, load_sample_closes
from quantdesk.gateway.session import Session
from quantdesk.gateway.writer import CoalescingWriter

__all__ = ["Extension", "GatewayServer", "serve"]

Extension = Callable[["GatewayServer"], None]
_log = logging.getLogger("quantdesk.gateway")
_clients = logging.getLogger("quantdesk.gateway.clients")
DEFAULT_REPLAY_LOOKAHEAD = 252
DEFAULT_START_SECONDS = 1800.0


class GatewayServer:
    """A TWS-API simulator; see the package documentation for what it serves."""

    def __init__(self, config: GatewayConfig | None = None, *, extensions: Iterable[Extension] = ()) -> None:
        self.config = config = config or GatewayConfig()
        sample = load_sample_closes()
        n_rows = len(sample.dates)
        replay_row = sample.row_of(config.replay_from) if config.replay_from else n_rows - 1 - DEFAULT_REPLAY_LOOKAHEAD
        if config.start is not None:
            start_local = config.start.astimezone(NEW_YORK)
            anchor_date = start_local.date()
        else:
            anchor_date = last_weekday(datetime.now(NEW_YORK).date())
        self.calendar = SessionCalendar(anchor_date, replay_row, n_rows)
        start_tt = (
            self.calendar.to_tt(config.start)
            if config.start is not None
            else replay_row * SESSION_SECONDS + DEFAULT_START_SECONDS
        )
        self.clock = SimClock(self.calendar, start_tt, config.speed)
        series = build_series(sample, replay_row, config.seed)
        prices = {s: float(series[s].close[replay_row]) for s in config.option_underlyings}
        self.catalog: ContractCatalog = build_catalog(self.calendar.date_of(replay_row), prices)
        self.market = MarketModel(self.catalog, series, self.calendar, config.seed)
        self.history = HistoryBuilder(self.market)
        self.accounts = AccountBook(cash_by_account(config.accounts, config.cash), config.currency)
        self.pacer = HistoricalPacer(enabled=config.historical_pacing, small_bars_only=config.pace_small_bars_only)
        self.lines = LineCounter(config.market_data_lines)
        self.faults = Faults(self)
        self.handlers = HandlerTable()
        for install in (install_core_handlers, install_account_handlers, install_market_handlers):
            install(self.handlers)
        self.sessions: dict[int, Session] = {}
        self.next_order_ids: dict[int, int] = {}
        self.state: dict[str, Any] = {}
        self._connections: set[Session] = set()
        self._server: asyncio.Server | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pump_hooks: list[Callable[[float], None]] = []
        self._save_hooks: list[Callable[[], None]] = []
        self.extras: dict[str, Any] = {}
        self.port = config.port
        self._load_state()
        self.accounts.on_change(lambda account_id, con_id: publish_account(self, account_id, con_id))
        install_orders(self)
        if config.tick_flood:
            install_flood(self)
        for extension in extensions:
            extension(self)

    # --- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> GatewayServer:
        """Bind and listen (port 0 picks a free port, readable as :attr:`port` afterwards)."""
        if self._server is not None:
            return self
        self._server = await asyncio.start_server(self._on_connect, self.config.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        if self._pump_task is None or self._pump_task.done():
            self._pump_task = asyncio.get_running_loop().create_task(self._pump())
        _log.info("gateway listening on %s:%s (server version 178)", self.config.host, self.port)
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
        session = Session(self, reader, cast(asyncio.StreamWriter, CoalescingWriter(writer)))
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
            for hook in list(self._pump_hooks):
                try:
                    hook(tt)
                except Exception:
                    _log.exception("pump hook %r failed", hook)
            for session in list(self.sessions.values()):
                if session.ready and session.is_open:
                    try:
                        session.streams.pump(tt)
                    except Exception:
                        _log.exception("streaming to client %s failed", session.client_id)

    def add_pump_hook(self, hook: Callable[[float], None]) -> Callable[[], None]:
        """Call ``hook(trading_time)`` every ``tick_interval``, before streaming (e.g. to match resting orders);
        returns a function that removes it."""
        self._pump_hooks.append(hook)

        def remove() -> None:
            if hook in self._pump_hooks:
                self._pump_hooks.remove(hook)

        return remove

    def add_save_hook(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` before every save of the state file (extensions put their state into :attr:`state`)."""
        self._save_hooks.append(hook)

    # --- clients and order ids -------------------------------------------------------------------------------

    def register(self, session: Session, client_id: int) -> bool:
        """Claim a client id for a session; ``False`` when a live session already holds it."""
        current = self.sessions.get(client_id)
        if current is not None and current is not session and current.is_open:
            _clients.info("client %s refused: the client id is in use (%s)", client_id, session.peer)
            return False
        self.sessions[client_id] = session
        _clients.info("client %s connected from %s", client_id, session.peer)
        return True

    def unregister(self, session: Session) -> None:
        """Release the session's client id (only if it still holds it)."""
        if session.client_id is not None and self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]
            _clients.info("client %s disconnected", session.client_id)

    def next_order_id(self, client_id: int) -> int:
        """The next valid order id of a client id (IB keeps one sequence per client id)."""
        return self.next_order_ids.get(client_id, 1)

    def use_order_id(self, client_id: int, order_id: int) -> None:
        """Record that ``order_id`` was used, so nextValidId moves past it."""
        self.next_order_ids[client_id] = max(self.next_order_id(client_id), order_id + 1)

    # --- prices, accounts, state -----------------------------------------------------------------------------

    def price_of(self, con_id: int) -> float:
        """A contract's current price (NaN for an unknown conId)."""
        return self.market.last_price(con_id, self.clock.now_tt())

    def instrument_info(self, con_id: int) -> InstrumentInfo:
        """Security type and multiplier of a conId, for valuation."""
        spec = self.catalog.get(con_id)
        return InstrumentInfo("STK", 1.0) if spec is None else InstrumentInfo(spec.sec_type, spec.multiplier_value)

    def trading_hours(self) -> str:
        """IB's trading-hours text for the coming sessions."""
        return self.calendar.trading_hours(self.calendar.split(self.clock.now_tt())[0])

    def publish_account(self, account_id: str, con_id: int | None = None) -> None:
        """Push an account's values (and the position of ``con_id``) to every subscriber."""
        publish_account(self, account_id, con_id)

    def _load_state(self) -> None:
        path = self.config.state_file
        if path is None:
            return
        self.state = load_state(Path(path))
        self.accounts.load_json(self.state.get("accounts", {}))
        self.next_order_ids = {int(k): int(v) for k, v in self.state.get("next_order_ids", {}).items()}

    def save_state(self) -> None:
        """Write accounts and order ids (and whatever extensions put in :attr:`state`) to the state file."""
        path = self.config.state_file
        if path is None:
            return
        for hook in list(self._save_hooks):
            hook()
        self.state["accounts"] = self.accounts.to_json()
        self.state["next_order_ids"] = {str(k): v for k, v in self.next_order_ids.items()}
        save_state(Path(path), self.state)


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
