"""The venue's one Decimal ledger: cash per currency, positions, valuation and the accounts with their rules.

**Cash and positions.** Every fill moves ``quantity × price × multiplier`` of the instrument's currency out of
(buy) or into (sell) the account's cash, and its commission out of the commission's currency; the position is
the domain ``Position`` with every fill applied (weighted average cost, realised P&L, commissions). Every asset
class is booked this way, futures included: net liquidation and margin come out right, but the cash balance of a
futures account shows the notional rather than the variation margin IB would settle each day.

**Valuation** is in the base currency. A position is marked at the last price known for its instrument, or at
its average cost when there is none. Other currencies convert at ``FxRates`` (base units per unit of the
currency); a currency without a rate raises ``DataError`` naming it. Margin comes from
:mod:`quantdesk.execution.margin`.

**Pre-trade check** (``Accounts.check``): the order is valued as if it filled completely at its reference price
(the highest of the instrument's last price, the order's limit and its stop: conservative for the margin of either
side) with its estimated commission, and ``MarginCheck.decide`` rules on it. Working orders are not reserved: each
order is checked against the positions held when it is placed, as IB's what-if reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from quantdesk.domain.accounts import AccountSnapshot
from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import AccountId, InstrumentId
from quantdesk.domain.instruments import Instrument
from quantdesk.domain.orders import Order
from quantdesk.domain.positions import Position
from quantdesk.domain.values import ZERO, Currency, Money, Numeric, to_decimal, to_positive
from quantdesk.errors import DataError, NotFound, ValidationError
from quantdesk.execution.fees import FeeModel
from quantdesk.execution.margin import Exposure, MarginCheck, MarginPolicy, Valuation, value_exposures

__all__ = ["Accounts", "FxRates", "Ledger", "PriceOf", "Trade", "reference_price"]

_ONE = Decimal(1)

PriceOf = Callable[[InstrumentId], Decimal | None]
"""The last known price of an instrument (None when there is none)."""


def reference_price(last: Decimal | None, order: Order) -> Decimal | None:
    """The price an order is valued at before it fills: the highest of the last price, its limit and its stop."""
    prices = [p for p in (last, order.limit_price, order.stop_price) if p is not None]
    return max(prices) if prices else None


class FxRates:
    """Conversion rates into the base currency: ``rate(c)`` base units buy one unit of ``c``."""

    def __init__(self, base: Currency, rates: Mapping[Currency | str, Numeric] | None = None) -> None:
        self.base = base
        self._rates: dict[Currency, Decimal] = {base: _ONE}
        for code, rate in (rates or {}).items():
            self.set(Currency.of(code), rate)

    def set(self, currency: Currency | str, rate: Numeric) -> None:
        """Set the rate of ``currency`` (base units per unit); the base currency stays 1."""
        ccy = Currency.of(currency)
        value = to_positive(rate, f"fx_rates[{ccy.code}]")
        if ccy == self.base and value != _ONE:
            raise ValidationError(
                f"the base currency {ccy} converts at 1, got {value}",
                field=f"fx_rates[{ccy.code}]",
                value=value,
                hint="drop the base currency from fx_rates",
            )
        self._rates[ccy] = value

    def known(self) -> dict[Currency, Decimal]:
        """Every rate set so far, the base's included."""
        return dict(self._rates)

    def to_base(self, amount: Decimal, currency: Currency) -> Decimal:
        """``amount`` of ``currency`` in the base currency; ``DataError`` when no rate is known."""
        rate = self._rates.get(currency)
        if rate is None:
            raise DataError(
                f"no exchange rate from {currency} to {self.base}",
                field="fx_rates",
                value=currency.code,
                hint=f"pass fx_rates={{'{currency.code}': <{self.base} per {currency}>}} or call set_fx_rate",
            )
        return amount * rate


@dataclass(frozen=True, slots=True)
class Trade:
    """A hypothetical complete fill, for the pre-trade check and what-if."""

    instrument: Instrument
    signed_quantity: Decimal
    price: Decimal
    commission: Money


