"""From the wire to the domain and back: instruments, orders, IB times and the gateway's commission model.

The matching engine takes domain orders (``quantdesk.domain.orders.Order`` on a domain ``Instrument``) while the
gateway parses ``placeOrder`` into ``WireContract``/``WireOrder``. This module converts one into the other and turns
whatever the domain refuses into IB's answer, an :class:`OrderRefused` carrying the error code: 434 for a zero
size, 201 "Order rejected - reason:…" for everything else (an off-tick price, an order type the gateway does not
simulate, a missing price, a bad time in force).

Order types: ``MKT``, ``LMT``, ``STP``, ``STP LMT``, ``TRAIL`` (``auxPrice`` is the trailing amount, or
``trailingPercent``; ``trailStopPrice`` the optional initial stop), ``TRAIL LIMIT`` (plus ``lmtPriceOffset``, or
``lmtPrice`` together with ``trailStopPrice``), ``MOC``, ``LOC``, and market/limit-on-open as ``MKT``/``LMT`` with
tif ``OPG`` (``MOO``/``LOO`` are accepted as aliases). Time in force: DAY (also when empty), GTC, IOC, FOK, GTD
(``goodTillDate``) and OPG.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.instrument_codes import AssetClass, OptionRight, parse_expiry
from quantdesk.domain.instruments import ForexPair, Future, Index, Instrument, Option, Stock
from quantdesk.domain.order_types import OcaType, OrderLink, OrderType, TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import USD, ZERO, Currency, Money, to_decimal
from quantdesk.errors import ValidationError
from quantdesk.execution.fees import ByAssetClass, FeeModel, FlatFee, IbFixed, IbTiered, PerContractFee
from quantdesk.gateway.clock import NEW_YORK
from quantdesk.gateway.contracts import ContractQuery, ContractSpec
from quantdesk.gateway.order_wire import WireContract, WireOrder

__all__ = [
    "COMMISSION_SCHEDULES",
    "GatewayFees",
    "OrderRefused",
    "cancel_reason",
    "contract_query",
    "decimal_of",
    "domain_order",
    "instrument_for",
    "parse_ib_time",
    "reply_contract",
    "same_order_type",
]

COMMISSION_SCHEDULES = ("fixed", "tiered", "none")
_SIDES = {"BUY": OrderSide.BUY, "SELL": OrderSide.SELL, "SSHORT": OrderSide.SELL, "SLONG": OrderSide.SELL}
_TYPES: dict[str, tuple[OrderType, TimeInForce | None]] = {
    "MKT": (OrderType.MARKET, None),
    "LMT": (OrderType.LIMIT, None),
    "STP": (OrderType.STOP, None),
    "STP LMT": (OrderType.STOP_LIMIT, None),
    "STPLMT": (OrderType.STOP_LIMIT, None),
    "TRAIL": (OrderType.TRAILING_STOP, None),
    "TRAIL LIMIT": (OrderType.TRAILING_STOP_LIMIT, None),
    "TRAILLIMIT": (OrderType.TRAILING_STOP_LIMIT, None),
    "MOC": (OrderType.MARKET_ON_CLOSE, None),
    "LOC": (OrderType.LIMIT_ON_CLOSE, None),
    "MOO": (OrderType.MARKET, TimeInForce.OPG),
    "LOO": (OrderType.LIMIT, TimeInForce.OPG),
}
_AUCTION_TYPES = (OrderType.MARKET_ON_CLOSE, OrderType.LIMIT_ON_CLOSE)
_IB_TIME = re.compile(r"(\d{8})(?:[ -](\d{1,2}:\d{2}(?::\d{2})?))?(?: (\S+))?")


class OrderRefused(Exception):
    """An order TWS would not accept: ``code`` is the IB error code (201, 434, 200, 103, …), ``reason`` the why."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

    @property
    def message(self) -> str:
        """The error text as TWS writes it (201 carries the ``Order rejected - reason:`` prefix)."""
        return f"Order rejected - reason:{self.reason}" if self.code == 201 else self.reason


def decimal_of(value: float) -> Decimal:
    """A wire double as an exact decimal of its shortest representation (0.1 stays 0.1)."""
    return to_decimal(value, "price")


@lru_cache(maxsize=4096)
def instrument_for(spec: ContractSpec) -> Instrument:
    """The domain instrument of a catalogue contract (tick size, multiplier and conId included)."""
    tick = decimal_of(spec.min_tick)
    currency = Currency.of(spec.currency)
    common: dict[str, Any] = {"tick_size": tick, "con_id": spec.con_id, "description": spec.long_name or None}
    kind = spec.sec_type
    if kind == "STK":
        return Stock(
            spec.symbol,
            currency=currency,
            exchange=spec.exchange,
            primary_exchange=spec.primary_exchange or None,
            **common,
        )
    if kind == "CASH":
        return ForexPair(spec.symbol, currency, exchange=spec.exchange, **common)
    if kind == "FUT":
        return Future(
            spec.symbol,
            parse_expiry(spec.last_trade_date),
            exchange=spec.exchange,
            currency=currency,
            multiplier=decimal_of(spec.multiplier_value),
            trading_class=spec.trading_class or None,
            **common,
        )
    if kind == "OPT":
        return Option(
            spec.symbol,
            parse_expiry(spec.last_trade_date),
            decimal_of(spec.strike),
            OptionRight.parse(spec.right),
            exchange=spec.exchange,
            currency=currency,
            multiplier=decimal_of(spec.multiplier_value),
            trading_class=spec.trading_class or None,
            **common,
        )
    if kind == "IND":
        return Index(spec.symbol, exchange=spec.exchange, currency=currency, **common)
    raise OrderRefused(201, f"the gateway does not trade security type {kind}")


