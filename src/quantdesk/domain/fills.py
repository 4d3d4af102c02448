"""Executions: a ``Fill`` per broker execution and the ``CommissionReport`` IB sends for it later.

IB reports an execution (``execDetails``) first and its commission (``commissionReport``, keyed by ``execId``)
afterwards, so a fill starts with a zero commission and ``Fill.with_commission`` returns the completed copy.
Positive commission is a cost; a rebate is a negative amount.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import Enum

from quantdesk.domain.identifiers import AccountId, ClientOrderId, ExecutionId, InstrumentId
from quantdesk.domain.market import require_utc
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import USD, ZERO, Currency, Money, Numeric, to_decimal, to_positive
from quantdesk.errors import ValidationError

__all__ = ["CommissionReport", "Fill", "Liquidity"]


class Liquidity(Enum):
    """Whether an execution added or removed liquidity; values are IB's ``lastLiquidity`` codes."""

    ADDED = 1
    REMOVED = 2
    ROUTED_OUT = 3


_NO_COMMISSION = Money(ZERO, USD)


@dataclass(frozen=True, slots=True)
class CommissionReport:
    """The commission (and IB's realised P&L, when it sends one) for one execution, matched by ``execution_id``."""

    execution_id: ExecutionId
    commission: Money
    realised_pnl: Decimal | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.execution_id, ExecutionId):
            raise ValidationError(
                f"must be an ExecutionId, got {self.execution_id!r}",
                field="execution_id",
                value=self.execution_id,
                hint="wrap IB's execId in ExecutionId(...)",
            )
        if not isinstance(self.commission, Money):
            raise ValidationError(
                f"must be Money, got {self.commission!r}",
                field="commission",
                value=self.commission,
                hint="pass Money.of(amount, currency)",
            )
        if self.realised_pnl is not None:
            object.__setattr__(self, "realised_pnl", to_decimal(self.realised_pnl, "realised_pnl"))


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of an order: ``quantity`` (> 0) at ``price`` (> 0) on ``side``, at ``ts`` (UTC).

    ``multiplier`` is the contract multiplier (50 for ES, 100 for equity options); ``currency`` is the
    instrument's trading currency. A zero commission is always expressed in that currency.
    """

    execution_id: ExecutionId
    client_order_id: ClientOrderId
    instrument_id: InstrumentId
    side: OrderSide
    quantity: Decimal
    price: Decimal
    ts: datetime
    currency: Currency = USD
    multiplier: Decimal = Decimal(1)
    commission: Money = _NO_COMMISSION
    account: AccountId | None = None
    liquidity: Liquidity | None = None

    def __post_init__(self) -> None:
        for name, kind in (
            ("execution_id", ExecutionId),
            ("client_order_id", ClientOrderId),
            ("instrument_id", InstrumentId),
            ("side", OrderSide),
        ):
            if not isinstance(getattr(self, name), kind):
                raise ValidationError(
                    f"must be {kind.__name__}, got {getattr(self, name)!r}",
                    field=name,
                    value=getattr(self, name),
                    hint=f"pass a {kind.__name__} (or build the fill with Fill.of)",
                )
        object.__setattr__(self, "quantity", to_positive(self.quantity, "quantity"))
        object.__setattr__(self, "price", to_positive(self.price, "price"))
        object.__setattr__(self, "multiplier", to_positive(self.multiplier, "multiplier"))
        object.__setattr__(self, "ts", require_utc(self.ts))
        object.__setattr__(self, "currency", Currency.of(self.currency))
        if not isinstance(self.commission, Money):
            raise ValidationError(
                f"must be Money, got {self.commission!r}",
                field="commission",
                value=self.commission,
                hint="pass Money.of(amount, currency)",
            )
        if self.commission.amount == 0 and self.commission.currency != self.currency:
            object.__setattr__(self, "commission", Money(ZERO, self.currency))

    @classmethod
    def of(
        cls,
        execution_id: ExecutionId | str,
        client_order_id: ClientOrderId | str,
        instrument_id: InstrumentId | str,
        side: OrderSide | str,
        quantity: Numeric,
        price: Numeric,
        ts: datetime,
        *,
        currency: Currency | str = USD,
        multiplier: Numeric = 1,
        commission: Numeric | Money = 0,
        account: AccountId | str | None = None,
        liquidity: Liquidity | None = None,
    ) -> Fill:
        """Build from plain values (strings for ids and side, any numeric for amounts)."""
        ccy = Currency.of(currency)
        return cls(
            execution_id if isinstance(execution_id, ExecutionId) else ExecutionId(execution_id),
            client_order_id if isinstance(client_order_id, ClientOrderId) else ClientOrderId(client_order_id),
            instrument_id if isinstance(instrument_id, InstrumentId) else InstrumentId(instrument_id),
            side if isinstance(side, OrderSide) else OrderSide.parse(side),
            to_decimal(quantity, "quantity"),
            to_decimal(price, "price"),
            ts,
            ccy,
            to_decimal(multiplier, "multiplier"),
            commission if isinstance(commission, Money) else Money(to_decimal(commission, "commission"), ccy),
            AccountId(account) if isinstance(account, str) else account,
            liquidity,
        )

    @property
    def signed_quantity(self) -> Decimal:
        """Quantity with the side's sign: positive for a buy, negative for a sell."""
        return self.quantity * self.side.sign

    @property
    def notional(self) -> Decimal:
        """Traded value ``quantity × price × multiplier`` (always positive), in ``currency``."""
        return self.quantity * self.price * self.multiplier

    @property
    def signed_notional(self) -> Decimal:
        """Notional with the side's sign: what a buy pays (positive) or a sell receives (negative)."""
        return self.notional * self.side.sign

    def with_commission(self, commission: CommissionReport | Money) -> Fill:
        """A copy carrying ``commission``; a report must name this fill's execution id."""
        if isinstance(commission, CommissionReport):
            if commission.execution_id != self.execution_id:
                raise ValidationError(
                    f"commission report for execution {commission.execution_id} applied to fill {self.execution_id}",
                    field="execution_id",
                    value=commission.execution_id.value,
                    hint="match commission reports to fills by execId",
                )
            commission = commission.commission
        return replace(self, commission=commission)
