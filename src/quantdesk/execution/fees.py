"""Commission models: IB's fixed and tiered schedules for US stocks, flat fees, per-contract fees.

Every model implements ``FeeModel.commission(instrument, side, quantity, price, *, monthly_volume=0) -> Money``
for one *order* (IB's minimums and maximums are per order): ``quantity`` is the order's executed quantity so far
and ``price`` its average price. The matching engine charges each fill the difference between the commission of
the order's cumulative executions and what it already charged, so an order filled in pieces pays what it would
have paid in one piece. ``monthly_volume`` is the number of shares traded earlier in the calendar month (it picks
the tier of the tiered schedule). Trade value is ``quantity × price × multiplier``.

**Rounding.** Every component is computed exactly in ``Decimal``; the total is rounded once, half-up, to cents
(0.01 of the currency). Negative totals (rebates larger than the fees) are allowed.

**IB Fixed, US stocks** (``IbFixed``): USD 0.005 per share, minimum USD 1.00 per order, maximum 1 % of trade
value (the maximum wins over the minimum on tiny orders). Fixed includes exchange and clearing fees; the
regulatory transaction fees are passed through on sales: the SEC fee (``sec_fee_rate`` × value sold, default
0.0000278, i.e. USD 27.80 per million — the SEC resets it each fiscal year) and the FINRA trading activity fee
(USD 0.000166 per share sold, at most USD 8.30 per trade).

**IB Tiered, US stocks** (``IbTiered``): per share by the month's volume so far —

==========================  ==========
shares traded this month    USD/share
==========================  ==========
<= 300,000                  0.0035
300,001 - 3,000,000         0.0020
3,000,001 - 20,000,000      0.0015
20,000,001 - 100,000,000    0.0010
> 100,000,000               0.0005
==========================  ==========

minimum USD 0.35 and maximum 1 % of trade value per order (applied to this commission alone), **plus**
pass-throughs: exchange fee (``exchange_fee_per_share``, default USD 0.0030, a typical fee for removing liquidity;
pass a negative value for a rebate), clearing (NSCC/DTC, USD 0.00020 per share), and on sales the SEC fee and the
FINRA TAF as above. An order's tier is set by ``monthly_volume`` when it starts (the whole order pays one rate).

**Other asset classes.** ``FlatFee`` charges a fixed amount per order and/or basis points of trade value;
``PerContractFee`` charges per contract with a minimum per order (``ib_options()``: USD 0.65 per contract,
minimum USD 1.00; ``ib_futures()``: USD 0.85 per contract). ``ByAssetClass`` picks a model per asset class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from quantdesk.domain.instrument_codes import AssetClass
from quantdesk.domain.instruments import Instrument
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import USD, ZERO, Currency, Money, Numeric, to_decimal, to_non_negative
from quantdesk.errors import ValidationError

__all__ = [
    "IB_TIERS",
    "ByAssetClass",
    "FeeModel",
    "FlatFee",
    "IbFixed",
    "IbTiered",
    "NoFees",
    "PerContractFee",
    "RegulatoryFees",
    "round_cents",
]

CENT = Decimal("0.01")
_HUNDRED = Decimal(100)
_BPS = Decimal(10_000)

IB_TIERS: tuple[tuple[Decimal | None, Decimal], ...] = (
    (Decimal(300_000), Decimal("0.0035")),
    (Decimal(3_000_000), Decimal("0.0020")),
    (Decimal(20_000_000), Decimal("0.0015")),
    (Decimal(100_000_000), Decimal("0.0010")),
    (None, Decimal("0.0005")),
)
"""IB tiered US-stock rates: (last share number of the tier in the month, USD per share); None is unbounded."""


def round_cents(amount: Decimal) -> Decimal:
    """Round half-up to cents (the one rounding every model applies, to its total)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@runtime_checkable
class FeeModel(Protocol):
    """The commission of one order's executions so far."""

    def commission(
        self,
        instrument: Instrument,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal,
        *,
        monthly_volume: Decimal = ZERO,
    ) -> Money:
        """Commission for ``quantity`` at average ``price``; ``monthly_volume`` = shares traded earlier this month."""
        ...


