"""One session's live subscriptions: streaming ticks, ``keepUpToDate`` bars and 5-second real-time bars.

The server calls :meth:`SessionStreams.pump` every ``tick_interval`` real seconds with the current trading time;
each subscription sends what changed since its last push. Ticks follow IB's habits: a price tick carries its size,
a size alone moves with ``tickSize``, the last trade's time comes as tick 45, and delayed data (market data type 3
or 4) uses ticks 66–76 and 88 with prices 15 minutes old.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from quantdesk.domain.market import BarSize
from quantdesk.gateway import replies
from quantdesk.gateway.contracts import ContractSpec

if TYPE_CHECKING:
    from quantdesk.gateway.clock import SimClock
    from quantdesk.gateway.history import HistoryBuilder, TimedBar
    from quantdesk.gateway.market_data import MarketModel
    from quantdesk.gateway.pacing import LineCounter

__all__ = ["DELAYED_TICKS", "LIVE_TICKS", "SessionStreams", "StreamOutput", "StreamSource", "TickSubscription"]


class StreamOutput(Protocol):
    """Where a session's streams write (the session itself)."""

    def send(self, fields: Sequence[str]) -> None:
        """Queue one message."""
        ...

    def send_all(self, messages: Sequence[Sequence[str]]) -> None:
        """Queue several messages in order."""
        ...


class StreamSource(Protocol):
    """What the streams read prices and bars from and count lines against (the venue)."""

    @property
    def market(self) -> MarketModel:
        """Quotes and price paths."""
        ...

    @property
    def history(self) -> HistoryBuilder:
        """Bars."""
        ...

    @property
    def clock(self) -> SimClock:
        """The simulated clock."""
        ...

    @property
    def lines(self) -> LineCounter:
        """The market-data lines in use."""
        ...


LIVE_TICKS = {
    "bid_size": 0, "bid": 1, "ask": 2, "ask_size": 3, "last": 4, "last_size": 5, "high": 6, "low": 7,
    "volume": 8, "close": 9, "open": 14, "last_time": 45,
}  # fmt: skip
DELAYED_TICKS = {
    "bid": 66, "ask": 67, "last": 68, "bid_size": 69, "ask_size": 70, "last_size": 71, "high": 72, "low": 73,
    "volume": 74, "close": 75, "open": 76, "last_time": 88,
}  # fmt: skip
DELAY_SECONDS = 15 * 60
MAX_CATCH_UP = 20


@dataclass(slots=True)
class TickSubscription:
    """A ``reqMktData`` request: streaming (holds a line) or a snapshot."""

    req_id: int
    spec: ContractSpec
    data_type: int
    snapshot: bool = False
    generic_ticks: tuple[str, ...] = ()
    sent: dict[str, float] = field(default_factory=dict)

    @property
    def delayed(self) -> bool:
        """Whether this subscription gets delayed ticks."""
        return self.data_type in (3, 4)


@dataclass(slots=True)
class BarSubscription:
    """A ``keepUpToDate`` historical request."""

    req_id: int
    spec: ContractSpec
    size: BarSize
    what: str
    format_date: int
    last: TimedBar | None = None


@dataclass(slots=True)
class RealTimeSubscription:
    """A ``reqRealTimeBars`` request; ``next_tt`` is the start of the next bar to send."""

    req_id: int
    spec: ContractSpec
    what: str
    next_tt: float


