"""Order lists: brackets, one-cancels-all groups and one-triggers-other, each exposing ``orders`` in submission order.

Links are stored on the orders themselves, in ``Order.link`` (an ``OrderLink``). Building a list *normalises* the
links of its orders (it keeps copies carrying the right link, same client_order_ids) and refuses an order already
linked somewhere else. After construction:

* ``Bracket``: the entry has ``OrderLink(transmit=False)``; take-profit and stop-loss name the entry's
  client_order_id as parent, share one OCA group (default name ``oca-<entry id>``, default type
  ``REDUCE_WITH_BLOCK`` so a partial fill of one child shrinks the other instead of cancelling it); the
  take-profit has ``transmit=False`` and the stop-loss, sent last, ``transmit=True`` (IB holds the earlier ones
  until the last arrives).
* ``OcaGroup``: every order gets the group's name and type; parent and transmit are left as they are.
* ``Oto``: the parent has ``transmit=False``; children name it as parent; only the last child transmits.

Every list satisfies the ``OrderList`` protocol: submit ``orders`` one by one, in that order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import KW_ONLY, dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from quantdesk.domain.identifiers import AccountId, ClientOrderId, StrategyId
from quantdesk.domain.instruments import Instrument
from quantdesk.domain.orders import OcaType, Order, OrderLink, OrderType, TimedOrderOptions, TimeInForce
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import Numeric, to_decimal
from quantdesk.errors import ValidationError

__all__ = ["Bracket", "OcaGroup", "OcaType", "OrderList", "Oto"]


@runtime_checkable
class OrderList(Protocol):
    """Orders submitted together; ``orders`` is in submission order (the last one transmits the lot)."""

    @property
    def orders(self) -> tuple[Order, ...]:
        """The linked orders, in the order the OMS must send them."""
        ...


@contextmanager
def _within(prefix: str) -> Iterator[None]:
    """Re-raise a ``ValidationError`` with its field prefixed, e.g. ``stop_price`` -> ``stop_loss.stop_price``."""
    try:
        yield
    except ValidationError as exc:
        name = f"{prefix}.{exc.field}" if exc.field else prefix
        raise ValidationError(exc.message, field=name, value=exc.value, hint=exc.hint) from exc


def _require_order(value: object, name: str) -> None:
    if not isinstance(value, Order):
        raise ValidationError(
            f"must be an Order, got {type(value).__name__}",
            field=name,
            value=value,
            hint="build it with Order.limit(…)",
        )


def _unique_ids(orders: Sequence[tuple[str, Order]]) -> None:
    seen: dict[ClientOrderId, str] = {}
    for name, order in orders:
        if order.client_order_id in seen:
            raise ValidationError(
                f"client_order_id {order.client_order_id} is used by {seen[order.client_order_id]} and {name}",
                field=f"{name}.client_order_id",
                value=str(order.client_order_id),
                hint="give every order of a list its own id (the default does)",
            )
        seen[order.client_order_id] = name


def _same_owner(first: Order, other: Order, name: str) -> None:
    for attr in ("account", "strategy_id"):
        if getattr(other, attr) != getattr(first, attr):
            raise ValidationError(
                f"{name} has {attr} {getattr(other, attr)}, its parent {getattr(first, attr)}",
                field=f"{name}.{attr}",
                value=getattr(other, attr),
                hint=f"use the same {attr} for every order of the list",
            )


def _relink(order: Order, link: OrderLink) -> Order:
    return order if order.link == link else order.with_link(link)


_ENTRY_TYPES = (OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT)
_STOP_LOSS_TYPES = (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP, OrderType.TRAILING_STOP_LIMIT)


def _entry_price(entry: Order) -> Decimal | None:
    """The price a bracket's exits are compared with: limit (limit, stop-limit), stop (stop), none (market)."""
    return entry.stop_price if entry.order_type is OrderType.STOP else entry.limit_price


