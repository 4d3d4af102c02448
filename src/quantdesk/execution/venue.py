"""The one simulated venue: matching, the Decimal ledger and accounts, margin, fees, ids and pre-trade checks.

On the model of NautilusTrader's ``SimulatedExchange``, ``SimulatedVenue`` owns everything that decides what
happens to an order at a simulated venue, so that the adapters over it (the in-process ``SimulatedBroker``, the
TWS gateway simulator's order desk, the backtester) can never disagree on a fill, a margin figure or a refusal:

* the ``MatchingEngine`` (:mod:`quantdesk.execution.matching`) and its fee model (:mod:`quantdesk.execution.fees`);
* the accounts orders are checked against, through the ``VenueAccounts`` port: the venue's own ``Accounts``
  (:mod:`quantdesk.execution.ledger`, ``SimulatedVenue.with_cash``) or the gateway's conId-keyed account book, both
  on the same ``Ledger`` and one ``MarginPolicy`` (:mod:`quantdesk.execution.margin`);
* the id sequences (:mod:`quantdesk.execution.ids`);
* the pre-trade checks: the price band (``max_price_deviation``, off unless set) and the margin check, and the
  what-if preview built from the same ``MarginCheck``;
* ``VenueOrder``, the venue's record of an order: its terms as placed, its broker ids, its state, advanced by the
  engine's events through the domain's transition table (``advance``).

Adapters translate: requests into calls on the venue, its engine's events into their own reports or wire messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from quantdesk.domain.events import (
    OrderAccepted,
    OrderCancelled,
    OrderEvent,
    OrderExpired,
    OrderFillEvent,
    OrderModified,
    OrderModifyRejected,
    OrderRejected,
)
from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import AccountId, BrokerOrderId, ClientOrderId
from quantdesk.domain.order_state import OrderState, OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.domain.positions import Position
from quantdesk.domain.values import Currency, Numeric
from quantdesk.errors import BrokerError, NotFound, ValidationError
from quantdesk.errors import OrderRejected as OrderRejectedError
from quantdesk.execution.fees import FeeModel
from quantdesk.execution.ids import IdSequence, VenueIds
from quantdesk.execution.ledger import Accounts, FxRates, PriceOf, reference_price
from quantdesk.execution.margin import MarginCheck, MarginPolicy
from quantdesk.execution.matching import CalendarSource, MatchingConfig, MatchingEngine
from quantdesk.execution.sessions import ALWAYS_OPEN

__all__ = [
    "DUPLICATE_CODE",
    "PRICE_BANDED",
    "REJECTED_CODE",
    "SimulatedVenue",
    "VenueAccounts",
    "VenueOrder",
    "price_band_refusal",
]

REJECTED_CODE = 201
"""IB's "order rejected" error code, used for every refusal before an order reaches the engine."""
DUPLICATE_CODE = 103
"""IB's "duplicate order id"."""
PRICE_BANDED = frozenset({"STK", "FUT", "CASH"})
"""Asset classes whose limit and stop prices the price band checks (options' prices are too small)."""
_STATUS_OF: dict[type[OrderEvent], OrderStatus] = {
    OrderAccepted: OrderStatus.SUBMITTED,
    OrderRejected: OrderStatus.REJECTED,
    OrderCancelled: OrderStatus.CANCELLED,
    OrderExpired: OrderStatus.EXPIRED,
}


def price_band_refusal(order: Order, market: Decimal | None, max_deviation: float) -> str | None:
    """Why a limit or stop price lies too far from the market (None when it does not, or nothing is checked)."""
    if max_deviation <= 0 or market is None or market <= 0:
        return None
    if order.instrument.asset_class.value not in PRICE_BANDED:
        return None
    for name in ("limit_price", "stop_price"):
        price = getattr(order, name)
        if price is not None and abs(float(price) / float(market) - 1.0) > max_deviation:
            label = name.replace("_", " ")
            return f"the {label} {price} is more than {max_deviation:.0%} away from the market price {market:.2f}"
    return None


@dataclass(slots=True)
class VenueOrder:
    """One order at the venue: its terms as placed, its ids, its state as reported, its last reason."""

    order: Order
    broker_order_id: BrokerOrderId
    state: OrderState
    in_engine: bool = False
    reason: str | None = None
    code: int | None = None

    @property
    def client_order_id(self) -> ClientOrderId:
        """Our id of the order."""
        return self.order.client_order_id