def _value(instrument: Instrument, quantity: Decimal, price: Decimal) -> Decimal:
    return quantity * price * instrument.multiplier


def _require_currency(instrument: Instrument, currency: Currency, model: str) -> None:
    if instrument.currency != currency:
        raise ValidationError(
            f"{model} charges in {currency}, but {instrument} trades in {instrument.currency}",
            field="currency",
            value=instrument.currency.code,
            hint=f"use a fee model in {instrument.currency} (e.g. FlatFee) for this instrument",
        )


@dataclass(frozen=True, slots=True)
class RegulatoryFees:
    """US regulatory pass-throughs on sales: SEC fee on value and FINRA TAF per share (capped per trade)."""

    sec_fee_rate: Decimal = Decimal("0.0000278")
    finra_taf_per_share: Decimal = Decimal("0.000166")
    finra_taf_max: Decimal = Decimal("8.30")

    def on(self, side: OrderSide, quantity: Decimal, value: Decimal) -> Decimal:
        if side is OrderSide.BUY:
            return ZERO
        return value * self.sec_fee_rate + min(quantity * self.finra_taf_per_share, self.finra_taf_max)


@dataclass(frozen=True, slots=True)
class NoFees:
    """Charges nothing (in the instrument's currency)."""

    def commission(
        self,
        instrument: Instrument,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal,
        *,
        monthly_volume: Decimal = ZERO,
    ) -> Money:
        """Zero."""
        return Money(ZERO, instrument.currency)


@dataclass(frozen=True, slots=True)
class IbFixed:
    """IB's fixed schedule for US stocks (numbers in the module docstring)."""

    per_share: Decimal = Decimal("0.005")
    minimum: Decimal = Decimal("1.00")
    max_percent_of_value: Decimal = Decimal("1")
    regulatory: RegulatoryFees = field(default_factory=RegulatoryFees)
    currency: Currency = USD

    def commission(
        self,
        instrument: Instrument,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal,
        *,
        monthly_volume: Decimal = ZERO,
    ) -> Money:
        """min(max(per_share × quantity, minimum), max % of value), plus SEC fee and FINRA TAF on sales."""
        _require_currency(instrument, self.currency, "IbFixed")
        value = _value(instrument, quantity, price)
        base = min(max(quantity * self.per_share, self.minimum), value * self.max_percent_of_value / _HUNDRED)
        return Money(round_cents(base + self.regulatory.on(side, quantity, value)), self.currency)

    @classmethod
    def without_regulatory_fees(cls) -> IbFixed:
        """The fixed schedule with the SEC fee and FINRA TAF set to zero (buys are unaffected either way)."""
        return cls(regulatory=RegulatoryFees(ZERO, ZERO, ZERO))


@dataclass(frozen=True, slots=True)
class IbTiered:
    """IB's tiered schedule for US stocks with its pass-throughs (numbers in the module docstring)."""

    tiers: tuple[tuple[Decimal | None, Decimal], ...] = IB_TIERS
    minimum: Decimal = Decimal("0.35")
    max_percent_of_value: Decimal = Decimal("1")
    exchange_fee_per_share: Decimal = Decimal("0.0030")
    clearing_fee_per_share: Decimal = Decimal("0.00020")
    regulatory: RegulatoryFees = field(default_factory=RegulatoryFees)
    currency: Currency = USD

    def rate(self, monthly_volume: Decimal) -> Decimal:
        """USD per share for an order that starts after ``monthly_volume`` shares this month."""
        next_share = monthly_volume + 1
        for last, rate in self.tiers:
            if last is None or next_share <= last:
                return rate
        return self.tiers[-1][1]

    def commission(
        self,
        instrument: Instrument,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal,
        *,
        monthly_volume: Decimal = ZERO,
    ) -> Money:
        """Tier rate × quantity within [minimum, max % of value], plus exchange, clearing and regulatory fees."""
        _require_currency(instrument, self.currency, "IbTiered")
        value = _value(instrument, quantity, price)
        base = min(
            max(quantity * self.rate(monthly_volume), self.minimum), value * self.max_percent_of_value / _HUNDRED
        )
        passed = quantity * (self.exchange_fee_per_share + self.clearing_fee_per_share)
        return Money(round_cents(base + passed + self.regulatory.on(side, quantity, value)), self.currency)

    @classmethod
    def commission_only(cls) -> IbTiered:
        """Only IB's own tiered commission: no exchange, clearing or regulatory pass-throughs."""
        return cls(
            exchange_fee_per_share=ZERO, clearing_fee_per_share=ZERO, regulatory=RegulatoryFees(ZERO, ZERO, ZERO)
        )


