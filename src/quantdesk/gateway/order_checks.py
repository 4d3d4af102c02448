"""The gateway's pre-trade checks and what-if previews, decided by the simulated venue's rules.

* **Price band**: a limit or stop price more than ``GatewayConfig.max_price_deviation`` (default 50 %) away from the
  market price is refused (stocks, futures and forex; options are not checked, their prices are too small):
  :meth:`quantdesk.execution.venue.SimulatedVenue.price_refusal`.
* **Margin** (``GatewayConfig.margin_check``): the venue's ``MarginCheck`` on the account's ledger, as the
  simulated broker runs it, through :class:`GatewayAccounts` (the venue's accounts port over the account book).
  The order is valued as a complete fill at its reference price (the highest of the market price, its limit and
  its stop) with its commission; it is refused when the initial margin afterwards would exceed the equity with
  loan value afterwards and the order raises the initial margin. Working orders are not counted (TWS does count
  them). The refusal carries TWS's wording with the figures after the order.
* **What-if**: the same check's margins before, change and after, its equity change (the commission) and the
  commission, as the numeric order state ``ib_async``'s ``whatIfOrderAsync`` waits for.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from quantdesk.domain.identifiers import AccountId, ClientOrderId
from quantdesk.domain.instruments import Instrument
from quantdesk.domain.orders import Order
from quantdesk.execution.fees import FeeModel
from quantdesk.execution.ledger import PriceOf, reference_price
from quantdesk.execution.margin import MarginCheck
from quantdesk.execution.venue import SimulatedVenue
from quantdesk.gateway.contracts import ContractSpec
from quantdesk.gateway.handlers import NO_SECURITY_DEFINITION
from quantdesk.gateway.order_mapping import (
    OrderRefused,
    contract_query,
    domain_order,
    reply_contract,
)
from quantdesk.gateway.order_replies import open_order
from quantdesk.gateway.order_wire import WireContract, WireOrder, WireOrderState

if TYPE_CHECKING:
    from quantdesk.gateway.client import ClientSession
    from quantdesk.gateway.venue_context import VenueContext

__all__ = [
    "GatewayAccounts",
    "account_of",
    "margin_refusal",
    "market_price",
    "price_refusal",
    "reject_json",
    "resolve",
    "what_if_reply",
    "what_if_state",
]

_ONE = Decimal(1)


def reject_json(refusal: OrderRefused) -> str:
    """The ``advancedOrderRejectJson`` of a 201 (what ``ib_async`` stores as ``trade.advancedError``)."""
    return json.dumps({"rejectCode": refusal.code, "rejectReason": refusal.reason}) if refusal.code == 201 else ""


def resolve(server: VenueContext, contract: WireContract) -> ContractSpec:
    """The catalogue's contract of an order; 200 when there is none."""
    spec = server.catalog.resolve(contract_query(contract))
    if spec is None:
        raise OrderRefused(200, NO_SECURITY_DEFINITION)
    return spec


def account_of(server: VenueContext, order: WireOrder) -> str:
    """The order's account (the first one when it names none); 201 for an account this gateway does not manage."""
    account = order.account or server.accounts.ids[0]
    if account not in server.accounts.accounts:
        raise OrderRefused(201, f"account {account} is not managed by this gateway")
    return account


def market_price(server: VenueContext, con_id: int) -> Decimal | None:
    """The venue's mark of a contract (None when it has none)."""
    price = server.price_of(con_id)
    return Decimal(repr(price)) if math.isfinite(price) and price > 0 else None