class VenueAccounts(Protocol):
    """What the venue asks of the accounts it checks orders against: the effect of a complete fill.

    ``Accounts`` (the venue's own Decimal ledgers, for the simulated broker) is one; the gateway's account book,
    the same ``Ledger`` and ``MarginPolicy`` keyed by conId, is the other."""

    def check(self, order: Order, price_of: PriceOf, quantity: Decimal | None = None) -> MarginCheck | str:
        """The effect of ``order`` (or ``quantity`` of it) filling completely, or why it cannot be assessed."""
        ...


AccountsT = TypeVar("AccountsT", bound=VenueAccounts)


class SimulatedVenue(Generic[AccountsT]):
    """Matching, accounts, margin, fees, ids and checks of one simulated venue (see the module docstring).

    ``accounts`` the accounts the margin check values orders in; ``price_of`` gives the last known price of an
    instrument (the adapter's market data); ``ids`` the id sequences (a fresh random ``VenueIds`` when None);
    ``client_id`` the client whose order-id sequence ``register`` takes ids from; ``max_price_deviation`` the price
    band (0: off).
    """

    def __init__(
        self,
        accounts: AccountsT,
        *,
        fees: FeeModel,
        price_of: PriceOf,
        matching: MatchingConfig | None = None,
        calendar: CalendarSource = ALWAYS_OPEN,
        max_price_deviation: float = 0.0,
        ids: VenueIds | None = None,
        client_id: int | None = None,
    ) -> None:
        self.fees = fees
        self.price_of = price_of
        self.accounts = accounts
        self.engine = MatchingEngine(replace(matching or MatchingConfig(), fees=fees), calendar=calendar)
        self.ids = ids or VenueIds()
        self.max_price_deviation = max_price_deviation
        self.client_id = client_id
        self._order_ids: IdSequence = self.ids.order_ids(client_id or 0)
        self.orders: dict[ClientOrderId, VenueOrder] = {}

    @classmethod
    def with_cash(
        cls,
        cash: Mapping[AccountId | str, Numeric],
        *,
        base: Currency,
        fees: FeeModel,
        price_of: PriceOf,
        policy: MarginPolicy | None = None,
        fx_rates: Mapping[Currency | str, Numeric] | None = None,
        short_selling: bool = True,
        matching: MatchingConfig | None = None,
        calendar: CalendarSource = ALWAYS_OPEN,
        max_price_deviation: float = 0.0,
        ids: VenueIds | None = None,
        client_id: int | None = None,
    ) -> SimulatedVenue[Accounts]:
        """A venue over its own ``Accounts``: ``cash`` per account in ``base``, under ``policy`` (Reg-T)."""
        policy = policy or MarginPolicy.reg_t()
        accounts = Accounts(cash, base, policy, FxRates(base, fx_rates), fees, short_selling=short_selling)
        return SimulatedVenue(
            accounts,
            fees=fees,
            price_of=price_of,
            matching=matching,
            calendar=calendar,
            max_price_deviation=max_price_deviation,
            ids=ids,
            client_id=client_id,
        )

    # --- orders --------------------------------------------------------------------------------------------------

    def __contains__(self, cid: object) -> bool:
        return cid in self.orders

    def register(self, order: Order, ts: datetime) -> VenueOrder:
        """Give ``order`` its broker ids (also when it will be rejected) and a PENDING_SUBMIT state."""
        ids = BrokerOrderId(self._order_ids.take(), self.ids.new_perm_id(), self.client_id)
        return self.track(order, ids, ts, in_engine=False)

    def track(self, order: Order, ids: BrokerOrderId, ts: datetime, *, in_engine: bool = True) -> VenueOrder:
        """Keep the record of ``order`` under ids its adapter gave it (the gateway's wire ids), PENDING_SUBMIT."""
        state = OrderState.new(order.client_order_id, order.quantity, ts).apply_status(OrderStatus.PENDING_SUBMIT, ts)
        record = VenueOrder(order, ids, state, in_engine=in_engine)
        self.orders[order.client_order_id] = record
        return record

    def advance(self, record: VenueOrder, event: OrderEvent) -> None:
        """Move ``record``'s state by one of the engine's events, through the domain's transition table.

        A fill is counted (its booking on a ledger is the accounts' business, see :meth:`book`); an acceptance,
        rejection, cancel or expiry changes the status and keeps its reason; a modification its quantity. Triggers
        and activations change nothing the state holds."""
        if isinstance(event, OrderFillEvent):
            record.state = record.state.apply_fill(event.fill)
        elif isinstance(event, OrderModified):
            if event.quantity is not None:
                record.state = record.state.apply_modify(event.quantity, event.ts)
        elif type(event) in _STATUS_OF:
            record.state = record.state.apply_status(_STATUS_OF[type(event)], event.ts)
            reason = getattr(event, "reason", "") or None
            if reason is not None:
                record.reason, record.code = reason, getattr(event, "code", None)

    def require_new(self, orders: Iterable[Order]) -> None:
        """Raise ``BrokerError`` (code 103) when an order's client order id was placed already (a caller's bug)."""
        seen: set[ClientOrderId] = set()
        for order in orders:
            cid = order.client_order_id
            if cid in self.orders or cid in seen:
                raise BrokerError(
                    f"order {cid} was already placed",
                    code=DUPLICATE_CODE,
                    field="client_order_id",
                    value=str(cid),
                    hint="use modify_order to change it, or give the new order its own client_order_id",
                )
            seen.add(cid)

    def get(self, cid: ClientOrderId) -> VenueOrder:
        """The record of ``cid``; ``NotFound`` if it was never placed here."""
        record = self.orders.get(cid)
        if record is None:
            raise NotFound(
                f"unknown order {cid}",
                field="client_order_id",
                value=str(cid),
                hint="the order was never placed at this simulated venue",
            )
        return record

    def reject(self, record: VenueOrder, reason: str, ts: datetime) -> None:
        """Refuse an order before it reaches the engine."""
        record.state = record.state.apply_status(OrderStatus.REJECTED, ts)
        record.reason, record.code = reason, REJECTED_CODE

    def book(self: SimulatedVenue[Accounts], record: VenueOrder, fill: Fill) -> Position:
        """Book ``fill`` of ``record`` on its account's ledger and advance the order's state."""
        assert fill.account is not None  # every order gets an account before it is submitted
        position = self.accounts.ledgers[fill.account].apply(fill, record.order.instrument)
        record.state = record.state.apply_fill(fill)
        return position

    def modify(
        self, cid: ClientOrderId, ts: datetime, changes: Mapping[str, Any]
    ) -> tuple[VenueOrder, list[OrderEvent]]:
        """Change a working order in the engine; raises ``OrderRejected`` (order unchanged) when it is refused.

        Only working orders can change; the new terms must be valid and pass the price band, and a parent order's
        remainder must pass the margin check at its new terms."""
        record = self.get(cid)
        if not record.in_engine or record.state.is_terminal:
            raise OrderRejectedError(
                f"cannot modify order {cid}: it is {record.state.status.value}",
                code=REJECTED_CODE,
                field="client_order_id",
                value=str(cid),
                hint="only working orders can be modified",
            )
        try:
            proposed = replace(self.engine.order(cid), **changes)
        except ValidationError as exc:
            error = OrderRejectedError(exc.message, code=REJECTED_CODE, field=exc.field, value=exc.value, hint=exc.hint)
            raise error from exc
        remaining = proposed.quantity - record.state.filled_quantity
        refusal = self.price_refusal(proposed)
        if refusal is None and proposed.link.parent_client_order_id is None and remaining > 0:
            refusal = self.margin_refusal(proposed, remaining)
        if refusal is not None:
            raise OrderRejectedError(refusal, code=REJECTED_CODE, field="quantity", value=str(cid))
        events = self.engine.modify(cid, ts, **changes)
        refused = next((e for e in events if isinstance(e, OrderModifyRejected)), None)
        if refused is not None:
            raise OrderRejectedError(
                f"modification of {cid} refused: {refused.reason}",
                code=refused.code or REJECTED_CODE,
                field="client_order_id",
                value=str(cid),
            )
        return record, events

    # --- checks --------------------------------------------------------------------------------------------------

    def check(self, order: Order, quantity: Decimal | None = None) -> MarginCheck | str:
        """The effect of ``order`` (or ``quantity`` of it) filling completely, or why it cannot be assessed."""
        return self.accounts.check(order, self.price_of, quantity)

    def price_refusal(self, order: Order) -> str | None:
        """The price band's refusal of ``order`` (None: it passes, or the band is off)."""
        return price_band_refusal(order, self.price_of(order.instrument.id), self.max_price_deviation)

    def refusal(self, order: Order, *, check_price: bool = True, check_margin: bool = True) -> str | None:
        """The venue's pre-trade refusal of ``order``: the price band first, then the margin check (each when asked)."""
        refusal = self.price_refusal(order) if check_price else None
        if refusal is None and check_margin:
            refusal = self.margin_refusal(order)
        return refusal

    def margin_refusal(self, order: Order, quantity: Decimal | None = None) -> str | None:
        """Why the margin check refuses ``order`` (or ``quantity`` of it); None when it passes."""
        check = self.check(order, quantity)
        return check if isinstance(check, str) else check.refusal

    def reference_price(self, order: Order) -> Decimal | None:
        """The price ``order`` is valued at before it fills."""
        return reference_price(self.price_of(order.instrument.id), order)
