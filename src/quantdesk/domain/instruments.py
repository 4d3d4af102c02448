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

from dataclasses import KW_ONLY, dataclass, field
from datetime import date
from decimal import Decimal
from typing import ClassVar

from quantdesk.domain.instrument_base import Instrument
from quantdesk.domain.instrument_codes import (
    CUSIP_PATTERN,
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
from quantdesk.domain.values import USD, Currency, Numeric, to_positive
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