@dataclass(frozen=True, slots=True)
class Bracket:
    """An entry with a take-profit limit and a protective stop, both on the opposite side for the same quantity."""

    entry: Order
    take_profit: Order
    stop_loss: Order
    _: KW_ONLY
    oca_group: str | None = None
    oca_type: OcaType | None = None

    def __post_init__(self) -> None:
        for name in ("entry", "take_profit", "stop_loss"):
            _require_order(getattr(self, name), name)
        self._check_shape()
        self._check_prices()
        self._link()

    def _check_shape(self) -> None:
        entry = self.entry
        kinds = (("entry", _ENTRY_TYPES), ("take_profit", (OrderType.LIMIT,)), ("stop_loss", _STOP_LOSS_TYPES))
        for name, allowed in kinds:
            kind = getattr(self, name).order_type
            if kind not in allowed:
                raise ValidationError(
                    f"a bracket's {name} cannot be a {kind.label} order",
                    field=f"{name}.order_type",
                    value=kind.value,
                    hint="use a " + " or ".join(k.label for k in allowed) + " order",
                )
        for name in ("take_profit", "stop_loss"):
            child: Order = getattr(self, name)
            if child.instrument.id != entry.instrument.id:
                raise ValidationError(
                    f"{name} trades {child.instrument}, the entry {entry.instrument}",
                    field=f"{name}.instrument",
                    value=str(child.instrument),
                    hint="exit the instrument the entry trades",
                )
            if child.side is not entry.side.opposite:
                raise ValidationError(
                    f"the {name} of a {entry.side.value} bracket must be a {entry.side.opposite.value}, "
                    f"got {child.side.value}",
                    field=f"{name}.side",
                    value=child.side.value,
                    hint=f"use side {entry.side.opposite.value}",
                )
            if child.quantity != entry.quantity:
                raise ValidationError(
                    f"{name} quantity {child.quantity} differs from the entry's {entry.quantity}",
                    field=f"{name}.quantity",
                    value=child.quantity,
                    hint=f"use quantity {entry.quantity}",
                )
            _same_owner(entry, child, name)
        _unique_ids([(name, getattr(self, name)) for name in ("entry", "take_profit", "stop_loss")])

    def _check_prices(self) -> None:
        side, entry = self.entry.side, _entry_price(self.entry)
        target, stop = self.take_profit.limit_price, self.stop_loss.stop_price
        assert target is not None  # a LIMIT order always has one

        def beyond(a: Decimal, b: Decimal) -> bool:
            return a > b if side is OrderSide.BUY else a < b

        up, down = ("above", "below") if side is OrderSide.BUY else ("below", "above")
        if entry is not None and not beyond(target, entry):
            raise ValidationError(
                f"a {side.value} bracket needs its take-profit {up} the entry, "
                f"got take-profit {target} vs entry {entry}",
                field="take_profit.limit_price",
                value=target,
                hint=f"set the take-profit {up} {entry}",
            )
        if entry is not None and stop is not None and not beyond(entry, stop):
            raise ValidationError(
                f"a {side.value} bracket needs its stop-loss {down} the entry, got stop {stop} vs entry {entry}",
                field="stop_loss.stop_price",
                value=stop,
                hint=f"set the stop-loss {down} {entry}",
            )
        if entry is None and stop is not None and not beyond(target, stop):
            raise ValidationError(
                f"a {side.value} bracket needs its stop-loss {down} its take-profit, got stop {stop} vs take-profit "
                f"{target}",
                field="stop_loss.stop_price",
                value=stop,
                hint=f"set the stop-loss {down} {target}",
            )

    def _link(self) -> None:
        entry_id = self.entry.client_order_id
        if self.entry.link.parent_client_order_id is not None or self.entry.link.oca_group is not None:
            raise ValidationError(
                "a bracket's entry cannot have a parent or an OCA group",
                field="entry.link",
                value=self.entry.link,
                hint="pass an unlinked entry order",
            )
        children = (("take_profit", self.take_profit), ("stop_loss", self.stop_loss))
        group = self.oca_group or next((c.link.oca_group for _, c in children if c.link.oca_group), f"oca-{entry_id}")
        oca_type = self.oca_type or next(
            (c.link.oca_type for _, c in children if c.link.oca_group and c.link.oca_type), OcaType.REDUCE_WITH_BLOCK
        )
        for name, child in children:
            if child.link.parent_client_order_id not in (None, entry_id):
                raise ValidationError(
                    f"{name} is linked to parent {child.link.parent_client_order_id}, not to the entry {entry_id}",
                    field=f"{name}.link.parent_client_order_id",
                    value=str(child.link.parent_client_order_id),
                    hint="pass unlinked exit orders",
                )
            if child.link.oca_group not in (None, group):
                raise ValidationError(
                    f"{name} is in OCA group {child.link.oca_group}, the bracket's is {group}",
                    field=f"{name}.link.oca_group",
                    value=child.link.oca_group,
                    hint="pass exit orders without an OCA group, or the bracket's",
                )
        tp_link = OrderLink(entry_id, group, OcaType.parse(oca_type), transmit=False)
        object.__setattr__(self, "oca_group", group)
        object.__setattr__(self, "oca_type", tp_link.oca_type)
        object.__setattr__(self, "entry", _relink(self.entry, OrderLink(transmit=False)))
        object.__setattr__(self, "take_profit", _relink(self.take_profit, tp_link))
        object.__setattr__(self, "stop_loss", _relink(self.stop_loss, replace(tp_link, transmit=True)))

    @property
    def orders(self) -> tuple[Order, ...]:
        """Entry, take-profit, stop-loss: the order IB needs them in."""
        return (self.entry, self.take_profit, self.stop_loss)

    @property
    def instrument(self) -> Instrument:
        """The instrument all three orders trade."""
        return self.entry.instrument

    @property
    def side(self) -> OrderSide:
        """The entry's side."""
        return self.entry.side

    @property
    def quantity(self) -> Decimal:
        """The quantity of each of the three orders."""
        return self.entry.quantity

    @classmethod
    def build(
        cls,
        instrument: Instrument,
        side: OrderSide | str,
        quantity: Numeric,
        entry_price: Numeric | None,
        take_profit_price: Numeric,
        stop_loss_price: Numeric | None,
        *,
        entry_type: OrderType | None = None,
        stop_loss_limit_price: Numeric | None = None,
        stop_loss_trailing_amount: Numeric | None = None,
        stop_loss_trailing_percent: Numeric | None = None,
        tif: TimeInForce = TimeInForce.DAY,
        child_tif: TimeInForce | None = None,
        good_till: datetime | None = None,
        outside_rth: bool = False,
        account: AccountId | None = None,
        strategy_id: StrategyId | None = None,
        oca_group: str | None = None,
        oca_type: OcaType | None = None,
    ) -> Bracket:
        """Build the three linked orders from prices.

        The entry is a market order when ``entry_price`` is None, else a limit (or ``entry_type=OrderType.STOP``).
        The stop-loss is a stop at ``stop_loss_price``; a stop-limit if ``stop_loss_limit_price`` is given; a
        trailing stop if a trailing amount or percent is given (``stop_loss_price`` is then its optional initial
        stop). Children use ``child_tif``, by default the entry's tif (DAY when that is OPG, IOC or FOK);
        ``good_till`` goes to every order whose tif is GTD.
        """
        order_side = side if isinstance(side, OrderSide) else OrderSide.parse(side)
        qty = to_decimal(quantity, "quantity")
        owner: TimedOrderOptions = {"outside_rth": outside_rth, "account": account, "strategy_id": strategy_id}
        entry_opts: TimedOrderOptions = {
            **owner,
            "tif": tif,
            "good_till": good_till if tif is TimeInForce.GTD else None,
        }
        kind = entry_type or (OrderType.MARKET if entry_price is None else OrderType.LIMIT)
        if kind not in (OrderType.MARKET, OrderType.LIMIT, OrderType.STOP):
            raise ValidationError(
                f"Bracket.build makes a market, limit or stop entry, got {kind.label}",
                field="entry_type",
                value=kind.value,
                hint="build the entry yourself and pass it to Bracket(entry, take_profit, stop_loss)",
            )
        exit_tif = child_tif or (TimeInForce.DAY if tif in (TimeInForce.OPG, TimeInForce.IOC, TimeInForce.FOK) else tif)
        if good_till is not None and TimeInForce.GTD not in (tif, exit_tif):
            raise ValidationError(
                f"good_till is given but neither tif ({tif.value}) nor child_tif ({exit_tif.value}) is GTD",
                field="good_till",
                value=good_till,
                hint="set tif or child_tif to TimeInForce.GTD, or drop good_till",
            )
        price = None if entry_price is None else to_decimal(entry_price, "entry_price")
        with _within("entry"):
            entry = Order(
                instrument,
                order_side,
                qty,
                order_type=kind,
                limit_price=price if kind is OrderType.LIMIT else None,
                stop_price=price if kind is OrderType.STOP else None,
                **entry_opts,
            )
        exit_opts: TimedOrderOptions = {
            **owner,
            "tif": exit_tif,
            "good_till": good_till if exit_tif is TimeInForce.GTD else None,
        }
        with _within("take_profit"):
            take_profit = Order.limit(instrument, order_side.opposite, qty, take_profit_price, **exit_opts)
        trailing = stop_loss_trailing_amount is not None or stop_loss_trailing_percent is not None
        if trailing and stop_loss_limit_price is not None:
            raise ValidationError(
                "Bracket.build does not combine a trailing stop-loss with a stop-loss limit price",
                field="stop_loss_limit_price",
                value=stop_loss_limit_price,
                hint="drop it, or build a trailing-stop-limit with Order.trailing_stop_limit and pass it to Bracket",
            )
        stop = None if stop_loss_price is None else to_decimal(stop_loss_price, "stop_loss_price")
        with _within("stop_loss"):
            if trailing:
                amount, percent = stop_loss_trailing_amount, stop_loss_trailing_percent
                stop_loss = Order.trailing_stop(
                    instrument,
                    order_side.opposite,
                    qty,
                    trailing_amount=amount,
                    trailing_percent=percent,
                    stop_price=stop,
                    **exit_opts,
                )
            else:
                limit = None if stop_loss_limit_price is None else to_decimal(stop_loss_limit_price, "limit_price")
                stop_loss = Order(
                    instrument,
                    order_side.opposite,
                    qty,
                    order_type=OrderType.STOP if limit is None else OrderType.STOP_LIMIT,
                    stop_price=stop,
                    limit_price=limit,
                    **exit_opts,
                )
        return cls(entry, take_profit, stop_loss, oca_group=oca_group, oca_type=oca_type)


