"""Domain instruments ↔ ``ib_async`` contracts, and qualification with a persistent cache.

Conversion rules (:func:`to_ib_contract` / :func:`instrument_from_contract`):

=================  ==========  ========================================================================
domain             secType     IB fields
=================  ==========  ========================================================================
Stock              STK         symbol (``BRK.B`` ↔ IB's ``BRK B``), exchange, primaryExchange, currency
Option / Warrant   OPT / WAR   + lastTradeDateOrContractMonth ``YYYYMMDD``, strike, right, multiplier,
                               tradingClass
Future             FUT         + lastTradeDateOrContractMonth ``YYYYMMDD``, multiplier, tradingClass
ContinuousFuture   CONTFUT     symbol, exchange, currency, multiplier
ForexPair          CASH        symbol = base, currency = quote, exchange IDEALPRO
Bond               BOND        secIdType/secId when named by CUSIP/ISIN (symbol only if it differs)
Cfd / Index        CFD / IND   symbol, exchange, currency
Crypto             CRYPTO      symbol, exchange (PAXOS), currency
=================  ==========  ========================================================================

Back from IB, an instrument is *normalised* so that the same contract always gets the same ``InstrumentId``
whichever message it came in: stocks are SMART-routed (position messages name the listing exchange, which goes to
``primary_exchange``); options, warrants, CFDs and bonds keep a named exchange (SMART when none); futures and
indices keep their exchange, forex is IDEALPRO; a trading class equal to the symbol is dropped. A contract the
cache knows keeps the identity it was qualified under.

Qualification (:class:`ContractResolver`) asks ``reqContractDetails`` and expects exactly one match: none raises
``NotFound`` naming the symbol (IB error 200), several raise :class:`AmbiguousContract` listing each candidate's
exchange, primary exchange, currency and conId. Results go to the :class:`ContractCache` (keyed by conId,
persisted in the data directory), so a restart qualifies from disk.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ib_async import Contract, ContractDetails

from quantdesk.brokers.ib.connection import IBConnection
from quantdesk.brokers.ib.contract_cache import CachedContract, ContractCache
from quantdesk.domain.instrument_codes import AssetClass, OptionRight, SecIdType
from quantdesk.domain.instruments import (
    Bond,
    Cfd,
    ContinuousFuture,
    Crypto,
    ForexPair,
    Future,
    Index,
    Instrument,
    Option,
    Stock,
    Warrant,
)
from quantdesk.domain.values import Currency
from quantdesk.errors import BrokerError, NotFound, ValidationError

__all__ = [
    "CONTRACT_FIELDS",
    "AmbiguousContract",
    "Candidate",
    "ContractResolver",
    "QualifiedContract",
    "contract_fields",
    "contract_from_fields",
    "domain_symbol",
    "ib_symbol",
    "instrument_from_contract",
    "to_ib_contract",
]

CONTRACT_FIELDS = (
    "conId", "symbol", "secType", "lastTradeDateOrContractMonth", "strike", "right", "multiplier", "exchange",
    "primaryExchange", "currency", "localSymbol", "tradingClass", "secIdType", "secId",
)  # fmt: skip
_SMART_ROUTED = frozenset({"STK", "OPT", "WAR", "CFD", "BOND"})


def ib_symbol(instrument: Instrument) -> str:
    """The symbol as IB writes it: share classes use a space (``BRK.B`` → ``BRK B``)."""
    if instrument.asset_class in (AssetClass.STOCK, AssetClass.CFD):
        return instrument.symbol.replace(".", " ")
    return instrument.symbol


def domain_symbol(symbol: str) -> str:
    """IB's symbol in our spelling (``BRK B`` → ``BRK.B``)."""
    return ".".join(symbol.strip().split())


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def to_ib_contract(instrument: Instrument) -> Contract:
    """The ``ib_async`` contract for a domain instrument (conId included once qualified)."""
    kind = instrument.asset_class
    c = Contract(
        secType=kind.value,
        conId=instrument.con_id or 0,
        symbol=ib_symbol(instrument),
        exchange=instrument.exchange,
        currency=instrument.currency.code,
        primaryExchange=instrument.primary_exchange or "",
    )
    if isinstance(instrument, Option | Warrant):
        c.lastTradeDateOrContractMonth = instrument.expiry.strftime("%Y%m%d")
        c.strike = float(instrument.strike)
        c.right = instrument.right.value
        c.multiplier = _number(instrument.multiplier)
        c.tradingClass = instrument.trading_class or ""
    elif isinstance(instrument, Future):
        c.lastTradeDateOrContractMonth = instrument.expiry.strftime("%Y%m%d")
        c.multiplier = _number(instrument.multiplier)
        c.tradingClass = instrument.trading_class or ""
    elif isinstance(instrument, ContinuousFuture):
        c.multiplier = _number(instrument.multiplier)
    elif isinstance(instrument, Bond) and instrument.sec_id_type is not None and instrument.sec_id is not None:
        c.secIdType = instrument.sec_id_type.value
        c.secId = instrument.sec_id
        if instrument.symbol == instrument.sec_id:
            c.symbol = ""
    return c


