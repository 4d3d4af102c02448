"""The engine's working orders: one mutable ``WorkingOrder`` per order, indexed by id and by instrument.

``WorkingOrder`` is the engine's private runtime record around the domain's ``Order`` (the current terms, after
modifications) and ``OrderState`` (status and fills); ``OrderView`` is the frozen snapshot the engine hands out.
The book keeps every order it has seen for look-ups, and the live ones per instrument in submission order, so a
data point only visits the orders of its own instrument.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from quantdesk.domain.identifiers import ClientOrderId, InstrumentId
from quantdesk.domain.order_state import OrderState
from quantdesk.domain.order_types import OrderType, TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import ZERO
from quantdesk.errors import NotFound
from quantdesk.execution.fill_rules import Mode

__all__ = ["OrderBook", "OrderView", "WorkingOrder"]

_AUCTION_TYPES = (OrderType.MARKET_ON_CLOSE, OrderType.LIMIT_ON_CLOSE)
_AS_TRIGGERED = {
    OrderType.STOP: Mode.MARKET,
    OrderType.STOP_LIMIT: Mode.LIMIT,
    OrderType.TRAILING_STOP: Mode.MARKET,
    OrderType.TRAILING_STOP_LIMIT: Mode.LIMIT,
}
_AS_WAITING = {
    OrderType.MARKET: Mode.MARKET,
    OrderType.LIMIT: Mode.LIMIT,
    OrderType.MARKET_ON_CLOSE: Mode.MARKET,
    OrderType.LIMIT_ON_CLOSE: Mode.LIMIT,
    OrderType.STOP: Mode.STOP,
    OrderType.STOP_LIMIT: Mode.STOP,
    OrderType.TRAILING_STOP: Mode.TRAILING,
    OrderType.TRAILING_STOP_LIMIT: Mode.TRAILING,
}


@dataclass(frozen=True, slots=True)
class OrderView:
    """A snapshot of one order in the engine.

    ``active`` is False while a child waits for its parent to fill; ``stop`` is the current stop level (where a
    trailing stop trails now); ``limit`` the limit it works at (a trailing stop-limit's only once triggered);
    ``expires_at`` the DAY/GTD expiry; ``auction_at`` the opening or closing auction it waits for.
    """

    order: Order
    state: OrderState
    active: bool
    triggered: bool
    stop: Decimal | None
    limit: Decimal | None
    expires_at: datetime | None
    auction_at: datetime | None


@dataclass(slots=True, eq=False)
class WorkingOrder:
    """The engine's mutable record of one order (private to ``quantdesk.execution``)."""

    order: Order
    state: OrderState
    seq: int
    submitted_at: datetime
    expire_at: datetime | None = None
    auction_at: datetime | None = None
    active: bool = True
    triggered: bool = False
    trail_extreme: Decimal | None = None
    trail_stop: Decimal | None = None
    trigger_limit: Decimal | None = None
    oca_base: Fraction = Fraction(0)
    children: list[ClientOrderId] = field(default_factory=list)
    fee_volume: Decimal | None = None
    fee_charged: Decimal = ZERO
    instrument_id: InstrumentId = field(init=False)

    def __post_init__(self) -> None:
        self.instrument_id = self.order.instrument.id

    @property
    def cid(self) -> ClientOrderId:
        """The order's client order id."""
        return self.order.client_order_id

    @property
    def side(self) -> OrderSide:
        """Buy or sell."""
        return self.order.side

    @property
    def is_auction(self) -> bool:
        """True for orders that only trade in an auction: MOC, LOC and tif OPG."""
        return self.order.order_type in _AUCTION_TYPES or self.order.tif is TimeInForce.OPG

    @property
    def is_trailing(self) -> bool:
        """True for trailing stop and trailing stop-limit orders."""
        return self.order.order_type.is_trailing

    @property
    def mode(self) -> Mode:
        """How the order behaves now: stops turn into market or limit orders once triggered."""
        kind = self.order.order_type
        return _AS_TRIGGERED[kind] if self.triggered and kind in _AS_TRIGGERED else _AS_WAITING[kind]

    @property
    def limit(self) -> Decimal | None:
        """The limit it works at (a trailing stop-limit's is set when it triggers)."""
        if self.order.order_type is OrderType.TRAILING_STOP_LIMIT:
            return self.trigger_limit
        return self.order.limit_price

    @property
    def stop(self) -> Decimal | None:
        """The current stop level (a trailing stop's moving level; None before it has seen a price)."""
        return self.trail_stop if self.is_trailing else self.order.stop_price

    def view(self) -> OrderView:
        """A frozen snapshot."""
        return OrderView(
            self.order,
            self.state,
            self.active,
            self.triggered,
            self.stop,
            self.limit,
            self.expire_at,
            self.auction_at,
        )


class OrderBook:
    """Every order by id; live (non-terminal) orders by instrument, in submission order."""

    def __init__(self) -> None:
        self._all: dict[ClientOrderId, WorkingOrder] = {}
        self._live: dict[InstrumentId, dict[ClientOrderId, WorkingOrder]] = {}

    def __contains__(self, cid: object) -> bool:
        return cid in self._all

    def add(self, record: WorkingOrder) -> None:
        """Register ``record`` (live unless its state is terminal)."""
        self._all[record.cid] = record
        if not record.state.is_terminal:
            self._live.setdefault(record.instrument_id, {})[record.cid] = record

    def get(self, cid: ClientOrderId | None) -> WorkingOrder | None:
        """The record of ``cid``, or None."""
        return None if cid is None else self._all.get(cid)

    def require(self, cid: ClientOrderId) -> WorkingOrder:
        """The record of ``cid``; ``NotFound`` when the engine never saw it."""
        record = self._all.get(cid)
        if record is None:
            raise NotFound(
                f"unknown order {cid}", field="client_order_id", value=str(cid), hint="submit the order first"
            )
        return record

    def retire(self, record: WorkingOrder) -> None:
        """Drop ``record`` from the live index (it stays available by id)."""
        orders = self._live.get(record.instrument_id)
        if orders is not None:
            orders.pop(record.cid, None)
            if not orders:
                del self._live[record.instrument_id]

    def live(self, instrument_id: InstrumentId) -> list[WorkingOrder]:
        """A snapshot list of the live orders of one instrument, in submission order."""
        orders = self._live.get(instrument_id)
        return list(orders.values()) if orders else []

    def has_live(self, instrument_id: InstrumentId) -> bool:
        """True when the instrument has any live order."""
        return instrument_id in self._live

    def all_live(self) -> list[WorkingOrder]:
        """A snapshot list of the live orders of every instrument, in submission order."""
        return sorted((r for orders in self._live.values() for r in orders.values()), key=lambda r: r.seq)
