"""The simulated broker's accounts: cash per currency, positions, valuation, margin and the pre-trade check.

**Cash and positions.** Every fill moves ``quantity × price × multiplier`` of the instrument's currency out of
(buy) or into (sell) the account's cash, and its commission out of the commission's currency; the position is
the domain ``Position`` with every fill applied (weighted average cost, realised P&L, commissions). Every asset
class is booked this way, futures included: net liquidation and margin come out right, but the cash balance of a
futures account shows the notional rather than the variation margin IB would settle each day.

**Valuation** is in the base currency. A position is marked at the last price fed for its instrument (a bar's
close, a quote's midpoint, a trade's price), or at its average cost when no price has been fed yet. Other
currencies convert at ``FxRates`` (base units per unit of the currency); a currency without a rate raises
``DataError`` naming it.

**Margin** (``MarginPolicy``): initial and maintenance requirements are rates of each position's absolute market
value, per asset class. ``MarginPolicy.reg_t()`` is Reg-T-like and uses the gateway simulator's rates (stocks
50 %/25 %, options 100 %, futures 6 %/5 %, forex 3 %/2.5 %, everything else 50 %/25 %); shorts are allowed.
``MarginPolicy.cash_account()`` requires 100 % of every long position and refuses short sales, so an account can
spend only the cash it has. From these:

* equity with loan value = net liquidation = cash + Σ market values;
* available funds = net liquidation − initial margin; excess liquidity = net liquidation − maintenance margin;
* buying power = max(available funds, 0) ÷ the stock initial rate (2 × available funds under Reg-T, the
  overnight figure; 1 × under a cash account).

**Pre-trade check** (``MarginCheck``): the order is valued as if it filled completely at its reference price (the
highest of the instrument's last price, the order's limit and its stop: conservative for the margin of either
side) with its estimated commission. It is refused when the initial margin afterwards would exceed the equity
afterwards *and* the order raises the initial margin (an order that reduces risk always passes), and when it
would open or extend a short position in an account that may not sell short. Working orders are not reserved:
each order is checked against the positions held when it is placed, as IB's what-if reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

from quantdesk.domain.accounts import AccountSnapshot
from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import AccountId, InstrumentId
from quantdesk.domain.instrument_codes import AssetClass
from quantdesk.domain.instruments import Instrument
from quantdesk.domain.orders import Order
from quantdesk.domain.positions import Position
from quantdesk.domain.values import ZERO, Currency, Money, Numeric, to_decimal, to_positive
from quantdesk.errors import DataError, NotFound, ValidationError
from quantdesk.execution.fees import FeeModel

__all__ = ["REG_T_RATES", "Accounts", "FxRates", "Ledger", "MarginCheck", "MarginPolicy", "Trade", "Valuation"]

_ONE = Decimal(1)
_HALF = Decimal("0.5")
_QUARTER = Decimal("0.25")

REG_T_RATES: Mapping[AssetClass, tuple[Decimal, Decimal]] = MappingProxyType(
    {
        AssetClass.STOCK: (_HALF, _QUARTER),
        AssetClass.OPTION: (_ONE, _ONE),
        AssetClass.FUTURE: (Decimal("0.06"), Decimal("0.05")),
        AssetClass.FOREX: (Decimal("0.03"), Decimal("0.025")),
    }
)
"""(initial, maintenance) margin as a share of absolute market value, per asset class; the gateway's rates."""


