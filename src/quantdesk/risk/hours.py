"""The ``trading_hours`` rule: orders that execute at once (market, IOC, FOK) only while the exchange is open.

Resting orders (limit, stop, trailing with tif DAY/GTC/GTD) and auction orders (on-open, on-close) pass at any
time. The exchange is the instrument's ``exchange``; SMART routing uses its ``primary_exchange``, else XNYS for
USD instruments. IB exchange names map to calendars as ``quantdesk.data.calendars`` says. A calendar is loaded
once per exchange and answers by bisection (``quantdesk.execution.sessions.ExchangeSessions``), so a check costs
microseconds once warm; call ``warm_up`` at start-up, since the first load takes a second or two. An exchange
without a calendar (or a time outside it) passes, with a debug log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from quantdesk.domain.instruments import Instrument
from quantdesk.domain.order_types import OrderType, TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.errors import DataError, NotFound
from quantdesk.execution.sessions import ExchangeSessions, SessionCalendar
from quantdesk.risk.checks import violation
from quantdesk.risk.context import RiskViolation
from quantdesk.risk.facts import OrderFacts
from quantdesk.risk.limits import RiskLimits

__all__ = ["TradingHours", "exchange_calendar", "executes_at_once", "trading_exchange"]

log = logging.getLogger(__name__)

CalendarLoader = Callable[[str], SessionCalendar | None]


def executes_at_once(order: Order) -> bool:
    """True for orders that trade on arrival: market (not on-open) and any IOC or FOK order."""
    if order.tif in (TimeInForce.IOC, TimeInForce.FOK):
        return True
    return order.order_type is OrderType.MARKET and order.tif is not TimeInForce.OPG


def trading_exchange(instrument: Instrument) -> str | None:
    """The exchange whose hours apply: the listing one, the primary one for SMART, XNYS for SMART in USD."""
    exchange = instrument.exchange.upper()
    if exchange != "SMART":
        return exchange
    if instrument.primary_exchange:
        return instrument.primary_exchange.upper()
    return "XNYS" if instrument.currency.code == "USD" else None


def exchange_calendar(exchange: str) -> SessionCalendar | None:
    """The loaded session calendar of an IB exchange or calendar name, or None when none is known."""
    from quantdesk.data.calendars import calendar_name

    try:
        calendar = ExchangeSessions(calendar_name(exchange))
        calendar.is_open(datetime.now(UTC))  # loads and caches the session bounds
    except NotFound:
        return None
    except DataError:
        pass  # "now" lies outside the calendar's range; it may still answer for the times it covers
    return calendar


class TradingHours:
    """Open/closed per instrument from exchange calendars, cached per exchange; the ``trading_hours`` rule."""

    def __init__(self, loader: CalendarLoader = exchange_calendar) -> None:
        self._loader = loader
        self._calendars: dict[str, SessionCalendar | None] = {}

    def calendar(self, exchange: str) -> SessionCalendar | None:
        """The cached calendar of ``exchange`` (loaded on first use), or None when unknown."""
        try:
            return self._calendars[exchange]
        except KeyError:
            pass
        calendar = self._loader(exchange)
        if calendar is None:
            log.debug("trading_hours: no calendar for exchange %s; its orders pass the trading-hours rule", exchange)
        self._calendars[exchange] = calendar
        return calendar

    def warm_up(self, instruments: Iterable[Instrument]) -> None:
        """Load the calendars of ``instruments`` now rather than on their first order."""
        for instrument in instruments:
            exchange = trading_exchange(instrument)
            if exchange is not None:
                self.calendar(exchange)

    def is_open(self, instrument: Instrument, ts: datetime) -> bool | None:
        """Whether the instrument's exchange is in regular hours at ``ts``; None when that is unknown."""
        exchange = trading_exchange(instrument)
        calendar = None if exchange is None else self.calendar(exchange)
        if calendar is None:
            return None
        try:
            return calendar.is_open(ts)
        except DataError:
            log.debug("trading_hours: %s is outside the %s calendar; the order passes", ts.isoformat(), exchange)
            return None

    def check(self, facts: OrderFacts, limits: RiskLimits) -> RiskViolation | None:
        """The ``trading_hours`` rule: refuse an order that executes at once while its exchange is closed."""
        order = facts.order
        if not executes_at_once(order):
            return None
        now = facts.ctx.now
        if self.is_open(order.instrument, now) is not False:
            return None
        exchange = trading_exchange(order.instrument)
        calendar = self.calendar(exchange) if exchange is not None else None
        when = f"{now:%Y-%m-%d %H:%M:%S} UTC"
        hint = "send a resting limit order (tif DAY or GTC) or an on-open order, or wait for the open"
        if calendar is not None:
            try:
                opens = calendar.session(now).open
            except DataError:
                opens = now
            if opens > now:
                hint += f" (next open {opens:%Y-%m-%d %H:%M} UTC)"
        kind = f"{order.order_type.label} {order.tif.value}"
        return violation(
            "trading_hours",
            f"{exchange} open",
            f"closed at {when}",
            f"{exchange} is closed at {when}, and {facts.label} ({kind}) would execute at once",
            hint,
        )