def _decimal(value: float | str) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _expiry(text: str) -> date:
    digits = text.strip().split(" ")[0].replace("-", "")
    if len(digits) == 6:  # a contract month: IB's monthly expiry is the third Friday
        first = date(int(digits[:4]), int(digits[4:]), 1)
        return date.fromordinal(first.toordinal() + (4 - first.weekday()) % 7 + 14)
    return datetime.strptime(digits[:8], "%Y%m%d").date()


def instrument_from_contract(contract: Contract, min_tick: float | None = None, long_name: str = "") -> Instrument:
    """The (normalised) domain instrument of an IB contract; ``ValidationError`` for kinds we do not model."""
    sec = contract.secType.upper()
    symbol = domain_symbol(contract.symbol or contract.localSymbol or contract.secId)
    exchange = contract.exchange or ""
    primary = contract.primaryExchange or (exchange if exchange and exchange != "SMART" else "") or None
    common: dict[str, Any] = {
        "currency": contract.currency or "USD",
        "con_id": contract.conId or None,
        "description": long_name or None,
    }
    if min_tick:
        common["tick_size"] = _decimal(min_tick)
    multiplier = _decimal(contract.multiplier) if contract.multiplier else None
    if sec in _SMART_ROUTED:
        listed = contract.primaryExchange or ""
        common["exchange"] = "SMART" if sec == "STK" or not exchange or exchange == listed else exchange
        common["primary_exchange"] = primary if primary and primary != common["exchange"] else None
    trading_class = contract.tradingClass if contract.tradingClass and contract.tradingClass != symbol else None
    if sec == "STK":
        return Stock(symbol, **common)
    if sec in ("OPT", "WAR"):
        cls: type[Option] | type[Warrant] = Option if sec == "OPT" else Warrant
        if multiplier:
            common["multiplier"] = multiplier
        expiry, strike = _expiry(contract.lastTradeDateOrContractMonth), _decimal(contract.strike)
        return cls(symbol, expiry, strike, OptionRight.parse(contract.right), trading_class=trading_class, **common)
    if sec in ("FUT", "CONTFUT"):
        common["exchange"] = exchange or "SMART"
        common["multiplier"] = multiplier or Decimal(1)
        if sec == "CONTFUT":
            return ContinuousFuture(symbol, **common)
        return Future(symbol, _expiry(contract.lastTradeDateOrContractMonth), trading_class=trading_class, **common)
    if sec == "CASH":
        base = contract.symbol or contract.localSymbol.split(".")[0]
        quote = contract.currency or contract.localSymbol.split(".")[-1]
        return ForexPair(base, Currency(quote), **{k: v for k, v in common.items() if k != "currency"})
    if sec == "BOND":
        ids: dict[str, Any] = {}
        if contract.secIdType and contract.secId:
            ids = {"sec_id_type": SecIdType(contract.secIdType.upper()), "sec_id": contract.secId}
        return Bond(symbol or contract.secId, **common, **ids)
    if sec == "CFD":
        return Cfd(symbol, **common)
    if sec == "IND":
        return Index(symbol, exchange=exchange or "SMART", **common)
    if sec == "CRYPTO":
        return Crypto(symbol, exchange=exchange or "PAXOS", **common)
    raise ValidationError(
        f"IB security type {contract.secType!r} ({contract.localSymbol or contract.symbol}) is not modelled",
        field="secType",
        value=contract.secType,
        hint="quantdesk trades STK, OPT, FUT, CONTFUT, CASH, BOND, CFD, IND, WAR and CRYPTO",
    )