def contract_query(contract: WireContract) -> ContractQuery:
    """The catalogue query for the contract block of ``placeOrder``."""
    return ContractQuery(
        con_id=contract.con_id,
        symbol=contract.symbol,
        sec_type=contract.sec_type,
        last_trade_date=contract.last_trade_date_or_contract_month,
        strike=contract.strike,
        right=contract.right,
        multiplier=contract.multiplier,
        exchange=contract.exchange,
        primary_exchange=contract.primary_exchange,
        currency=contract.currency,
        local_symbol=contract.local_symbol,
        trading_class=contract.trading_class,
        sec_id_type=contract.sec_id_type,
        sec_id=contract.sec_id,
    )


def reply_contract(spec: ContractSpec, sent: WireContract) -> WireContract:
    """The contract as replies carry it: the catalogue's fields, routed through the exchange the client named."""
    return WireContract(
        con_id=spec.con_id,
        symbol=spec.symbol,
        sec_type=spec.sec_type,
        last_trade_date_or_contract_month=spec.last_trade_date,
        strike=spec.strike,
        right=spec.right,
        multiplier=spec.multiplier,
        exchange=sent.exchange.upper() or spec.exchange,
        primary_exchange=spec.primary_exchange,
        currency=spec.currency,
        local_symbol=spec.local_symbol,
        trading_class=spec.trading_class,
        combo_legs=sent.combo_legs,
        combo_legs_descrip=sent.combo_legs_descrip,
    )


def parse_ib_time(text: str, default_zone: ZoneInfo = NEW_YORK) -> datetime:
    """An IB time such as ``20250321 15:30:00 US/Eastern``, ``20250321-19:30:00`` (UTC) or ``20250321`` (end of
    that day) as an aware UTC datetime; without a zone the TWS time zone ``default_zone`` applies."""
    match = _IB_TIME.fullmatch(text.strip())
    if match is None:
        raise ValidationError(
            f"not an IB time: {text!r}", field="goodTillDate", value=text, hint="write YYYYMMDD HH:MM:SS [zone]"
        )
    day, clock, zone_name = match.groups()
    clock = clock or "23:59:59"
    if clock.count(":") == 1:
        clock += ":00"
    naive = datetime.strptime(f"{day} {clock.zfill(8)}", "%Y%m%d %H:%M:%S")
    if zone_name:
        try:
            zone: ZoneInfo = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                f"unknown time zone {zone_name!r}", field="goodTillDate", value=text, hint="use e.g. US/Eastern or UTC"
            ) from None
    elif "-" in text:
        zone = ZoneInfo("UTC")
    else:
        zone = default_zone
    return naive.replace(tzinfo=zone).astimezone(UTC)


def _required(value: float | None, what: str, wire_name: str) -> Decimal:
    if value is None:
        raise OrderRefused(201, f"a {what} order needs {wire_name}")
    return decimal_of(value)


@dataclass(frozen=True, slots=True)
class _Prices:
    limit: Decimal | None = None
    stop: Decimal | None = None
    amount: Decimal | None = None
    percent: Decimal | None = None
    offset: Decimal | None = None


def _prices(kind: OrderType, order: WireOrder) -> _Prices:
    """The domain's price fields of ``kind``, read from the wire fields IB uses for them."""
    lmt, aux = order.lmt_price, order.aux_price
    if kind in (OrderType.MARKET, OrderType.MARKET_ON_CLOSE):
        return _Prices()
    if kind in (OrderType.LIMIT, OrderType.LIMIT_ON_CLOSE):
        return _Prices(limit=_required(lmt, kind.label, "lmtPrice"))
    if kind is OrderType.STOP:
        return _Prices(stop=_required(aux, kind.label, "auxPrice (the stop price)"))
    if kind is OrderType.STOP_LIMIT:
        return _Prices(
            stop=_required(aux, kind.label, "auxPrice (the stop price)"), limit=_required(lmt, kind.label, "lmtPrice")
        )
    percent = amount = offset = None
    if order.trailing_percent is not None and order.trailing_percent > 0:
        percent = decimal_of(order.trailing_percent)
    else:
        amount = _required(aux, kind.label, "auxPrice (the trailing amount) or trailingPercent")
    stop = order.trail_stop_price
    if kind is OrderType.TRAILING_STOP_LIMIT:
        gap = order.lmt_price_offset
        if gap is None and lmt is not None and stop is not None:
            gap = abs(stop - lmt)
        offset = _required(gap, kind.label, "lmtPriceOffset (or lmtPrice with trailStopPrice)")
    initial = None if stop is None or stop <= 0 else decimal_of(stop)
    return _Prices(stop=initial, amount=amount, percent=percent, offset=offset)