@dataclass(frozen=True, slots=True)
class MarginPolicy:
    """How much margin positions need and whether the account may sell short (see the module docstring)."""

    name: str = "reg_t"
    rates: Mapping[AssetClass, tuple[Decimal, Decimal]] = field(default_factory=lambda: REG_T_RATES, hash=False)
    default_rates: tuple[Decimal, Decimal] = (_HALF, _QUARTER)
    short_selling: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "rates", MappingProxyType(dict(self.rates)))
        for kind, (initial, maintenance) in (*self.rates.items(), (None, self.default_rates)):
            where = "default_rates" if kind is None else f"rates[{kind.value}]"
            if not (0 < maintenance <= initial <= 1):
                raise ValidationError(
                    f"needs 0 < maintenance <= initial <= 1, got ({initial}, {maintenance})",
                    field=where,
                    value=(initial, maintenance),
                    hint="pass (initial, maintenance) shares such as (0.5, 0.25)",
                )

    @classmethod
    def reg_t(cls) -> MarginPolicy:
        """Reg-T-like margin: stocks 50 % initial and 25 % maintenance, shorts allowed."""
        return cls()

    @classmethod
    def cash_account(cls) -> MarginPolicy:
        """A cash account: 100 % of every position, no short sales, buying power = cash."""
        return cls("cash", {}, (_ONE, _ONE), short_selling=False)

    def rates_for(self, asset_class: AssetClass) -> tuple[Decimal, Decimal]:
        """(initial, maintenance) rates of ``asset_class``."""
        return self.rates.get(asset_class, self.default_rates)

    @property
    def leverage(self) -> Decimal:
        """Buying power per unit of available funds: 1 / the stock initial rate."""
        return _ONE / self.rates_for(AssetClass.STOCK)[0]


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
class Valuation:
    """An account's figures in the base currency."""

    cash: Decimal
    net_liquidation: Decimal
    gross_position_value: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal


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

    def apply(self, fill: Fill, instrument: Instrument) -> Position:
        """Book ``fill``: cash moves by its value and commission, the position takes the fill."""
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

    def value(
        self,
        policy: MarginPolicy,
        price_of: Callable[[InstrumentId], Decimal | None],
        fx: FxRates,
        trade: Trade | None = None,
    ) -> Valuation:
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
        net = gross = initial = maintenance = ZERO
        for iid, (quantity, inst) in held.items():
            price = prices.get(iid) or price_of(iid) or self.positions[iid].average_cost
            value = fx.to_base(quantity * price * inst.multiplier, inst.currency)
            rate_initial, rate_maintenance = policy.rates_for(inst.asset_class)
            net += value
            gross += abs(value)
            initial += abs(value) * rate_initial
            maintenance += abs(value) * rate_maintenance
        return Valuation(total_cash, total_cash + net, gross, initial, maintenance)

    def snapshot(
        self,
        ts: datetime,
        policy: MarginPolicy,
        price_of: Callable[[InstrumentId], Decimal | None],
        fx: FxRates,
    ) -> AccountSnapshot:
        """The ``AccountSnapshot`` of this account at ``ts``."""
        v = self.value(policy, price_of, fx)
        available = v.net_liquidation - v.initial_margin
        return AccountSnapshot.of(
            self.account,
            ts,
            v.net_liquidation,
            base_currency=self.base,
            cash=dict(self.cash),
            buying_power=max(available, ZERO) * policy.leverage,
            initial_margin=v.initial_margin,
            maintenance_margin=v.maintenance_margin,
            excess_liquidity=v.net_liquidation - v.maintenance_margin,
            gross_position_value=v.gross_position_value,
            exchange_rates=fx.known(),
        )


@dataclass(frozen=True, slots=True)
class MarginCheck:
    """The effect of a complete fill of an order on an account, and the reason to refuse it (None: it passes)."""

    before: Valuation
    after: Valuation
    commission: Money
    refusal: str | None

    @classmethod
    def of(
        cls,
        ledger: Ledger,
        trade: Trade,
        policy: MarginPolicy,
        price_of: Callable[[InstrumentId], Decimal | None],
        fx: FxRates,
        *,
        short_selling: bool,
    ) -> MarginCheck:
        """Value ``ledger`` before and after ``trade`` and decide (rules in the module docstring)."""
        before = ledger.value(policy, price_of, fx)
        after = ledger.value(policy, price_of, fx, trade)
        held = ledger.quantity(trade.instrument.id)
        refusal = None
        new_quantity = held + trade.signed_quantity
        if trade.signed_quantity < 0 and new_quantity < 0 and not short_selling:
            refusal = (
                f"short selling is not allowed in account {ledger.account}: selling {-trade.signed_quantity} "
                f"{trade.instrument} with {held} held would leave {new_quantity}"
            )
        elif after.initial_margin > after.net_liquidation and after.initial_margin > before.initial_margin:
            refusal = (
                f"insufficient buying power in account {ledger.account}: the equity with loan value of "
                f"{after.net_liquidation:.2f} {ledger.base} after the order would not cover its initial margin "
                f"requirement of {after.initial_margin:.2f} {ledger.base}"
            )
        return cls(before, after, trade.commission, refusal)


class Accounts:
    """Every account of the simulated broker with the rules they share: margin policy, FX rates and fees."""

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

    def snapshot(
        self, account: AccountId | None, ts: datetime, price_of: Callable[[InstrumentId], Decimal | None]
    ) -> AccountSnapshot:
        """The ``AccountSnapshot`` of one account."""
        return self.ledger(account).snapshot(ts, self.policy, price_of, self.fx)

    def check(
        self, order: Order, price_of: Callable[[InstrumentId], Decimal | None], quantity: Decimal | None = None
    ) -> MarginCheck | str:
        """The effect of ``order`` (or ``quantity`` of it) filling completely, or why it cannot be assessed.

        The reference price is the highest of the last price, the limit and the stop (module docstring).
        """
        ledger = self.ledger(order.account)
        inst = order.instrument
        prices = [p for p in (price_of(inst.id), order.limit_price, order.stop_price) if p is not None]
        if not prices:
            return f"no market price for {inst} yet: the simulated broker needs a bar, quote or trade of it first"
        price, qty = max(prices), order.quantity if quantity is None else quantity
        try:
            commission = self.fees.commission(inst, order.side, qty, price)
            trade = Trade(inst, qty * order.side.sign, price, commission)
            return MarginCheck.of(ledger, trade, self.policy, price_of, self.fx, short_selling=self.short_selling)
        except (ValidationError, DataError) as exc:
            return str(exc)
