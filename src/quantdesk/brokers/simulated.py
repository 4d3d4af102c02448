"""``SimulatedBroker``: the ``Broker`` protocol on the one matching engine, for backtests and offline paper trading.

Build it with starting cash per account, then *feed* it market data; it fills working orders through
``quantdesk.execution.MatchingEngine`` (so it can never disagree with the backtester or the gateway simulator)::

    broker = SimulatedBroker({"DU1234567": 1_000_000}, calendar=ExchangeSessions("XNYS"))
    await broker.connect()
    broker.feed_bar(bar)                     # the backtester or a replay drives the market
    await broker.place_order(Order.market(Stock("AAPL"), "BUY", 100))
    broker.feed_bar(next_bar)                # the order fills on this bar; listeners get the reports

**Time.** Nothing reads the wall clock. ``now`` is the time of the last data fed (a bar's *end*, a quote's or a
trade's time), or ``start`` before any data; requests are stamped with it, so an order placed after a bar meets the
next bar (the engine's no-look-ahead rule). ``advance_to`` moves time without data (DAY and GTD expiries). The same
inputs give the same reports, ids included (client order ids are the caller's).

**Ids.** Like IB, every order gets an increasing ``order_id`` (from ``first_order_id``) and a unique ``perm_id``
(from ``first_perm_id``), also when it is rejected. Execution ids come from the engine (``<id_prefix>-ex-…``).

**Orders.** The venue (``quantdesk.execution.venue``) holds the orders, accounts, margin and fees. ``place_order``
refuses, with a REJECTED report (code 201) and its reason, an order for an unknown account, one
``capabilities.check`` refuses, a limit or stop price outside the venue's price band (``max_price_deviation``, off
by default; a modify is held to it too), one without any price to value it, and one the venue's margin check refuses;
orders with a parent (bracket exits, OTO children) skip the margin check, as they only fill once their parent has.
An order list is accepted or rejected as a whole. A duplicate client order id raises ``BrokerError`` (code 103):
it is a caller's bug, and the first order keeps working. A refused modification raises ``OrderRejected`` and
leaves the order as it was; refusing a cancel (the order is done) sends the order's report again with code 161.
An order without an account goes to the first account.

**Reports.** Listeners receive, synchronously and in order: an ``OrderStatusReport`` for every acceptance,
rejection, cancel, expiry and modification; for every fill a ``FillReport`` (with its commission), then the order's
``OrderStatusReport``, then the account's ``PositionReport`` (quantity 0 when it closed); ``ConnectionReport`` on
connect and disconnect. Reports are not sent for stops triggering or bracket children becoming active (their status
does not change). Market data reaches subscribers after the reports the same data caused.

**Fees** default to ``ib_fixed_fees()``: IB's fixed schedule for US stocks, per-contract fees for options and
futures; an order whose commission cannot be computed (a non-USD stock under IB fixed) is rejected with the fee
model's message. Pass ``fees=NoFees()`` for none. Requests need ``connect()`` first (``ConnectionLost``
otherwise); feeding data does not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from quantdesk.brokers.base import (
    BrokerReport,
    ConnectionReport,
    ConnectionState,
    FillReport,
    OrderStatusReport,
    PositionReport,
    ReportListener,
    Subscription,
    WhatIfReport,
)
from quantdesk.brokers.capabilities import BrokerCapabilities
from quantdesk.brokers.simulated_market import MarketData
from quantdesk.brokers.simulated_orders import NOT_CANCELLABLE, OrderJournal, what_if_report
from quantdesk.domain.accounts import AccountSnapshot
from quantdesk.domain.events import (
    OrderEvent,
)
from quantdesk.domain.identifiers import AccountId, ClientOrderId, InstrumentId
from quantdesk.domain.instrument_codes import AssetClass
from quantdesk.domain.instruments import Instrument
from quantdesk.domain.market import Bar, BarSize, Quote, TradeTick, require_utc
from quantdesk.domain.order_lists import OrderList
from quantdesk.domain.orders import Order
from quantdesk.domain.values import USD, Currency, Numeric, to_decimal
from quantdesk.errors import BrokerError, ConnectionLost, NotFound
from quantdesk.execution import (
    ALWAYS_OPEN,
    AuctionKind,
    ByAssetClass,
    CalendarSource,
    FeeModel,
    IbFixed,
    MatchingConfig,
    PerContractFee,
    SessionCalendar,
)
from quantdesk.execution.ids import IdSequence, VenueIds
from quantdesk.execution.margin import MarginPolicy
from quantdesk.execution.venue import SimulatedVenue

if TYPE_CHECKING:
    from quantdesk.data.bar_store import BarStore

__all__ = ["DEFAULT_ACCOUNT", "SimulatedBroker", "ib_fixed_fees"]

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT = AccountId("DU1234567")
"""The account a broker built without ``accounts`` has (with USD 1,000,000)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_DAY = timedelta(days=1)
_NOT_CONNECTED = 504


