"""The written contract every broker adapter implements (simulated, IB), and the reports it produces.

Everything above ``brokers/`` (OMS, risk, services, the kernel) speaks only this protocol. Reports are the
reconciliation vocabulary: an adapter turns its venue's messages into ``OrderStatusReport``, ``FillReport`` and
``PositionReport`` values keyed by the broker's ``permId`` and our ``ClientOrderId`` (sent to IB as ``orderRef``),
so the OMS can compare the database with the broker after a restart or a reconnect without knowing the venue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Protocol, TypeAlias, runtime_checkable

from quantdesk.brokers.capabilities import BrokerCapabilities
from quantdesk.domain.accounts import AccountSnapshot
from quantdesk.domain.fills import Fill, Liquidity
from quantdesk.domain.identifiers import AccountId, BrokerOrderId, ClientOrderId, ExecutionId, InstrumentId
from quantdesk.domain.instruments import Instrument
from quantdesk.domain.market import Bar, BarSize, Quote, TradeTick, require_utc
from quantdesk.domain.order_lists import OrderList
from quantdesk.domain.order_state import OrderState, OrderStatus
from quantdesk.domain.order_types import OrderType, TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import USD, Currency, Money, to_non_negative, to_positive
from quantdesk.errors import ValidationError

__all__ = [
    "Broker",
    "BrokerReport",
    "ConnectionReport",
    "ConnectionState",
    "FillReport",
    "OrderStatusReport",
    "PositionReport",
    "ReportListener",
    "Subscription",
    "WhatIfReport",
]


class ConnectionState(Enum):
    """Where a broker connection is; a supervisor moves it through RECONNECTING after a drop."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderStatusReport:
    """The broker's view of one order; ``client_order_id`` is None for orders placed outside quantdesk."""

    broker_order_id: BrokerOrderId
    client_order_id: ClientOrderId | None
    account: AccountId | None
    instrument_id: InstrumentId
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    filled_quantity: Decimal
    status: OrderStatus
    ts: datetime
    avg_fill_price: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    tif: TimeInForce = TimeInForce.DAY
    reason: str | None = None
    error_code: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", require_utc(self.ts))
        object.__setattr__(self, "quantity", to_positive(self.quantity, "quantity"))
        object.__setattr__(self, "filled_quantity", to_non_negative(self.filled_quantity, "filled_quantity"))
        if self.filled_quantity > self.quantity:
            raise ValidationError(
                f"filled {self.filled_quantity} exceeds the order quantity {self.quantity}",
                field="filled_quantity",
                value=self.filled_quantity,
                hint="the broker report is inconsistent; reconcile from executions",
            )

    @classmethod
    def of(
        cls,
        order: Order,
        state: OrderState,
        broker_order_id: BrokerOrderId,
        *,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        reason: str | None = None,
        error_code: int | None = None,
    ) -> OrderStatusReport:
        """The report of ``order`` in ``state``; prices default to the order's (pass the ones in force now)."""
        return cls(
            broker_order_id=broker_order_id,
            client_order_id=order.client_order_id,
            account=order.account,
            instrument_id=order.instrument.id,
            side=order.side,
            order_type=order.order_type,
            quantity=state.quantity,
            filled_quantity=state.filled_quantity,
            status=state.status,
            ts=state.updated_at,
            avg_fill_price=state.avg_fill_price,
            limit_price=order.limit_price if limit_price is None else limit_price,
            stop_price=order.stop_price if stop_price is None else stop_price,
            tif=order.tif,
            reason=reason,
            error_code=error_code,
        )

    @property
    def remaining(self) -> Decimal:
        """Quantity still working (zero once the order is terminal)."""
        return Decimal(0) if self.status.is_terminal else self.quantity - self.filled_quantity


