"""The gateway's settings: one frozen, documented object with defaults that suit tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from quantdesk.errors import ValidationError

__all__ = ["DEFAULT_ACCOUNTS", "GatewayConfig"]

DEFAULT_ACCOUNTS = ("DU1000001", "DU1000002")


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """How a :class:`~quantdesk.gateway.GatewayServer` listens, what it holds and how fast its market moves.

    Parameters
    ----------
    host, port
        Where to listen; port 0 lets the OS choose (read ``GatewayServer.port`` after ``start()``).
    accounts
        The managed account ids, in the order ``managedAccounts`` lists them.
    cash
        Starting cash of every account, or a mapping account id → cash.
    currency
        The accounts' base currency.
    speed
        Simulated trading seconds per real second (60: a minute per second; 0 freezes the market).
    seed
        Seeds the intraday paths and the synthetic series; the same seed replays the same market.
    start
        The simulated instant the clock starts at; default: 10:00 New York on today's session (the last weekday).
    replay_from
        The sample trading date replayed as the start session; default: 252 sessions before the sample's end.
    tick_interval
        Real seconds between two pushes of streaming ticks and bars.
    market_data_lines
        Concurrent streaming ``reqMktData`` subscriptions allowed across all clients (error 101 beyond).
    max_messages_per_second
        Messages a client may send in one second before error 100 and a disconnect (0 disables).
    historical_pacing, pace_small_bars_only
        Enforce IB's historical pacing (error 162), by default only for bars of 30 seconds or less, as IB does.
    max_history_bars
        Largest number of bars one historical request may return (error 162 beyond).
    farm_notices
        Send the 2104/2106/2158 "farm connection is OK" notices after the handshake.
    option_underlyings
        Stocks that get an option chain.
    state_file
        JSON file the accounts, order ids, orders and executions are loaded from at start and saved to at stop.
    read_only, read_only_client_ids
        IB's "Read-Only API" setting, for every client or for the listed client ids: order requests get error 321.
    master_client_id
        The client id that sees every client's orders and executions (IB's "Master API client id"); None: nobody.
    paper
        Answer working orders PreSubmitted first, then Submitted, as a paper account does (else Submitted at once).
    commission_schedule
        ``fixed`` or ``tiered`` (IB's US stock schedules, with IB's option/future/forex fees), or ``none``.
    respect_quote_size
        A quote fills at most its displayed size, so a large order fills in several executions.
    max_price_deviation
        Reject limit and stop prices further than this share from the market price (0.5: 50 %; 0 disables).
    margin_check
        Reject orders whose initial margin the account's equity with loan value cannot cover.
    tick_flood
        Stream ticks back-to-back as fast as each client reads them (for throughput benchmarks), on top of the
        regular pushes every ``tick_interval``.
    extra
        Free-form settings for extensions (the order module's commission model, fill latency, …).
    """

    host: str = "127.0.0.1"
    port: int = 0
    accounts: tuple[str, ...] = DEFAULT_ACCOUNTS
    cash: float | Mapping[str, float] = 1_000_000.0
    currency: str = "USD"
    speed: float = 60.0
    seed: int = 7
    start: datetime | None = None
    replay_from: date | None = None
    tick_interval: float = 0.25
    market_data_lines: int = 100
    max_messages_per_second: int = 50
    historical_pacing: bool = True
    pace_small_bars_only: bool = True
    max_history_bars: int = 100_000
    farm_notices: bool = True
    option_underlyings: tuple[str, ...] = ("AAPL",)
    state_file: Path | None = None
    read_only: bool = False
    read_only_client_ids: tuple[int, ...] = ()
    master_client_id: int | None = 0
    paper: bool = True
    commission_schedule: str = "fixed"
    respect_quote_size: bool = True
    max_price_deviation: float = 0.5
    margin_check: bool = True
    tick_flood: bool = False
    extra: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.accounts:
            raise ValidationError("at least one account is needed", field="accounts", hint="e.g. ('DU1000001',)")
        if len(set(self.accounts)) != len(self.accounts):
            raise ValidationError("account ids must be unique", field="accounts", value=self.accounts)
        if self.speed < 0:
            raise ValidationError("must be >= 0", field="speed", value=self.speed, hint="0 freezes the market")
        if self.tick_interval <= 0:
            raise ValidationError("must be > 0", field="tick_interval", value=self.tick_interval)
        if not 0 <= self.port <= 65535:
            raise ValidationError("not a TCP port", field="port", value=self.port, hint="0 lets the OS choose")
        if self.commission_schedule not in ("fixed", "tiered", "none"):
            raise ValidationError(
                "unknown commission schedule",
                field="commission_schedule",
                value=self.commission_schedule,
                hint="use fixed, tiered or none",
            )
        if self.max_price_deviation < 0:
            raise ValidationError(
                "must be >= 0", field="max_price_deviation", value=self.max_price_deviation, hint="0 disables the check"
            )
        if self.start is not None and self.start.tzinfo is None:
            raise ValidationError(
                "must be timezone-aware", field="start", value=self.start, hint="pass tzinfo=ZoneInfo(...)"
            )