@dataclass(slots=True)
class Ledger:
    """One account: cash per currency, positions and the instruments they are in."""

    account: AccountId
    base: Currency
    cash: dict[Currency, Decimal]
    positions: dict[InstrumentId, Position] = field(default_factory=dict)
    instruments: dict[InstrumentId, Instrument] = field(default_factory=dict)

    def quantity(self, instrument_id: InstrumentId) -> Decimal:
        """The signed quantity held (zero when none)."""
        position = self.positions.get(instrument_id)
        return ZERO if position is None else position.quantity

    def apply(self, fill: Fill, instrument: Instrument | None = None) -> Position:
        """Book ``fill``: cash moves by its value and commission, the position takes the fill."""
        if instrument is not None:
            self.instruments[instrument.id] = instrument
        self.cash[fill.currency] = self.cash.get(fill.currency, ZERO) - fill.side.sign * fill.notional
        fee = fill.commission
        self.cash[fee.currency] = self.cash.get(fee.currency, ZERO) - fee.amount
        position = self.positions.get(fill.instrument_id) or Position.flat(
            fill.instrument_id, fill.currency, fill.multiplier
        )
        position = position.apply(fill)
        self.positions[fill.instrument_id] = position
        return position

    def value(self, policy: MarginPolicy, price_of: PriceOf, fx: FxRates, trade: Trade | None = None) -> Valuation:
        """The account's figures now, or as they would be after ``trade`` (valued at the trade's price)."""
        cash = dict(self.cash)
        held = {iid: (p.quantity, self.instruments[iid]) for iid, p in self.positions.items() if not p.is_flat}
        prices: dict[InstrumentId, Decimal] = {}
        if trade is not None:
            inst = trade.instrument
            cash[inst.currency] = cash.get(inst.currency, ZERO) - trade.signed_quantity * trade.price * inst.multiplier
            fee = trade.commission
            cash[fee.currency] = cash.get(fee.currency, ZERO) - fee.amount
            quantity = held[inst.id][0] if inst.id in held else ZERO
            held[inst.id] = (quantity + trade.signed_quantity, inst)
            prices[inst.id] = trade.price
        total_cash = sum((fx.to_base(amount, ccy) for ccy, amount in cash.items()), ZERO)
        exposures = []
        for iid, (quantity, inst) in held.items():
            price = prices.get(iid) or price_of(iid) or self.positions[iid].average_cost
            exposures.append(Exposure(fx.to_base(quantity * price * inst.multiplier, inst.currency), inst.asset_class))
        return value_exposures(total_cash, exposures, policy)

    def snapshot(self, ts: datetime, policy: MarginPolicy, price_of: PriceOf, fx: FxRates) -> AccountSnapshot:
        """The ``AccountSnapshot`` of this account at ``ts``."""
        v = self.value(policy, price_of, fx)
        return AccountSnapshot.of(
            self.account,
            ts,
            v.net_liquidation,
            base_currency=self.base,
            cash=dict(self.cash),
            buying_power=policy.buying_power(v),
            initial_margin=v.initial_margin,
            maintenance_margin=v.maintenance_margin,
            excess_liquidity=v.excess_liquidity(),
            gross_position_value=v.gross_position_value,
            exchange_rates=fx.known(),
        )

    def assess(
        self, trade: Trade, policy: MarginPolicy, price_of: PriceOf, fx: FxRates, *, short_selling: bool
    ) -> MarginCheck:
        """Value this account before and after ``trade`` and decide (``MarginCheck.decide``)."""
        return MarginCheck.decide(
            self.value(policy, price_of, fx),
            self.value(policy, price_of, fx, trade),
            trade.commission,
            held=self.quantity(trade.instrument.id),
            signed_quantity=trade.signed_quantity,
            short_selling=short_selling,
            account=str(self.account),
            base=str(self.base),
            label=str(trade.instrument),
        )


class Accounts:
    """Every account of the venue with the rules they share: margin policy, FX rates and fees."""

    def __init__(
        self,
        cash: Mapping[AccountId | str, Numeric],
        base: Currency,
        policy: MarginPolicy,
        fx: FxRates,
        fees: FeeModel,
        *,
        short_selling: bool,
    ) -> None:
        if not cash:
            raise ValidationError("at least one account is needed", field="accounts", hint="pass {'DU1234567': 1e6}")
        self.ledgers: dict[AccountId, Ledger] = {}
        for key, amount in cash.items():
            account = key if isinstance(key, AccountId) else AccountId(key)
            self.ledgers[account] = Ledger(account, base, {base: to_decimal(amount, f"accounts[{account}]")})
        self.base = base
        self.policy, self.fx, self.fees = policy, fx, fees
        self.short_selling = short_selling and policy.short_selling

    def __contains__(self, account: object) -> bool:
        return account in self.ledgers

    @property
    def default(self) -> AccountId:
        """The first account: orders without an account go there."""
        return next(iter(self.ledgers))

    def ledger(self, account: AccountId | None) -> Ledger:
        """One account's ledger (the first when None); ``NotFound`` for an unknown id."""
        ledger = self.ledgers.get(self.default if account is None else account)
        if ledger is None:
            raise NotFound(
                f"unknown account {account}",
                field="account",
                value=str(account),
                hint="use one of " + ", ".join(a.value for a in self.ledgers),
            )
        return ledger

    def snapshot(self, account: AccountId | None, ts: datetime, price_of: PriceOf) -> AccountSnapshot:
        """The ``AccountSnapshot`` of one account."""
        return self.ledger(account).snapshot(ts, self.policy, price_of, self.fx)

    def check(self, order: Order, price_of: PriceOf, quantity: Decimal | None = None) -> MarginCheck | str:
        """The effect of ``order`` (or ``quantity`` of it) filling completely, or why it cannot be assessed."""
        ledger = self.ledger(order.account)
        inst = order.instrument
        price = reference_price(price_of(inst.id), order)
        if price is None:
            return f"no market price for {inst} yet: the simulated broker needs a bar, quote or trade of it first"
        qty = order.quantity if quantity is None else quantity
        try:
            commission = self.fees.commission(inst, order.side, qty, price)
            trade = Trade(inst, qty * order.side.sign, price, commission)
            return ledger.assess(trade, self.policy, price_of, self.fx, short_selling=self.short_selling)
        except (ValidationError, DataError) as exc:
            return str(exc)