@dataclass(frozen=True, slots=True)
class FlatFee:
    """``per_order`` plus ``bps`` basis points of trade value, at least ``minimum``, in the instrument's currency."""

    per_order: Decimal = ZERO
    bps: Decimal = ZERO
    minimum: Decimal = ZERO

    def __post_init__(self) -> None:
        for name in ("per_order", "bps", "minimum"):
            object.__setattr__(self, name, to_non_negative(getattr(self, name), name))

    @classmethod
    def of(cls, per_order: Numeric = 0, bps: Numeric = 0, minimum: Numeric = 0) -> FlatFee:
        """Build from any numerics."""
        return cls(to_decimal(per_order, "per_order"), to_decimal(bps, "bps"), to_decimal(minimum, "minimum"))

    def commission(
        self,
        instrument: Instrument,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal,
        *,
        monthly_volume: Decimal = ZERO,
    ) -> Money:
        """max(per_order + bps × value / 10,000, minimum)."""
        amount = self.per_order + _value(instrument, quantity, price) * self.bps / _BPS
        return Money(round_cents(max(amount, self.minimum)), instrument.currency)


@dataclass(frozen=True, slots=True)
class PerContractFee:
    """``per_contract`` × contracts, at least ``minimum`` per order, in the instrument's currency."""

    per_contract: Decimal
    minimum: Decimal = ZERO

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_contract", to_non_negative(self.per_contract, "per_contract"))
        object.__setattr__(self, "minimum", to_non_negative(self.minimum, "minimum"))

    @classmethod
    def ib_options(cls) -> PerContractFee:
        """IB US equity options: USD 0.65 per contract, minimum USD 1.00 per order."""
        return cls(Decimal("0.65"), Decimal("1.00"))

    @classmethod
    def ib_futures(cls) -> PerContractFee:
        """IB US futures: USD 0.85 per contract (exchange and regulatory fees not included)."""
        return cls(Decimal("0.85"))

    def commission(
        self,
        instrument: Instrument,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal,
        *,
        monthly_volume: Decimal = ZERO,
    ) -> Money:
        """max(per_contract × quantity, minimum)."""
        return Money(round_cents(max(quantity * self.per_contract, self.minimum)), instrument.currency)


@dataclass(frozen=True, slots=True)
class ByAssetClass:
    """Chooses a model by the instrument's asset class; ``default`` for the classes not listed."""

    models: Mapping[AssetClass, FeeModel]
    default: FeeModel = field(default_factory=NoFees)

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", MappingProxyType(dict(self.models)))

    @classmethod
    def ib(cls) -> ByAssetClass:
        """IB tiered for stocks, per-contract for options and futures, nothing for the rest."""
        return cls(
            {
                AssetClass.STOCK: IbTiered(),
                AssetClass.OPTION: PerContractFee.ib_options(),
                AssetClass.FUTURE: PerContractFee.ib_futures(),
            }
        )

    def commission(
        self,
        instrument: Instrument,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal,
        *,
        monthly_volume: Decimal = ZERO,
    ) -> Money:
        """The chosen model's commission."""
        model = self.models.get(instrument.asset_class, self.default)
        return model.commission(instrument, side, quantity, price, monthly_volume=monthly_volume)