def domain_order(
    order: WireOrder,
    instrument: Instrument,
    *,
    client_order_id: ClientOrderId,
    quantity: float | None = None,
    parent: ClientOrderId | None = None,
    oca_group: str | None = None,
    oca_type: int | None = None,
) -> Order:
    """The domain order for ``order`` on ``instrument``; ``quantity`` overrides ``totalQuantity`` (a restored
    order works only its remainder). Raises :class:`OrderRefused` with the IB code for what the domain refuses."""
    total = order.total_quantity if quantity is None else quantity
    if total is None or total == 0:
        raise OrderRefused(434, "The order size cannot be zero")
    if total < 0:
        raise OrderRefused(201, f"the order size must be positive, got {total}")
    side = _SIDES.get(order.action.upper())
    if side is None:
        raise OrderRefused(201, f"unknown action {order.action!r}: use BUY or SELL")
    kind_tif = _TYPES.get(" ".join(order.order_type.upper().split()))
    if kind_tif is None:
        raise OrderRefused(201, f"order type {order.order_type!r} is not simulated by the gateway")
    kind, forced_tif = kind_tif
    tif_text = (order.tif or "DAY").upper()
    try:
        tif = forced_tif or TimeInForce.parse(tif_text)
        good_till = parse_ib_time(order.good_till_date) if tif is TimeInForce.GTD else None
        if tif is TimeInForce.GTD and not order.good_till_date:
            raise OrderRefused(201, "a GTD order needs goodTillDate")
        auction = kind in _AUCTION_TYPES or tif is TimeInForce.OPG
        discretionary = order.discretionary_amt
        link = OrderLink(parent, oca_group, None if oca_group is None else OcaType.parse(oca_type or 1))
        p = _prices(kind, order)
        return Order(
            instrument,
            side,
            decimal_of(total),
            order_type=kind,
            limit_price=p.limit,
            stop_price=p.stop,
            trailing_amount=p.amount,
            trailing_percent=p.percent,
            limit_offset=p.offset,
            tif=tif,
            good_till=good_till,
            outside_rth=order.outside_rth and not auction,
            hidden=order.hidden,
            discretionary_amount=(
                decimal_of(discretionary)
                if kind is OrderType.LIMIT and discretionary is not None and discretionary > 0
                else None
            ),
            all_or_none=order.all_or_none,
            client_order_id=client_order_id,
            link=link,
        )
    except ValidationError as exc:
        raise OrderRefused(201, str(exc)) from None


@dataclass(frozen=True, slots=True)
class GatewayFees:
    """The gateway's commissions: IB fixed (or tiered) for US stocks, IB's per-contract fees for options and
    futures, 0.2 bp (at least 2 units of the quote currency) for forex, 1 unit per order for stocks outside USD."""

    schedule: str = "fixed"

    def __post_init__(self) -> None:
        if self.schedule not in COMMISSION_SCHEDULES:
            raise ValidationError(
                f"unknown commission schedule {self.schedule!r}",
                field="commission_schedule",
                value=self.schedule,
                hint="use one of " + ", ".join(COMMISSION_SCHEDULES),
            )

    @property
    def _models(self) -> ByAssetClass:
        return _fee_table(self.schedule)

    def commission(
        self,
        instrument: Instrument,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal,
        *,
        monthly_volume: Decimal = ZERO,
    ) -> Money:
        """The commission of an order's executions so far (``quantity`` at average ``price``)."""
        if self.schedule == "none":
            return Money(ZERO, instrument.currency)
        if instrument.asset_class is AssetClass.STOCK and instrument.currency != USD:
            return _FOREIGN_STOCK.commission(instrument, side, quantity, price)
        return self._models.commission(instrument, side, quantity, price, monthly_volume=monthly_volume)


_FOREIGN_STOCK = FlatFee.of(per_order=1)


@lru_cache(maxsize=4)
def _fee_table(schedule: str) -> ByAssetClass:
    stock: FeeModel = IbTiered() if schedule == "tiered" else IbFixed()
    return ByAssetClass(
        {
            AssetClass.STOCK: stock,
            AssetClass.OPTION: PerContractFee.ib_options(),
            AssetClass.FUTURE: PerContractFee.ib_futures(),
            AssetClass.FOREX: FlatFee.of(bps="0.2", minimum=2),
        }
    )


def cancel_reason(reason: str) -> str:
    """The engine's reason for a cancel in TWS's words (empty for a cancel the client asked for)."""
    if reason.startswith("OCA group"):
        return "another order of its OCA group filled"
    if reason.startswith("parent"):
        return "its parent order was cancelled"
    return "" if reason == "cancelled" else reason


def same_order_type(a: str, b: str) -> bool:
    """Whether two wire order types are the same (case and spacing aside)."""
    return " ".join(a.upper().split()) == " ".join(b.upper().split())
