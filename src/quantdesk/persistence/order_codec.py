"""The whole order as JSON: ``order_to_dict`` / ``order_from_dict`` round-trip every ``Order`` exactly.

Stored in ``order_intents.order_json`` so a restart can rebuild exactly what was sent (type, prices, time in force,
flags, links and the full instrument), not only the columns a query needs. The format is JSON-safe: decimals are
strings (``str(Decimal)``, so ``1.50`` stays ``1.50``), timestamps ISO 8601 with their UTC offset, dates ISO, enums
their values. Every key is written, ``null`` when unset; unknown keys are refused, so a format drift is loud.
``version`` names the format; bump it (and keep reading the old one) when a field changes meaning.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from quantdesk.domain.identifiers import AccountId, ClientOrderId, StrategyId
from quantdesk.domain.instruments import (
    AssetClass,
    Bond,
    Cfd,
    ContinuousFuture,
    Crypto,
    ForexPair,
    Future,
    Index,
    Instrument,
    Option,
    OptionRight,
    SecIdType,
    Stock,
    Warrant,
)
from quantdesk.domain.order_types import OcaType, OrderLink, OrderType, TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import Currency
from quantdesk.errors import ValidationError

__all__ = [
    "FORMAT_VERSION",
    "instrument_from_dict",
    "instrument_to_dict",
    "order_from_dict",
    "order_from_json",
    "order_json",
    "order_to_dict",
]

FORMAT_VERSION = 1
E = TypeVar("E", bound=Enum)

INSTRUMENT_CLASSES: dict[AssetClass, type[Instrument]] = {
    AssetClass.STOCK: Stock,
    AssetClass.OPTION: Option,
    AssetClass.FUTURE: Future,
    AssetClass.CONTINUOUS_FUTURE: ContinuousFuture,
    AssetClass.FOREX: ForexPair,
    AssetClass.BOND: Bond,
    AssetClass.CFD: Cfd,
    AssetClass.INDEX: Index,
    AssetClass.WARRANT: Warrant,
    AssetClass.CRYPTO: Crypto,
}

_ORDER_DECIMALS = (
    "quantity",
    "limit_price",
    "stop_price",
    "trailing_amount",
    "trailing_percent",
    "limit_offset",
    "discretionary_amount",
)
_ORDER_FLAGS = ("outside_rth", "hidden", "all_or_none")


def _bad(message: str, field: str, value: Any) -> ValidationError:
    return ValidationError(message, field=field, value=value, hint="pass a dict made by order_to_dict")


def _dec(value: Any, field: str) -> Decimal:
    if not isinstance(value, str):
        raise _bad(f"must be a decimal written as a string, got {value!r}", field, value)
    try:
        return Decimal(value)
    except ArithmeticError:
        raise _bad(f"is not a decimal: {value!r}", field, value) from None


def _opt_dec(value: Any, field: str) -> Decimal | None:
    return None if value is None else _dec(value, field)


def _str(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise _bad(f"must be a string, got {value!r}", field, value)
    return value


def _opt_str(value: Any, field: str) -> str | None:
    return None if value is None else _str(value, field)


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(f"must be true or false, got {value!r}", field, value)
    return value


def _opt_int(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"must be an integer, got {value!r}", field, value)
    return value


def _date(value: Any, field: str) -> date:
    try:
        return date.fromisoformat(_str(value, field))
    except ValueError:
        raise _bad(f"is not an ISO date: {value!r}", field, value) from None


def _enum_or_none(kind: type[Enum]) -> Callable[[Any, str], Any]:
    def decode(value: Any, field: str) -> Any:
        if value is None:
            return None
        try:
            return kind(value)
        except ValueError:
            raise _bad(f"unknown {kind.__name__} {value!r}", field, value) from None

    return decode


def _required_enum(kind: type[E], value: Any, field: str) -> E:
    found = _enum_or_none(kind)(value, field)
    if not isinstance(found, kind):
        raise _bad("is missing", field, None)
    return found


def _datetime(value: str, field: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _bad(f"is not an ISO timestamp: {value!r}", field, value) from None


# Instrument field -> decoder; every dataclass field of every instrument class must be named here.
_INSTRUMENT_FIELDS: dict[str, Callable[[Any, str], Any]] = {
    "symbol": _str,
    "currency": lambda v, f: Currency(_str(v, f)),
    "exchange": _str,
    "primary_exchange": _opt_str,
    "tick_size": _dec,
    "multiplier": _dec,
    "lot_size": _dec,
    "allows_fractional": _bool,
    "con_id": _opt_int,
    "description": _opt_str,
    "expiry": _date,
    "strike": _dec,
    "right": _enum_or_none(OptionRight),
    "trading_class": _opt_str,
    "sec_id_type": _enum_or_none(SecIdType),
    "sec_id": _opt_str,
}


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Currency):
        return value.code
    raise TypeError(f"cannot encode {type(value).__name__} {value!r}")


def instrument_to_dict(instrument: Instrument) -> dict[str, Any]:
    """Every field of ``instrument`` plus its ``kind`` (IB ``secType``), JSON-safe."""
    out: dict[str, Any] = {"kind": instrument.asset_class.value}
    for f in fields(instrument):
        if f.init:  # derived fields (the id) are rebuilt on load
            out[f.name] = _encode(getattr(instrument, f.name))
    return out


def instrument_from_dict(data: Mapping[str, Any]) -> Instrument:
    """The instrument ``instrument_to_dict`` wrote; unknown kinds or keys raise ``ValidationError``."""
    raw_kind = data.get("kind")
    try:
        cls = INSTRUMENT_CLASSES[AssetClass(raw_kind)]
    except ValueError:
        raise _bad(f"unknown instrument kind {raw_kind!r}", "instrument.kind", raw_kind) from None
    names = {f.name for f in fields(cls) if f.init}
    unknown = set(data) - names - {"kind"}
    if unknown:
        raise _bad(f"unknown instrument fields {sorted(unknown)}", "instrument", sorted(unknown))
    kwargs = {name: _INSTRUMENT_FIELDS[name](data[name], f"instrument.{name}") for name in names if name in data}
    return cls(**kwargs)


def order_to_dict(order: Order, *, instrument: bool = True) -> dict[str, Any]:
    """Every field of ``order`` (instrument and link nested), JSON-safe; ``order_from_dict`` rebuilds it exactly
    (``instrument=False``: the instrument left ``None``, for :func:`order_json`)."""
    link = order.link
    out: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "client_order_id": str(order.client_order_id),
        "instrument": instrument_to_dict(order.instrument) if instrument else None,
        "side": order.side.value,
        "order_type": order.order_type.value,
        "tif": order.tif.value,
        "good_till": _encode(order.good_till),
        "account": None if order.account is None else str(order.account),
        "strategy_id": None if order.strategy_id is None else str(order.strategy_id),
        "link": {
            "parent_client_order_id": None if link.parent_client_order_id is None else str(link.parent_client_order_id),
            "oca_group": link.oca_group,
            "oca_type": _encode(link.oca_type),
            "transmit": link.transmit,
        },
    }
    for name in _ORDER_DECIMALS:
        out[name] = _encode(getattr(order, name))
    for name in _ORDER_FLAGS:
        out[name] = getattr(order, name)
    return out


_ORDER_KEYS = frozenset(
    {
        "version",
        "client_order_id",
        "instrument",
        "side",
        "order_type",
        "tif",
        "good_till",
        "account",
        "strategy_id",
        "link",
        *_ORDER_DECIMALS,
        *_ORDER_FLAGS,
    }
)


def _link_from_dict(data: Any) -> OrderLink:
    if not isinstance(data, Mapping):
        raise _bad(f"must be an object, got {data!r}", "link", data)
    parent = _opt_str(data.get("parent_client_order_id"), "link.parent_client_order_id")
    return OrderLink(
        parent_client_order_id=None if parent is None else ClientOrderId(parent),
        oca_group=_opt_str(data.get("oca_group"), "link.oca_group"),
        oca_type=_enum_or_none(OcaType)(data.get("oca_type"), "link.oca_type"),
        transmit=_bool(data.get("transmit", True), "link.transmit"),
    )


def order_from_dict(data: Mapping[str, Any]) -> Order:
    """The ``Order`` that ``order_to_dict`` wrote (validated again on construction)."""
    if data.get("version") != FORMAT_VERSION:
        raise _bad(f"unknown order format version {data.get('version')!r}", "version", data.get("version"))
    unknown = set(data) - _ORDER_KEYS
    if unknown:
        raise _bad(f"unknown order fields {sorted(unknown)}", "order", sorted(unknown))
    instrument = data.get("instrument")
    if not isinstance(instrument, Mapping):
        raise _bad(f"must be an object, got {instrument!r}", "instrument", instrument)
    good_till = _opt_str(data.get("good_till"), "good_till")
    account = _opt_str(data.get("account"), "account")
    strategy = _opt_str(data.get("strategy_id"), "strategy_id")
    dec = {name: _opt_dec(data.get(name), name) for name in _ORDER_DECIMALS}
    flag = {name: _bool(data.get(name, False), name) for name in _ORDER_FLAGS}
    quantity = dec["quantity"]
    if quantity is None:
        raise _bad("is missing", "quantity", None)
    return Order(
        instrument_from_dict(instrument),
        _required_enum(OrderSide, data.get("side"), "side"),
        quantity,
        order_type=_required_enum(OrderType, data.get("order_type"), "order_type"),
        limit_price=dec["limit_price"],
        stop_price=dec["stop_price"],
        trailing_amount=dec["trailing_amount"],
        trailing_percent=dec["trailing_percent"],
        limit_offset=dec["limit_offset"],
        tif=_required_enum(TimeInForce, data.get("tif"), "tif"),
        good_till=None if good_till is None else _datetime(good_till, "good_till"),
        outside_rth=flag["outside_rth"],
        hidden=flag["hidden"],
        discretionary_amount=dec["discretionary_amount"],
        all_or_none=flag["all_or_none"],
        account=None if account is None else AccountId(account),
        strategy_id=None if strategy is None else StrategyId(strategy),
        client_order_id=ClientOrderId(_str(data.get("client_order_id"), "client_order_id")),
        link=_link_from_dict(data.get("link", {})),
    )


def order_json(order: Order) -> str:
    """``order_to_dict`` as compact JSON with sorted keys (stable text for the same order).

    The journal writes one per order, so the instrument's part, the same for every order in it, is encoded once per
    instrument object (:func:`_instrument_json`) and put in place of the ``null`` the order's own fields are encoded
    with: the text is exactly ``json.dumps(order_to_dict(order), separators=(",", ":"), sort_keys=True)``. The key
    ``"instrument":`` cannot occur earlier in the text: inside a JSON string every ``"`` is escaped.
    """
    text = _JSON.encode(order_to_dict(order, instrument=False))
    return text.replace(_INSTRUMENT_SLOT, f'"instrument":{_instrument_json(order.instrument)}', 1)


_JSON = json.JSONEncoder(separators=(",", ":"), sort_keys=True)  # one encoder, not one per call (json.dumps)
_INSTRUMENT_SLOT = '"instrument":null'
_INSTRUMENT_CACHE = 4096  # instrument objects remembered; more and the cache starts over


def _instrument_json(instrument: Instrument) -> str:
    """The instrument's JSON, remembered per object, not per equal value: ``Decimal("0.01") == Decimal("0.010")``,
    but their texts differ and must stay as given. The entry holds the object, so its id is not reused meanwhile."""
    entry = _INSTRUMENT_TEXT.get(id(instrument))
    if entry is not None and entry[0] is instrument:
        return entry[1]
    if len(_INSTRUMENT_TEXT) >= _INSTRUMENT_CACHE:
        _INSTRUMENT_TEXT.clear()
    text = _JSON.encode(instrument_to_dict(instrument))
    _INSTRUMENT_TEXT[id(instrument)] = (instrument, text)
    return text


_INSTRUMENT_TEXT: dict[int, tuple[Instrument, str]] = {}


def order_from_json(text: str) -> Order:
    """The ``Order`` stored by ``order_json``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad(f"is not JSON: {exc}", "order_json", text[:80]) from None
    if not isinstance(data, Mapping):
        raise _bad("must be a JSON object", "order_json", text[:80])
    return order_from_dict(data)
