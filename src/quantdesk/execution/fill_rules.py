"""The pricing rules of the fill model, as pure functions over points and legs of a price path.

A data point becomes a *path*:

* **a bar** — its opening price is a jump from wherever the market was (a *gap*), then the price moves
  continuously open → the nearer of high/low to the open → the other extreme → close. On a tie (high and low
  equally far from the open) the path visits first the extreme away from the close (the high when close <= open).
  So a bar is one ``Point`` (the open) followed by three ``Leg`` s.
* **a quote** — one ``Point``: buys execute at the ask, sells at the bid; stops watch the price the
  ``TriggerMethod`` names (bid/ask by default).
* **a trade tick** — one ``Point``: both sides execute at the trade price; stops watch the last price by default.

At a point an order acts on the price it sees there: a market order fills at the point's price for its side,
a marketable limit fills at that price (a buy limit at 100 with the bar opening at 97 fills at 97), a stop whose
trigger price is at or through its stop triggers there (a buy stop at 100 with the open at 103 triggers and
fills at 103). Along a leg the price passes every level between its ends, so a limit reached inside a leg fills
exactly at its limit price and a stop reached inside a leg triggers exactly at its stop price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import Enum

from quantdesk.domain.market import Bar, Quote, TradeTick
from quantdesk.domain.side import OrderSide

__all__ = [
    "Action",
    "Leg",
    "Mode",
    "Point",
    "TriggerMethod",
    "bar_legs",
    "bar_path",
    "floor_lot",
    "leg_action",
    "point_action",
    "quote_point",
    "trade_point",
    "trail",
]

_HUNDRED = Decimal(100)


class TriggerMethod(Enum):
    """Which price a stop watches on tick data (bars always use their own path).

    ``DEFAULT`` is IB's default for US stocks on trade data (the last price) and bid/ask on quotes: trade ticks
    trigger on their price, quotes on the ask (buy stops) or the bid (sell stops). ``LAST`` triggers on trade
    ticks only, ``BID_ASK`` on quotes only, ``MID`` on the quote midpoint only.
    """

    DEFAULT = "default"
    LAST = "last"
    BID_ASK = "bid_ask"
    MID = "mid"


class Mode(Enum):
    """How an order behaves at this moment: as a market, a limit, a (fixed) stop or a trailing stop."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    TRAILING = "trailing"


@dataclass(frozen=True, slots=True)
class Point:
    """Prices at one instant: where each side executes and what each side's stop watches (None: no trigger)."""

    buy: Decimal
    sell: Decimal
    buy_trigger: Decimal | None
    sell_trigger: Decimal | None
    spread: Decimal | None = None

    @classmethod
    def flat(cls, price: Decimal) -> Point:
        """A point where everything happens at ``price`` (a bar's open, a price inside a leg)."""
        return cls(price, price, price, price)

    def execution(self, side: OrderSide) -> Decimal:
        """The price ``side`` executes at."""
        return self.buy if side is OrderSide.BUY else self.sell

    def trigger(self, side: OrderSide) -> Decimal | None:
        """The price ``side``'s stops watch, or None when this point cannot trigger stops."""
        return self.buy_trigger if side is OrderSide.BUY else self.sell_trigger


@dataclass(frozen=True, slots=True)
class Leg:
    """A continuous price move from ``start`` to ``end``; an offset is the distance travelled from ``start``."""

    start: Decimal
    end: Decimal

    @property
    def rising(self) -> bool:
        """True when the leg moves up (a flat leg counts as rising: it crosses nothing)."""
        return self.end >= self.start

    @property
    def length(self) -> Decimal:
        """Distance from start to end."""
        return abs(self.end - self.start)

    def price_at(self, offset: Decimal) -> Decimal:
        """The price ``offset`` along the leg."""
        return self.start + offset if self.rising else self.start - offset


@dataclass(frozen=True, slots=True)
class Action:
    """What an order does: ``fill`` at ``price`` (``resting`` when a passive limit was reached) or trigger there."""

    fill: bool
    price: Decimal
    resting: bool = False


def bar_path(bar: Bar) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """Open, first extreme, second extreme, close (rule in the module docstring)."""
    up, down = bar.high - bar.open, bar.open - bar.low
    high_first = up < down or (up == down and bar.close <= bar.open)
    first, second = (bar.high, bar.low) if high_first else (bar.low, bar.high)
    return bar.open, first, second, bar.close


def bar_legs(bar: Bar) -> tuple[Leg, Leg, Leg]:
    """The three continuous legs after the opening point."""
    o, a, b, c = bar_path(bar)
    return Leg(o, a), Leg(a, b), Leg(b, c)


