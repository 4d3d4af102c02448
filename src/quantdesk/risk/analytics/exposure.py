"""Exposure by asset class and by currency: long, short, gross and net, in the base currency and in % of net liq.

A position is worth ``quantity × price × multiplier`` in its instrument's currency (the notional for futures, the
premium for options: no delta), converted to the base currency at ``fx_rates`` (base units per one unit of the
other currency; the base itself is 1). Long sums the positive values, short the negative ones (a negative amount),
gross = long − short and net = long + short. A forex pair ``EUR.USD`` is long its base currency and short its quote
currency by the same value (converted through the pair's own price), so the currency table shows both legs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from quantdesk.domain.identifiers import InstrumentId
from quantdesk.domain.instrument_codes import AssetClass
from quantdesk.domain.instruments import ForexPair, Instrument
from quantdesk.domain.values import Currency, Numeric, to_decimal
from quantdesk.errors import DataError

__all__ = [
    "ExposureReport",
    "ExposureRow",
    "HeldPosition",
    "exposure_report",
    "fx_rate",
    "parse_instrument_id",
]

_SEC_TYPES = {a.value: a for a in AssetClass}


def parse_instrument_id(instrument_id: InstrumentId | str) -> tuple[str, AssetClass, str, Currency]:
    """Split ``SYMBOL.SECTYPE.EXCHANGE.CURRENCY[...]`` into symbol, asset class, exchange and currency.

    Symbols may hold dots (``BRK.B.STK.SMART.USD``): the first part after the symbol that is an IB ``secType``
    and is followed by an exchange and a currency marks the end of the symbol.
    """
    text = instrument_id.value if isinstance(instrument_id, InstrumentId) else str(instrument_id)
    parts = text.split(".")
    for i in range(1, len(parts) - 2):
        kind = _SEC_TYPES.get(parts[i])
        if kind is not None and len(parts[i + 2]) == 3 and parts[i + 2].isalpha():
            return ".".join(parts[:i]), kind, parts[i + 1], Currency(parts[i + 2])
    raise DataError(
        f"cannot read the asset class and currency of {text!r}",
        field="instrument_id",
        value=text,
        hint="instrument ids look like AAPL.STK.SMART.USD (symbol.secType.exchange.currency)",
    )


@dataclass(frozen=True, slots=True)
class HeldPosition:
    """One position: what it is, how many (negative = short) and at what price in its own currency."""

    symbol: str
    asset_class: AssetClass
    currency: Currency
    quantity: Decimal
    price: Decimal
    multiplier: Decimal = Decimal(1)
    instrument_id: str | None = None
    pair_base: Currency | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "currency", Currency.of(self.currency))
        object.__setattr__(self, "quantity", to_decimal(self.quantity, f"{self.symbol} quantity"))
        object.__setattr__(self, "price", to_decimal(self.price, f"{self.symbol} price"))
        object.__setattr__(self, "multiplier", to_decimal(self.multiplier, f"{self.symbol} multiplier"))
        if self.asset_class is AssetClass.FOREX and self.pair_base is None:
            object.__setattr__(self, "pair_base", Currency.of(self.symbol))

    @classmethod
    def of(cls, instrument: Instrument, quantity: Numeric, price: Numeric) -> HeldPosition:
        """A position in ``instrument`` (its class, currency and multiplier)."""
        return cls(
            symbol=instrument.symbol,
            asset_class=instrument.asset_class,
            currency=instrument.currency,
            quantity=to_decimal(quantity, f"{instrument.symbol} quantity"),
            price=to_decimal(price, f"{instrument.symbol} price"),
            multiplier=instrument.multiplier if instrument.multiplier > 0 else Decimal(1),
            instrument_id=instrument.id.value,
            pair_base=instrument.base if isinstance(instrument, ForexPair) else None,
        )

    @classmethod
    def from_id(
        cls, instrument_id: InstrumentId | str, quantity: Numeric, price: Numeric, multiplier: Numeric = 1
    ) -> HeldPosition:
        """A position named by an instrument id such as a broker's ``PositionReport`` carries."""
        symbol, kind, _, ccy = parse_instrument_id(instrument_id)
        text = instrument_id.value if isinstance(instrument_id, InstrumentId) else str(instrument_id)
        return cls(
            symbol,
            kind,
            ccy,
            to_decimal(quantity, f"{symbol} quantity"),
            to_decimal(price, f"{symbol} price"),
            to_decimal(multiplier, f"{symbol} multiplier"),
            text,
        )

    @property
    def label(self) -> str:
        """The instrument id when known, else the symbol."""
        return self.instrument_id or self.symbol

    @property
    def local_value(self) -> Decimal:
        """Signed value in the instrument's currency: quantity × price × multiplier."""
        return self.quantity * self.price * self.multiplier

    def base_value(self, base_currency: Currency | str, fx_rates: Mapping[str, Numeric] | None = None) -> Decimal:
        """Signed value in ``base_currency`` at ``fx_rates``."""
        return self.local_value * fx_rate(self.currency, base_currency, fx_rates)