def _check_group_name(name: object) -> str:
    if not isinstance(name, str) or not name or len(name) > 128 or any(ch.isspace() for ch in name):
        raise ValidationError(
            f"is not a valid OCA group name: {name!r}",
            field="name",
            value=name,
            hint="use 1-128 characters without spaces, e.g. exit-aapl",
        )
    return name


@dataclass(frozen=True, slots=True)
class OcaGroup:
    """One-cancels-all: two or more orders (any instruments) of which a fill cancels or reduces the others."""

    name: str
    orders: tuple[Order, ...]
    oca_type: OcaType = OcaType.CANCEL_WITH_BLOCK

    def __post_init__(self) -> None:
        name = _check_group_name(self.name)
        orders = tuple(self.orders) if isinstance(self.orders, list | tuple) else ()
        if len(orders) < 2:
            raise ValidationError(
                f"an OCA group needs at least 2 orders, got {len(orders)}",
                field="orders",
                value=len(orders),
                hint="add another order, or submit the order on its own",
            )
        for i, order in enumerate(orders):
            _require_order(order, f"orders[{i}]")
        _unique_ids([(f"orders[{i}]", o) for i, o in enumerate(orders)])
        object.__setattr__(self, "oca_type", OcaType.parse(self.oca_type))
        linked = []
        for i, order in enumerate(orders):
            if order.link.oca_group not in (None, name):
                raise ValidationError(
                    f"orders[{i}] is already in OCA group {order.link.oca_group}",
                    field=f"orders[{i}].link.oca_group",
                    value=order.link.oca_group,
                    hint=f"pass orders without an OCA group, or in {name}",
                )
            linked.append(_relink(order, replace(order.link, oca_group=name, oca_type=self.oca_type)))
        object.__setattr__(self, "orders", tuple(linked))

    @classmethod
    def of(cls, *orders: Order, name: str | None = None, oca_type: OcaType = OcaType.CANCEL_WITH_BLOCK) -> OcaGroup:
        """Group ``orders``; without a ``name`` a fresh one such as ``oca-5b1e0c8d…`` is made."""
        return cls(name or ClientOrderId.new("oca").value, orders, oca_type)