class GatewayAccounts:
    """The gateway's account book as the venue's accounts port (:class:`~quantdesk.execution.venue.VenueAccounts`).

    The venue asks it for the effect of a complete fill of an order; it values the order's conId in the order's
    account of the :class:`~quantdesk.gateway.accounts.AccountBook` (the venue's ``Ledger`` and ``MarginPolicy``)
    at the reference price with the venue's commission, and lets ``MarginCheck.decide`` rule."""

    def __init__(self, server: VenueContext, fees: FeeModel) -> None:
        self.server, self.fees = server, fees

    def check(self, order: Order, price_of: PriceOf, quantity: Decimal | None = None) -> MarginCheck:
        """The venue's margin check of ``quantity`` (all) of ``order`` filling in its account (the first: None)."""
        server, instrument = self.server, order.instrument
        account = order.account.value if order.account is not None else server.accounts.ids[0]
        con_id = instrument.con_id or 0
        price = reference_price(price_of(instrument.id), order) or _ONE
        qty = order.quantity if quantity is None else quantity
        commission = self.fees.commission(instrument, order.side, qty, price)
        trade = (con_id, qty * order.side.sign, price, commission.amount)
        return server.accounts.assess(account, trade, server.price_of, server.instrument_info, commission)


def price_refusal(venue: SimulatedVenue[GatewayAccounts], order: Order) -> OrderRefused | None:
    """The venue's price band on ``order`` as TWS's 201 (None: it passes)."""
    reason = venue.price_refusal(order)
    return None if reason is None else OrderRefused(201, reason)


def margin_refusal(
    venue: SimulatedVenue[GatewayAccounts], order: Order, quantity: Decimal | None = None
) -> OrderRefused | None:
    """The venue's margin check on ``order`` (or ``quantity`` of it) as TWS's 201 and wording (None: it passes)."""
    if not venue.accounts.server.config.margin_check:
        return None
    check = venue.accounts.check(order, venue.price_of, quantity)
    if check.refusal is None:
        return None
    after = check.after
    return OrderRefused(
        201,
        f"Your order is not accepted because your Equity with Loan Value of [{after.net_liquidation:.2f} USD] is "
        f"insufficient to cover the Initial Margin requirement of [{after.initial_margin:.2f} USD]",
    )


def _cents(value: Decimal) -> float:
    return float(round(value, 2))


def what_if_state(check: MarginCheck) -> WireOrderState:
    """The numeric order state of a what-if answer: margins before/change/after and the commission."""
    before, after = check.before, check.after
    commission = float(check.commission.amount)
    warning = ""
    if check.refusal is not None:
        equity, initial = after.net_liquidation, after.initial_margin
        warning = f"Equity with loan value {equity:.2f} is below the initial margin {initial:.2f}"
    return WireOrderState(
        status="PreSubmitted",
        init_margin_before=_cents(before.initial_margin),
        maint_margin_before=_cents(before.maintenance_margin),
        equity_with_loan_before=_cents(before.net_liquidation),
        init_margin_change=_cents(check.init_change),
        maint_margin_change=_cents(check.maint_change),
        equity_with_loan_change=-commission,
        init_margin_after=_cents(after.initial_margin),
        maint_margin_after=_cents(after.maintenance_margin),
        equity_with_loan_after=_cents(after.net_liquidation),
        commission=commission,
        min_commission=commission,
        max_commission=commission,
        commission_currency=check.commission.currency.code,
        warning_text=warning,
    )


def what_if_reply(
    venue: SimulatedVenue[GatewayAccounts],
    instrument: Callable[[ContractSpec], Instrument],
    session: ClientSession,
    contract: WireContract,
    order: WireOrder,
) -> None:
    """Answer a what-if order with an ``openOrder`` carrying the venue's margins and commission; nothing is placed.

    ``instrument`` is the desk's domain instrument of a contract (known to the venue's prices)."""
    server = venue.accounts.server
    try:
        spec = resolve(server, contract)
        account = account_of(server, order)
        domain = domain_order(order, instrument(spec), client_order_id=ClientOrderId("whatif"))
    except OrderRefused as refusal:
        session.error(order.order_id, refusal.code, refusal.message, reject_json(refusal))
        return
    state = what_if_state(venue.accounts.check(dataclasses.replace(domain, account=AccountId(account)), venue.price_of))
    wire = dataclasses.replace(order, account=account, client_id=session.client_id or 0, perm_id=0)
    session.send(open_order(reply_contract(spec, contract), wire, state, server_version=session.server_version))
