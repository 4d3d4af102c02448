"""Instruments of every asset class IB trades, with a stable id and their price-tick and quantity rules.

Every instrument has a stable ``id`` (an ``InstrumentId``) of the form ``SYMBOL.SECTYPE.EXCHANGE.CURRENCY`` followed,
for dated contracts, by their distinguishing parts, all upper case and joined with ``.``::

    AAPL.STK.SMART.USD                      Stock("AAPL")
    ES.FUT.CME.USD.20250321                 Future("ES", date(2025, 3, 21), exchange="CME", multiplier=50)
    ES.CONTFUT.CME.USD                      ContinuousFuture("ES", exchange="CME", multiplier=50)
    AAPL.OPT.SMART.USD.20250321.150C        Option("AAPL", date(2025, 3, 21), Decimal(150), OptionRight.CALL)
    SPX.OPT.SMART.USD.20250321.5000P.SPXW   ... with trading_class="SPXW" (the class is appended when given)
    EUR.CASH.IDEALPRO.USD                   ForexPair("EUR", "USD")
    037833100.BOND.SMART.USD                Bond.from_cusip("037833100")
    AAPL.BOND.SMART.USD.ISIN:US0378331005   Bond("AAPL", sec_id_type=SecIdType.ISIN, sec_id="US0378331005")

``SECTYPE`` is IB's ``secType`` (``AssetClass`` values). Strikes are written without trailing zeros (``152.5C``).
The id is a key, not a parse format: symbols may themselves contain ``.`` (``BRK.B``).

Fields are typed strictly (``Decimal``, ``Currency``, ``date``, ``OptionRight``) but construction also accepts the
loose forms a notebook uses (``150``, ``"USD"``, ``"C"``, ``"20250321"``) and converts them. Tick sizes and lot
sizes default to fine values; the IB adapter replaces them with the contract's ``minTick`` once qualified.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field, replace
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import ClassVar, Self

from quantdesk.domain.identifiers import InstrumentId
from quantdesk.domain.instrument_codes import (
    CUSIP_PATTERN,
    EXCHANGE_PATTERN,
    ISIN_PATTERN,
    SYMBOL_PATTERN,
    AssetClass,
    OptionRight,
    SecIdType,
    cusip_is_valid,
    isin_is_valid,
    parse_expiry,
    plain_decimal,
    set_field,
    validate_code,
)
from quantdesk.domain.values import USD, Currency, Numeric, to_decimal, to_positive
from quantdesk.errors import ValidationError

__all__ = [
    "AssetClass",
    "Bond",
    "Cfd",
    "ContinuousFuture",
    "Crypto",
    "ForexPair",
    "Future",
    "Index",
    "Instrument",
    "Option",
    "OptionRight",
    "SecIdType",
    "Stock",
    "Warrant",
]


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


@dataclass(frozen=True, slots=True)
class Stock(Instrument):
    """A share or ETF (``STK``), SMART-routed in USD unless told otherwise: ``Stock("AAPL")``."""

    _asset_class: ClassVar[AssetClass | None] = AssetClass.STOCK


@dataclass(frozen=True, slots=True)
class _Contingent(Instrument):
    """Shared fields of options and warrants: expiry, strike and right."""

    expiry: date
    strike: Decimal
    right: OptionRight
    _: KW_ONLY
    trading_class: str | None = None

    def _validate(self) -> None:
        set_field(self, "expiry", parse_expiry(self.expiry))
        set_field(self, "strike", to_positive(self.strike, "strike"))
        set_field(self, "right", OptionRight.parse(self.right))
        if self.trading_class is not None:
            set_field(self, "trading_class", validate_code(self.trading_class, "trading_class", SYMBOL_PATTERN, "SPXW"))

    def _id_suffix(self) -> tuple[str, ...]:
        parts = (self.expiry.strftime("%Y%m%d"), f"{plain_decimal(self.strike)}{self.right.value}")
        return (*parts, self.trading_class) if self.trading_class else parts


@dataclass(frozen=True, slots=True)
class Option(_Contingent):
    """A listed option (``OPT``); multiplier 100 and SMART routing by default."""

    multiplier: Decimal = field(default=Decimal(100), kw_only=True)
    _asset_class: ClassVar[AssetClass | None] = AssetClass.OPTION

    @classmethod
    def of(
        cls,
        symbol: str,
        expiry: date | str,
        strike: Numeric,
        right: OptionRight | str,
        *,
        multiplier: Numeric = 100,
        exchange: str = "SMART",
        currency: Currency | str = USD,
        trading_class: str | None = None,
    ) -> Option:
        """Build from loose values, e.g. ``Option.of("AAPL", "20250321", 150, "C")``."""
        return cls(
            symbol,
            parse_expiry(expiry),
            to_positive(strike, "strike"),
            OptionRight.parse(right),
            exchange=exchange,
            currency=Currency.of(currency),
            multiplier=to_positive(multiplier, "multiplier"),
            trading_class=trading_class,
        )


@dataclass(frozen=True, slots=True)
class Warrant(_Contingent):
    """A warrant (``WAR``): like an option (expiry, strike, right), multiplier 1 by default."""

    _asset_class: ClassVar[AssetClass | None] = AssetClass.WARRANT


@dataclass(frozen=True, slots=True)
class Future(Instrument):
    """A dated future (``FUT``) at its listing exchange: ``Future("ES", expiry, exchange="CME", multiplier=50)``."""

    expiry: date
    _: KW_ONLY
    exchange: str = field(default="", kw_only=True)
    multiplier: Decimal = field(default=Decimal(0), kw_only=True)
    trading_class: str | None = None

    _asset_class: ClassVar[AssetClass | None] = AssetClass.FUTURE
    _needs_exchange: ClassVar[bool] = True
    _needs_multiplier: ClassVar[bool] = True
    _example: ClassVar[str] = "CME"

    def _validate(self) -> None:
        set_field(self, "expiry", parse_expiry(self.expiry))
        if self.trading_class is not None:
            set_field(self, "trading_class", validate_code(self.trading_class, "trading_class", SYMBOL_PATTERN, "FDXM"))

    def _id_suffix(self) -> tuple[str, ...]:
        expiry = self.expiry.strftime("%Y%m%d")
        return (expiry, self.trading_class) if self.trading_class else (expiry,)


@dataclass(frozen=True, slots=True)
class ContinuousFuture(Instrument):
    """IB's continuous future (``CONTFUT``): for historical data only, never traded."""

    exchange: str = field(default="", kw_only=True)
    multiplier: Decimal = field(default=Decimal(0), kw_only=True)

    _asset_class: ClassVar[AssetClass | None] = AssetClass.CONTINUOUS_FUTURE
    _tradable: ClassVar[bool] = False
    _needs_exchange: ClassVar[bool] = True
    _needs_multiplier: ClassVar[bool] = True
    _example: ClassVar[str] = "CME"


