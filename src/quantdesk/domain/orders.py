"""Orders as the user asks for them: type, prices, time in force and flags, validated at construction.

An ``Order`` is the *intent* (what to send), not its live state (the OMS tracks that). Decisions to know:

* **Market-on-open** is represented the IB way: ``order_type=MARKET`` with ``tif=OPG`` (limit-on-open is
  ``LIMIT`` + ``OPG``). ``Order.market_on_open`` builds it; ``Order.is_on_open`` tells it apart.
* **Trailing stops** take exactly one of ``trailing_amount`` (IB ``auxPrice``) or ``trailing_percent`` (IB
  ``trailingPercent``); ``stop_price`` is optional for them and is the initial stop (IB ``trailStopPrice``).
  A trailing-stop-limit also needs ``limit_offset`` (IB ``lmtPriceOffset``) and takes no ``limit_price``.
* **Links** between orders (parent, OCA group, IB's ``transmit`` flag) live in one ``OrderLink`` value; order
  lists (``quantdesk.domain.order_lists``) set it. A standalone order has the default ``OrderLink()``.
  ``OcaType`` lives here because ``OrderLink`` needs it; ``order_lists`` re-exports it.
* Prices must be ``> 0`` and on the instrument's tick grid; an off-grid price is refused (never silently rounded)
  and the hint names the nearest valid prices. Use ``instrument.round_to_tick`` to round deliberately.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Unpack

from quantdesk.domain.identifiers import AccountId, ClientOrderId, StrategyId
from quantdesk.domain.instruments import Instrument
from quantdesk.domain.market import require_utc
from quantdesk.domain.order_types import (
    OcaType,
    OrderLink,
    OrderOptions,
    OrderType,
    TimedOrderOptions,
    TimeInForce,
)
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import Money, Numeric, to_decimal, to_non_negative, to_positive
from quantdesk.errors import ValidationError

__all__ = [
    "OcaType",
    "Order",
    "OrderLink",
    "OrderOptions",
    "OrderType",
    "TimeInForce",
    "TimedOrderOptions",
]


_PRICE_FIELDS = ("limit_price", "stop_price", "trailing_amount", "trailing_percent", "limit_offset")
_TRAILING = ("stop_price", "trailing_amount", "trailing_percent")
# order type -> (fields it requires, fields it may carry); exactly-one-of for trailing is checked apart.
_PRICE_RULES: dict[OrderType, tuple[tuple[str, ...], tuple[str, ...]]] = {
    OrderType.MARKET: ((), ()),
    OrderType.LIMIT: (("limit_price",), ()),
    OrderType.STOP: (("stop_price",), ()),
    OrderType.STOP_LIMIT: (("stop_price", "limit_price"), ()),
    OrderType.TRAILING_STOP: ((), _TRAILING),
    OrderType.TRAILING_STOP_LIMIT: (("limit_offset",), _TRAILING),
    OrderType.MARKET_ON_CLOSE: ((), ()),
    OrderType.LIMIT_ON_CLOSE: (("limit_price",), ()),
}
_FORBIDDEN_HINT = {
    "limit_price": "drop limit_price, or use a limit or stop-limit order",
    "stop_price": "drop stop_price, or use a stop, stop-limit or trailing order",
    "trailing_amount": "drop it, or use a trailing-stop order",
    "trailing_percent": "drop it, or use a trailing-stop order",
    "limit_offset": "drop limit_offset; only a trailing-stop-limit order takes one",
}
_AUCTION = (OrderType.MARKET_ON_CLOSE, OrderType.LIMIT_ON_CLOSE)


@dataclass(frozen=True, slots=True)
class Order:
    """One order intent: instrument, side, positive quantity, type with its prices, time in force and flags."""

    instrument: Instrument
    side: OrderSide
    quantity: Decimal
    _: KW_ONLY
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trailing_amount: Decimal | None = None
    trailing_percent: Decimal | None = None
    limit_offset: Decimal | None = None
    tif: TimeInForce = TimeInForce.DAY
    good_till: datetime | None = None
    outside_rth: bool = False
    hidden: bool = False
    discretionary_amount: Decimal | None = None
    all_or_none: bool = False
    account: AccountId | None = None
    strategy_id: StrategyId | None = None
    client_order_id: ClientOrderId = field(default_factory=ClientOrderId.new)
    link: OrderLink = field(default_factory=OrderLink)

    def __post_init__(self) -> None:
        self._convert()
        self._check_prices()
        self._check_tif()
        self._check_flags()

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)

    def _convert(self) -> None:
        inst = self.instrument
        if not isinstance(inst, Instrument):
            raise ValidationError(
                f"must be an Instrument, got {type(inst).__name__}",
                field="instrument",
                value=inst,
                hint="pass e.g. Stock('AAPL')",
            )
        if not inst.is_tradable:
            raise ValidationError(
                f"{inst} ({inst.asset_class.name.lower().replace('_', ' ')}) serves data only and cannot be traded",
                field="instrument",
                value=str(inst),
                hint="trade a dated Future, an option or an ETF instead",
            )
        self._set("side", self.side if isinstance(self.side, OrderSide) else OrderSide.parse(self.side))
        if to_decimal(self.quantity, "quantity") <= 0:
            raise ValidationError(
                f"must be greater than zero, got {self.quantity}",
                field="quantity",
                value=self.quantity,
                hint="pass a positive quantity; side BUY/SELL carries the direction",
            )
        self._set("quantity", inst.validate_quantity(self.quantity, "quantity"))
        self._set("order_type", OrderType.parse(self.order_type))
        self._set("tif", TimeInForce.parse(self.tif))
        for name, kind in (("client_order_id", ClientOrderId), ("account", AccountId), ("strategy_id", StrategyId)):
            value = getattr(self, name)
            if isinstance(value, str):
                self._set(name, kind(value))
        if not isinstance(self.link, OrderLink):
            raise ValidationError(
                f"must be an OrderLink, got {self.link!r}", field="link", value=self.link, hint="pass OrderLink(...)"
            )
        if self.link.parent_client_order_id == self.client_order_id:
            raise ValidationError(
                f"order {self.client_order_id} names itself as its parent",
                field="link.parent_client_order_id",
                value=str(self.client_order_id),
                hint="use the parent order's client_order_id",
            )

    def _check_prices(self) -> None:
        kind = self.order_type
        required, optional = _PRICE_RULES[kind]
        for name in _PRICE_FIELDS:
            value = getattr(self, name)
            if value is None and name in required:
                raise ValidationError(
                    f"a {kind.label} order needs {name}",
                    field=name,
                    value=None,
                    hint=f"pass {name}=<price>, or choose another order type",
                )
            if value is not None and name not in required and name not in optional:
                raise ValidationError(
                    f"a {kind.label} order takes no {name}, got {value}",
                    field=name,
                    value=value,
                    hint=_FORBIDDEN_HINT[name],
                )
        inst = self.instrument
        for name in ("limit_price", "stop_price"):
            if getattr(self, name) is not None:
                self._set(name, inst.validate_price(getattr(self, name), name))
        if kind.is_trailing:
            self._check_trailing()
        if kind is OrderType.STOP_LIMIT and self.limit_price is not None and self.stop_price is not None:
            limit, stop = self.limit_price, self.stop_price
            if (self.side is OrderSide.BUY and limit < stop) or (self.side is OrderSide.SELL and limit > stop):
                relation, cmp = (">=", "<") if self.side is OrderSide.BUY else ("<=", ">")
                raise ValidationError(
                    f"stop-limit {self.side.value} needs limit_price {relation} stop_price, "
                    f"got limit {limit} {cmp} stop {stop}",
                    field="limit_price",
                    value=limit,
                    hint=f"set limit_price {relation} {stop}",
                )

    def _check_trailing(self) -> None:
        inst = self.instrument
        if (self.trailing_amount is None) == (self.trailing_percent is None):
            both = self.trailing_amount is not None
            raise ValidationError(
                f"a {self.order_type.label} order needs exactly one of trailing_amount and trailing_percent, "
                + ("got both" if both else "got neither"),
                field="trailing_percent" if both else "trailing_amount",
                value=self.trailing_percent if both else None,
                hint="pass trailing_amount=<price distance> or trailing_percent=<0-100>, not both",
            )
        if self.trailing_amount is not None:
            self._set("trailing_amount", inst.validate_price(self.trailing_amount, "trailing_amount"))
        if self.trailing_percent is not None:
            percent = to_positive(self.trailing_percent, "trailing_percent")
            if percent >= 100:
                raise ValidationError(
                    f"must lie in (0, 100), got {percent}",
                    field="trailing_percent",
                    value=percent,
                    hint="pass a percentage such as 2.5 for 2.5%",
                )
            self._set("trailing_percent", percent)
        if self.limit_offset is not None:
            offset = to_non_negative(self.limit_offset, "limit_offset")
            inst.validate_increment(offset, "limit_offset")
            self._set("limit_offset", offset)

    def _check_tif(self) -> None:
        tif, kind = self.tif, self.order_type
        if tif is TimeInForce.GTD:
            if self.good_till is None:
                raise ValidationError(
                    "a GTD order needs good_till",
                    field="good_till",
                    value=None,
                    hint="pass good_till=datetime(..., tzinfo=UTC), or choose another tif",
                )
            self._set("good_till", require_utc(self.good_till, "good_till"))
        elif self.good_till is not None:
            raise ValidationError(
                f"good_till only applies to tif GTD, got tif {tif.value}",
                field="good_till",
                value=self.good_till,
                hint="drop good_till, or set tif=TimeInForce.GTD",
            )
        if tif is TimeInForce.OPG and kind not in (OrderType.MARKET, OrderType.LIMIT):
            raise ValidationError(
                f"tif OPG (at the open) takes a market or limit order, got {kind.label}",
                field="tif",
                value=tif.value,
                hint="use Order.market_on_open(...) or a limit order with tif OPG",
            )
        if kind in _AUCTION and tif is not TimeInForce.DAY:
            raise ValidationError(
                f"a {kind.label} order must be tif DAY, got {tif.value}",
                field="tif",
                value=tif.value,
                hint="set tif=TimeInForce.DAY",
            )

    def _check_flags(self) -> None:
        for name in ("outside_rth", "hidden", "all_or_none"):
            if not isinstance(getattr(self, name), bool):
                raise ValidationError(
                    f"must be True or False, got {getattr(self, name)!r}",
                    field=name,
                    value=getattr(self, name),
                    hint="pass a bool",
                )
        kind = self.order_type
        if self.hidden and kind is not OrderType.LIMIT:
            raise ValidationError(
                f"only a limit order can be hidden, got a {kind.label} order",
                field="hidden",
                value=True,
                hint="drop hidden=True, or use a limit order",
            )
        if self.outside_rth and (kind in _AUCTION or self.tif is TimeInForce.OPG):
            raise ValidationError(
                f"outside_rth has no meaning for an auction order ({kind.label}, tif {self.tif.value})",
                field="outside_rth",
                value=True,
                hint="drop outside_rth=True",
            )
        if self.discretionary_amount is not None:
            if kind is not OrderType.LIMIT:
                raise ValidationError(
                    f"only a limit order takes a discretionary_amount, got a {kind.label} order",
                    field="discretionary_amount",
                    value=self.discretionary_amount,
                    hint="drop discretionary_amount, or use a limit order",
                )
            amount = self.instrument.validate_price(self.discretionary_amount, "discretionary_amount")
            self._set("discretionary_amount", amount)

    # --- views ---------------------------------------------------------------------------------------------------

    @property
    def is_buy(self) -> bool:
        """True for a buy."""
        return self.side is OrderSide.BUY

    @property
    def is_sell(self) -> bool:
        """True for a sell."""
        return self.side is OrderSide.SELL

    @property
    def signed_quantity(self) -> Decimal:
        """Quantity with the side's sign: positive for a buy, negative for a sell."""
        return self.quantity * self.side.sign

    @property
    def is_on_open(self) -> bool:
        """True for an opening-auction order (tif OPG): market-on-open or limit-on-open."""
        return self.tif is TimeInForce.OPG

    def notional(self, price: Numeric) -> Money:
        """Unsigned value at ``price`` in the instrument's currency: quantity × price × multiplier."""
        value = to_decimal(price, "price")
        return Money(self.quantity * value * self.instrument.multiplier, self.instrument.currency)

    def with_link(self, link: OrderLink) -> Order:
        """A copy tied to other orders by ``link`` (re-validated; same client_order_id)."""
        return replace(self, link=link)

    def __str__(self) -> str:
        prices = " ".join(
            f"{name}={getattr(self, name)}" for name in (*_PRICE_FIELDS, "good_till") if getattr(self, name) is not None
        )
        text = f"{self.side.value} {self.quantity} {self.instrument} {self.order_type.value} {prices} {self.tif.value}"
        return f"{' '.join(text.split())} [{self.client_order_id}]"

    # --- factories -----------------------------------------------------------------------------------------------

    @classmethod
    def market(
        cls, instrument: Instrument, side: OrderSide | str, quantity: Numeric, **options: Unpack[TimedOrderOptions]
    ) -> Order:
        """A market order."""
        return cls(instrument, _side(side), _qty(quantity), order_type=OrderType.MARKET, **options)

    @classmethod
    def limit(
        cls,
        instrument: Instrument,
        side: OrderSide | str,
        quantity: Numeric,
        limit_price: Numeric,
        **options: Unpack[TimedOrderOptions],
    ) -> Order:
        """A limit order at ``limit_price``."""
        price = to_decimal(limit_price, "limit_price")
        return cls(instrument, _side(side), _qty(quantity), order_type=OrderType.LIMIT, limit_price=price, **options)

    @classmethod
    def stop(
        cls,
        instrument: Instrument,
        side: OrderSide | str,
        quantity: Numeric,
        stop_price: Numeric,
        **options: Unpack[TimedOrderOptions],
    ) -> Order:
        """A stop order that becomes a market order at ``stop_price``."""
        price = to_decimal(stop_price, "stop_price")
        return cls(instrument, _side(side), _qty(quantity), order_type=OrderType.STOP, stop_price=price, **options)

    @classmethod
    def stop_limit(
        cls,
        instrument: Instrument,
        side: OrderSide | str,
        quantity: Numeric,
        stop_price: Numeric,
        limit_price: Numeric,
        **options: Unpack[TimedOrderOptions],
    ) -> Order:
        """A stop order that becomes a limit order at ``limit_price`` once ``stop_price`` trades."""
        return cls(
            instrument,
            _side(side),
            _qty(quantity),
            order_type=OrderType.STOP_LIMIT,
            stop_price=to_decimal(stop_price, "stop_price"),
            limit_price=to_decimal(limit_price, "limit_price"),
            **options,
        )

    @classmethod
    def trailing_stop(
        cls,
        instrument: Instrument,
        side: OrderSide | str,
        quantity: Numeric,
        *,
        trailing_amount: Numeric | None = None,
        trailing_percent: Numeric | None = None,
        stop_price: Numeric | None = None,
        **options: Unpack[TimedOrderOptions],
    ) -> Order:
        """A stop that trails the market by an amount or a percentage; ``stop_price`` is the optional initial stop."""
        return cls(
            instrument,
            _side(side),
            _qty(quantity),
            order_type=OrderType.TRAILING_STOP,
            trailing_amount=_opt(trailing_amount, "trailing_amount"),
            trailing_percent=_opt(trailing_percent, "trailing_percent"),
            stop_price=_opt(stop_price, "stop_price"),
            **options,
        )

    @classmethod
    def trailing_stop_limit(
        cls,
        instrument: Instrument,
        side: OrderSide | str,
        quantity: Numeric,
        *,
        limit_offset: Numeric,
        trailing_amount: Numeric | None = None,
        trailing_percent: Numeric | None = None,
        stop_price: Numeric | None = None,
        **options: Unpack[TimedOrderOptions],
    ) -> Order:
        """A trailing stop that sends a limit ``limit_offset`` away from the stop once triggered."""
        return cls(
            instrument,
            _side(side),
            _qty(quantity),
            order_type=OrderType.TRAILING_STOP_LIMIT,
            limit_offset=to_decimal(limit_offset, "limit_offset"),
            trailing_amount=_opt(trailing_amount, "trailing_amount"),
            trailing_percent=_opt(trailing_percent, "trailing_percent"),
            stop_price=_opt(stop_price, "stop_price"),
            **options,
        )

    @classmethod
    def market_on_close(
        cls, instrument: Instrument, side: OrderSide | str, quantity: Numeric, **options: Unpack[OrderOptions]
    ) -> Order:
        """A market-on-close order (IB ``MOC``, tif DAY)."""
        return cls(instrument, _side(side), _qty(quantity), order_type=OrderType.MARKET_ON_CLOSE, **options)

    @classmethod
    def limit_on_close(
        cls,
        instrument: Instrument,
        side: OrderSide | str,
        quantity: Numeric,
        limit_price: Numeric,
        **options: Unpack[OrderOptions],
    ) -> Order:
        """A limit-on-close order (IB ``LOC``, tif DAY)."""
        price = to_decimal(limit_price, "limit_price")
        kind = OrderType.LIMIT_ON_CLOSE
        return cls(instrument, _side(side), _qty(quantity), order_type=kind, limit_price=price, **options)

    @classmethod
    def market_on_open(
        cls, instrument: Instrument, side: OrderSide | str, quantity: Numeric, **options: Unpack[OrderOptions]
    ) -> Order:
        """A market-on-open order, the IB way: ``MKT`` with tif ``OPG``."""
        return cls(instrument, _side(side), _qty(quantity), order_type=OrderType.MARKET, tif=TimeInForce.OPG, **options)


def _side(side: OrderSide | str) -> OrderSide:
    return side if isinstance(side, OrderSide) else OrderSide.parse(side)


def _qty(quantity: Numeric) -> Decimal:
    return to_decimal(quantity, "quantity")


def _opt(value: Numeric | None, name: str) -> Decimal | None:
    return None if value is None else to_decimal(value, name)
