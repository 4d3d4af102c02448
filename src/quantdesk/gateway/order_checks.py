"""The gateway's pre-trade checks and what-if previews, as TWS runs them before an order goes out.

* **Price band**: a limit or stop price more than ``GatewayConfig.max_price_deviation`` (default 50 %) away from the
  market price is refused (stocks, futures and forex; options are not checked, their prices are too small).
* **Margin**: an order that increases the position's exposure is refused when the account's initial margin after
  the order would exceed its equity with loan value (``GatewayConfig.margin_check``). The margin of an order is its
  change of gross exposure at the market price times the Reg-T-like rate of its security type
  (:data:`~quantdesk.gateway.accounts.MARGIN_RATES`), the same rates the account values use. Working orders are
  not counted (TWS does count them).
* **What-if**: the same margin figures before, change and after, and the commission of the whole order at the
  market price, as the numeric order state ``ib_async``'s ``whatIfOrderAsync`` waits for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from quantdesk.domain.orders import Order
from quantdesk.gateway.accounts import MARGIN_RATES
from quantdesk.gateway.contracts import ContractSpec
from quantdesk.gateway.order_mapping import GatewayFees, OrderRefused, instrument_for
from quantdesk.gateway.order_wire import WireOrderState

if TYPE_CHECKING:
    from quantdesk.gateway.server import GatewayServer

__all__ = ["MarginImpact", "check_margin", "check_price", "margin_impact", "what_if_state"]

_PRICE_CHECKED = frozenset({"STK", "FUT", "CASH"})


@dataclass(frozen=True, slots=True)
class MarginImpact:
    """An account's margin and equity now, and how an order would change its margin."""

    init: float
    maint: float
    equity: float
    init_change: float
    maint_change: float

    @property
    def insufficient(self) -> bool:
        """Whether the order raises the initial margin above the equity with loan value."""
        return self.init_change > 0 and self.init + self.init_change > self.equity


def _market_price(server: GatewayServer, spec: ContractSpec, order: Order) -> float:
    price = server.price_of(spec.con_id)
    if math.isfinite(price) and price > 0:
        return price
    return float(order.limit_price or order.stop_price or 0)


def check_price(server: GatewayServer, spec: ContractSpec, order: Order) -> None:
    """Refuse (201) a limit or stop price too far from the market."""
    limit = server.config.max_price_deviation
    if limit <= 0 or spec.sec_type not in _PRICE_CHECKED:
        return
    market = server.price_of(spec.con_id)
    if not math.isfinite(market) or market <= 0:
        return
    for name in ("limit_price", "stop_price"):
        price = getattr(order, name)
        if price is not None and abs(float(price) / market - 1.0) > limit:
            label = name.replace("_", " ")
            raise OrderRefused(
                201, f"the {label} {price} is more than {limit:.0%} away from the market price {market:.2f}"
            )


def margin_impact(server: GatewayServer, account: str, spec: ContractSpec, order: Order) -> MarginImpact:
    """The account's margin now and the order's change of it."""
    values = server.accounts.values(account, server.price_of, server.instrument_info)
    holding = server.accounts.get(account).holdings.get(spec.con_id)
    before = holding.quantity if holding is not None else 0.0
    after = before + float(order.signed_quantity)
    rate_init, rate_maint = MARGIN_RATES.get(spec.sec_type, (0.5, 0.25))
    exposure = (abs(after) - abs(before)) * _market_price(server, spec, order) * spec.multiplier_value
    return MarginImpact(
        init=float(values["InitMarginReq"].value),
        maint=float(values["MaintMarginReq"].value),
        equity=float(values["EquityWithLoanValue"].value),
        init_change=exposure * rate_init,
        maint_change=exposure * rate_maint,
    )


def check_margin(server: GatewayServer, account: str, spec: ContractSpec, order: Order) -> None:
    """Refuse (201) an order the account cannot margin, with TWS's wording."""
    if not server.config.margin_check:
        return
    holding = server.accounts.get(account).holdings.get(spec.con_id)
    before = holding.quantity if holding is not None else 0.0
    if abs(before + float(order.signed_quantity)) <= abs(before):
        return  # the order reduces the position: no margin to find
    m = margin_impact(server, account, spec, order)
    if m.insufficient:
        raise OrderRefused(
            201,
            f"Your order is not accepted because your Equity with Loan Value of [{m.equity:.2f} USD] is "
            f"insufficient to cover the Initial Margin requirement of [{m.init + m.init_change:.2f} USD]",
        )


def what_if_state(
    server: GatewayServer, fees: GatewayFees, account: str, spec: ContractSpec, order: Order
) -> WireOrderState:
    """The numeric order state of a what-if answer: margins before/change/after and the commission."""
    m = margin_impact(server, account, spec, order)
    price = _market_price(server, spec, order) or 1.0
    instrument = instrument_for(spec)
    fee = fees.commission(instrument, order.side, order.quantity, Decimal(repr(round(price, 8))))
    commission = float(fee.amount)
    warning = ""
    if m.insufficient:
        warning = f"Equity with loan value {m.equity:.2f} is below the initial margin {m.init + m.init_change:.2f}"
    init, maint, equity = round(m.init, 2), round(m.maint, 2), round(m.equity, 2)
    init_change, maint_change = round(m.init_change, 2), round(m.maint_change, 2)
    return WireOrderState(
        status="PreSubmitted",
        init_margin_before=init,
        maint_margin_before=maint,
        equity_with_loan_before=equity,
        init_margin_change=init_change,
        maint_margin_change=maint_change,
        equity_with_loan_change=-commission,
        init_margin_after=round(init + init_change, 2),
        maint_margin_after=round(maint + maint_change, 2),
        equity_with_loan_after=round(equity - commission, 2),
        commission=commission,
        min_commission=commission,
        max_commission=commission,
        commission_currency=fee.currency.code,
        warning_text=warning,
    )