@dataclass(frozen=True, slots=True)
class ForexPair(Instrument):
    """A currency pair (``CASH``): ``symbol`` is the base, ``currency`` the quote; ``ForexPair("EUR", "USD")``."""

    currency: Currency = field(default=USD, kw_only=False)
    exchange: str = field(default="IDEALPRO", kw_only=True)
    tick_size: Decimal = field(default=Decimal("0.00005"), kw_only=True)
    lot_size: Decimal = field(default=Decimal("0.01"), kw_only=True)
    allows_fractional: bool = field(default=True, kw_only=True)

    _asset_class: ClassVar[AssetClass | None] = AssetClass.FOREX

    def _validate(self) -> None:
        try:
            Currency(self.symbol)
        except ValidationError:
            raise ValidationError(
                f"the base of a forex pair must be an ISO currency code, got {self.symbol!r}",
                field="symbol",
                value=self.symbol,
                hint="use three letters such as EUR",
            ) from None
        if self.symbol == self.currency.code:
            raise ValidationError(
                f"base and quote currency are both {self.symbol}",
                field="currency",
                value=self.currency.code,
                hint="pick two different currencies, e.g. EUR and USD",
            )

    @property
    def base(self) -> Currency:
        """The currency bought or sold (IB ``symbol``)."""
        return Currency(self.symbol)

    @property
    def quote(self) -> Currency:
        """The currency the price is in (IB ``currency``)."""
        return self.currency

    @classmethod
    def parse(cls, text: str) -> ForexPair:
        """Accept ``EUR.USD``, ``EUR/USD``, ``EURUSD`` in any case."""
        raw = text.strip().upper() if isinstance(text, str) else ""
        pair = raw.replace("/", ".").split(".") if ("." in raw or "/" in raw) else [raw[:3], raw[3:]]
        if len(pair) != 2 or len(pair[0]) != 3 or len(pair[1]) != 3:
            raise ValidationError(
                f"not a currency pair: {text!r}", field="symbol", value=text, hint="write it as EUR.USD"
            )
        return cls(pair[0], Currency(pair[1]))