def contract_fields(contract: Contract) -> dict[str, Any]:
    """The identifying fields of a contract, JSON-ready (what the cache stores)."""
    return {name: getattr(contract, name) for name in CONTRACT_FIELDS}


def contract_from_fields(fields: dict[str, Any]) -> Contract:
    """Rebuild a contract from :func:`contract_fields`."""
    return Contract(**{k: v for k, v in fields.items() if k in CONTRACT_FIELDS})


@dataclass(frozen=True, slots=True)
class Candidate:
    """One of several contracts a request matched."""

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str = ""
    expiry: str = ""
    long_name: str = ""

    @classmethod
    def of(cls, details: ContractDetails) -> Candidate:
        """From a ``ContractDetails`` answer."""
        c = details.contract or Contract()
        return cls(c.conId, c.symbol, c.secType, c.exchange, c.primaryExchange, c.currency, c.localSymbol,
                   c.lastTradeDateOrContractMonth, details.longName)  # fmt: skip

    def describe(self) -> str:
        """``SHOP on NYSE (primary NYSE) in USD, conId 195014116``."""
        listing = f" (primary {self.primary_exchange})" if self.primary_exchange else ""
        expiry = f" expiring {self.expiry}" if self.expiry else ""
        name = self.local_symbol or self.symbol
        return f"{name} on {self.exchange}{listing} in {self.currency}{expiry}, conId {self.con_id}"


class AmbiguousContract(ValidationError):
    """A contract description matched several IB contracts; ``candidates`` lists them."""

    def __init__(self, message: str, *, candidates: Sequence[Candidate], field: str, value: Any, hint: str) -> None:
        super().__init__(message, field=field, value=value, hint=hint)
        self.candidates = tuple(candidates)


@dataclass(frozen=True, slots=True)
class QualifiedContract:
    """An instrument with IB's conId and tick, and the ``ib_async`` contract to send in requests."""

    instrument: Instrument
    contract: Contract
    min_tick: Decimal
    long_name: str = ""

    @property
    def con_id(self) -> int:
        """IB's contract id."""
        return int(self.contract.conId)


def _cache_key(instrument: Instrument, con_id: int) -> int:
    """CONTFUT shares its conId with the front future; keep it apart (as ib_async's hash does)."""
    return -con_id if isinstance(instrument, ContinuousFuture) else con_id


