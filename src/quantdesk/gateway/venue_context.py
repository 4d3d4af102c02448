"""The gateway's venue: everything shared between clients, as one typed object the handlers are given.

The contract catalogue, the market model on its simulated clock, the accounts, pacing and market-data lines, the
fault switchboard, the client-id registry, the next order ids, the state file and typed slots for extensions (the
order desk lives in one). :func:`build_venue` makes it from a :class:`~quantdesk.gateway.config.GatewayConfig`;
the server owns one and adds sockets and the pump around it. Nothing here imports a handler, the session or the
server, so every module of the gateway can depend on this one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from quantdesk.gateway.accounts import AccountBook, InstrumentInfo, cash_by_account, load_state, save_state
from quantdesk.gateway.client import ClientRegistry, ClientSession
from quantdesk.gateway.clock import NEW_YORK, SESSION_SECONDS, SessionCalendar, SimClock, last_weekday
from quantdesk.gateway.config import GatewayConfig
from quantdesk.gateway.contracts import ContractCatalog, build_catalog
from quantdesk.gateway.faults import Faults, Restart
from quantdesk.gateway.history import HistoryBuilder
from quantdesk.gateway.market_data import MarketModel
from quantdesk.gateway.pacing import HistoricalPacer, LineCounter
from quantdesk.gateway.sample import build_series, load_sample_closes
from quantdesk.gateway.slots import ExtensionSlots

__all__ = ["DEFAULT_REPLAY_LOOKAHEAD", "DEFAULT_START_SECONDS", "PumpHook", "VenueContext", "build_venue"]

PumpHook = Callable[[float], None]
DEFAULT_REPLAY_LOOKAHEAD = 252
DEFAULT_START_SECONDS = 1800.0


@dataclass(eq=False)
class VenueContext:
    """The shared state of one gateway that handlers, the order desk and extensions work on."""

    config: GatewayConfig
    calendar: SessionCalendar
    clock: SimClock
    catalog: ContractCatalog
    market: MarketModel
    history: HistoryBuilder
    accounts: AccountBook
    pacer: HistoricalPacer
    lines: LineCounter
    clients: ClientRegistry
    faults: Faults
    next_order_ids: dict[int, int] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    slots: ExtensionSlots = field(default_factory=ExtensionSlots)
    pump_hooks: list[PumpHook] = field(default_factory=list)
    save_hooks: list[Callable[[], None]] = field(default_factory=list)

    # --- clients and order ids -------------------------------------------------------------------------------

    @property
    def sessions(self) -> dict[int, ClientSession]:
        """Client id → the session holding it."""
        return self.clients.sessions

    def next_order_id(self, client_id: int) -> int:
        """The next valid order id of a client id (IB keeps one sequence per client id)."""
        return self.next_order_ids.get(client_id, 1)

    def use_order_id(self, client_id: int, order_id: int) -> None:
        """Record that ``order_id`` was used, so nextValidId moves past it."""
        self.next_order_ids[client_id] = max(self.next_order_id(client_id), order_id + 1)

    # --- prices ----------------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The simulated time."""
        return self.clock.now()

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

    # --- hooks and state -------------------------------------------------------------------------------------

    def add_pump_hook(self, hook: PumpHook) -> Callable[[], None]:
        """Call ``hook(trading_time)`` every ``tick_interval``, before streaming (e.g. to match resting orders);
        returns a function that removes it."""
        self.pump_hooks.append(hook)

        def remove() -> None:
            if hook in self.pump_hooks:
                self.pump_hooks.remove(hook)

        return remove

    def add_save_hook(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` before every save of the state file (extensions put their state into :attr:`state`)."""
        self.save_hooks.append(hook)

    def load_state(self) -> None:
        """Read accounts, order ids and the extensions' state from the state file, if there is one."""
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
        for hook in list(self.save_hooks):
            hook()
        self.state["accounts"] = self.accounts.to_json()
        self.state["next_order_ids"] = {str(k): v for k, v in self.next_order_ids.items()}
        save_state(Path(path), self.state)


def build_venue(config: GatewayConfig, *, restart: Restart) -> VenueContext:
    """The venue a config describes (sample replay, catalogue, accounts, pacing), its state file loaded.

    ``restart`` is what :meth:`Faults.restart` calls: the server's own restart, which only the server can do."""
    sample = load_sample_closes()
    n_rows = len(sample.dates)
    replay_row = sample.row_of(config.replay_from) if config.replay_from else n_rows - 1 - DEFAULT_REPLAY_LOOKAHEAD
    if config.start is not None:
        anchor_date = config.start.astimezone(NEW_YORK).date()
    else:
        anchor_date = last_weekday(datetime.now(NEW_YORK).date())
    calendar = SessionCalendar(anchor_date, replay_row, n_rows)
    start_tt = (
        calendar.to_tt(config.start)
        if config.start is not None
        else replay_row * SESSION_SECONDS + DEFAULT_START_SECONDS
    )
    series = build_series(sample, replay_row, config.seed)
    prices = {s: float(series[s].close[replay_row]) for s in config.option_underlyings}
    catalog = build_catalog(calendar.date_of(replay_row), prices)
    market = MarketModel(catalog, series, calendar, config.seed)
    clients = ClientRegistry()
    venue = VenueContext(
        config=config,
        calendar=calendar,
        clock=SimClock(calendar, start_tt, config.speed),
        catalog=catalog,
        market=market,
        history=HistoryBuilder(market),
        accounts=AccountBook(cash_by_account(config.accounts, config.cash), config.currency),
        pacer=HistoricalPacer(enabled=config.historical_pacing, small_bars_only=config.pace_small_bars_only),
        lines=LineCounter(config.market_data_lines),
        clients=clients,
        faults=Faults(clients, restart),
    )
    venue.load_state()
    return venue
