"""The connection check users run before trading (``quantdesk validate``), as a service returning results.

Each step is a :class:`CheckResult` (✓ or ✗, what was seen, and the fix on failure): connection, accounts, account
summary, positions, a quote, a day of bars and, with ``full_test``, a tiny limit order far from the market that is
placed and cancelled again. The order step refuses a live port (7496, 4001) or a live account (ids not starting
with ``D``) unless ``allow_live_orders`` is set, which the CLI only does after ``--live`` and an interactive yes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from quantdesk.brokers.capabilities import BrokerCapabilities
from quantdesk.brokers.ib.accounts import AccountService
from quantdesk.brokers.ib.connection import ConnectionConfig, ConnectionRole, IBConnection
from quantdesk.brokers.ib.contracts import ContractResolver, QualifiedContract
from quantdesk.brokers.ib.historical import HistoricalDataService
from quantdesk.brokers.ib.market_data import MarketDataService, MarketSnapshot
from quantdesk.brokers.ib.order_flow import OrderRouter
from quantdesk.config import LIVE_PORTS
from quantdesk.domain.identifiers import AccountId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import BarSize
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.errors import QuantdeskError

__all__ = ["CheckResult", "ValidationOptions", "ValidationReport", "run_validation"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One step of the check."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    seconds: float = 0.0
    skipped: bool = False

    @property
    def line(self) -> str:
        """``✓ name: detail`` or ``✗ name: detail — fix: …``."""
        mark = "✓" if self.ok else "✗"
        fix = f" — fix: {self.fix}" if self.fix and not self.ok else ""
        return f"{mark} {self.name}: {self.detail}{fix}"


@dataclass(frozen=True, slots=True)
class ValidationOptions:
    """What to check and where."""

    host: str = "127.0.0.1"
    port: int = 7497
    client_id: int = 2
    timeout: float = 10.0
    full_test: bool = False
    allow_live_orders: bool = False
    symbol: str = "AAPL"
    market_data_type: str = "live"
    account: str = ""

    @property
    def live_port(self) -> bool:
        """True for TWS 7496 and IB Gateway 4001."""
        return self.port in LIVE_PORTS


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """Every step's result."""

    options: ValidationOptions
    checks: tuple[CheckResult, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when every step passed."""
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        o = self.options
        return {
            "ok": self.ok,
            "host": o.host,
            "port": o.port,
            "client_id": o.client_id,
            "live_port": o.live_port,
            "full_test": o.full_test,
            "checks": [
                {"name": c.name, "ok": c.ok, "detail": c.detail, "fix": c.fix, "seconds": round(c.seconds, 3),
                 "skipped": c.skipped}
                for c in self.checks
            ],
        }  # fmt: skip


class _Checker:
    def __init__(self, options: ValidationOptions) -> None:
        self.o = options
        self.results: list[CheckResult] = []
        cfg = ConnectionConfig(options.host, options.port, options.client_id, options.timeout,
                               not options.full_test, options.account, ConnectionRole.CHECK)  # fmt: skip
        self.conn = IBConnection(cfg)
        self.resolver = ContractResolver(self.conn, timeout=options.timeout)
        self.accounts = AccountService(self.conn, self.resolver, default_account=options.account,
                                       timeout=options.timeout)  # fmt: skip
        self.market = MarketDataService(self.conn, options.market_data_type, timeout=options.timeout)
        self.history = HistoricalDataService(self.conn, timeout=max(options.timeout, 30.0))
        self.stock = Stock(options.symbol)
        self.snapshot: MarketSnapshot | None = None
        self.qualified: QualifiedContract | None = None
        self.managed: list[AccountId] = []

    async def step(self, name: str, body: Callable[[], Awaitable[tuple[bool, str, str]]]) -> bool:
        started = time.perf_counter()
        try:
            ok, detail, fix = await body()
        except QuantdeskError as exc:
            ok, detail, fix = False, exc.message, exc.hint or ""
        except (TimeoutError, ConnectionError, OSError) as exc:
            ok, detail, fix = False, f"{type(exc).__name__}: {exc}", "check that TWS/Gateway is up and responsive"
        self.results.append(CheckResult(name, ok, detail, fix, time.perf_counter() - started))
        return ok

    def skip(self, *names: str, why: str) -> None:
        for name in names:
            self.results.append(CheckResult(name, False, f"skipped: {why}", skipped=True))

    async def connection(self) -> tuple[bool, str, str]:
        started = time.perf_counter()
        await self.conn.connect()
        version = self.conn.ib.client.serverVersion()
        return True, (f"connected to {self.o.host}:{self.o.port} as client {self.o.client_id} "
                      f"(server version {version}) in {time.perf_counter() - started:.2f} s"), ""  # fmt: skip

    async def managed_accounts(self) -> tuple[bool, str, str]:
        self.managed = self.accounts.managed_accounts()
        if not self.managed:
            return False, "IB reported no managed accounts", "log in to TWS with a trading account"
        kinds = ", ".join(f"{a} ({'paper' if a.is_paper else 'LIVE'})" for a in self.managed)
        return True, f"{len(self.managed)} account(s): {kinds}", ""

    async def summary(self) -> tuple[bool, str, str]:
        snaps = await self.accounts.summaries()
        parts = [f"{a} net liquidation {s.net_liquidation}, buying power {s.buying_power}" for a, s in snaps.items()]
        return True, "; ".join(parts), ""

    async def positions(self) -> tuple[bool, str, str]:
        held = self.accounts.positions()
        by_account: dict[str, int] = {}
        for p in held:
            by_account[p.account.value] = by_account.get(p.account.value, 0) + 1
        text = ", ".join(f"{a}: {n}" for a, n in sorted(by_account.items())) or "none"
        return True, f"{len(held)} position(s) ({text})", ""

    async def quote(self) -> tuple[bool, str, str]:
        self.qualified = await self.resolver.qualify(self.stock)
        self.snapshot = snap = await self.market.snapshot(self.qualified.instrument, self.qualified.contract)
        kind = snap.data_type.name.lower().replace("_", "-")
        if snap.quote is not None:
            q = snap.quote
            return True, f"{self.o.symbol} bid {q.bid} × ask {q.ask} ({kind} data)", ""
        if snap.price is not None:
            return True, f"{self.o.symbol} last {snap.price} (no bid/ask now; {kind} data)", ""
        return (
            False,
            f"no price for {self.o.symbol} ({kind} data)",
            (
                "subscribe to market data for it, or set ib.market_data_type = 'delayed' (or 'delayed_frozen' when the "
                "market is closed)"
            ),
        )

    async def bars(self) -> tuple[bool, str, str]:
        q = self.qualified or await self.resolver.qualify(self.stock)
        bars = await self.history.fetch(q.contract, q.instrument.id, BarSize.MIN_5, None, "1 D")
        if not bars:
            return False, f"no 5-minute bars for {self.o.symbol} over the last day", "check the data farm (2106)"
        span = f"{bars[0].ts:%Y-%m-%d %H:%M} to {bars[-1].ts:%Y-%m-%d %H:%M} UTC"
        return True, f"{len(bars)} five-minute bars of {self.o.symbol}, {span}", ""

    async def order(self) -> tuple[bool, str, str]:
        if not self.o.allow_live_orders:
            if self.o.live_port:
                return (
                    False,
                    f"refused to place an order on the live port {self.o.port}",
                    ("run the full test on a paper port (7497, 4002), or pass --live and confirm"),
                )
            live = [a.value for a in self.managed if not a.is_paper]
            if live:
                return (
                    False,
                    f"refused to place an order: {', '.join(live)} is a live account",
                    ("log in to a paper account, or pass --live and confirm"),
                )
        q = self.qualified or await self.resolver.qualify(self.stock)
        price = self.snapshot.price if self.snapshot is not None else None
        if price is None:
            return False, "no price to place the test order away from", "fix the quote check first"
        tick = q.instrument.tick_size
        limit = max(q.instrument.round_to_tick(price * Decimal("0.8"), ROUND_FLOOR), tick)  # 20 % below: rests
        account = AccountId(self.o.account) if self.o.account else (self.managed[0] if self.managed else None)
        order = Order.limit(q.instrument, OrderSide.BUY, 1, limit, account=account)
        router = OrderRouter(self.conn, self.resolver, lambda _r: None, capabilities=BrokerCapabilities(),
                             ack_timeout=self.o.timeout)  # fmt: skip
        placed = await router.place(order)
        if placed.status in (OrderStatus.REJECTED, OrderStatus.CANCELLED) or not placed.status.is_active:
            return (
                False,
                f"the test order was {placed.status.value.lower()}: {placed.reason or 'no reason given'}",
                ("check the account's trading permissions and the API settings (Read-Only API must be off)"),
            )
        await router.cancel(order.client_order_id)
        deadline = time.monotonic() + self.o.timeout
        status = router.status(order.client_order_id)
        while status.status is not OrderStatus.CANCELLED and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            status = router.status(order.client_order_id)
        if status.status is not OrderStatus.CANCELLED:
            what = f"the test order (BUY 1 {self.o.symbol} LMT {limit}) is {status.status.value.lower()}"
            return False, f"{what} after the cancel", "cancel it in TWS by hand and check the API settings"
        order_id = placed.broker_order_id.order_id
        return True, f"placed BUY 1 {self.o.symbol} LMT {limit} (IB order {order_id}) and cancelled it", ""


async def run_validation(options: ValidationOptions) -> ValidationReport:
    """Run every check against ``options.host:port`` and return the results (never raises for IB problems)."""
    c = _Checker(options)
    try:
        if not await c.step("connection", c.connection):
            c.skip("accounts", "account summary", "positions", "quote", "bars", why="not connected")
            if options.full_test:
                c.skip("test order", why="not connected")
            return ValidationReport(options, tuple(c.results))
        c.market.apply_data_type()
        await c.step("accounts", c.managed_accounts)
        await c.step("account summary", c.summary)
        await c.step("positions", c.positions)
        await c.step("quote", c.quote)
        await c.step("bars", c.bars)
        if options.full_test:
            await c.step("test order", c.order)
    finally:
        await c.conn.disconnect()
    return ValidationReport(options, tuple(c.results))
