"""Parsers for the order requests of the TWS API at server version 178 (message ids 3, 4, 5, 7, 8, 15, 16, 58, 99).

Each parser takes the fields *after* the message id, without the empty element that the trailing NUL leaves, and
either returns plain data or raises ``MalformedRequest`` (a ``ValidationError``) naming the field and its index, so
the session can answer error 320 ("Error reading request") the way TWS does. Every parser insists that all fields
are consumed. ``parse_place_order`` mirrors ib_async's ``Client.placeOrder`` section by section.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from quantdesk.gateway.order_wire import (
    CONDITION_LAYOUTS,
    SERVER_VERSION,
    UNSET_DOUBLE,
    UNSET_INTEGER,
    MalformedRequest,
    TagValue,
    WireComboLeg,
    WireCondition,
    WireContract,
    WireDeltaNeutralContract,
    WireOrder,
    attr_name,
)

__all__ = [
    "CancelOrderRequest",
    "ExecutionFilterRequest",
    "OrderRequestId",
    "parse_cancel_order",
    "parse_place_order",
    "parse_req_all_open_orders",
    "parse_req_auto_open_orders",
    "parse_req_completed_orders",
    "parse_req_executions",
    "parse_req_global_cancel",
    "parse_req_ids",
    "parse_req_open_orders",
]


class OrderRequestId(IntEnum):
    """The message ids of the order requests, client → server."""

    PLACE_ORDER = 3
    CANCEL_ORDER = 4
    REQ_OPEN_ORDERS = 5
    REQ_EXECUTIONS = 7
    REQ_IDS = 8
    REQ_AUTO_OPEN_ORDERS = 15
    REQ_ALL_OPEN_ORDERS = 16
    REQ_GLOBAL_CANCEL = 58
    REQ_COMPLETED_ORDERS = 99


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrderRequest:
    """``cancelOrder`` (4): the order id and, from server version 169, the manual cancel time."""

    order_id: int
    manual_cancel_order_time: str = ""


_SIDES = {"BUY": "BOT", "BOT": "BOT", "SELL": "SLD", "SLD": "SLD"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionFilterRequest:
    """``reqExecutions`` (7): the request id and IB's ``ExecutionFilter``; empty criteria match everything."""

    req_id: int
    client_id: int = 0
    acct_code: str = ""
    time: str = ""
    symbol: str = ""
    sec_type: str = ""
    exchange: str = ""
    side: str = ""

    @property
    def since(self) -> datetime | None:
        """The ``time`` criterion as an aware datetime (no zone means UTC), or ``None`` when it is empty."""
        return _parse_filter_time(self.time) if self.time else None

    def matches(
        self,
        *,
        client_id: int,
        account: str,
        symbol: str,
        sec_type: str,
        exchange: str,
        side: str,
        time: datetime,
    ) -> bool:
        """Whether one execution passes the filter (client id 0 means every client; BUY matches BOT, SELL SLD)."""
        since = self.since
        return (
            (self.client_id in (0, client_id))
            and (not self.acct_code or self.acct_code == account)
            and (not self.symbol or self.symbol.upper() == symbol.upper())
            and (not self.sec_type or self.sec_type.upper() == sec_type.upper())
            and (not self.exchange or self.exchange.upper() == exchange.upper())
            and (not self.side or _SIDES.get(self.side.upper()) == _SIDES.get(side.upper()))
            and (since is None or time >= since)
        )


_FILTER_TIME = re.compile(r"(\d{8})[ -](\d{2}:\d{2}:\d{2})(?: (\S+))?")


def _parse_filter_time(text: str) -> datetime:
    match = _FILTER_TIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not an IB time: {text!r}")
    day, clock, zone = match.groups()
    naive = datetime.strptime(day + clock, "%Y%m%d%H:%M:%S")
    try:
        return naive.replace(tzinfo=ZoneInfo(zone) if zone else UTC)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {zone!r}") from exc


_INT = re.compile(r"[+-]?\d{1,10}")
_DOUBLE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


