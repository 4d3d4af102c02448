"""Encoders for the order replies of the TWS API at server version 178, written the way real TWS writes them.

Each encoder returns the message as a list of string fields, message id first, ready for the codec to frame. The
layouts mirror ib_async's ``Decoder`` (``openOrder``, ``completedOrder``, ``execDetails``, ``commissionReport`` and
``orderStatus``); the unset values follow a real TWS capture: ``1.7976931348623157E308`` for unset margins and
adjusted prices, ``2147483647`` for some unset ints, ``""`` elsewhere, ``"?"`` for an empty right or delta-neutral
openClose, and ``"None"`` for an empty deltaNeutralOrderType and adjustedOrderType in ``openOrder``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from quantdesk.errors import ValidationError
from quantdesk.gateway.order_wire import (
    CONDITION_LAYOUTS,
    SERVER_VERSION,
    UNSET_DOUBLE,
    UNSET_DOUBLE_TEXT,
    UNSET_INTEGER_TEXT,
    TagValue,
    WireComboLeg,
    WireContract,
    WireExecution,
    WireOrder,
    WireOrderState,
    attr_name,
    format_ib_time,
)

__all__ = [
    "OPEN_ORDER_FIELDS",
    "commission_report",
    "completed_order",
    "completed_orders_end",
    "exec_details",
    "exec_details_end",
    "open_order",
    "open_order_end",
    "order_status",
]

OPEN_ORDER_FIELDS = 135
"""Fields of a plain ``openOrder`` at v178 as TWS writes it (127 without the delta-neutral block)."""


def _number(value: float) -> str:
    """A double as TWS writes it: integral values without a fraction, infinity as Java's ``Infinity``."""
    number = float(value)
    if math.isnan(number):
        raise ValidationError("NaN cannot be sent to the client", value=value, hint="send an unset value (None)")
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == UNSET_DOUBLE:
        return UNSET_DOUBLE_TEXT
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def _text(value: str) -> str:
    if "\0" in value:
        raise ValidationError("a field cannot contain NUL", value=value, hint="remove the NUL character")
    return value


def _encode(value: Any, style: str) -> str:
    """One field. Styles: s str, s? str or "?", sN str or "None", b flag, f/f0/fM double with None → "", "0" or
    the unset double, i/i0/iM/i-1 int with None → "", "0", "2147483647" or "-1", - always empty."""
    kind, unset = style[0], style[1:]
    if kind == "s":
        text = _text(str(value))
        return text or {"?": "?", "N": "None"}.get(unset, "")
    if kind == "b":
        return "1" if value else "0"
    if value is None:
        return {"0": "0", "M": UNSET_DOUBLE_TEXT if kind == "f" else UNSET_INTEGER_TEXT, "-1": "-1"}.get(unset, "")
    return _number(value) if kind == "f" else str(int(value))


def _section(obj: object, layout: Sequence[tuple[str, str]]) -> list[str]:
    return ["" if style == "-" else _encode(getattr(obj, attr_name(name)), style) for name, style in layout]


def _pairs(pairs: Sequence[TagValue]) -> list[str]:
    out = [str(len(pairs))]
    for tag, value in pairs:
        out += [_text(tag), _text(value)]
    return out


