"""The one fill model: ``MatchingEngine`` holds working orders and fills them against bars, quotes and trades.

The backtester, the simulated broker and the gateway simulator all drive this engine, so they cannot disagree.
Requests (``submit``, ``modify``, ``cancel``) and data (``on_bar``, ``on_quote``, ``on_trade``, ``on_auction``,
``advance_to``) each return the list of domain order events they caused, in the order they happened. Nothing
reads the wall clock and nothing is random: the same orders and data give the same events, ids included
(execution ids ``<prefix>-ex-00000001``…, event ids ``<prefix>-ev-…``; give each engine its own ``id_prefix``).

**Time.** Every request carries its time. An order only trades on data that starts at or after it was submitted
(no look-ahead): a strategy acting on a bar must submit at the bar's *end* (``bar.ts + bar_size.duration``), so
that its orders meet the next bar. Data for one instrument must not go back in time (``DataError``). Events caused
by a bar carry the bar's end time; expiries carry the moment the order expired.

**Prices** follow ``fill_rules``: a bar is its open (a gap) and then open → nearer extreme → other extreme → close;
a quote fills buys at the ask and sells at the bid; a trade fills both sides at its price. Stops on ticks watch
``MatchingConfig.trigger``. A trailing stop without a ``stop_price`` starts from the instrument's last price when
submitted (else from the first price it sees). Slippage (``slippage``) is adverse and clamped to the limit. An
order fills at most once per data point; what it cannot fill keeps working.

**Quantities.** A fill is the order's allowance (remaining quantity, capped by its parent's fills and its OCA group,
see ``contingent``), capped by ``max_volume_participation`` × the bar's volume (shared by all orders of the
instrument in that bar) or by the displayed size (``respect_quote_size``: the ask size for buys, the bid size for
sells; ``respect_trade_size``: the trade's size), rounded down to the instrument's lot. All-or-none and FOK orders
fill their whole allowance at once or not at all. Auctions are not volume-capped and take no slippage.

**Time in force** (sessions from the instrument's ``SessionCalendar``): DAY expires at the close of the session in
progress when submitted, or of the next session if submitted outside one; GTC lives until cancelled; GTD expires
at ``good_till``; IOC and FOK meet only the first price of the first data point after submission (a bar's open, a
quote, a trade) and are then cancelled; OPG (market/limit-on-open) fills only in the next opening auction — the
open of the bar that contains the session open, or ``on_auction(OPEN)`` — and expires if it did not fill there;
MOC/LOC fill only in the closing auction of their session (the close of the bar that contains the session close,
or ``on_auction(CLOSE)``) and then expire. ``on_auction`` must be called with the calendar's exact open or close.
An order with ``outside_rth=False`` does not trade on data outside regular hours (an intraday bar counts as in
hours when it starts in them; bars of a day or longer always do); it keeps working.

**Contingent orders** (see ``contingent``): a child waits for its parent and then fills up to the parent's filled
share, on the rest of the same bar's path when the parent filled there; OCA groups cancel or reduce the other
members after a fill; cancelling a parent that has not filled cancels its children. ``OrderLink.transmit`` is
ignored: every submitted order is live at once (the OMS submits a list as a whole).

Not modelled: queue position, hidden/discretionary pricing (hidden orders fill like visible ones), market impact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from quantdesk.domain.events import (
    OrderAccepted,
    OrderCancelRejected,
    OrderEvent,
    OrderModified,
    OrderModifyRejected,
    OrderRejected,
)
from quantdesk.domain.identifiers import ClientOrderId, InstrumentId
from quantdesk.domain.instruments import Instrument
from quantdesk.domain.market import Bar, Quote, TradeTick, require_utc
from quantdesk.domain.order_state import OrderState, OrderStatus
from quantdesk.domain.order_types import TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.domain.values import Numeric, to_decimal, to_positive
from quantdesk.errors import DataError, ValidationError
from quantdesk.execution.contingent import OcaGroupState, rebase
from quantdesk.execution.engine_core import ON_CLOSE, AuctionKind, Budget, EngineCore, MatchingConfig, Pass
from quantdesk.execution.fill_rules import Point, bar_legs, quote_point, trade_point
from quantdesk.execution.order_book import OrderView, WorkingOrder
from quantdesk.execution.sessions import ALWAYS_OPEN, SessionCalendar

__all__ = ["AuctionKind", "CalendarSource", "MatchingConfig", "MatchingEngine"]

CalendarSource = SessionCalendar | Callable[[Instrument], SessionCalendar]
"""One calendar for every instrument, or a function choosing one per instrument."""

_ONE_DAY = timedelta(days=1)


class MatchingEngine:
    """Working orders of every instrument, matched deterministically against the data they are fed.

    ``calendar`` gives the sessions (default ``ALWAYS_OPEN``): one ``SessionCalendar``, or a function from the
    instrument to its calendar (called once per instrument).
    """

    def __init__(self, config: MatchingConfig | None = None, *, calendar: CalendarSource = ALWAYS_OPEN) -> None:
        self.config = config or MatchingConfig()
        self._core = EngineCore(self.config)
        self._book = self._core.book
        self._calendar_source = calendar
        self._calendars: dict[InstrumentId, SessionCalendar] = {}
        self._last_price: dict[InstrumentId, Decimal] = {}
        self._last_ts: dict[InstrumentId, datetime] = {}

    # --- queries -------------------------------------------------------------------------------------------------

    def view(self, client_order_id: ClientOrderId) -> OrderView:
        """A snapshot of one order (``NotFound`` if the engine never saw it)."""
        return self._book.require(client_order_id).view()

    def state(self, client_order_id: ClientOrderId) -> OrderState:
        """The order's ``OrderState``: status, filled quantity and average price."""
        return self._book.require(client_order_id).state

    def order(self, client_order_id: ClientOrderId) -> Order:
        """The order's current terms (after modifications)."""
        return self._book.require(client_order_id).order

    def open_orders(self, instrument_id: InstrumentId | None = None) -> list[OrderView]:
        """Snapshots of the live orders (of one instrument, or all), in submission order."""
        records = self._book.all_live() if instrument_id is None else self._book.live(instrument_id)
        return [r.view() for r in records]

    def last_price(self, instrument_id: InstrumentId) -> Decimal | None:
        """The last price seen: bar close, trade price, quote midpoint or auction price."""
        return self._last_price.get(instrument_id)

    # --- requests ------------------------------------------------------------------------------------------------

    def submit(self, order: Order, ts: datetime) -> list[OrderEvent]:
        """Accept ``order`` at ``ts`` (``OrderAccepted``) or refuse it (``OrderRejected`` with the reason)."""
        ts = require_utc(ts)
        cid = order.client_order_id
        if cid in self._book:
            return [self._core.new(OrderRejected, cid, ts, reason=f"duplicate client_order_id {cid}", code=103)]
        state = OrderState.new(cid, order.quantity, ts).apply_status(OrderStatus.PENDING_SUBMIT, ts)
        refusal = self._refusal(order, ts)
        if refusal is not None:
            self._book.add(
                WorkingOrder(order, state.apply_status(OrderStatus.REJECTED, ts), self._core.next("seq"), ts)
            )
            return [self._core.new(OrderRejected, cid, ts, reason=refusal, code=201)]
        expire_at, auction_at = self._lifetime(order, ts)
        record = WorkingOrder(
            order, state.apply_status(OrderStatus.SUBMITTED, ts), self._core.next("seq"), ts, expire_at, auction_at
        )
        parent = self._book.get(order.link.parent_client_order_id)
        if parent is not None:
            parent.children.append(cid)
            record.active = parent.state.filled_quantity > 0
        if order.link.oca_group is not None:
            name, kind = order.link.oca_group, order.link.oca_type
            assert kind is not None  # OrderLink defaults it with the group
            self._core.groups.setdefault(name, OcaGroupState(name, kind)).members.append(cid)
            record.oca_base = Fraction(order.quantity)
        if record.is_trailing:
            record.trail_stop = order.stop_price
            last = self._last_price.get(order.instrument.id)
            if record.active and order.stop_price is None and last is not None:
                self._core.ratchet(record, last)
        self._book.add(record)
        return [self._core.new(OrderAccepted, cid, ts)]

    def submit_all(self, orders: Iterable[Order], ts: datetime) -> list[OrderEvent]:
        """Submit several orders (an order list's ``orders``) in sequence."""
        return [event for order in orders for event in self.submit(order, ts)]

    def cancel(self, client_order_id: ClientOrderId, ts: datetime, reason: str = "cancelled") -> list[OrderEvent]:
        """Cancel a live order (and the children of a parent that has not filled)."""
        ts = require_utc(ts)
        record = self._book.get(client_order_id)
        if record is None or record.state.is_terminal:
            why = "unknown order" if record is None else f"order is already {record.state.status.value}"
            return [
                self._core.new(
                    OrderCancelRejected, client_order_id, ts, reason=why, code=10147 if record is None else 161
                )
            ]
        events: list[OrderEvent] = []
        self._core.finish(record, OrderStatus.CANCELLED, reason, ts, events)
        return events

    def modify(
        self,
        client_order_id: ClientOrderId,
        ts: datetime,
        *,
        quantity: Numeric | None = None,
        limit_price: Numeric | None = None,
        stop_price: Numeric | None = None,
    ) -> list[OrderEvent]:
        """Replace the quantity and/or prices of a live order; what already filled stays filled.

        Refusals come back as ``OrderModifyRejected``: unknown or finished order, a quantity below the filled one,
        prices the order type does not take or off the tick grid. A new ``stop_price`` on a trailing order restarts
        the trail from there. A quantity equal to the filled one completes the order (FILLED).
        """
        ts = require_utc(ts)
        record = self._book.get(client_order_id)
        if record is None or record.state.is_terminal:
            why = "unknown order" if record is None else f"order is already {record.state.status.value}"
            return [self._core.new(OrderModifyRejected, client_order_id, ts, reason=why)]
        raw = {"quantity": quantity, "limit_price": limit_price, "stop_price": stop_price}
        try:
            changes: dict[str, Any] = {k: to_decimal(v, k) for k, v in raw.items() if v is not None}
            if not changes:
                raise ValidationError("nothing to modify", field="quantity", hint="pass quantity or a price")
            new_order = replace(record.order, **changes)
            if new_order.quantity < record.state.filled_quantity:
                raise ValidationError(
                    f"new quantity {new_order.quantity} is below the filled {record.state.filled_quantity}",
                    field="quantity",
                )
        except ValidationError as exc:
            return [self._core.new(OrderModifyRejected, client_order_id, ts, reason=str(exc))]
        if "quantity" in changes:
            record.state = record.state.apply_modify(new_order.quantity, ts)
            group = self._core.group_of(record)
            if group is not None:
                rebase(record, group, new_order.quantity)
        record.order = new_order
        if "stop_price" in changes and record.is_trailing:
            record.trail_stop, record.trail_extreme = new_order.stop_price, None
        event = self._core.new(OrderModified, client_order_id, ts, **changes)
        if record.state.is_terminal:
            self._book.retire(record)
        return [event]

    # --- data ----------------------------------------------------------------------------------------------------

    def on_bar(self, bar: Bar) -> list[OrderEvent]:
        """Match the bar's instrument against ``bar``: opening auction, the intrabar path, closing auction."""
        iid, start = bar.instrument_id, bar.ts
        self._advance_clock(iid, start)
        end = start + bar.bar_size.duration
        events: list[OrderEvent] = []
        if self._book.has_live(iid):
            self._core.expire(self._book.live(iid), start, events)
            self._core.auction(iid, AuctionKind.OPEN, bar.open, end, events, lambda at: start <= at < end)
            cap = self.config.max_volume_participation
            budget = Budget(shared=None if cap is None else bar.volume * cap)
            in_rth = bar.bar_size.duration >= _ONE_DAY or self._calendar(iid).is_open(start)
            p = Pass(iid, start, end, Point.flat(bar.open), bar_legs(bar), budget, in_rth, events)
            self._core.match(p)
            self._core.auction(iid, AuctionKind.CLOSE, bar.close, end, events, lambda at: start < at <= end)
            self._core.close_pass(p)
            self._core.expire(self._book.live(iid), end, events)
        self._last_price[iid] = bar.close
        return events

    def on_quote(self, quote: Quote) -> list[OrderEvent]:
        """Match against a top-of-book quote: buys at the ask, sells at the bid."""
        cfg = self.config
        budget = Budget(buy=quote.ask_size, sell=quote.bid_size) if cfg.respect_quote_size else Budget()
        events = self._tick(quote.instrument_id, quote.ts, quote_point(quote, cfg.trigger), budget)
        self._last_price[quote.instrument_id] = quote.mid
        return events

    def on_trade(self, tick: TradeTick) -> list[OrderEvent]:
        """Match against a reported trade: both sides at its price."""
        budget = Budget(shared=tick.size if self.config.respect_trade_size else None)
        events = self._tick(tick.instrument_id, tick.ts, trade_point(tick, self.config.trigger), budget)
        self._last_price[tick.instrument_id] = tick.price
        return events

    def on_auction(
        self, instrument_id: InstrumentId, kind: AuctionKind, price: Numeric, ts: datetime
    ) -> list[OrderEvent]:
        """The opening or closing auction printed ``price`` at ``ts`` (the calendar's exact open or close)."""
        ts, px = require_utc(ts), to_positive(price, "price")
        self._advance_clock(instrument_id, ts)
        events: list[OrderEvent] = []
        if self._book.has_live(instrument_id):
            self._core.expire(self._book.live(instrument_id), ts, events, inclusive=False)
            self._core.auction(instrument_id, kind, px, ts, events, lambda at: at <= ts)
            self._core.settle_pending(ts, events)
            self._core.expire(self._book.live(instrument_id), ts, events, opg_inclusive=kind is AuctionKind.OPEN)
        self._last_price[instrument_id] = px
        return events

    def advance_to(self, ts: datetime) -> list[OrderEvent]:
        """Expire, across all instruments, the orders whose time ran out by ``ts`` (DAY, GTD, missed OPG)."""
        events: list[OrderEvent] = []
        self._core.expire(self._book.all_live(), require_utc(ts), events)
        return events

    # --- matching ------------------------------------------------------------------------------------------------

    def _tick(self, iid: InstrumentId, ts: datetime, point: Point, budget: Budget) -> list[OrderEvent]:
        self._advance_clock(iid, ts)
        events: list[OrderEvent] = []
        if self._book.has_live(iid):
            self._core.expire(self._book.live(iid), ts, events)
            p = Pass(iid, ts, ts, point, (), budget, self._calendar(iid).is_open(ts), events)
            self._core.match(p)
            self._core.close_pass(p)
        return events

    def _refusal(self, order: Order, ts: datetime) -> str | None:
        link = order.link
        if link.parent_client_order_id is not None:
            parent = self._book.get(link.parent_client_order_id)
            if parent is None:
                return f"unknown parent order {link.parent_client_order_id}: submit the parent first"
            if parent.state.is_terminal and parent.state.filled_quantity == 0:
                return f"parent order {parent.cid} is {parent.state.status.value}"
        if link.oca_group is not None and link.oca_group in self._core.groups:
            group = self._core.groups[link.oca_group]
            if group.oca_type is not link.oca_type:
                assert link.oca_type is not None
                return f"OCA group {group.name} has type {group.oca_type.value}, the order asks {link.oca_type.value}"
            if group.exhausted:
                return f"OCA group {group.name} is already filled"
        if order.good_till is not None and order.good_till <= ts:
            return f"good_till {order.good_till.isoformat()} has already passed"
        return None

    def _lifetime(self, order: Order, ts: datetime) -> tuple[datetime | None, datetime | None]:
        """(expiry, auction time) of a new order, from its instrument's calendar."""
        tif, cal = order.tif, self._calendar_for(order.instrument)
        if order.order_type in ON_CLOSE:
            close = cal.session(ts).close
            return close, close
        if tif is TimeInForce.OPG:
            session = cal.session(ts)
            return None, session.open if ts < session.open else cal.session(session.close).open
        if tif is TimeInForce.DAY:
            return cal.session(ts).close, None
        return (order.good_till if tif is TimeInForce.GTD else None), None

    def _calendar_for(self, instrument: Instrument) -> SessionCalendar:
        cal = self._calendars.get(instrument.id)
        if cal is None:
            source = self._calendar_source
            cal = source if isinstance(source, SessionCalendar) else source(instrument)
            self._calendars[instrument.id] = cal
        return cal

    def _calendar(self, iid: InstrumentId) -> SessionCalendar:
        return self._calendars.get(iid, ALWAYS_OPEN)

    def _advance_clock(self, iid: InstrumentId, ts: datetime) -> None:
        last = self._last_ts.get(iid)
        if last is not None and ts < last:
            raise DataError(
                f"data for {iid} went back in time: {ts.isoformat()} after {last.isoformat()}",
                field="ts",
                value=ts,
                hint="feed each instrument's data in time order",
            )
        self._last_ts[iid] = ts