@dataclass(frozen=True, slots=True, kw_only=True)
class FillReport:
    """One execution as the broker reports it; ``commission`` is None until the broker's commission report arrives."""

    execution_id: ExecutionId
    broker_order_id: BrokerOrderId
    client_order_id: ClientOrderId | None
    account: AccountId | None
    instrument_id: InstrumentId
    side: OrderSide
    quantity: Decimal
    price: Decimal
    ts: datetime
    currency: Currency = USD
    commission: Money | None = None
    multiplier: Decimal = Decimal(1)
    liquidity: Liquidity | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", require_utc(self.ts))
        object.__setattr__(self, "quantity", to_positive(self.quantity, "quantity"))
        object.__setattr__(self, "price", to_positive(self.price, "price"))
        object.__setattr__(self, "multiplier", to_positive(self.multiplier, "multiplier"))

    def to_fill(self, client_order_id: ClientOrderId) -> Fill:
        """The domain fill, attributed to ``client_order_id`` (ours, or the one reconciliation adopted it under)."""
        return Fill.of(
            execution_id=self.execution_id,
            client_order_id=client_order_id,
            instrument_id=self.instrument_id,
            side=self.side,
            quantity=self.quantity,
            price=self.price,
            ts=self.ts,
            currency=self.currency,
            commission=self.commission if self.commission is not None else 0,
            multiplier=self.multiplier,
            account=self.account,
            liquidity=self.liquidity,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionReport:
    """The broker's position in one instrument for one account; ``average_cost`` is per unit, without multiplier.

    ``currency`` is the instrument's (what its prices are in), None when the broker could not say.
    """

    account: AccountId
    instrument_id: InstrumentId
    quantity: Decimal
    average_cost: Decimal
    ts: datetime
    multiplier: Decimal = Decimal(1)
    market_price: Decimal | None = None
    currency: Currency | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", require_utc(self.ts))


@dataclass(frozen=True, slots=True, kw_only=True)
class WhatIfReport:
    """A preview of an order's effect: margin changes and commission, without placing it."""

    init_margin_change: Decimal
    maint_margin_change: Decimal
    equity_with_loan_after: Decimal | None
    commission: Money | None
    warning: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionReport:
    """A change of connection state, with the broker's code (IB 1100/1101/1102…) when there is one."""

    state: ConnectionState
    ts: datetime
    code: int | None = None
    message: str = ""
    data_lost: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", require_utc(self.ts))


BrokerReport: TypeAlias = OrderStatusReport | FillReport | PositionReport | ConnectionReport
ReportListener: TypeAlias = Callable[[BrokerReport], None]


class Subscription(Protocol):
    """A live market-data subscription; cancel it to release the data line."""

    @property
    def instrument(self) -> Instrument:
        """What is subscribed."""
        ...

    async def cancel(self) -> None:
        """Stop the stream and release the line; calling it twice is harmless."""
        ...


@runtime_checkable
class Broker(Protocol):
    """What every broker adapter implements; all I/O is async and runs on the caller's event loop."""

    @property
    def capabilities(self) -> BrokerCapabilities:
        """What this venue supports: order types, TIFs, order lists, what-if, fractional quantities…"""
        ...

    @property
    def is_connected(self) -> bool:
        """True while requests can be sent."""
        ...

    async def connect(self) -> None:
        """Connect and synchronise accounts, positions, open orders; raise ``ConnectionLost`` with the fix."""
        ...

    async def disconnect(self) -> None:
        """Close the connection; working orders stay at the broker."""
        ...

    def add_listener(self, listener: ReportListener) -> Callable[[], None]:
        """Receive every report as it arrives; returns a function that removes the listener."""
        ...

    async def managed_accounts(self) -> list[AccountId]:
        """The accounts this login may trade."""
        ...

    async def account_summary(self, account: AccountId | None = None) -> AccountSnapshot:
        """Net liquidation, cash per currency, buying power and margin of one account (the default one if None)."""
        ...

    async def positions(self, account: AccountId | None = None) -> list[PositionReport]:
        """Current positions, of one account or of all when None."""
        ...

    async def quote(self, instrument: Instrument) -> Quote:
        """A snapshot of the best bid and ask."""
        ...

    async def subscribe_quotes(
        self, instrument: Instrument, on_quote: Callable[[Quote], None], on_trade: Callable[[TradeTick], None] | None
    ) -> Subscription:
        """Stream quotes (and trades when ``on_trade`` is given) until the subscription is cancelled."""
        ...

    async def historical_bars(
        self,
        instrument: Instrument,
        bar_size: BarSize,
        start: datetime,
        end: datetime,
        *,
        what_to_show: str = "TRADES",
        regular_hours_only: bool = True,
    ) -> list[Bar]:
        """Bars whose start lies in ``[start, end)``, oldest first."""
        ...

    async def place_order(self, order: Order) -> OrderStatusReport:
        """Send one order; returns the broker's first acknowledgement."""
        ...

    async def place_order_list(self, order_list: OrderList) -> list[OrderStatusReport]:
        """Send a bracket, OCA group or OTO as one unit, in ``order_list.orders`` order."""
        ...

    async def modify_order(
        self,
        client_order_id: ClientOrderId,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> OrderStatusReport:
        """Change a working order's quantity or prices, keeping what has filled."""
        ...

    async def cancel_order(self, client_order_id: ClientOrderId) -> None:
        """Request a cancel; the outcome arrives as a report (a fill may still win the race)."""
        ...

    async def cancel_all_orders(self) -> None:
        """Cancel every working order of this login (IB's global cancel)."""
        ...

    async def order_status(self, client_order_id: ClientOrderId) -> OrderStatusReport:
        """The broker's current view of one of our orders; ``NotFound`` if it never reached the broker."""
        ...

    async def open_orders(self) -> list[OrderStatusReport]:
        """Every working order, including ones placed outside quantdesk where the venue shows them."""
        ...

    async def completed_orders(self) -> list[OrderStatusReport]:
        """Orders that ended (filled, cancelled, rejected, expired) as far as the venue remembers (reconciliation)."""
        ...

    async def executions(self, since: datetime | None = None) -> list[FillReport]:
        """Executions since ``since`` (the venue's whole memory when None), for reconciliation."""
        ...

    async def server_time(self) -> datetime:
        """The venue's clock (UTC): market hours are judged by it, not by the local clock."""
        ...

    async def what_if(self, order: Order) -> WhatIfReport:
        """Margin and commission the order would cause, without placing it."""
        ...


def order_status_reports_by_perm_id(reports: Sequence[OrderStatusReport]) -> dict[int, OrderStatusReport]:
    """Index reports by IB ``permId`` (0 = not yet known is skipped), the key reconciliation matches on."""
    return {r.broker_order_id.perm_id: r for r in reports if r.broker_order_id.perm_id}