_CONTRACT_11 = (
    ("conId", "i0"), ("symbol", "s"), ("secType", "s"), ("lastTradeDateOrContractMonth", "s"), ("strike", "f0"),
    ("right", "s?"), ("multiplier", "s"), ("exchange", "s"), ("currency", "s"), ("localSymbol", "s"),
    ("tradingClass", "s"),
)  # fmt: skip
_LEG = (
    ("conId", "i0"), ("ratio", "i0"), ("action", "s"), ("exchange", "s"), ("openClose", "i0"),
    ("shortSaleSlot", "i0"), ("designatedLocation", "s"), ("exemptCode", "i-1"),
)  # fmt: skip
_SCALE = (
    ("scalePriceAdjustValue", "f"), ("scalePriceAdjustInterval", "i"), ("scaleProfitOffset", "f"),
    ("scaleAutoReset", "b"), ("scaleInitPosition", "i"), ("scaleInitFillQty", "i"), ("scaleRandomPercent", "b"),
)  # fmt: skip
_PEG_BENCH = (
    ("referenceContractId", "i0"), ("isPeggedChangeAmountDecrease", "b"), ("peggedChangeAmount", "f0"),
    ("referenceChangeAmount", "f0"), ("referenceExchangeId", "s"),
)  # fmt: skip
_PEG_TAIL = (
    ("minTradeQty", "i"), ("minCompeteSize", "i"), ("competeAgainstBestOffset", "f"), ("midOffsetAtWhole", "f"),
    ("midOffsetAtHalf", "f"),
)  # fmt: skip
_MARGINS = (
    ("initMarginBefore", "fM"), ("maintMarginBefore", "fM"), ("equityWithLoanBefore", "fM"),
    ("initMarginChange", "fM"), ("maintMarginChange", "fM"), ("equityWithLoanChange", "fM"),
    ("initMarginAfter", "fM"), ("maintMarginAfter", "fM"), ("equityWithLoanAfter", "fM"), ("commission", "f"),
    ("minCommission", "f"), ("maxCommission", "f"), ("commissionCurrency", "s"), ("warningText", "s"),
)  # fmt: skip

# openOrder (5), no version field. The head is followed by sharesAllocation and the FA fields.
_OPEN_HEAD = (
    ("action", "s"), ("totalQuantity", "f0"), ("orderType", "s"), ("lmtPrice", "f0"), ("auxPrice", "f0"),
    ("tif", "s"), ("ocaGroup", "s"), ("account", "s"), ("openClose", "s"), ("origin", "i0"), ("orderRef", "s"),
    ("clientId", "i0"), ("permId", "i0"), ("outsideRth", "b"), ("hidden", "b"), ("discretionaryAmt", "f0"),
    ("goodAfterTime", "s"), ("sharesAllocation", "-"), ("faGroup", "s"), ("faMethod", "s"), ("faPercentage", "s"),
)  # fmt: skip
_OPEN_MIDDLE = (
    ("modelCode", "s"), ("goodTillDate", "s"), ("rule80A", "s"), ("percentOffset", "f"), ("settlingFirm", "s"),
    ("shortSaleSlot", "i0"), ("designatedLocation", "s"), ("exemptCode", "i-1"), ("auctionStrategy", "i0"),
    ("startingPrice", "f"), ("stockRefPrice", "f"), ("delta", "f"), ("stockRangeLower", "f"),
    ("stockRangeUpper", "f"), ("displaySize", "iM"), ("blockOrder", "b"), ("sweepToFill", "b"), ("allOrNone", "b"),
    ("minQty", "i"), ("ocaType", "i0"), ("eTradeOnly", "b"), ("firmQuoteOnly", "b"), ("nbboPriceCap", "f"),
    ("parentId", "i0"), ("triggerMethod", "i0"), ("volatility", "f"), ("volatilityType", "i0"),
    ("deltaNeutralOrderType", "sN"), ("deltaNeutralAuxPrice", "f"),
)  # fmt: skip
_OPEN_DELTA_NEUTRAL = (
    ("deltaNeutralConId", "i0"), ("deltaNeutralSettlingFirm", "s"), ("deltaNeutralClearingAccount", "s"),
    ("deltaNeutralClearingIntent", "s"), ("deltaNeutralOpenClose", "s?"), ("deltaNeutralShortSale", "b"),
    ("deltaNeutralShortSaleSlot", "i0"), ("deltaNeutralDesignatedLocation", "s"),
)  # fmt: skip
_OPEN_TRAIL = (
    ("continuousUpdate", "b"), ("referencePriceType", "i0"), ("trailStopPrice", "f"), ("trailingPercent", "f"),
    ("basisPoints", "-"), ("basisPointsType", "-"),
)  # fmt: skip
_OPEN_CLEARING = (("optOutSmartRouting", "b"), ("clearingAccount", "s"), ("clearingIntent", "s"), ("notHeld", "b"))
_OPEN_TAIL = (
    ("adjustedOrderType", "sN"), ("triggerPrice", "fM"), ("trailStopPrice", "fM"), ("lmtPriceOffset", "fM"),
    ("adjustedStopPrice", "fM"), ("adjustedStopLimitPrice", "fM"), ("adjustedTrailingAmount", "fM"),
    ("adjustableTrailingUnit", "i0"), ("softDollarTierName", "s"), ("softDollarTierVal", "s"),
    ("softDollarTierDisplayName", "s"), ("cashQty", "f0"), ("dontUseAutoPriceForHedge", "b"),
    ("isOmsContainer", "b"), ("discretionaryUpToLimitPrice", "b"), ("usePriceMgmtAlgo", "b"),
)  # fmt: skip