class SessionStreams:
    """The live subscriptions of one session."""

    def __init__(self, session: StreamOutput, source: StreamSource) -> None:
        self.session = session
        self.source = source
        self.ticks: dict[int, TickSubscription] = {}
        self.bars: dict[int, BarSubscription] = {}
        self.realtime: dict[int, RealTimeSubscription] = {}

    # --- ticks -----------------------------------------------------------------------------------------------

    def tick_messages(self, sub: TickSubscription, tt: float) -> list[list[str]]:
        """The ticks that changed since the last push (all of them on the first call)."""
        spec = sub.spec
        q = self.source.market.quote(spec, tt - DELAY_SECONDS if sub.delayed else tt)
        ids = DELAYED_TICKS if sub.delayed else LIVE_TICKS
        sent = sub.sent
        rid = sub.req_id
        out: list[list[str]] = []

        def changed(name: str, value: float) -> bool:
            if sent.get(name) == value:
                return False
            sent[name] = value
            return True

        if spec.has_quotes:
            for side, price, size in (("bid", q.bid, q.bid_size), ("ask", q.ask, q.ask_size)):
                if changed(side, price):
                    sent[f"{side}_size"] = size
                    out.append(replies.tick_price(rid, ids[side], price, size, attrib_mask=1))
                elif changed(f"{side}_size", size):
                    out.append(replies.tick_size(rid, ids[f"{side}_size"], size))
        if spec.has_trades:
            last_size = q.last_size if spec.daily_volume > 0 else 0
            if changed("last", q.last):
                sent["last_size"] = last_size
                out.append(replies.tick_price(rid, ids["last"], q.last, last_size))
                out.append(replies.tick_string(rid, ids["last_time"], str(q.last_time)))
            elif changed("last_size", last_size):
                out.append(replies.tick_size(rid, ids["last_size"], last_size))
            if spec.daily_volume > 0 and changed("volume", q.volume):
                out.append(replies.tick_size(rid, ids["volume"], q.volume))
        for name, value in (("high", q.high), ("low", q.low), ("close", q.prev_close), ("open", q.open)):
            if changed(name, value):
                out.append(replies.tick_price(rid, ids[name], value, 0))
        if "236" in sub.generic_ticks and changed("shortable", 3.0):
            out.append(replies.tick_generic(rid, 46, 3.0))
        return out

    def start_ticks(self, sub: TickSubscription) -> None:
        """Send the market data type and the first full set of ticks; keep streaming unless it is a snapshot."""
        self.session.send(replies.market_data_type(sub.req_id, sub.data_type))
        self.session.send_all(self.tick_messages(sub, self.source.clock.now_tt()))
        if sub.snapshot:
            self.session.send(replies.tick_snapshot_end(sub.req_id))
        else:
            self.ticks[sub.req_id] = sub

    def cancel_ticks(self, req_id: int) -> bool:
        """Stop a streaming subscription and free its line."""
        if self.ticks.pop(req_id, None) is None:
            return False
        self.source.lines.release()
        return True

    # --- bars ------------------------------------------------------------------------------------------------

    def _bar_messages(self, sub: BarSubscription, tt: float) -> list[list[str]]:
        history = self.source.history
        now_bar = history.forming(sub.spec, tt, sub.size, sub.what, sub.format_date)
        last = sub.last
        updates: list[TimedBar] = []
        if last is not None and last.start_tt < now_bar.start_tt:
            done = history.bars(sub.spec, last.start_tt, now_bar.start_tt, sub.size, sub.what, sub.format_date)
            updates += done[-MAX_CATCH_UP:]
        if last is None or updates or last.bar != now_bar.bar:
            updates.append(now_bar)
        sub.last = now_bar
        return [replies.historical_data_update(sub.req_id, b.bar) for b in updates]

    def _realtime_messages(self, sub: RealTimeSubscription, tt: float) -> list[list[str]]:
        history = self.source.history
        out: list[list[str]] = []
        if tt - sub.next_tt > 5 * MAX_CATCH_UP:
            sub.next_tt += ((tt - sub.next_tt) // 5 - MAX_CATCH_UP) * 5
        while sub.next_tt + 5 <= tt:
            out.append(replies.realtime_bar(sub.req_id, history.realtime(sub.spec, sub.next_tt, sub.what)))
            sub.next_tt += 5
        return out

    # --- all -------------------------------------------------------------------------------------------------

    def pump(self, tt: float) -> None:
        """Push every subscription's news at trading time ``tt``."""
        send_all = self.session.send_all
        for sub in list(self.ticks.values()):
            send_all(self.tick_messages(sub, tt))
        for bar_sub in list(self.bars.values()):
            send_all(self._bar_messages(bar_sub, tt))
        for rt_sub in list(self.realtime.values()):
            send_all(self._realtime_messages(rt_sub, tt))

    def close(self) -> None:
        """Drop every subscription and free the lines they held."""
        self.source.lines.release(len(self.ticks))
        self.ticks.clear()
        self.bars.clear()
        self.realtime.clear()