class _Reader:
    """A cursor over one message's fields that converts each field the way TWS reads it."""

    __slots__ = ("_fields", "_message", "_pos", "request_id")

    def __init__(self, fields: Sequence[str], message: str) -> None:
        self._fields = fields
        self._message = message
        self._pos = 0
        self.request_id: int | None = None

    def fail(self, name: str, problem: str, value: str | None, index: int) -> MalformedRequest:
        return MalformedRequest(
            f"{self._message}: {problem} in field {name!r} at index {index}",
            field=f"{name}[{index}]",
            value=value,
            index=index,
            request_id=self.request_id,
        )

    def text(self, name: str) -> str:
        if self._pos >= len(self._fields):
            raise self.fail(name, "message ended early", None, self._pos + 1)
        value = self._fields[self._pos]
        self._pos += 1
        return value

    @property
    def index(self) -> int:
        """The wire index of the field read last (the message id is index 0)."""
        return self._pos

    def _convert_fail(self, name: str, problem: str, value: str) -> MalformedRequest:
        return self.fail(name, problem, value, self._pos)

    def int_(self, name: str) -> int | None:
        """An int; ``""`` and 2147483647 are unset (``None``)."""
        value = self.text(name)
        if value == "":
            return None
        if not _INT.fullmatch(value) or not _INT_MIN <= int(value) <= _INT_MAX:
            raise self._convert_fail(name, "not an int", value)
        number = int(value)
        return None if number == UNSET_INTEGER else number

    def required_int(self, name: str) -> int:
        number = self.int_(name)
        if number is None:
            raise self.fail(name, "missing int", "", self._pos)
        return number

    def count(self, name: str, per_item: int) -> int:
        """A repeat count that must be non-negative and fit in what is left of the message."""
        number = self.int_(name) or 0
        if number < 0 or number * per_item > len(self._fields) - self._pos:
            raise self._convert_fail(name, "bad count", str(number))
        return number

    def double(self, name: str) -> float | None:
        """A double; ``""`` and 1.7976931348623157E308 are unset, ``Infinite`` is infinity, NaN is refused."""
        value = self.text(name)
        if value == "":
            return None
        if value == "Infinite":
            return math.inf
        if not _DOUBLE.fullmatch(value):
            raise self._convert_fail(name, "not a number", value)
        number = float(value)
        if math.isinf(number):
            raise self._convert_fail(name, "number out of range", value)
        return None if number == UNSET_DOUBLE else number

    def flag(self, name: str) -> bool:
        """A flag sent as an int: ``""`` and 0 are false, anything else true (TWS reads flags with readInt)."""
        return bool(self.int_(name))

    def optional_flag(self, name: str) -> bool | None:
        number = self.int_(name)
        return None if number is None else number != 0

    def tag_list(self, name: str) -> tuple[TagValue, ...]:
        """A ``tag=value;tag=value;`` string (``orderMiscOptions``)."""
        value = self.text(name)
        pairs: list[TagValue] = []
        for item in value.split(";"):
            if not item:
                continue
            tag, sep, val = item.partition("=")
            if not sep:
                raise self._convert_fail(name, "not a tag=value list", value)
            pairs.append((tag, val))
        return tuple(pairs)

    def read(self, kind: str, name: str) -> Any:
        match kind:
            case "s":
                return self.text(name)
            case "i":
                return self.int_(name)
            case "f":
                return self.double(name)
            case "b":
                return self.flag(name)
            case "bn":
                return self.optional_flag(name)
            case "t":
                return self.tag_list(name)
        raise AssertionError(kind)  # pragma: no cover - the tables below use only the kinds above

    def section(self, layout: Sequence[tuple[str, str]], into: dict[str, Any]) -> None:
        for name, kind in layout:
            into[attr_name(name)] = self.read(kind, name)

    def pairs(self, name: str) -> tuple[TagValue, ...]:
        n = self.count(name, 2)
        return tuple((self.text(f"{name}.tag"), self.text(f"{name}.value")) for _ in range(n))

    def finish(self) -> None:
        if self._pos != len(self._fields):
            left = len(self._fields) - self._pos
            raise self.fail("(end)", f"{left} unexpected trailing field(s)", self._fields[self._pos], self._pos + 1)


