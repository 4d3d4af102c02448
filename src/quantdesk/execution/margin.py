"""The venue's one margin policy: one table of rates, the valuation figures and the pre-trade decision.

Initial and maintenance requirements are rates of each position's absolute market value, per asset class.
``MarginPolicy.reg_t()`` is Reg-T-like (stocks 50 %/25 %, options 100 %, futures 6 %/5 %, forex 3 %/2.5 %,
everything else 50 %/25 %; shorts allowed); ``MarginPolicy.cash_account()`` requires 100 % of every position and
refuses short sales. From a position list valued in the base currency:

* equity with loan value = net liquidation = cash + Σ market values;
* available funds = net liquidation − initial margin; excess liquidity = net liquidation − maintenance margin;
* buying power = max(available funds, 0) × ``day_trading_leverage`` (4 under Reg-T, 1 for a cash account), the
  figure IB's ``BuyingPower`` tag reports, so the simulated broker's ``AccountSnapshot`` and the IB adapter's over
  the gateway carry the same number (``leverage``, 1 ÷ the stock initial rate, is the overnight multiple).

The pre-trade decision (``MarginCheck.decide``) compares the account before and after a complete fill of the order:
it is refused when it would open or extend a short position in an account that may not sell short, and when the
initial margin afterwards would exceed the equity afterwards *and* the order raises the initial margin (an order
that reduces risk always passes). The simulated broker and the gateway both decide through it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from quantdesk.domain.instrument_codes import AssetClass
from quantdesk.domain.values import ZERO, Money
from quantdesk.errors import ValidationError

__all__ = ["REG_T_RATES", "Exposure", "MarginCheck", "MarginPolicy", "Valuation", "value_exposures"]

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
"""(initial, maintenance) margin as a share of absolute market value, per asset class: the one table of rates."""


@dataclass(frozen=True, slots=True)
class MarginPolicy:
    """How much margin positions need and whether the account may sell short (see the module docstring)."""

    name: str = "reg_t"
    rates: Mapping[AssetClass, tuple[Decimal, Decimal]] = field(default_factory=lambda: REG_T_RATES, hash=False)
    default_rates: tuple[Decimal, Decimal] = (_HALF, _QUARTER)
    short_selling: bool = True
    day_trading_leverage: Decimal = Decimal(4)

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
        return cls("cash", {}, (_ONE, _ONE), short_selling=False, day_trading_leverage=_ONE)

    def rates_for(self, asset_class: AssetClass | str) -> tuple[Decimal, Decimal]:
        """(initial, maintenance) rates of ``asset_class`` (an ``AssetClass`` or IB's secType string)."""
        if isinstance(asset_class, str):
            try:
                asset_class = AssetClass(asset_class)
            except ValueError:
                return self.default_rates
        return self.rates.get(asset_class, self.default_rates)

    @property
    def leverage(self) -> Decimal:
        """The overnight multiple of available funds: 1 / the stock initial rate."""
        return _ONE / self.rates_for(AssetClass.STOCK)[0]

    def buying_power(self, valuation: Valuation) -> Decimal:
        """IB's ``BuyingPower``: max(available funds, 0) × ``day_trading_leverage``."""
        return max(valuation.available_funds(), ZERO) * self.day_trading_leverage


@dataclass(frozen=True, slots=True)
class Exposure:
    """One position's signed market value in the base currency and its asset class, for valuation."""

    value: Decimal
    asset_class: AssetClass | str


@dataclass(frozen=True, slots=True)
class Valuation:
    """An account's figures in the base currency."""

    cash: Decimal
    net_liquidation: Decimal
    gross_position_value: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal

    def available_funds(self) -> Decimal:
        """Net liquidation − initial margin."""
        return self.net_liquidation - self.initial_margin

    def excess_liquidity(self) -> Decimal:
        """Net liquidation − maintenance margin."""
        return self.net_liquidation - self.maintenance_margin


def value_exposures(cash: Decimal, exposures: Iterable[Exposure], policy: MarginPolicy) -> Valuation:
    """The figures of an account holding ``cash`` (base currency) and ``exposures`` under ``policy``."""
    net = gross = initial = maintenance = ZERO
    for exposure in exposures:
        rate_initial, rate_maintenance = policy.rates_for(exposure.asset_class)
        size = abs(exposure.value)
        net += exposure.value
        gross += size
        initial += size * rate_initial
        maintenance += size * rate_maintenance
    return Valuation(cash, cash + net, gross, initial, maintenance)


@dataclass(frozen=True, slots=True)
class MarginCheck:
    """The effect of a complete fill of an order on an account, and the reason to refuse it (None: it passes).

    ``refusal_kind`` is ``"short"`` or ``"margin"`` when refused, so each adapter can word the refusal its way.
    """

    before: Valuation
    after: Valuation
    commission: Money
    refusal: str | None
    refusal_kind: str | None = None

    @classmethod
    def decide(
        cls,
        before: Valuation,
        after: Valuation,
        commission: Money,
        *,
        held: Decimal,
        signed_quantity: Decimal,
        short_selling: bool,
        account: str,
        base: str,
        label: str,
    ) -> MarginCheck:
        """Decide on an order of ``signed_quantity`` of ``label`` with ``held`` held (rules in the module docstring)."""
        new_quantity = held + signed_quantity
        if signed_quantity < 0 and new_quantity < 0 and not short_selling:
            reason = (
                f"short selling is not allowed in account {account}: selling {-signed_quantity} "
                f"{label} with {held} held would leave {new_quantity}"
            )
            return cls(before, after, commission, reason, "short")
        if after.initial_margin > after.net_liquidation and after.initial_margin > before.initial_margin:
            reason = (
                f"insufficient buying power in account {account}: the equity with loan value of "
                f"{after.net_liquidation:.2f} {base} after the order would not cover its initial margin "
                f"requirement of {after.initial_margin:.2f} {base}"
            )
            return cls(before, after, commission, reason, "margin")
        return cls(before, after, commission, None)

    @property
    def init_change(self) -> Decimal:
        """The change of the initial margin."""
        return self.after.initial_margin - self.before.initial_margin

    @property
    def maint_change(self) -> Decimal:
        """The change of the maintenance margin."""
        return self.after.maintenance_margin - self.before.maintenance_margin

    @property
    def equity_change(self) -> Decimal:
        """The change of the equity with loan value (the commission, at the reference price)."""
        return self.after.net_liquidation - self.before.net_liquidation