class ContractResolver:
    """Qualifies instruments through ``reqContractDetails``, remembering results in a :class:`ContractCache`."""

    def __init__(self, connection: IBConnection, cache: ContractCache | None = None, *, timeout: float = 30.0) -> None:
        self.connection = connection
        self.cache = cache if cache is not None else ContractCache()
        self.timeout = timeout
        self.requests = 0
        self._hot: dict[Instrument, QualifiedContract] = {}  # what qualify() answered from the cache, as built

    async def details(self, contract: Contract) -> list[ContractDetails]:
        """Every contract IB matches to ``contract`` (empty for none: IB error 200)."""
        self.requests += 1
        try:
            async with asyncio.timeout(self.timeout):
                found = await self.connection.ib.reqContractDetailsAsync(contract)
        except TimeoutError:
            raise BrokerError(
                f"no contract details for {contract.symbol or contract.conId} within {self.timeout:g} s",
                field="ib.request_timeout",
                value=self.timeout,
                hint="TWS's security-definition farm may be down (error 2157); retry, or raise ib.request_timeout",
            ) from None
        return list(found)

    async def qualify(self, instrument: Instrument) -> QualifiedContract:
        """The instrument with conId and IB's tick size; ``NotFound`` or :class:`AmbiguousContract` otherwise."""
        hot = self._hot.get(instrument)
        if hot is not None:  # every order qualifies its instrument: skip rebuilding the cached answer
            return hot
        cached = self._cached(instrument)
        if cached is not None:
            self._hot[instrument] = cached
            return cached
        found = await self.details(to_ib_contract(instrument))
        found = [d for d in found if d.contract is not None and d.contract.secType == instrument.asset_class.value]
        if not found:
            raise _not_found(instrument.asset_class, instrument.symbol, instrument.exchange, instrument.currency.code)
        if len(found) > 1:
            raise _ambiguous(instrument.symbol, found, f"{instrument}")
        return self.remember(instrument, found[0])

    async def qualify_many(self, *instruments: Instrument) -> list[QualifiedContract]:
        """Qualify several instruments concurrently (same errors as :meth:`qualify`)."""
        return list(await asyncio.gather(*(self.qualify(i) for i in instruments)))

    async def lookup(
        self,
        symbol: str,
        *,
        asset_class: AssetClass = AssetClass.STOCK,
        exchange: str = "SMART",
        currency: str | None = None,
        primary_exchange: str | None = None,
    ) -> QualifiedContract:
        """Find the one contract for a loosely given symbol (currency and listing optional)."""
        spaced = asset_class in (AssetClass.STOCK, AssetClass.CFD)
        probe = Contract(
            secType=asset_class.value,
            symbol=symbol.upper().replace(".", " ") if spaced else symbol.upper(),
            exchange=exchange,
            currency=(currency or "").upper(),
            primaryExchange=(primary_exchange or "").upper(),
        )
        found = [d for d in await self.details(probe) if d.contract is not None]
        if not found:
            raise _not_found(asset_class, symbol.upper(), exchange, currency or "any currency")
        if len(found) > 1:
            raise _ambiguous(symbol.upper(), found, f"{symbol.upper()} ({asset_class.value} on {exchange})")
        assert found[0].contract is not None
        contract = contract_from_fields(contract_fields(found[0].contract))
        contract.exchange = exchange
        instrument = instrument_from_contract(contract, found[0].minTick, found[0].longName)
        return self.remember(instrument, found[0])

    def instrument_for(self, contract: Contract) -> Instrument:
        """The domain instrument of a contract IB sent (position, fill, order): the cached identity if known."""
        if contract.conId:
            key = -contract.conId if contract.secType == "CONTFUT" else contract.conId
            entry = self.cache.get(key)
            if entry is not None:
                return entry.instrument
        return instrument_from_contract(contract)

    def _cached(self, instrument: Instrument) -> QualifiedContract | None:
        entry = None
        if instrument.con_id:
            entry = self.cache.get(_cache_key(instrument, instrument.con_id))
        if entry is None:
            entry = self.cache.lookup(instrument.id)
        if entry is None:
            return None
        qualified = _with_ib_facts(instrument, entry.con_id, entry.min_tick, entry.long_name)
        return QualifiedContract(qualified, contract_from_fields(dict(entry.contract)), entry.min_tick, entry.long_name)

    def remember(self, instrument: Instrument, details: ContractDetails) -> QualifiedContract:
        """Cache ``details`` as the qualification of ``instrument`` and return it."""
        contract = details.contract
        assert contract is not None
        tick = _decimal(details.minTick) if details.minTick else instrument.tick_size
        qualified = _with_ib_facts(instrument, contract.conId, tick, details.longName)
        entry = CachedContract(
            _cache_key(qualified, contract.conId), contract_fields(contract), qualified, tick, details.longName
        )
        self.cache.put(entry, instrument.id)
        self._hot.clear()
        return QualifiedContract(qualified, contract, tick, details.longName)


def _with_ib_facts(instrument: Instrument, con_id: int, tick: Decimal, long_name: str) -> Instrument:
    con_id = abs(con_id)
    changes: dict[str, Any] = {"con_id": con_id, "tick_size": tick}
    if not instrument.description and long_name:
        changes["description"] = long_name
    if all(getattr(instrument, k) == v for k, v in changes.items()):
        return instrument
    return dataclasses.replace(instrument, **changes)


def _not_found(kind: AssetClass, symbol: str, exchange: str, currency: str) -> NotFound:
    return NotFound(
        f"IB error 200: no {kind.name.lower().replace('_', ' ')} {symbol} on {exchange} in {currency} "
        "(no security definition found)",
        field="symbol",
        value=symbol,
        hint="check the symbol, its exchange and currency (class shares as BRK.B; forex as EUR.USD)",
    )


def _ambiguous(symbol: str, found: Sequence[ContractDetails], what: str) -> AmbiguousContract:
    candidates = [Candidate.of(d) for d in found]
    listing = "; ".join(c.describe() for c in candidates)
    return AmbiguousContract(
        f"{what} is ambiguous: IB has {len(candidates)} matches: {listing}",
        candidates=candidates,
        field="symbol",
        value=symbol,
        hint="name the currency and/or primary exchange (e.g. currency='USD', primary_exchange='NYSE'), or the conId",
    )