# The sections of placeOrder, in wire order: (IB's field name, kind). Kinds: s str, i int, f double, b flag,
# bn flag that may be unset, t tag=value list.
_HEAD = (
    ("action", "s"), ("totalQuantity", "f"), ("orderType", "s"), ("lmtPrice", "f"), ("auxPrice", "f"), ("tif", "s"),
    ("ocaGroup", "s"), ("account", "s"), ("openClose", "s"), ("origin", "i"), ("orderRef", "s"), ("transmit", "b"),
    ("parentId", "i"), ("blockOrder", "b"), ("sweepToFill", "b"), ("displaySize", "i"), ("triggerMethod", "i"),
    ("outsideRth", "b"), ("hidden", "b"),
)  # fmt: skip
_FA = (
    ("discretionaryAmt", "f"), ("goodAfterTime", "s"), ("goodTillDate", "s"), ("faGroup", "s"), ("faMethod", "s"),
    ("faPercentage", "s"),
)  # fmt: skip
_MIDDLE = (
    ("modelCode", "s"), ("shortSaleSlot", "i"), ("designatedLocation", "s"), ("exemptCode", "i"), ("ocaType", "i"),
    ("rule80A", "s"), ("settlingFirm", "s"), ("allOrNone", "b"), ("minQty", "i"), ("percentOffset", "f"),
    ("eTradeOnly", "b"), ("firmQuoteOnly", "b"), ("nbboPriceCap", "f"), ("auctionStrategy", "i"),
    ("startingPrice", "f"), ("stockRefPrice", "f"), ("delta", "f"), ("stockRangeLower", "f"),
    ("stockRangeUpper", "f"), ("overridePercentageConstraints", "b"), ("volatility", "f"), ("volatilityType", "i"),
    ("deltaNeutralOrderType", "s"), ("deltaNeutralAuxPrice", "f"),
)  # fmt: skip
_DELTA_NEUTRAL = (
    ("deltaNeutralConId", "i"), ("deltaNeutralSettlingFirm", "s"), ("deltaNeutralClearingAccount", "s"),
    ("deltaNeutralClearingIntent", "s"), ("deltaNeutralOpenClose", "s"), ("deltaNeutralShortSale", "b"),
    ("deltaNeutralShortSaleSlot", "i"), ("deltaNeutralDesignatedLocation", "s"),
)  # fmt: skip
_TRAIL_SCALE = (
    ("continuousUpdate", "b"), ("referencePriceType", "i"), ("trailStopPrice", "f"), ("trailingPercent", "f"),
    ("scaleInitLevelSize", "i"), ("scaleSubsLevelSize", "i"), ("scalePriceIncrement", "f"),
)  # fmt: skip
_SCALE = (
    ("scalePriceAdjustValue", "f"), ("scalePriceAdjustInterval", "i"), ("scaleProfitOffset", "f"),
    ("scaleAutoReset", "b"), ("scaleInitPosition", "i"), ("scaleInitFillQty", "i"), ("scaleRandomPercent", "b"),
)  # fmt: skip
_HEDGE = (("scaleTable", "s"), ("activeStartTime", "s"), ("activeStopTime", "s"), ("hedgeType", "s"))
_CLEARING = (("optOutSmartRouting", "b"), ("clearingAccount", "s"), ("clearingIntent", "s"), ("notHeld", "b"))
_WHAT_IF = (
    ("algoId", "s"), ("whatIf", "b"), ("orderMiscOptions", "t"), ("solicited", "b"), ("randomizeSize", "b"),
    ("randomizePrice", "b"),
)  # fmt: skip
_PEG_BENCH = (
    ("referenceContractId", "i"), ("isPeggedChangeAmountDecrease", "b"), ("peggedChangeAmount", "f"),
    ("referenceChangeAmount", "f"), ("referenceExchangeId", "s"),
)  # fmt: skip
_TAIL = (
    ("adjustedOrderType", "s"), ("triggerPrice", "f"), ("lmtPriceOffset", "f"), ("adjustedStopPrice", "f"),
    ("adjustedStopLimitPrice", "f"), ("adjustedTrailingAmount", "f"), ("adjustableTrailingUnit", "i"),
    ("extOperator", "s"), ("softDollarTierName", "s"), ("softDollarTierVal", "s"), ("cashQty", "f"),
    ("mifid2DecisionMaker", "s"), ("mifid2DecisionAlgo", "s"), ("mifid2ExecutionTrader", "s"),
    ("mifid2ExecutionAlgo", "s"), ("dontUseAutoPriceForHedge", "b"), ("isOmsContainer", "b"),
    ("discretionaryUpToLimitPrice", "b"), ("usePriceMgmtAlgo", "bn"),
)  # fmt: skip
_VERSIONED_TAIL = (
    (158, "duration", "i"), (160, "postToAts", "i"), (162, "autoCancelParent", "b"),
    (166, "advancedErrorOverride", "s"), (169, "manualOrderTime", "s"),
)  # fmt: skip
_C12 = (
    ("conId", "i"), ("symbol", "s"), ("secType", "s"), ("lastTradeDateOrContractMonth", "s"), ("strike", "f"),
    ("right", "s"), ("multiplier", "s"), ("exchange", "s"), ("primaryExchange", "s"), ("currency", "s"),
    ("localSymbol", "s"), ("tradingClass", "s"), ("secIdType", "s"), ("secId", "s"),
)  # fmt: skip
_LEG = (
    ("conId", "i"), ("ratio", "i"), ("action", "s"), ("exchange", "s"), ("openClose", "i"), ("shortSaleSlot", "i"),
    ("designatedLocation", "s"), ("exemptCode", "i"),
)  # fmt: skip
_LEG_DEFAULTS = {"con_id": 0, "ratio": 0, "open_close": 0, "short_sale_slot": 0, "exempt_code": -1}
_PEG_BENCH_TYPES = frozenset({"PEG BENCH", "PEGBENCH"})
_PEG_BEST_TYPES = frozenset({"PEG BEST", "PEGBEST"})
_PEG_MID_TYPES = frozenset({"PEG MID", "PEGMID"})


