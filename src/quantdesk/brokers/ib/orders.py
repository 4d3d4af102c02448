"""Domain orders ↔ ``ib_async`` orders, and IB's order events → the broker reports (pure functions).

Order fields (:func:`to_ib_order`):

==========================  =================================================================================
domain                      ``ib_async.Order``
==========================  =================================================================================
side, quantity, type        ``action`` BUY/SELL, ``totalQuantity``, ``orderType`` (MKT, LMT, STP, STP LMT,
                            TRAIL, TRAIL LIMIT, MOC, LOC; market-on-open is MKT with tif OPG)
limit_price / stop_price    ``lmtPrice`` / ``auxPrice`` (stop and stop-limit)
trailing_amount / percent   ``auxPrice`` / ``trailingPercent``; ``stop_price`` → ``trailStopPrice``
limit_offset                ``lmtPriceOffset`` (trailing stop-limit)
tif, good_till              ``tif`` (DAY, GTC, IOC, FOK, GTD, OPG); ``goodTillDate`` "YYYYMMDD HH:MM:SS UTC"
outside_rth, hidden,        ``outsideRth``, ``hidden``, ``discretionaryAmt``, ``allOrNone``
discretionary, all-or-none
account                     ``account``
client_order_id             ``orderRef`` (our id travels to IB and back on every status and execution)
link                        ``parentId`` (the parent's IB order id), ``ocaGroup``/``ocaType``, ``transmit``
==========================  =================================================================================

Statuses go through the domain's ``from_ib_status``. Errors carrying an order id are judged by
:mod:`error_codes`, not by ``ib_async``: only a reject (201 and friends) or the cancel acknowledgement (202) end an
order; informational codes such as 10349 or 399 never mark a live order cancelled, even though ``ib_async`` sets
its local status to ``Cancelled`` for them (:func:`effective_ib_status` undoes that from the trade's log).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from ib_async import CommissionReport, Contract, Trade
from ib_async import Fill as IBFill
from ib_async import Order as IBOrder

from quantdesk.brokers.base import FillReport, OrderStatusReport, WhatIfReport
from quantdesk.brokers.ib.error_codes import ErrorAction, classify
from quantdesk.domain.fills import Liquidity
from quantdesk.domain.identifiers import AccountId, BrokerOrderId, ClientOrderId, ExecutionId, InstrumentId
from quantdesk.domain.order_lists import OrderList
from quantdesk.domain.order_state import OrderStatus, from_ib_status
from quantdesk.domain.order_types import OrderType, TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import Currency, Money
from quantdesk.errors import QuantdeskError, ValidationError

__all__ = [
    "GTD_FORMAT",
    "UNSET_DOUBLE",
    "client_order_id_of",
    "contract_multiplier",
    "effective_ib_status",
    "fill_report",
    "order_status_report",
    "pending_orders",
    "status_after_error",
    "to_ib_order",
    "to_ib_orders",
    "what_if_report",
]

UNSET_DOUBLE = 1.7976931348623157e308
GTD_FORMAT = "%Y%m%d %H:%M:%S UTC"
_IB_PREFIX = re.compile(r"^(?:Error|Warning) \d+, reqId -?\d+: ")  # how ib_async words its log entries
_KEEP_LIVE_ACTIONS = frozenset({ErrorAction.KEEP_ORDER_LIVE, ErrorAction.LOG, ErrorAction.IGNORE})


def _price(value: Decimal) -> float:
    return float(value)


def to_ib_order(order: Order, *, order_id: int = 0, parent_id: int = 0) -> IBOrder:
    """The ``ib_async`` order for a domain order (``parent_id`` is the IB order id of ``order.link``'s parent)."""
    o = IBOrder()
    o.orderId = order_id
    o.action = order.side.value
    o.totalQuantity = float(order.quantity)
    o.orderType = order.order_type.value
    o.tif = order.tif.value
    o.orderRef = order.client_order_id.value
    o.transmit = order.link.transmit
    o.parentId = parent_id
    if order.account is not None:
        o.account = order.account.value
    kind = order.order_type
    if order.limit_price is not None:
        o.lmtPrice = _price(order.limit_price)
    if kind in (OrderType.STOP, OrderType.STOP_LIMIT) and order.stop_price is not None:
        o.auxPrice = _price(order.stop_price)
    if kind.is_trailing:
        if order.trailing_amount is not None:
            o.auxPrice = _price(order.trailing_amount)
        if order.trailing_percent is not None:
            o.trailingPercent = _price(order.trailing_percent)
        if order.stop_price is not None:
            o.trailStopPrice = _price(order.stop_price)
        if order.limit_offset is not None:
            o.lmtPriceOffset = _price(order.limit_offset)
    if order.tif is TimeInForce.GTD and order.good_till is not None:
        o.goodTillDate = order.good_till.astimezone(UTC).strftime(GTD_FORMAT)
    o.outsideRth = order.outside_rth
    o.hidden = order.hidden
    o.allOrNone = order.all_or_none
    if order.discretionary_amount is not None:
        o.discretionaryAmt = _price(order.discretionary_amount)
    if order.link.oca_group is not None:
        o.ocaGroup = order.link.oca_group
        o.ocaType = order.link.oca_type.value if order.link.oca_type is not None else 1
    return o


def to_ib_orders(order_list: OrderList, next_order_id: Callable[[], int]) -> list[tuple[Order, IBOrder]]:
    """The IB orders of a bracket, OCA group or OTO, in submission order, with ids and parent ids assigned.

    ``next_order_id`` hands out IB order ids (``ib.client.getReqId``); a child's ``parentId`` is the id its
    parent got here, so the parent must come first in ``order_list.orders`` (it does for every domain list).
    """
    ids: dict[ClientOrderId, int] = {}
    out: list[tuple[Order, IBOrder]] = []
    for order in order_list.orders:
        order_id = next_order_id()
        ids[order.client_order_id] = order_id
        parent = order.link.parent_client_order_id
        parent_id = 0
        if parent is not None:
            if parent not in ids:
                raise ValidationError(
                    f"order {order.client_order_id} names parent {parent}, which is not sent before it",
                    field="link.parent_client_order_id",
                    value=str(parent),
                    hint="submit the parent first (Bracket, Oto and OcaGroup order their orders correctly)",
                )
            parent_id = ids[parent]
        out.append((order, to_ib_order(order, order_id=order_id, parent_id=parent_id)))
    return out


@functools.lru_cache(maxsize=4096)
def client_order_id_of(order_ref: str) -> ClientOrderId | None:
    """Our id from IB's ``orderRef`` (None for orders placed outside quantdesk, or with a foreign ref)."""
    if not order_ref:
        return None
    try:
        return ClientOrderId(order_ref)
    except ValidationError:
        return None


def _unset(value: float | Decimal | None) -> Decimal | None:
    if value is None:
        return None
    f = float(value)
    if math.isnan(f) or f >= UNSET_DOUBLE or f == 0.0:
        return None
    return Decimal(repr(f))


def status_after_error(code: int, current: OrderStatus, message: str = "") -> OrderStatus | None:
    """The status an error with an order's id moves the order to, or None when it must not change it.

    201-style rejects end a new order as REJECTED (a held order may also be rejected when it triggers); 202 is the
    cancel acknowledgement (CANCELLED); 110 on a working order is a refused *modification*, the order stays live;
    informational codes (10349, 399, 404, 2109, …) never change the status.
    """
    entry = classify(code, message)
    if current.is_terminal:
        return None
    if entry.action is ErrorAction.CANCEL_CONFIRMED:
        return OrderStatus.CANCELLED
    if entry.action is ErrorAction.REJECT_ORDER:
        if code == 110 and current not in (OrderStatus.INITIALIZED, OrderStatus.PENDING_SUBMIT):
            return None
        return OrderStatus.REJECTED
    return None


def effective_ib_status(trade: Trade) -> str:
    """The trade's IB status, undoing ``ib_async``'s local "Cancelled" after an informational error code."""
    status = str(trade.orderStatus.status)
    if status != "Cancelled" or not trade.log:
        return status
    last = trade.log[-1]
    if last.errorCode and classify(last.errorCode, last.message).action in _KEEP_LIVE_ACTIONS:
        for entry in reversed(trade.log[:-1]):
            if entry.status and entry.status not in ("Cancelled", "ValidationError"):
                return str(entry.status)
        return "Submitted"
    if last.errorCode and classify(last.errorCode, last.message).action is ErrorAction.REJECT_ORDER:
        return "Rejected"
    return status


# Every status and execution of every order is turned into a report: the parsers of IB's few spellings are cached.
_side = functools.lru_cache(maxsize=16)(OrderSide.parse)
_account = functools.lru_cache(maxsize=256)(AccountId)


@functools.lru_cache(maxsize=64)
def _tif(ib_tif: str) -> TimeInForce:
    return TimeInForce.parse(ib_tif) if ib_tif in TimeInForce.__members__ else TimeInForce.DAY


@functools.lru_cache(maxsize=64)
def _order_type(ib_type: str) -> tuple[OrderType, str | None]:
    try:
        return OrderType.parse(ib_type), None
    except QuantdeskError:
        return OrderType.LIMIT, f"IB order type {ib_type}"


def _executed(trade: Trade, reported: float) -> tuple[Decimal, Decimal | None] | None:
    """Quantity and average price of the trade's executions when they exceed ``reported`` (IB reports a
    ``completedOrder`` re-synchronised after a reconnect without its progress), else None."""
    if not trade.fills or sum(f.execution.shares for f in trade.fills) <= reported:
        return None
    shares = [(Decimal(repr(float(f.execution.shares))), Decimal(repr(float(f.execution.price)))) for f in trade.fills]
    total = sum((q for q, _ in shares), Decimal(0))
    return total, sum((q * p for q, p in shares), Decimal(0)) / total


def order_status_report(trade: Trade, instrument_id: InstrumentId, ts: datetime | None = None) -> OrderStatusReport:
    """The broker report of one ``ib_async`` trade (``instrument_id`` from the contract, resolved by the caller)."""
    order, status = trade.order, trade.orderStatus
    ib_status = effective_ib_status(trade)
    domain_status = OrderStatus.REJECTED if ib_status == "Rejected" else from_ib_status(ib_status)
    filled_count = float(status.filled or 0.0)
    if not filled_count and _unset(order.filledQuantity) is not None:  # a completed order carries it on the order
        filled_count = float(order.filledQuantity)
    filled = Decimal(repr(filled_count))
    avg_fill_price = _unset(status.avgFillPrice)
    executed = _executed(trade, filled_count)
    if executed is not None:  # the executions know more (a completed order re-synchronised after a reconnect)
        filled, avg_fill_price = executed
    quantity = Decimal(repr(float(order.totalQuantity or 0.0)))
    if quantity <= 0:
        quantity = max(filled + Decimal(repr(float(status.remaining or 0.0))), Decimal(1))
    kind, note = _order_type(order.orderType)
    last = trade.log[-1] if trade.log else None
    reason = (_IB_PREFIX.sub("", last.message) or None) if last is not None and last.errorCode else note
    stop = order.auxPrice if kind in (OrderType.STOP, OrderType.STOP_LIMIT) else order.trailStopPrice
    tif = _tif(order.tif)
    return OrderStatusReport(
        broker_order_id=BrokerOrderId(max(order.orderId, 0), max(order.permId or status.permId, 0), order.clientId),
        client_order_id=client_order_id_of(order.orderRef),
        account=_account(order.account) if order.account else None,
        instrument_id=instrument_id,
        side=_side(order.action),
        order_type=kind,
        quantity=quantity,
        filled_quantity=min(filled, quantity),
        status=domain_status,
        ts=ts or (last.time if last is not None else datetime.now(UTC)),
        avg_fill_price=avg_fill_price,
        limit_price=_unset(order.lmtPrice),
        stop_price=_unset(stop),
        tif=tif,
        reason=reason,
        error_code=last.errorCode if last is not None and last.errorCode else None,
    )


def _commission(report: CommissionReport | None, currency: str) -> Money | None:
    if report is None or not report.execId:
        return None
    value = float(report.commission)
    if math.isnan(value) or value >= UNSET_DOUBLE:
        return None
    return Money(Decimal(repr(value)), Currency.of(report.currency or currency))


def fill_report(fill: IBFill, instrument_id: InstrumentId, multiplier: Decimal = Decimal(1)) -> FillReport:
    """The broker report of one execution (its commission once IB's commission report has arrived)."""
    ex, contract = fill.execution, fill.contract
    currency = contract.currency or "USD"
    liquidity = Liquidity(ex.lastLiquidity) if ex.lastLiquidity in (1, 2, 3) else None
    ts = ex.time if ex.time.tzinfo is not None else ex.time.replace(tzinfo=UTC)
    return FillReport(
        execution_id=ExecutionId(ex.execId),
        broker_order_id=BrokerOrderId(max(ex.orderId, 0), max(ex.permId, 0), ex.clientId),
        client_order_id=client_order_id_of(ex.orderRef),
        account=_account(ex.acctNumber) if ex.acctNumber else None,
        instrument_id=instrument_id,
        side=_side(ex.side),
        quantity=Decimal(repr(float(ex.shares))),
        price=Decimal(repr(float(ex.price))),
        ts=ts,
        currency=Currency.of(currency),
        commission=_commission(fill.commissionReport, currency),
        multiplier=multiplier,
        liquidity=liquidity,
    )


def _number(text: str | float) -> Decimal | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) or abs(value) >= UNSET_DOUBLE else Decimal(repr(value))


def what_if_report(state: object, currency: str = "USD") -> WhatIfReport:
    """A what-if preview from the ``OrderState`` IB returns for a ``whatIf`` order."""
    commission = _number(getattr(state, "commission", UNSET_DOUBLE))
    ccy = getattr(state, "commissionCurrency", "") or currency
    return WhatIfReport(
        init_margin_change=_number(getattr(state, "initMarginChange", "")) or Decimal(0),
        maint_margin_change=_number(getattr(state, "maintMarginChange", "")) or Decimal(0),
        equity_with_loan_after=_number(getattr(state, "equityWithLoanAfter", "")),
        commission=None if commission is None else Money(commission, Currency.of(ccy)),
        warning=getattr(state, "warningText", "") or None,
    )


def contract_multiplier(contract: Contract) -> Decimal:
    """A contract's multiplier (1 when IB leaves it empty)."""
    try:
        return Decimal(contract.multiplier) if contract.multiplier else Decimal(1)
    except ArithmeticError:
        return Decimal(1)


def pending_orders(reports: Sequence[OrderStatusReport]) -> list[OrderStatusReport]:
    """The reports of orders that may still execute."""
    return [r for r in reports if r.status.is_active]
