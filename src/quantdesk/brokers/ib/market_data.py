"""Market data: streaming quotes and trades as domain events, snapshots, real-time bars of any size.

* The market data type (1 live, 2 frozen, 3 delayed, 4 delayed-frozen) is chosen from ``ib.market_data_type``
  and sent with ``reqMarketDataType`` at every (re)connect. What the ticks *actually* came with is reported: TWS
  falls back to delayed data when the account has no subscription (warning 10167) and says so on every ticker, so
  each subscription and snapshot carries :class:`MarketDataType` as IB reported it.
* :meth:`MarketDataService.subscribe_quotes` turns a ticker's updates into ``Quote`` (bid/ask with sizes, when
  both sides are valid) and ``TradeTick`` (each last-trade tick) callbacks.
* :meth:`MarketDataService.subscribe_bars` asks for IB's 5-second real-time bars (``whatToShow`` TRADES,
  MIDPOINT, BID or ASK) and aggregates them into the requested size (:mod:`bar_aggregation`).
* Every live subscription is tracked, so :meth:`MarketDataService.resubscribe_all` can request them again after a
  reconnect or IB's 1101 ("data lost"); the supervisor calls it. A subscription ends with ``await sub.cancel()``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import IntEnum

from ib_async import Contract, RealTimeBarList, Ticker

from quantdesk.brokers.ib.bar_aggregation import BarAggregator
from quantdesk.brokers.ib.connection import IBConnection
from quantdesk.brokers.ib.supervisor import ReconnectEvent
from quantdesk.domain.identifiers import InstrumentId
from quantdesk.domain.instruments import Instrument
from quantdesk.domain.market import Bar, BarSize, Quote, TradeTick
from quantdesk.errors import BrokerError, ValidationError

__all__ = [
    "REALTIME_WHAT_TO_SHOW",
    "WHAT_TO_SHOW",
    "BarSubscription",
    "MarketDataService",
    "MarketDataType",
    "MarketSnapshot",
    "QuoteSubscription",
    "quote_from_ticker",
]

log = logging.getLogger(__name__)
WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST")
REALTIME_WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "BID", "ASK")
_QUOTE_TICKS = frozenset({0, 1, 2, 3, 66, 67, 69, 70})
_TRADE_TICKS = frozenset({4, 68})


class MarketDataType(IntEnum):
    """IB's market data types."""

    LIVE = 1
    FROZEN = 2
    DELAYED = 3
    DELAYED_FROZEN = 4

    @classmethod
    def parse(cls, value: MarketDataType | int | str) -> MarketDataType:
        """Accept the enum, IB's number or the setting's name (``live``, ``delayed_frozen``, …)."""
        if isinstance(value, MarketDataType):
            return value
        if isinstance(value, int):
            return cls(value)
        key = value.strip().upper().replace("-", "_")
        if key in cls.__members__:
            return cls[key]
        raise ValidationError(
            f"unknown market data type {value!r}",
            field="ib.market_data_type",
            value=value,
            hint="use live, frozen, delayed or delayed_frozen",
        )

    @property
    def is_delayed(self) -> bool:
        """True for the delayed types (3, 4)."""
        return self in (MarketDataType.DELAYED, MarketDataType.DELAYED_FROZEN)


def _valid(x: float) -> bool:
    return not math.isnan(x) and x > 0