def _combo_legs(r: _Reader) -> tuple[WireComboLeg, ...]:
    legs = []
    for _ in range(r.count("comboLegsCount", len(_LEG))):
        leg = {attr_name(name): r.read(kind, f"comboLeg.{name}") for name, kind in _LEG}
        fixed: dict[str, Any] = {key: _LEG_DEFAULTS[key] if value is None else value for key, value in leg.items()}
        legs.append(WireComboLeg(**fixed))
    return tuple(legs)


def _conditions(r: _Reader) -> tuple[WireCondition, ...]:
    conditions = []
    for _ in range(r.count("conditionsCount", 2)):
        cond_type = r.required_int("condType")
        layout = CONDITION_LAYOUTS.get(cond_type)
        if layout is None:
            raise r.fail("condType", "unknown condition type", str(cond_type), r.index)
        values: dict[str, Any] = {"cond_type": cond_type}
        r.section(layout, values)
        conditions.append(WireCondition(**values))
    return tuple(conditions)


def parse_place_order(fields: Sequence[str], server_version: int = SERVER_VERSION) -> tuple[WireContract, WireOrder]:
    """Parse ``placeOrder`` (3, no version field) into contract and order, as ``Client.placeOrder`` wrote them."""
    r = _Reader(fields, "placeOrder")
    order_id = r.required_int("orderId")
    r.request_id = order_id
    c: dict[str, Any] = {}
    r.section(_C12, c)
    c["con_id"] = c["con_id"] or 0
    c["strike"] = c["strike"] or 0.0
    o: dict[str, Any] = {"order_id": order_id}
    r.section(_HEAD, o)

    if c["sec_type"] == "BAG":
        c["combo_legs"] = _combo_legs(r)
        o["order_combo_legs"] = tuple(r.double("orderComboLeg.price") for _ in range(r.count("orderComboLegsCount", 1)))
        o["smart_combo_routing_params"] = r.pairs("smartComboRoutingParams")

    r.text("sharesAllocation")  # deprecated, always empty; TWS ignores it
    r.section(_FA, o)
    if server_version < 177:
        o["fa_profile"] = r.text("faProfile")
    r.section(_MIDDLE, o)
    if o["delta_neutral_order_type"]:
        r.section(_DELTA_NEUTRAL, o)
    r.section(_TRAIL_SCALE, o)
    increment = o["scale_price_increment"]
    if increment is not None and 0 < increment < UNSET_DOUBLE:
        r.section(_SCALE, o)
    r.section(_HEDGE, o)
    if o["hedge_type"]:
        o["hedge_param"] = r.text("hedgeParam")
    r.section(_CLEARING, o)

    if r.flag("deltaNeutralContractPresent"):
        con_id = r.int_("deltaNeutralContract.conId") or 0
        delta = r.double("deltaNeutralContract.delta")
        price = r.double("deltaNeutralContract.price")
        c["delta_neutral_contract"] = WireDeltaNeutralContract(con_id=con_id, delta=delta, price=price)

    o["algo_strategy"] = r.text("algoStrategy")
    if o["algo_strategy"]:
        o["algo_params"] = r.pairs("algoParams")
    r.section(_WHAT_IF, o)
    if o["order_type"] in _PEG_BENCH_TYPES:
        r.section(_PEG_BENCH, o)

    o["conditions"] = _conditions(r)
    if o["conditions"]:
        o["conditions_ignore_rth"] = r.flag("conditionsIgnoreRth")
        o["conditions_cancel_order"] = r.flag("conditionsCancelOrder")

    r.section(_TAIL, o)
    r.section([(name, kind) for version, name, kind in _VERSIONED_TAIL if server_version >= version], o)
    if server_version >= 170:
        if c["exchange"] == "IBKRATS":
            o["min_trade_qty"] = r.int_("minTradeQty")
        if o["order_type"] in _PEG_BEST_TYPES:
            o["min_compete_size"] = r.int_("minCompeteSize")
            o["compete_against_best_offset"] = r.double("competeAgainstBestOffset")
            if o["compete_against_best_offset"] == math.inf:
                o["mid_offset_at_whole"] = r.double("midOffsetAtWhole")
                o["mid_offset_at_half"] = r.double("midOffsetAtHalf")
        elif o["order_type"] in _PEG_MID_TYPES:
            o["mid_offset_at_whole"] = r.double("midOffsetAtWhole")
            o["mid_offset_at_half"] = r.double("midOffsetAtHalf")
    r.finish()
    return WireContract(**c), WireOrder(**o)