@dataclass(frozen=True, slots=True)
class Oto:
    """One-triggers-other: child orders that IB activates once the parent order fills."""

    parent: Order
    children: tuple[Order, ...]

    def __post_init__(self) -> None:
        _require_order(self.parent, "parent")
        children = tuple(self.children) if isinstance(self.children, list | tuple) else ()
        if not children:
            raise ValidationError(
                "an OTO needs at least one child order",
                field="children",
                value=0,
                hint="add the order the parent's fill should trigger",
            )
        for i, child in enumerate(children):
            _require_order(child, f"children[{i}]")
        parent = self.parent
        _unique_ids([("parent", parent), *((f"children[{i}]", c) for i, c in enumerate(children))])
        if parent.link.parent_client_order_id is not None:
            raise ValidationError(
                f"the parent order already has parent {parent.link.parent_client_order_id}",
                field="parent.link.parent_client_order_id",
                value=str(parent.link.parent_client_order_id),
                hint="pass an unlinked parent order",
            )
        linked = []
        for i, child in enumerate(children):
            name = f"children[{i}]"
            _same_owner(parent, child, name)
            if child.link.parent_client_order_id not in (None, parent.client_order_id):
                raise ValidationError(
                    f"{name} is linked to parent {child.link.parent_client_order_id}, not {parent.client_order_id}",
                    field=f"{name}.link.parent_client_order_id",
                    value=str(child.link.parent_client_order_id),
                    hint="pass unlinked child orders",
                )
            link = replace(child.link, parent_client_order_id=parent.client_order_id, transmit=i == len(children) - 1)
            linked.append(_relink(child, link))
        object.__setattr__(self, "parent", _relink(parent, replace(parent.link, transmit=False)))
        object.__setattr__(self, "children", tuple(linked))

    @property
    def orders(self) -> tuple[Order, ...]:
        """The parent, then the children: the order IB needs them in."""
        return (self.parent, *self.children)

    @classmethod
    def of(cls, parent: Order, *children: Order) -> Oto:
        """``Oto.of(entry, exit1, exit2)``."""
        return cls(parent, children)