@dataclass(frozen=True, slots=True)
class Bond(Instrument):
    """A bond (``BOND``), optionally named by CUSIP or ISIN; price in % of 1,000 par, hence multiplier 10."""

    multiplier: Decimal = field(default=Decimal(10), kw_only=True)
    tick_size: Decimal = field(default=Decimal("0.0001"), kw_only=True)
    sec_id_type: SecIdType | None = field(default=None, kw_only=True)
    sec_id: str | None = field(default=None, kw_only=True)

    _asset_class: ClassVar[AssetClass | None] = AssetClass.BOND

    def _validate(self) -> None:
        if (self.sec_id_type is None) != (self.sec_id is None):
            missing = "sec_id" if self.sec_id is None else "sec_id_type"
            raise ValidationError(
                "sec_id_type and sec_id go together",
                field=missing,
                value=None,
                hint="pass both (e.g. sec_id_type=SecIdType.ISIN, sec_id='US0378331005') or neither",
            )
        if self.sec_id_type is None or self.sec_id is None:
            return
        try:
            kind = SecIdType(self.sec_id_type.value if isinstance(self.sec_id_type, SecIdType) else self.sec_id_type)
        except ValueError:
            raise ValidationError(
                f"unknown sec_id_type {self.sec_id_type!r}",
                field="sec_id_type",
                value=self.sec_id_type,
                hint="use CUSIP or ISIN",
            ) from None
        code = self.sec_id.strip().upper() if isinstance(self.sec_id, str) else ""
        pattern, check, example = (
            (CUSIP_PATTERN, cusip_is_valid, "037833100")
            if kind is SecIdType.CUSIP
            else (ISIN_PATTERN, isin_is_valid, "US0378331005")
        )
        if not pattern.match(code) or not check(code):
            raise ValidationError(
                f"is not a valid {kind.value} (format or check digit): {self.sec_id!r}",
                field="sec_id",
                value=self.sec_id,
                hint=f"check the code, e.g. {example}",
            )
        set_field(self, "sec_id_type", kind)
        set_field(self, "sec_id", code)

    def _id_suffix(self) -> tuple[str, ...]:
        if self.sec_id_type is None or self.sec_id is None or self.sec_id == self.symbol:
            return ()
        return (f"{self.sec_id_type.value}:{self.sec_id}",)

    @classmethod
    def from_cusip(cls, cusip: str, currency: Currency | str = USD, exchange: str = "SMART") -> Bond:
        """A bond named by its 9-character CUSIP (the CUSIP is also its symbol)."""
        return cls(cusip, currency=Currency.of(currency), exchange=exchange, sec_id_type=SecIdType.CUSIP, sec_id=cusip)

    @classmethod
    def from_isin(cls, isin: str, currency: Currency | str = USD, exchange: str = "SMART") -> Bond:
        """A bond named by its 12-character ISIN (the ISIN is also its symbol)."""
        return cls(isin, currency=Currency.of(currency), exchange=exchange, sec_id_type=SecIdType.ISIN, sec_id=isin)


@dataclass(frozen=True, slots=True)
class Cfd(Instrument):
    """A contract for difference (``CFD``), SMART by default: ``Cfd("IBUS500")``."""

    _asset_class: ClassVar[AssetClass | None] = AssetClass.CFD


@dataclass(frozen=True, slots=True)
class Index(Instrument):
    """An index (``IND``) at its exchange, for data only: ``Index("SPX", exchange="CBOE")``."""

    exchange: str = field(default="", kw_only=True)

    _asset_class: ClassVar[AssetClass | None] = AssetClass.INDEX
    _tradable: ClassVar[bool] = False
    _needs_exchange: ClassVar[bool] = True
    _example: ClassVar[str] = "CBOE"


@dataclass(frozen=True, slots=True)
class Crypto(Instrument):
    """A crypto currency (``CRYPTO``) at PAXOS in USD, fractional: ``Crypto("BTC")``."""

    exchange: str = field(default="PAXOS", kw_only=True)
    lot_size: Decimal = field(default=Decimal("0.00000001"), kw_only=True)
    allows_fractional: bool = field(default=True, kw_only=True)

    _asset_class: ClassVar[AssetClass | None] = AssetClass.CRYPTO