def fx_rate(currency: Currency | str, base_currency: Currency | str, fx_rates: Mapping[str, Numeric] | None) -> Decimal:
    """Units of ``base_currency`` per one unit of ``currency``; 1 for the base, else ``fx_rates[currency]``."""
    ccy, base = Currency.of(currency), Currency.of(base_currency)
    if ccy == base:
        return Decimal(1)
    rates = {str(k).upper(): v for k, v in (fx_rates or {}).items()}
    if ccy.code not in rates:
        raise DataError(
            f"no exchange rate for {ccy.code}: positions in {ccy.code} cannot be valued in {base.code}",
            field="fx_rates",
            value=ccy.code,
            hint=f"pass the rate as {base.code} per 1 {ccy.code}, e.g. fx_rates={{'{ccy.code}': 1.08}} "
            f"(CLI: --fx-rate {ccy.code}=1.08)",
        )
    rate = to_decimal(rates[ccy.code], f"fx_rates[{ccy.code}]")
    if rate <= 0:
        raise DataError(
            f"the exchange rate for {ccy.code} must be positive, got {rate}",
            field="fx_rates",
            value=ccy.code,
            hint=f"pass {base.code} per 1 {ccy.code}, a positive number",
        )
    return rate


@dataclass(frozen=True, slots=True)
class ExposureRow:
    """Exposure of one group (an asset class, a currency or the total) in the base currency."""

    key: str
    long: float
    short: float
    positions: int
    net_liquidation: float | None = None

    @property
    def gross(self) -> float:
        """Long plus the absolute short."""
        return self.long - self.short

    @property
    def net(self) -> float:
        """Long plus short (short is negative)."""
        return self.long + self.short

    def pct(self, amount: float) -> float | None:
        """``amount`` as a fraction of net liquidation (None when it is unknown or not positive)."""
        nl = self.net_liquidation
        return None if nl is None or nl <= 0 else amount / nl

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: amounts and their fractions of net liquidation."""
        amounts = {"long": self.long, "short": self.short, "gross": self.gross, "net": self.net}
        return {
            "key": self.key,
            "positions": self.positions,
            **amounts,
            **{f"{k}_pct": self.pct(v) for k, v in amounts.items()},
        }


@dataclass(frozen=True, slots=True)
class ExposureReport:
    """Exposure by asset class, by currency and in total, in ``base_currency``."""

    base_currency: str
    net_liquidation: float | None
    by_asset_class: tuple[ExposureRow, ...]
    by_currency: tuple[ExposureRow, ...]
    total: ExposureRow
    fx_rates: Mapping[str, float] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "base_currency": self.base_currency,
            "net_liquidation": self.net_liquidation,
            "fx_rates": dict(self.fx_rates),
            "total": self.total.to_dict(),
            "by_asset_class": [r.to_dict() for r in self.by_asset_class],
            "by_currency": [r.to_dict() for r in self.by_currency],
        }


class _Book:
    """Accumulates long and short amounts and position counts per key."""

    def __init__(self) -> None:
        self.long: dict[str, Decimal] = {}
        self.short: dict[str, Decimal] = {}
        self.count: dict[str, int] = {}

    def add(self, key: str, amount: Decimal) -> None:
        self.long.setdefault(key, Decimal(0))
        self.short.setdefault(key, Decimal(0))
        self.count[key] = self.count.get(key, 0) + 1
        if amount >= 0:
            self.long[key] += amount
        else:
            self.short[key] += amount

    def rows(self, net_liquidation: float | None) -> tuple[ExposureRow, ...]:
        rows = [
            ExposureRow(k, float(self.long[k]), float(self.short[k]), self.count[k], net_liquidation)
            for k in self.count
        ]
        return tuple(sorted(rows, key=lambda r: (-r.gross, r.key)))


def exposure_report(
    positions: Iterable[HeldPosition],
    *,
    base_currency: Currency | str = "USD",
    fx_rates: Mapping[str, Numeric] | None = None,
    net_liquidation: Numeric | None = None,
) -> ExposureReport:
    """Group ``positions`` by asset class and by currency; rows are ordered by gross exposure, largest first.

    A position in a currency other than the base without a rate in ``fx_rates`` raises ``DataError`` naming it.
    """
    base = Currency.of(base_currency)
    nl = None if net_liquidation is None else float(to_decimal(net_liquidation, "net_liquidation"))
    classes, currencies, total = _Book(), _Book(), _Book()
    used: dict[str, float] = {}
    for p in positions:
        rate = fx_rate(p.currency, base, fx_rates)
        if p.currency != base:
            used[p.currency.code] = float(rate)
        value = p.local_value * rate
        classes.add(p.asset_class.name.lower(), value)
        total.add("total", value)
        if p.pair_base is not None and p.asset_class is AssetClass.FOREX:
            currencies.add(p.pair_base.code, value)  # long the base currency …
            currencies.add(p.currency.code, -value)  # … short the quote currency
        else:
            currencies.add(p.currency.code, value)
    total_row = total.rows(nl)[0] if total.count else ExposureRow("total", 0.0, 0.0, 0, nl)
    return ExposureReport(base.code, nl, classes.rows(nl), currencies.rows(nl), total_row, dict(sorted(used.items())))