def ib_fixed_fees() -> FeeModel:
    """IB fixed for US stocks, USD 0.65/contract (min 1.00) for options, USD 0.85/contract for futures, else 0."""
    return ByAssetClass(
        {
            AssetClass.STOCK: IbFixed(),
            AssetClass.OPTION: PerContractFee.ib_options(),
            AssetClass.FUTURE: PerContractFee.ib_futures(),
        }
    )


class SimulatedBroker:
    """The ``Broker`` protocol on ``MatchingEngine``, fed with data; see the module docstring for the semantics.

    ``accounts`` maps account ids to starting cash in ``base_currency`` (default ``{DEFAULT_ACCOUNT: 1,000,000}``);
    ``matching`` configures the fill model (volume caps, slippage, ``id_prefix``); ``fees`` the commission (None:
    ``matching.fees`` when set, else ``ib_fixed_fees()``); ``calendar`` the sessions (DAY expiries, auctions; use
    ``ExchangeSessions("XNYS")`` for US stocks); ``margin`` the margin policy (Reg-T by default);
    ``capabilities`` the feature table (everything, named ``simulated``, short selling as the policy allows);
    ``bar_store`` and ``bars`` the history ``historical_bars`` serves besides the bars fed; ``fx_rates`` base units
    per unit of other currencies; ``start`` the time before any data arrives; ``max_price_deviation`` the venue's
    price band (0, the default: off).
    """

    def __init__(
        self,
        accounts: Mapping[AccountId | str, Numeric] | None = None,
        *,
        base_currency: Currency | str = USD,
        matching: MatchingConfig | None = None,
        fees: FeeModel | None = None,
        calendar: CalendarSource = ALWAYS_OPEN,
        margin: MarginPolicy | None = None,
        capabilities: BrokerCapabilities | None = None,
        bar_store: BarStore | None = None,
        bars: Iterable[Bar] = (),
        fx_rates: Mapping[Currency | str, Numeric] | None = None,
        start: datetime | None = None,
        first_order_id: int = 1,
        first_perm_id: int = 1_000_000_001,
        client_id: int | None = None,
        max_price_deviation: float = 0.0,
    ) -> None:
        config = matching or MatchingConfig()
        self._fees: FeeModel = fees or config.fees or ib_fixed_fees()
        policy = margin or MarginPolicy.reg_t()
        self._capabilities = capabilities or BrokerCapabilities(name="simulated", short_selling=policy.short_selling)
        default_cash: Mapping[AccountId | str, Numeric] = {DEFAULT_ACCOUNT: Decimal(1_000_000)}
        cash = default_cash if accounts is None else accounts
        self._market = MarketData(bar_store, bars)
        ids = VenueIds(perm=IdSequence(first_perm_id), order={client_id or 0: IdSequence(first_order_id)})
        self._venue = SimulatedVenue.with_cash(
            cash,
            base=Currency.of(base_currency),
            fees=self._fees,
            price_of=self._market.price,
            policy=policy,
            fx_rates=fx_rates,
            matching=config,
            calendar=calendar,
            short_selling=self._capabilities.short_selling,
            ids=ids,
            client_id=client_id,
            max_price_deviation=max_price_deviation,
        )
        self._accounts, self._engine = self._venue.accounts, self._venue.engine
        self._calendar = calendar
        self._now = None if start is None else require_utc(start, "start")
        self._listeners: list[ReportListener] = []
        self._connected = False
        self._journal = OrderJournal(self._venue, self._market)

    # --- state ---------------------------------------------------------------------------------------------------

    @property
    def capabilities(self) -> BrokerCapabilities:
        """What the simulated venue supports."""
        return self._capabilities

    @property
    def is_connected(self) -> bool:
        """True between ``connect`` and ``disconnect``."""
        return self._connected

    @property
    def now(self) -> datetime | None:
        """The simulated time: the last data point's time (a bar's end), or ``start``; None before either."""
        return self._now

    @property
    def margin_policy(self) -> MarginPolicy:
        """The margin rules of every account."""
        return self._accounts.policy

    def set_fx_rate(self, currency: Currency | str, rate: Numeric) -> None:
        """Set how many base-currency units one unit of ``currency`` is worth."""
        self._accounts.fx.set(currency, rate)

    # --- connection and listeners --------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Start accepting requests (there is nothing to connect to)."""
        self._connected = True
        self._emit([ConnectionReport(state=ConnectionState.CONNECTED, ts=self._clock())])

    async def disconnect(self) -> None:
        """Stop accepting requests; working orders keep working on the data fed."""
        if self._connected:
            self._connected = False
            self._emit([ConnectionReport(state=ConnectionState.DISCONNECTED, ts=self._clock())])

    def add_listener(self, listener: ReportListener) -> Callable[[], None]:
        """Receive every report; returns the function that removes the listener."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    # --- accounts and market data --------------------------------------------------------------------------------

    async def managed_accounts(self) -> list[AccountId]:
        """The accounts, in the order given."""
        self._require_connected()
        return list(self._accounts.ledgers)

    async def account_summary(self, account: AccountId | None = None) -> AccountSnapshot:
        """Net liquidation, cash, buying power and margins of one account (the first when None)."""
        self._require_connected()
        return self._accounts.snapshot(account, self._clock(), self._market.price)

    async def positions(self, account: AccountId | None = None) -> list[PositionReport]:
        """Open positions of one account, or of every account when None."""
        self._require_connected()
        ledgers = list(self._accounts.ledgers.values()) if account is None else [self._accounts.ledger(account)]
        return [
            self._journal.position_report(ledger.account, position, self._clock())
            for ledger in ledgers
            for position in ledger.positions.values()
            if not position.is_flat
        ]

    async def quote(self, instrument: Instrument) -> Quote:
        """The last quote fed (or a bar's or trade's zero-spread stand-in); ``NotFound`` before any data."""
        self._require_connected()
        quote = self._market.quote(instrument.id)
        if quote is None:
            raise NotFound(
                f"no market data for {instrument} yet",
                field="instrument",
                value=str(instrument),
                hint="feed a bar, quote or trade of it to the simulated broker first",
            )
        return quote

    async def subscribe_quotes(
        self, instrument: Instrument, on_quote: Callable[[Quote], None], on_trade: Callable[[TradeTick], None] | None
    ) -> Subscription:
        """Stream the quotes (and trades) fed from now on; the last quote is delivered at once."""
        self._require_connected()
        return self._market.subscribe(instrument, on_quote, on_trade)

    async def historical_bars(
        self,
        instrument: Instrument,
        bar_size: BarSize,
        start: datetime,
        end: datetime,
        *,
        what_to_show: str = "TRADES",
        regular_hours_only: bool = True,
    ) -> list[Bar]:
        """Bars starting in ``[start, end)`` that had ended by ``now`` (no look-ahead), from the data fed and the store.

        Intraday bars outside the calendar's sessions are left out when ``regular_hours_only``.
        """
        self._require_connected()
        if what_to_show.strip().upper() not in ("TRADES", "ADJUSTED_LAST"):
            raise BrokerError(
                f"the simulated broker serves trade bars only, not {what_to_show}",
                field="what_to_show",
                value=what_to_show,
                hint="ask for TRADES (or ADJUSTED_LAST)",
            )
        bars = self._market.bars(instrument, bar_size, start, end, completed_by=self._now)
        if regular_hours_only and bar_size.duration < _ONE_DAY:
            source = self._calendar
            calendar = source if isinstance(source, SessionCalendar) else source(instrument)
            bars = [b for b in bars if calendar.is_open(b.ts)]
        return bars

    # --- orders --------------------------------------------------------------------------------------------------

    async def place_order(self, order: Order) -> OrderStatusReport:
        """Check and submit one order; returns its first report (SUBMITTED, or REJECTED with the reason)."""
        self._require_connected()
        return self._place([order])[0]

    async def place_order_list(self, order_list: OrderList) -> list[OrderStatusReport]:
        """Check every order of the list, then submit all of them or reject all of them."""
        self._require_connected()
        return self._place(list(order_list.orders))

    async def modify_order(
        self,
        client_order_id: ClientOrderId,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> OrderStatusReport:
        """Change a working order; raises ``OrderRejected`` (order unchanged) when the change is refused."""
        self._require_connected()
        ts = self._require_clock()
        raw = {"quantity": quantity, "limit_price": limit_price, "stop_price": stop_price}
        record, events = self._venue.modify(client_order_id, ts, {k: v for k, v in raw.items() if v is not None})
        self._apply(events)
        return self._journal.report(record)

    async def cancel_order(self, client_order_id: ClientOrderId) -> None:
        """Cancel a working order; a finished order's report comes back with code 161 instead."""
        self._require_connected()
        record = self._venue.get(client_order_id)
        if not record.in_engine or record.state.is_terminal:
            why = f"cancel refused: order is already {record.state.status.value}"
            self._emit([self._journal.report(record, reason=why, code=NOT_CANCELLABLE)])
            return
        self._apply(self._engine.cancel(client_order_id, self._require_clock()))

    async def cancel_all_orders(self) -> None:
        """Cancel every working order of every account."""
        self._require_connected()
        for view in self._engine.open_orders():
            cid = view.order.client_order_id
            if not self._engine.state(cid).is_terminal:  # a parent's cancel may have taken it already
                self._apply(self._engine.cancel(cid, self._require_clock(), reason="global cancel"))

    async def order_status(self, client_order_id: ClientOrderId) -> OrderStatusReport:
        """The current report of one order; ``NotFound`` if it was never placed here."""
        self._require_connected()
        record = self._venue.get(client_order_id)
        return self._journal.report(record, reason=record.reason, code=record.code)

    async def open_orders(self) -> list[OrderStatusReport]:
        """Every working order (held bracket exits included), in submission order."""
        self._require_connected()
        return [self._journal.report(self._venue.get(v.order.client_order_id)) for v in self._engine.open_orders()]

    async def completed_orders(self) -> list[OrderStatusReport]:
        """Every order that ended (filled, cancelled, rejected, expired), in submission order."""
        self._require_connected()
        return self._journal.completed_reports()

    async def server_time(self) -> datetime:
        """The simulated time (the last data point's time)."""
        return self._require_clock()

    async def executions(self, since: datetime | None = None) -> list[FillReport]:
        """Every execution at or after ``since`` (all when None), oldest first, each once."""
        self._require_connected()
        if since is None:
            return list(self._journal.executions)
        since = require_utc(since, "since")
        return [r for r in self._journal.executions if r.ts >= since]

    async def what_if(self, order: Order) -> WhatIfReport:
        """Margin changes, equity after and commission of a complete fill; ``warning`` says why it would be refused."""
        self._require_connected()
        order = self._owned(order)
        refusal = self._refusal(order, check_price=False, check_margin=False)
        return what_if_report(self._venue.check(order) if refusal is None else refusal)

    # --- data feeds ----------------------------------------------------------------------------------------------

    def feed_bar(self, bar: Bar) -> list[BrokerReport]:
        """Match working orders against ``bar``; ``now`` becomes the bar's end. Returns the reports sent."""
        events = self._engine.on_bar(bar)
        self._market.mark(bar.instrument_id, bar.close)
        self._advance(bar.ts + bar.bar_size.duration)
        reports = self._apply(events)
        self._market.on_bar(bar)
        return reports

    def feed_quote(self, quote: Quote) -> list[BrokerReport]:
        """Match against ``quote`` (buys at the ask, sells at the bid), then stream it to subscribers."""
        events = self._engine.on_quote(quote)
        self._market.mark(quote.instrument_id, quote.mid)
        self._advance(quote.ts)
        reports = self._apply(events)
        self._market.on_quote(quote)
        return reports

    def feed_trade(self, tick: TradeTick) -> list[BrokerReport]:
        """Match against a reported trade, then stream it to subscribers."""
        events = self._engine.on_trade(tick)
        self._market.mark(tick.instrument_id, tick.price)
        self._advance(tick.ts)
        reports = self._apply(events)
        self._market.on_trade(tick)
        return reports

    def feed_auction(
        self, instrument_id: InstrumentId, kind: AuctionKind, price: Numeric, ts: datetime
    ) -> list[BrokerReport]:
        """An opening or closing auction printed ``price`` at ``ts`` (the calendar's exact open or close)."""
        events = self._engine.on_auction(instrument_id, kind, price, ts)
        self._market.mark(instrument_id, to_decimal(price, "price"))
        self._advance(require_utc(ts))
        return self._apply(events)

    def advance_to(self, ts: datetime) -> list[BrokerReport]:
        """Let time pass to ``ts`` without data: DAY, GTD and missed auction orders expire."""
        ts = require_utc(ts)
        events = self._engine.advance_to(ts)
        self._advance(ts)
        return self._apply(events)

    # --- internals -----------------------------------------------------------------------------------------------

    def _place(self, orders: list[Order]) -> list[OrderStatusReport]:
        ts = self._require_clock()
        self._venue.require_new(orders)
        owned = [self._owned(o) for o in orders]
        records = [self._venue.register(o, ts) for o in owned]
        refusals = [self._refusal(o, check_margin=o.link.parent_client_order_id is None) for o in owned]
        first = next((r for r in refusals if r is not None), None)
        if first is not None:
            reports: list[BrokerReport] = []
            for record, refusal in zip(records, refusals, strict=True):
                reports.append(self._journal.reject(record, refusal or f"rejected with its order list: {first}", ts))
            self._emit(reports)
        else:
            for order, record in zip(owned, records, strict=True):
                record.in_engine = True
                self._apply(self._engine.submit(order, ts))
        return [self._journal.report(r, reason=r.reason, code=r.code) for r in records]

    def _owned(self, order: Order) -> Order:
        return order if order.account is not None else replace(order, account=self._accounts.default)

    def _refusal(self, order: Order, *, check_margin: bool, check_price: bool = True) -> str | None:
        if order.account not in self._accounts:
            known = ", ".join(a.value for a in self._accounts.ledgers)
            return f"unknown account {order.account}: this login manages {known}"
        try:
            self._capabilities.check(order)
        except BrokerError as exc:
            return str(exc)
        return self._venue.refusal(order, check_price=check_price, check_margin=check_margin)

    def _apply(self, events: list[OrderEvent]) -> list[BrokerReport]:
        """Report what the engine did: update accounts and order states, send the reports and return them."""
        reports = self._journal.apply(events)
        self._emit(reports)
        return reports

    def _emit(self, reports: Iterable[BrokerReport]) -> None:
        for report in reports:
            for listener in list(self._listeners):
                try:
                    listener(report)
                except Exception:  # a listener's bug must not corrupt the broker's state
                    log.exception("report listener %r failed on %r", listener, report)

    def _advance(self, ts: datetime) -> None:
        if self._now is None or ts > self._now:
            self._now = ts

    def _clock(self) -> datetime:
        return self._now or _EPOCH

    def _require_clock(self) -> datetime:
        if self._now is None:
            raise BrokerError(
                "the simulated broker has no time yet",
                field="start",
                hint="feed a bar, quote or trade first, or pass start=datetime(..., tzinfo=UTC)",
            )
        return self._now

    def _require_connected(self) -> None:
        if not self._connected:
            raise ConnectionLost(
                "the simulated broker is not connected",
                code=_NOT_CONNECTED,
                field="connection",
                hint="await broker.connect() first",
            )