# completedOrder (101), no version field and no order id: its own order of fields, 4 delta-neutral fields.
_DONE_HEAD = (
    ("action", "s"), ("totalQuantity", "f0"), ("orderType", "s"), ("lmtPrice", "f0"), ("auxPrice", "f0"),
    ("tif", "s"), ("ocaGroup", "s"), ("account", "s"), ("openClose", "s"), ("origin", "i0"), ("orderRef", "s"),
    ("permId", "i0"), ("outsideRth", "b"), ("hidden", "b"), ("discretionaryAmt", "f0"), ("goodAfterTime", "s"),
    ("faGroup", "s"), ("faMethod", "s"), ("faPercentage", "s"),
)  # fmt: skip
_DONE_MIDDLE = (
    ("modelCode", "s"), ("goodTillDate", "s"), ("rule80A", "s"), ("percentOffset", "f"), ("settlingFirm", "s"),
    ("shortSaleSlot", "i0"), ("designatedLocation", "s"), ("exemptCode", "i-1"), ("startingPrice", "f"),
    ("stockRefPrice", "f"), ("delta", "f"), ("stockRangeLower", "f"), ("stockRangeUpper", "f"),
    ("displaySize", "iM"), ("sweepToFill", "b"), ("allOrNone", "b"), ("minQty", "i"), ("ocaType", "i0"),
    ("triggerMethod", "i0"), ("volatility", "f"), ("volatilityType", "i0"), ("deltaNeutralOrderType", "s"),
    ("deltaNeutralAuxPrice", "f"),
)  # fmt: skip
_DONE_DELTA_NEUTRAL = (
    ("deltaNeutralConId", "i0"), ("deltaNeutralShortSale", "b"), ("deltaNeutralShortSaleSlot", "i0"),
    ("deltaNeutralDesignatedLocation", "s"),
)  # fmt: skip
_DONE_TRAIL = (
    ("continuousUpdate", "b"), ("referencePriceType", "i0"), ("trailStopPrice", "f"), ("trailingPercent", "f"),
)  # fmt: skip
_DONE_CLEARING = (("clearingAccount", "s"), ("clearingIntent", "s"), ("notHeld", "b"))
_DONE_TAIL = (
    ("trailStopPrice", "fM"), ("lmtPriceOffset", "fM"), ("cashQty", "f0"), ("dontUseAutoPriceForHedge", "b"),
    ("isOmsContainer", "b"), ("autoCancelDate", "s"), ("filledQuantity", "f"), ("refFuturesConId", "i0"),
    ("autoCancelParent", "b"), ("shareholder", "s"), ("imbalanceOnly", "b"), ("routeMarketableToBbo", "b"),
    ("parentPermId", "i0"),
)  # fmt: skip

_PEG_BENCH_TYPES = frozenset({"PEG BENCH", "PEGBENCH"})


def _legs(legs: Sequence[WireComboLeg]) -> list[str]:
    out = [str(len(legs))]
    for leg in legs:
        out += _section(leg, _LEG)
    return out


