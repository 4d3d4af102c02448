"""The fields and rules every instrument shares (``Instrument``); the asset classes are in
:mod:`quantdesk.domain.instruments`, whose docstring describes the id format."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import ClassVar, Self

from quantdesk.domain.identifiers import InstrumentId
from quantdesk.domain.instrument_codes import (
    EXCHANGE_PATTERN,
    SYMBOL_PATTERN,
    AssetClass,
    set_field,
    validate_code,
)
from quantdesk.domain.values import USD, Currency, Numeric, to_decimal, to_positive
from quantdesk.errors import ValidationError

__all__ = ["Instrument"]


@dataclass(frozen=True, slots=True)
class Instrument:
    """Fields every instrument shares; build a concrete one such as ``Stock`` or ``Future``."""

    symbol: str
    _: KW_ONLY
    currency: Currency = USD
    exchange: str = "SMART"
    primary_exchange: str | None = None
    tick_size: Decimal = Decimal("0.01")
    multiplier: Decimal = Decimal(1)
    lot_size: Decimal = Decimal(1)
    allows_fractional: bool = False
    con_id: int | None = None
    description: str | None = None
    _key: InstrumentId = field(init=False, repr=False, compare=False)  # the id, built once (orders ask for it often)

    _asset_class: ClassVar[AssetClass | None] = None
    _tradable: ClassVar[bool] = True
    _needs_exchange: ClassVar[bool] = False
    _needs_multiplier: ClassVar[bool] = False
    _example: ClassVar[str] = "SMART"

    def __post_init__(self) -> None:
        kind = self.asset_class
        set_field(self, "symbol", validate_code(self.symbol, "symbol", SYMBOL_PATTERN, "AAPL"))
        set_field(self, "currency", Currency.of(self.currency))
        if not self.exchange and self._needs_exchange:
            raise ValidationError(
                f"{kind.name.lower().replace('_', ' ')} {self.symbol} needs its listing exchange",
                field="exchange",
                value=self.exchange,
                hint=f"pass exchange='{self._example}' (there is no SMART default for {kind.value})",
            )
        set_field(self, "exchange", validate_code(self.exchange, "exchange", EXCHANGE_PATTERN, self._example))
        if self.primary_exchange is not None:
            set_field(
                self,
                "primary_exchange",
                validate_code(self.primary_exchange, "primary_exchange", EXCHANGE_PATTERN, "NASDAQ"),
            )
        if self._needs_multiplier and to_decimal(self.multiplier, "multiplier") == 0:
            raise ValidationError(
                f"{kind.name.lower().replace('_', ' ')} {self.symbol} needs its contract multiplier",
                field="multiplier",
                value=self.multiplier,
                hint="pass multiplier=Decimal(50) (the value of one point, e.g. 50 for ES)",
            )
        for name in ("tick_size", "multiplier", "lot_size"):
            set_field(self, name, to_positive(getattr(self, name), name))
        self._check_flags()
        self._validate()
        parts = (self.symbol, kind.value, self.exchange, self.currency.code, *self._id_suffix())
        set_field(self, "_key", InstrumentId(".".join(parts)))

    def _check_flags(self) -> None:
        if not isinstance(self.allows_fractional, bool):
            raise ValidationError(
                f"must be True or False, got {self.allows_fractional!r}",
                field="allows_fractional",
                value=self.allows_fractional,
                hint="pass a bool",
            )
        whole_lot = self.lot_size == self.lot_size.to_integral_value()
        if whole_lot and self.allows_fractional:
            raise ValidationError(
                f"allows_fractional=True contradicts the whole lot_size {self.lot_size}",
                field="allows_fractional",
                value=True,
                hint="also pass lot_size=Decimal('0.0001') (the fractional step), or allows_fractional=False",
            )
        if not whole_lot and not self.allows_fractional:
            raise ValidationError(
                f"a fractional lot_size {self.lot_size} needs allows_fractional=True",
                field="lot_size",
                value=self.lot_size,
                hint="pass allows_fractional=True or a whole lot_size",
            )
        if self.con_id is not None and (
            isinstance(self.con_id, bool) or not isinstance(self.con_id, int) or self.con_id <= 0
        ):
            raise ValidationError(
                f"must be a positive integer (IB conId), got {self.con_id!r}",
                field="con_id",
                value=self.con_id,
                hint="pass IB's conId or leave it None until the contract is qualified",
            )
        if self.description is not None and not isinstance(self.description, str):
            raise ValidationError(
                f"must be text, got {self.description!r}",
                field="description",
                value=self.description,
                hint="pass a str",
            )

    def _validate(self) -> None:
        """Checks of a concrete class; runs after the common fields are normalised."""

    def _id_suffix(self) -> tuple[str, ...]:
        """Id parts after ``SYMBOL.SECTYPE.EXCHANGE.CURRENCY`` (expiry, strike, …)."""
        return ()

    @property
    def asset_class(self) -> AssetClass:
        """The kind of instrument (IB ``secType``)."""
        kind = type(self)._asset_class
        if kind is None:
            raise TypeError(f"{type(self).__name__} is abstract: build a Stock, Option, Future, ForexPair, …")
        return kind

    @property
    def is_tradable(self) -> bool:
        """False for indices and continuous futures, which serve data only."""
        return type(self)._tradable

    @property
    def id(self) -> InstrumentId:
        """The stable key, e.g. ``AAPL.STK.SMART.USD`` (format in the module docstring)."""
        return self._key

    def __str__(self) -> str:
        return self.id.value

    def with_con_id(self, con_id: int) -> Self:
        """A copy carrying IB's conId, once the contract has been qualified."""
        return replace(self, con_id=con_id)

    def round_to_tick(self, price: Numeric, rounding: str = ROUND_HALF_EVEN) -> Decimal:
        """Round ``price`` to a multiple of ``tick_size`` (``decimal`` rounding mode, default half-even)."""
        value = to_decimal(price, "price")
        return (value / self.tick_size).to_integral_value(rounding=rounding) * self.tick_size

    def is_on_tick(self, price: Numeric) -> bool:
        """Whether ``price`` is a whole multiple of ``tick_size``."""
        return to_decimal(price, "price") % self.tick_size == 0

    def validate_price(self, price: Numeric, field_name: str = "price") -> Decimal:
        """Convert ``price``, require it ``> 0`` and on the tick grid; the error's hint names the nearest ticks."""
        value = to_positive(price, field_name)
        self.validate_increment(value, field_name)
        return value

    def validate_increment(self, value: Decimal, field_name: str) -> None:
        """Require ``value`` (a price, offset or trailing amount) to be a multiple of ``tick_size``."""
        if value % self.tick_size == 0:
            return
        low = self.round_to_tick(value, ROUND_FLOOR)
        high = self.round_to_tick(value, ROUND_CEILING)
        nearest = self.round_to_tick(value)
        options = f"{low} or {high}" if low > 0 else f"{high}"
        raise ValidationError(
            f"{value} is not on the tick grid of {self} (tick size {self.tick_size})",
            field=field_name,
            value=value,
            hint=f"use {options} (nearest: {nearest})",
        )

    def is_valid_quantity(self, quantity: Numeric) -> bool:
        """Whether ``quantity`` is positive, whole unless fractions are allowed, and a multiple of ``lot_size``."""
        try:
            self.validate_quantity(quantity)
        except ValidationError:
            return False
        return True

    def validate_quantity(self, quantity: Numeric, field_name: str = "quantity") -> Decimal:
        """Convert ``quantity`` and require it positive, whole unless fractions are allowed, a multiple of lot_size."""
        value = to_positive(quantity, field_name)
        if not self.allows_fractional and value != value.to_integral_value():
            raise ValidationError(
                f"{self} trades whole units only, got {value}",
                field=field_name,
                value=value,
                hint=f"use a whole number such as {max(value.to_integral_value(ROUND_FLOOR), Decimal(1))}",
            )
        if value % self.lot_size != 0:
            low = (value / self.lot_size).to_integral_value(ROUND_FLOOR) * self.lot_size
            high = low + self.lot_size
            options = f"{low} or {high}" if low > 0 else f"{high}"
            raise ValidationError(
                f"{value} is not a multiple of the lot size {self.lot_size} of {self}",
                field=field_name,
                value=value,
                hint=f"use {options}",
            )
        return value
