"""The simulated broker's market data: last prices and quotes, streaming subscriptions and bar history.

Nothing here fetches data: the backtester or a replay *feeds* bars, quotes, trades and auction prints, and this
module remembers the last of each and passes them on to subscribers. A bar stands in for a quote when no quotes
are fed: its close becomes a zero-spread quote stamped at the bar's end (unless a real quote is at least as new).
A trade stands in the same way until the instrument has had a real quote. History comes from the bars fed (and
those given up front) and, for what they do not cover, from an optional ``BarStore``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from quantdesk.domain.identifiers import InstrumentId
from quantdesk.domain.instruments import Instrument
from quantdesk.domain.market import Bar, BarSize, Quote, TradeTick, require_utc
from quantdesk.domain.values import to_decimal

if TYPE_CHECKING:
    from quantdesk.data.bar_store import BarStore

__all__ = ["MarketData", "QuoteSubscription"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
QuoteCallback = Callable[[Quote], None]
TradeCallback = Callable[[TradeTick], None]


class QuoteSubscription:
    """A stream of one instrument's quotes (and trades) from the simulated broker; ``cancel`` ends it."""

    def __init__(
        self, market: MarketData, instrument: Instrument, on_quote: QuoteCallback, on_trade: TradeCallback | None
    ) -> None:
        self._market = market
        self._instrument = instrument
        self.on_quote = on_quote
        self.on_trade = on_trade
        self.active = True

    @property
    def instrument(self) -> Instrument:
        """What is subscribed."""
        return self._instrument

    async def cancel(self) -> None:
        """Stop the stream; calling it twice is harmless."""
        self._market.unsubscribe(self)


def _deliver(callback: Callable[[_T], None], value: _T) -> None:
    try:
        callback(value)
    except Exception:  # a subscriber's bug must not stop the market
        log.exception("market data subscriber %r failed on %r", callback, value)


class MarketData:
    """Last price and quote per instrument, the subscribers of each, and the bars seen."""

    def __init__(self, bar_store: BarStore | None = None, bars: Iterable[Bar] = ()) -> None:
        self._store = bar_store
        self._prices: dict[InstrumentId, Decimal] = {}
        self._quotes: dict[InstrumentId, Quote] = {}
        self._quoted: set[InstrumentId] = set()
        self._bars: dict[tuple[InstrumentId, BarSize], dict[datetime, Bar]] = {}
        self._subscribers: dict[InstrumentId, list[QuoteSubscription]] = {}
        for bar in bars:
            self._remember(bar)

    # --- the last values -----------------------------------------------------------------------------------------

    def price(self, instrument_id: InstrumentId) -> Decimal | None:
        """The last price fed: a bar's close, a quote's midpoint, a trade's or an auction's price."""
        return self._prices.get(instrument_id)

    def quote(self, instrument_id: InstrumentId) -> Quote | None:
        """The last quote (a bar's or a trade's stand-in when no quote was fed)."""
        return self._quotes.get(instrument_id)

    # --- feeds ---------------------------------------------------------------------------------------------------

    def mark(self, instrument_id: InstrumentId, price: Decimal) -> None:
        """Set the last price without publishing anything (the broker marks before it reports fills)."""
        self._prices[instrument_id] = price

    def on_bar(self, bar: Bar) -> None:
        """Remember ``bar`` and publish its close as a zero-spread quote at the bar's end."""
        self._remember(bar)
        self._prices[bar.instrument_id] = bar.close
        end = bar.ts + bar.bar_size.duration
        last = self._quotes.get(bar.instrument_id)
        if bar.instrument_id not in self._quoted or last is None or last.ts < end:
            self._set_quote(Quote(bar.instrument_id, end, bar.close, bar.close))

    def on_quote(self, quote: Quote) -> None:
        """Publish ``quote``; the last price becomes its midpoint."""
        self._prices[quote.instrument_id] = quote.mid
        self._quoted.add(quote.instrument_id)
        self._set_quote(quote)

    def on_trade(self, tick: TradeTick) -> None:
        """Publish ``tick`` to the subscribers who asked for trades; the last price becomes its price."""
        iid = tick.instrument_id
        self._prices[iid] = tick.price
        for sub in list(self._subscribers.get(iid, ())):
            if sub.on_trade is not None:
                _deliver(sub.on_trade, tick)
        if iid not in self._quoted:
            self._set_quote(Quote(iid, tick.ts, tick.price, tick.price))

    def on_auction(self, instrument_id: InstrumentId, price: Decimal) -> None:
        """An auction printed ``price``: it becomes the last price."""
        self._prices[instrument_id] = price

    def _set_quote(self, quote: Quote) -> None:
        iid = quote.instrument_id
        self._quotes[iid] = quote
        for sub in list(self._subscribers.get(iid, ())):
            _deliver(sub.on_quote, quote)

    # --- subscriptions -------------------------------------------------------------------------------------------

    def subscribe(
        self, instrument: Instrument, on_quote: QuoteCallback, on_trade: TradeCallback | None
    ) -> QuoteSubscription:
        """Stream ``instrument``; the last quote, when there is one, is delivered at once (as IB's first ticks)."""
        sub = QuoteSubscription(self, instrument, on_quote, on_trade)
        self._subscribers.setdefault(instrument.id, []).append(sub)
        last = self._quotes.get(instrument.id)
        if last is not None:
            _deliver(on_quote, last)
        return sub

    def unsubscribe(self, sub: QuoteSubscription) -> None:
        """End ``sub`` (a no-op when it has already ended)."""
        sub.active = False
        subs = self._subscribers.get(sub.instrument.id, [])
        if sub in subs:
            subs.remove(sub)

    def subscriber_count(self, instrument_id: InstrumentId) -> int:
        """How many streams of ``instrument_id`` are open."""
        return len(self._subscribers.get(instrument_id, ()))

    # --- history -------------------------------------------------------------------------------------------------

    def _remember(self, bar: Bar) -> None:
        self._bars.setdefault((bar.instrument_id, bar.bar_size), {})[bar.ts] = bar

    def bars(
        self,
        instrument: Instrument,
        bar_size: BarSize,
        start: datetime,
        end: datetime,
        *,
        completed_by: datetime | None = None,
    ) -> list[Bar]:
        """Bars starting in ``[start, end)``, oldest first; with ``completed_by``, only bars that ended by then.

        Bars fed or given win over the store's bars of the same start.
        """
        start, end = require_utc(start, "start"), require_utc(end, "end")
        found = dict(self._from_store(instrument, bar_size, start, end))
        found.update(self._bars.get((instrument.id, bar_size), {}))
        duration = bar_size.duration
        return [
            found[ts]
            for ts in sorted(found)
            if start <= ts < end and (completed_by is None or ts + duration <= completed_by)
        ]

    def _from_store(
        self, instrument: Instrument, bar_size: BarSize, start: datetime, end: datetime
    ) -> Iterable[tuple[datetime, Bar]]:
        store = self._store
        if store is None:
            return
        key = next((k for k in (instrument.id.value, instrument.symbol) if store.has(k, bar_size)), None)
        if key is None:
            return
        frame = store.read(key, bar_size, start, end, columns=["open", "high", "low", "close", "volume"])
        for ts, o, h, lo, c, v in frame.itertuples(index=True, name=None):
            stamp = ts.to_pydatetime()
            yield (
                stamp,
                Bar(
                    instrument.id,
                    bar_size,
                    stamp,
                    to_decimal(o, "open"),
                    to_decimal(h, "high"),
                    to_decimal(lo, "low"),
                    to_decimal(c, "close"),
                    to_decimal(v, "volume"),
                ),
            )