def _combo_and_scale(contract: WireContract, order: WireOrder) -> list[str]:
    """comboLegsDescrip, the three repeated groups, the scale trio (+7) and hedgeType (+hedgeParam)."""
    out = [_text(contract.combo_legs_descrip), *_legs(contract.combo_legs)]
    out += [str(len(order.order_combo_legs)), *(_encode(price, "f") for price in order.order_combo_legs)]
    out += _pairs(order.smart_combo_routing_params)
    out += _section(order, (("scaleInitLevelSize", "iM"), ("scaleSubsLevelSize", "iM"), ("scalePriceIncrement", "f")))
    increment = order.scale_price_increment
    if increment is not None and 0 < increment < UNSET_DOUBLE:
        out += _section(order, _SCALE)
    out.append(_text(order.hedge_type))
    if order.hedge_type:
        out.append(_text(order.hedge_param))
    return out


def _dnc_and_algo(contract: WireContract, order: WireOrder) -> list[str]:
    dnc = contract.delta_neutral_contract
    out = ["0"] if dnc is None else ["1", str(dnc.con_id), _encode(dnc.delta, "f"), _encode(dnc.price, "f")]
    out.append(_text(order.algo_strategy))
    if order.algo_strategy:
        out += _pairs(order.algo_params)
    return out


def _peg_bench_and_conditions(order: WireOrder) -> list[str]:
    out = _section(order, _PEG_BENCH) if order.order_type in _PEG_BENCH_TYPES else []
    out.append(str(len(order.conditions)))
    for condition in order.conditions:
        layout = CONDITION_LAYOUTS.get(condition.cond_type)
        if layout is None:
            raise ValidationError("unknown condition type", field="cond_type", value=condition.cond_type)
        out += [str(condition.cond_type), *_section(condition, layout)]
    if order.conditions:
        out += [_encode(order.conditions_ignore_rth, "b"), _encode(order.conditions_cancel_order, "b")]
    return out


def open_order(
    contract: WireContract, order: WireOrder, order_state: WireOrderState, *, server_version: int = SERVER_VERSION
) -> list[str]:
    """``openOrder`` (5): 135 fields for a plain order at v178, with the delta-neutral block TWS always writes."""
    out = ["5", str(order.order_id), *_section(contract, _CONTRACT_11), *_section(order, _OPEN_HEAD)]
    if server_version < 177:
        out.append(_text(order.fa_profile))
    middle = _section(order, _OPEN_MIDDLE)
    out += middle
    if middle[-2]:  # the decoder reads the delta-neutral block whenever the written order type is non-empty
        out += _section(order, _OPEN_DELTA_NEUTRAL)
    out += _section(order, _OPEN_TRAIL)
    out += _combo_and_scale(contract, order)
    out += _section(order, _OPEN_CLEARING)
    out += _dnc_and_algo(contract, order)
    out += [_encode(order.solicited, "b"), _encode(order.what_if, "b"), _text(order_state.status)]
    out += _section(order_state, _MARGINS)
    out += _section(order, (("randomizeSize", "b"), ("randomizePrice", "b")))
    out += _peg_bench_and_conditions(order)
    out += _section(order, _OPEN_TAIL)
    if server_version >= 159:
        out.append(_encode(order.duration, "i"))
    if server_version >= 160:
        out.append(_encode(order.post_to_ats, "i"))
    if server_version >= 162:
        out.append(_encode(order.auto_cancel_parent, "b"))
    if server_version >= 170:
        out += _section(order, _PEG_TAIL)
    return out