def _dec(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def _ts(ticker: Ticker) -> datetime:
    t = ticker.time
    if isinstance(t, datetime):
        return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
    return datetime.now(UTC)


def quote_from_ticker(instrument_id: InstrumentId, ticker: Ticker) -> Quote | None:
    """The ticker's top of book as a ``Quote`` (None while a side is missing or the book is crossed)."""
    if not (_valid(ticker.bid) and _valid(ticker.ask)) or ticker.bid > ticker.ask:
        return None
    sizes = [s if s == s and s > 0 else 0.0 for s in (ticker.bidSize, ticker.askSize)]
    return Quote(instrument_id, _ts(ticker), _dec(ticker.bid), _dec(ticker.ask), _dec(sizes[0]), _dec(sizes[1]))


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """One snapshot: the quote (if both sides were there), last trade price, and the data type IB reported."""

    instrument_id: InstrumentId
    ts: datetime
    quote: Quote | None
    last: Decimal | None
    close: Decimal | None
    data_type: MarketDataType

    @property
    def price(self) -> Decimal | None:
        """Best available price: mid, else last, else the previous close."""
        if self.quote is not None:
            return self.quote.mid
        return self.last if self.last is not None else self.close


class _Stream(ABC):
    """Common bookkeeping of a tracked subscription; subclasses say how to start and stop it at IB."""

    def __init__(self, service: MarketDataService, instrument: Instrument, contract: Contract) -> None:
        self.service = service
        self._instrument = instrument
        self.contract = contract
        self.key = next(service._keys)
        self.active = True
        self.starts = 0
        self.data_type: MarketDataType | None = None

    @property
    def instrument(self) -> Instrument:
        """What is subscribed."""
        return self._instrument

    @abstractmethod
    def start(self) -> None:
        """Request the stream on the current connection."""

    @abstractmethod
    def stop(self) -> None:
        """Cancel the stream at IB (the subscription stays tracked)."""

    async def cancel(self) -> None:
        """Stop the stream and release the line; calling it twice is harmless."""
        if not self.active:
            return
        self.active = False
        self.service._untrack(self)
        if self.service.connection.is_connected:
            self.stop()


class QuoteSubscription(_Stream):
    """Streaming quotes/trades of one instrument (``reqMktData``)."""

    def __init__(
        self,
        service: MarketDataService,
        instrument: Instrument,
        contract: Contract,
        on_quote: Callable[[Quote], None],
        on_trade: Callable[[TradeTick], None] | None,
    ) -> None:
        super().__init__(service, instrument, contract)
        self.on_quote = on_quote
        self.on_trade = on_trade
        self.ticker: Ticker | None = None
        self.quotes = 0
        self.trades = 0
        self._last_quote: tuple[Decimal, Decimal, Decimal, Decimal] | None = None

    def start(self) -> None:
        """``reqMktData`` on the current connection and listen to the ticker."""
        ib = self.service.connection.ib
        if self.ticker is not None:
            self.ticker.updateEvent -= self._on_update
        self.ticker = ib.reqMktData(self.contract, "", False, False)
        self.ticker.updateEvent += self._on_update
        self.starts += 1

    def stop(self) -> None:
        """``cancelMktData``."""
        if self.ticker is not None:
            self.ticker.updateEvent -= self._on_update
        self.service.connection.ib.cancelMktData(self.contract)

    def _on_update(self, ticker: Ticker) -> None:
        if not self.active:
            return
        if ticker.marketDataType:
            self.data_type = MarketDataType.parse(int(ticker.marketDataType))
            self.service.reported_type = self.data_type
        iid = self.instrument.id
        kinds = {t.tickType for t in ticker.ticks}
        if kinds & _QUOTE_TICKS:
            quote = quote_from_ticker(iid, ticker)
            if quote is not None:
                key = (quote.bid, quote.ask, quote.bid_size, quote.ask_size)
                if key != self._last_quote:
                    self._last_quote = key
                    self.quotes += 1
                    _call(self.on_quote, quote)
        if self.on_trade is not None:
            for tick in ticker.ticks:
                if tick.tickType in _TRADE_TICKS and _valid(tick.price):
                    size = tick.size if tick.size == tick.size and tick.size > 0 else 0.0
                    ts = tick.time if tick.time.tzinfo is not None else tick.time.replace(tzinfo=UTC)
                    self.trades += 1
                    _call(self.on_trade, TradeTick(iid, ts, _dec(tick.price), _dec(size)))


class BarSubscription(_Stream):
    """Real-time 5-second bars of one instrument, aggregated to ``bar_size`` (``reqRealTimeBars``)."""

    def __init__(
        self,
        service: MarketDataService,
        instrument: Instrument,
        contract: Contract,
        bar_size: BarSize,
        on_bar: Callable[[Bar], None],
        what_to_show: str,
        use_rth: bool,
    ) -> None:
        super().__init__(service, instrument, contract)
        self.bar_size = bar_size
        self.on_bar = on_bar
        self.what_to_show = what_to_show
        self.use_rth = use_rth
        self.aggregator = BarAggregator(instrument.id, bar_size)
        self.bars: RealTimeBarList | None = None
        self.received = 0

    def start(self) -> None:
        """``reqRealTimeBars`` (5 s) on the current connection."""
        ib = self.service.connection.ib
        if self.bars is not None:
            self.bars.updateEvent -= self._on_bars
        self.bars = ib.reqRealTimeBars(self.contract, 5, self.what_to_show, self.use_rth)
        self.bars.updateEvent += self._on_bars
        self.starts += 1

    def stop(self) -> None:
        """``cancelRealTimeBars``."""
        if self.bars is not None:
            self.bars.updateEvent -= self._on_bars
            self.service.connection.ib.cancelRealTimeBars(self.bars)

    def _on_bars(self, bars: RealTimeBarList, has_new_bar: bool) -> None:
        if not (self.active and has_new_bar and bars):
            return
        rt = bars[-1]
        if not all(_valid(x) for x in (rt.open_, rt.high, rt.low, rt.close)):
            return
        ts = rt.time if rt.time.tzinfo is not None else rt.time.replace(tzinfo=UTC)
        volume = _dec(rt.volume) if rt.volume > 0 else Decimal(0)
        bar = Bar(self.instrument.id, BarSize.SEC_5, ts, _dec(rt.open_), _dec(rt.high), _dec(rt.low),
                  _dec(rt.close), volume)  # fmt: skip
        self.received += 1
        for done in self.aggregator.add(bar):
            _call(self.on_bar, done)


def _call(callback: Callable[..., None], *args: object) -> None:
    try:
        callback(*args)
    except Exception:
        log.exception("market data callback %r failed", callback)


class MarketDataService:
    """Market data of one connection (the data connection in ``IBBroker``), with tracked subscriptions."""

    def __init__(
        self,
        connection: IBConnection,
        data_type: MarketDataType | str = MarketDataType.LIVE,
        *,
        timeout: float = 30.0,
    ) -> None:
        self.connection = connection
        self.data_type = MarketDataType.parse(data_type)
        self.reported_type: MarketDataType | None = None
        self.timeout = timeout
        self.resubscribe_count = 0
        self._keys = itertools.count(1)
        self._subs: dict[int, _Stream] = {}
        connection.on_connected(self.apply_data_type)

    @property
    def subscriptions(self) -> list[_Stream]:
        """The live subscriptions, oldest first."""
        return list(self._subs.values())

    def _track(self, stream: _Stream) -> None:
        self._subs[stream.key] = stream

    def _untrack(self, stream: _Stream) -> None:
        self._subs.pop(stream.key, None)

    def apply_data_type(self) -> None:
        """Send ``reqMarketDataType`` with the configured type (done at every connect)."""
        if self.connection.is_connected:
            self.connection.ib.reqMarketDataType(int(self.data_type))

    def set_data_type(self, data_type: MarketDataType | str) -> None:
        """Choose the market data type for the following requests."""
        self.data_type = MarketDataType.parse(data_type)
        self.apply_data_type()

    def _require_connection(self) -> None:
        if not self.connection.is_connected:
            raise BrokerError(
                f"not connected to {self.connection.config.address} (market data)",
                code=504,
                field="connection",
                hint="connect first; after a drop the supervisor reconnects on its own",
            )

    async def snapshot(self, instrument: Instrument, contract: Contract) -> MarketSnapshot:
        """One snapshot of ``contract`` (qualified) with the data type IB reported."""
        self._require_connection()
        try:
            async with asyncio.timeout(self.timeout):
                (ticker,) = await self.connection.ib.reqTickersAsync(contract)
        except TimeoutError:
            raise BrokerError(
                f"no market data snapshot for {instrument} within {self.timeout:g} s",
                field="ib.request_timeout",
                value=self.timeout,
                hint="outside trading hours try ib.market_data_type = 'frozen' or 'delayed_frozen'",
            ) from None
        kind = MarketDataType.parse(int(ticker.marketDataType or int(self.data_type)))
        self.reported_type = kind
        return MarketSnapshot(
            instrument.id,
            _ts(ticker),
            quote_from_ticker(instrument.id, ticker),
            _dec(ticker.last) if _valid(ticker.last) else None,
            _dec(ticker.close) if _valid(ticker.close) else None,
            kind,
        )

    async def subscribe_quotes(
        self,
        instrument: Instrument,
        contract: Contract,
        on_quote: Callable[[Quote], None],
        on_trade: Callable[[TradeTick], None] | None = None,
    ) -> QuoteSubscription:
        """Stream quotes (and trades) of a qualified contract until cancelled; re-subscribed after reconnects."""
        self._require_connection()
        sub = QuoteSubscription(self, instrument, contract, on_quote, on_trade)
        sub.start()
        self._track(sub)
        return sub

    async def subscribe_bars(
        self,
        instrument: Instrument,
        contract: Contract,
        bar_size: BarSize,
        on_bar: Callable[[Bar], None],
        *,
        what_to_show: str = "TRADES",
        use_rth: bool = False,
    ) -> BarSubscription:
        """Stream completed ``bar_size`` bars built from IB's 5-second real-time bars."""
        what = what_to_show.upper()
        if what not in REALTIME_WHAT_TO_SHOW:
            raise ValidationError(
                f"real-time bars cannot show {what_to_show!r}",
                field="what_to_show",
                value=what_to_show,
                hint="use one of " + ", ".join(REALTIME_WHAT_TO_SHOW),
            )
        self._require_connection()
        sub = BarSubscription(self, instrument, contract, bar_size, on_bar, what, use_rth)
        sub.start()
        self._track(sub)
        return sub

    def resubscribe_all(self, *, cancel_first: bool) -> int:
        """Request every tracked subscription again (after a reconnect, or 1101 with ``cancel_first``)."""
        if not self.connection.is_connected:
            return 0
        self.apply_data_type()
        for sub in list(self._subs.values()):
            if cancel_first:
                try:
                    sub.stop()
                except Exception:  # the subscription may already be gone at IB
                    log.debug("cancelling %s before re-subscribing failed", sub.instrument, exc_info=True)
            sub.start()
        self.resubscribe_count += 1
        return len(self._subs)

    def on_reconnected(self, event: ReconnectEvent) -> None:
        """Supervisor hook: re-subscribe when data was lost (reconnect, 1101); nothing after 1102."""
        if event.data_lost:
            count = self.resubscribe_all(cancel_first=not event.socket_reconnected)
            log.info("re-subscribed %d market data stream(s) after %s", count, event.code or "a reconnect")

    async def cancel_all(self) -> None:
        """Cancel every subscription."""
        for sub in list(self._subs.values()):
            await sub.cancel()