def _versioned(fields: Sequence[str], message: str) -> _Reader:
    r = _Reader(fields, message)
    r.int_("version")
    return r


def parse_cancel_order(fields: Sequence[str], server_version: int = SERVER_VERSION) -> CancelOrderRequest:
    """Parse ``cancelOrder`` (4): version, orderId and, from server version 169, manualCancelOrderTime."""
    r = _versioned(fields, "cancelOrder")
    order_id = r.required_int("orderId")
    r.request_id = order_id
    manual = r.text("manualCancelOrderTime") if server_version >= 169 else ""
    r.finish()
    return CancelOrderRequest(order_id=order_id, manual_cancel_order_time=manual)


def parse_req_executions(fields: Sequence[str]) -> ExecutionFilterRequest:
    """Parse ``reqExecutions`` (7): version, reqId and the seven ``ExecutionFilter`` fields."""
    r = _versioned(fields, "reqExecutions")
    req_id = r.required_int("reqId")
    r.request_id = req_id
    values: dict[str, Any] = {"req_id": req_id, "client_id": r.int_("clientId") or 0}
    r.section((("acctCode", "s"), ("time", "s"), ("symbol", "s"), ("secType", "s"), ("exchange", "s")), values)
    values["side"] = r.text("side")
    r.finish()
    request = ExecutionFilterRequest(**values)
    try:
        _ = request.since
    except ValueError as exc:
        raise r.fail("time", str(exc), request.time, 5) from exc
    return request


def _no_payload(fields: Sequence[str], message: str) -> None:
    r = _versioned(fields, message)
    r.finish()


def parse_req_open_orders(fields: Sequence[str]) -> None:
    """Parse ``reqOpenOrders`` (5): just the version field."""
    _no_payload(fields, "reqOpenOrders")


def parse_req_all_open_orders(fields: Sequence[str]) -> None:
    """Parse ``reqAllOpenOrders`` (16): just the version field."""
    _no_payload(fields, "reqAllOpenOrders")


def parse_req_global_cancel(fields: Sequence[str]) -> None:
    """Parse ``reqGlobalCancel`` (58): just the version field at server version 178."""
    _no_payload(fields, "reqGlobalCancel")


def parse_req_auto_open_orders(fields: Sequence[str]) -> bool:
    """Parse ``reqAutoOpenOrders`` (15): version and the ``bAutoBind`` flag."""
    r = _versioned(fields, "reqAutoOpenOrders")
    auto_bind = r.flag("autoBind")
    r.finish()
    return auto_bind


def parse_req_ids(fields: Sequence[str]) -> int:
    """Parse ``reqIds`` (8): version and ``numIds`` (TWS ignores the number and answers one nextValidId)."""
    r = _versioned(fields, "reqIds")
    num_ids = r.required_int("numIds")
    r.finish()
    return num_ids


def parse_req_completed_orders(fields: Sequence[str]) -> bool:
    """Parse ``reqCompletedOrders`` (99, no version field): the ``apiOnly`` flag."""
    r = _Reader(fields, "reqCompletedOrders")
    api_only = r.flag("apiOnly")
    r.finish()
    return api_only