def quote_point(quote: Quote, method: TriggerMethod) -> Point:
    """A quote as a point: buy at the ask, sell at the bid; stops per ``method``."""
    if method in (TriggerMethod.DEFAULT, TriggerMethod.BID_ASK):
        return Point(quote.ask, quote.bid, quote.ask, quote.bid, quote.spread)
    if method is TriggerMethod.MID:
        return Point(quote.ask, quote.bid, quote.mid, quote.mid, quote.spread)
    return Point(quote.ask, quote.bid, None, None, quote.spread)


def trade_point(tick: TradeTick, method: TriggerMethod) -> Point:
    """A trade as a point: both sides at the trade price; stops trigger on it under DEFAULT or LAST."""
    watch = tick.price if method in (TriggerMethod.DEFAULT, TriggerMethod.LAST) else None
    return Point(tick.price, tick.price, watch, watch)


def _better_or_equal(side: OrderSide, price: Decimal, limit: Decimal) -> bool:
    return price <= limit if side is OrderSide.BUY else price >= limit


def _through(side: OrderSide, price: Decimal, stop: Decimal) -> bool:
    return price >= stop if side is OrderSide.BUY else price <= stop


def point_action(
    side: OrderSide, mode: Mode, point: Point, *, limit: Decimal | None = None, stop: Decimal | None = None
) -> Action | None:
    """What an order in ``mode`` does at ``point`` (stop/trailing: ``stop`` is the current stop level)."""
    price = point.execution(side)
    if mode is Mode.MARKET:
        return Action(True, price)
    if mode is Mode.LIMIT:
        assert limit is not None
        return Action(True, price) if _better_or_equal(side, price, limit) else None
    assert stop is not None
    watched = point.trigger(side)
    if watched is not None and _through(side, watched, stop):
        return Action(False, watched)
    return None


def leg_action(
    side: OrderSide,
    mode: Mode,
    leg: Leg,
    offset: Decimal,
    *,
    limit: Decimal | None = None,
    stop: Decimal | None = None,
) -> tuple[Decimal, Action] | None:
    """The first action of an order on ``leg`` from ``offset`` on, with the offset where it happens.

    First the price at ``offset`` itself is checked as a point; then the rest of the leg: a limit fills where the
    leg reaches it (at the limit price), a stop triggers where the leg reaches it (at the stop price). A trailing
    stop's level is fixed while the leg moves against it and trails away while the leg moves with it, so on a leg
    it behaves as a fixed stop at its current level (the caller ratchets it at the leg's end).
    """
    here = point_action(side, mode, Point.flat(leg.price_at(offset)), limit=limit, stop=stop)
    if here is not None:
        return offset, here
    toward_buyer = not leg.rising  # a falling leg reaches buy limits and sell stops
    if mode is Mode.LIMIT:
        assert limit is not None
        if (side is OrderSide.BUY) == toward_buyer and _better_or_equal(side, leg.end, limit):
            return abs(leg.start - limit), Action(True, limit, resting=True)
        return None
    if mode in (Mode.STOP, Mode.TRAILING):
        assert stop is not None
        if (side is OrderSide.SELL) == toward_buyer and _through(side, leg.end, stop):
            return abs(stop - leg.start), Action(False, stop)
    return None


def trail(
    side: OrderSide,
    price: Decimal,
    extreme: Decimal | None,
    stop: Decimal | None,
    *,
    amount: Decimal | None,
    percent: Decimal | None,
    tick: Decimal,
) -> tuple[Decimal, Decimal]:
    """Ratchet a trailing stop with a newly seen ``price``: the new (extreme, stop).

    A sell trails the highest price seen (stop = high − amount, or high × (1 − percent/100)), a buy the lowest
    (stop = low + amount, or low × (1 + percent/100)); the stop only ever moves in the order's favour, never back.
    A percentage stop is rounded to the tick away from the market (down for a sell, up for a buy).
    """
    if side is OrderSide.SELL:
        best = price if extreme is None else max(extreme, price)
        if amount is not None:
            level = best - amount
        else:
            assert percent is not None
            level = _to_tick(best * (_HUNDRED - percent) / _HUNDRED, tick, ROUND_FLOOR)
        return best, level if stop is None else max(stop, level)
    best = price if extreme is None else min(extreme, price)
    if amount is not None:
        level = best + amount
    else:
        assert percent is not None
        level = _to_tick(best * (_HUNDRED + percent) / _HUNDRED, tick, ROUND_CEILING)
    return best, level if stop is None else min(stop, level)


def _to_tick(price: Decimal, tick: Decimal, rounding: str) -> Decimal:
    return (price / tick).to_integral_value(rounding=rounding) * tick


def floor_lot(quantity: Decimal, lot: Decimal) -> Decimal:
    """``quantity`` rounded down to a whole number of lots (never below zero)."""
    if quantity <= 0:
        return Decimal(0)
    return (quantity / lot).to_integral_value(rounding=ROUND_FLOOR) * lot