def completed_order(
    contract: WireContract, order: WireOrder, order_state: WireOrderState, *, server_version: int = SERVER_VERSION
) -> list[str]:
    """``completedOrder`` (101): 96 fields for a plain order at v178 (no delta-neutral block when its type is empty)."""
    out = ["101", *_section(contract, _CONTRACT_11), *_section(order, _DONE_HEAD)]
    if server_version < 177:
        out.append(_text(order.fa_profile))
    out += _section(order, _DONE_MIDDLE)
    if order.delta_neutral_order_type:
        out += _section(order, _DONE_DELTA_NEUTRAL)
    out += _section(order, _DONE_TRAIL)
    out += _combo_and_scale(contract, order)
    out += _section(order, _DONE_CLEARING)
    out += _dnc_and_algo(contract, order)
    out += [_encode(order.solicited, "b"), _text(order_state.status)]
    out += _section(order, (("randomizeSize", "b"), ("randomizePrice", "b")))
    out += _peg_bench_and_conditions(order)
    out += _section(order, _DONE_TAIL)
    out += [_text(order_state.completed_time), _text(order_state.completed_status)]
    if server_version >= 170:
        out += _section(order, _PEG_TAIL)
    return out


def order_status(
    order_id: int,
    status: str,
    filled: float,
    remaining: float,
    avg_fill_price: float,
    perm_id: int,
    parent_id: int,
    last_fill_price: float,
    client_id: int,
    why_held: str = "",
    mkt_cap_price: float = 0.0,
) -> list[str]:
    """``orderStatus`` (3, no version field): 12 fields."""
    return [
        "3",
        str(order_id),
        _text(status),
        _number(filled),
        _number(remaining),
        _number(avg_fill_price),
        str(perm_id),
        str(parent_id),
        _number(last_fill_price),
        str(client_id),
        _text(why_held),
        _number(mkt_cap_price),
    ]


def exec_details(
    req_id: int,
    order_id: int,
    contract: WireContract,
    execution: WireExecution,
    *,
    server_version: int = SERVER_VERSION,
) -> list[str]:
    """``execDetails`` (11, no version field): 32 fields at v178; ``req_id`` is -1 for a live fill."""
    if execution.side not in ("BOT", "SLD"):
        raise ValidationError("execution side must be BOT or SLD", field="side", value=execution.side)
    out = [
        "11",
        str(req_id),
        str(order_id),
        str(contract.con_id),
        _text(contract.symbol),
        _text(contract.sec_type),
        _text(contract.last_trade_date_or_contract_month),
        _number(contract.strike),
        _text(contract.right),
        _text(contract.multiplier),
        _text(contract.exchange),
        _text(contract.currency),
        _text(contract.local_symbol),
        _text(contract.trading_class),
        _text(execution.exec_id),
        format_ib_time(execution.time),
        _text(execution.acct_number),
        _text(execution.exchange),
        execution.side,
        _number(execution.shares),
        _number(execution.price),
        str(execution.perm_id),
        str(execution.client_id),
        str(execution.liquidation),
        _number(execution.cum_qty),
        _number(execution.avg_price),
        _text(execution.order_ref),
        _text(execution.ev_rule),
        _encode(execution.ev_multiplier, "f"),
        _text(execution.model_code),
        str(execution.last_liquidity),
    ]
    if server_version >= 178:
        out.append(_encode(execution.pending_price_revision, "b"))
    return out


def commission_report(
    exec_id: str,
    commission: float,
    currency: str,
    realized_pnl: float | None = None,
    yield_: float | None = None,
    yield_redemption_date: int | None = None,
) -> list[str]:
    """``commissionReport`` (59, version 1): 8 fields; unset P&L and yield are the unset double, as TWS sends them."""
    return [
        "59",
        "1",
        _text(exec_id),
        _number(commission),
        _text(currency),
        _encode(realized_pnl, "fM"),
        _encode(yield_, "fM"),
        _encode(yield_redemption_date, "i"),
    ]


def open_order_end() -> list[str]:
    """``openOrderEnd`` (53, version 1)."""
    return ["53", "1"]


def exec_details_end(req_id: int) -> list[str]:
    """``execDetailsEnd`` (55, version 1)."""
    return ["55", "1", str(req_id)]


def completed_orders_end() -> list[str]:
    """``completedOrdersEnd`` (102, no version field)."""
    return ["102"]
