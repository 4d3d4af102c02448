"""The gateway's contract catalogue: what it can qualify, quote and chart.

It holds the 20 stocks of the bundled S&P 500 sample (NASDAQ/NYSE, routed through SMART), one deliberately
ambiguous symbol listed twice (``SHOP`` on NYSE in USD and on TSX in CAD), four forex pairs on IDEALPRO, the SPX
index on CBOE, a quarterly ES futures chain on CME and an AAPL option chain. Contract ids are a fixed table for
the spot instruments and a stable function of the local symbol for futures and options, so the same catalogue
built on the same day always has the same ids. They look like IB's but are not guaranteed to equal them.

Qualification follows what IB matches on: ``conId`` alone when it is set, otherwise every field the client filled
(symbol, secType, expiry or contract month, strike, right, multiplier, exchange among the valid ones, primary
exchange, currency, local symbol, trading class). No match means error 200; several matches are all returned.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from quantdesk.gateway.codec import UNSET_DOUBLE, Request

__all__ = [
    "ContractCatalog",
    "ContractQuery",
    "ContractSpec",
    "MarketRule",
    "OptionChainInfo",
    "build_catalog",
    "occ_symbol",
    "third_friday",
]

_STOCK_ORDER_TYPES = (
    "ALERT,ALGO,ALLOC,AON,DAY,DIS,FOK,GTC,GTD,HID,IOC,LIT,LMT,LOC,LOO,MIT,MKT,MOC,MOO,OCA,OPG,REL,RTH,"
    "STP,STPLMT,TRAIL,TRAILLIMIT,WHATIF"
)
_DERIV_ORDER_TYPES = "ALGO,DAY,FOK,GTC,GTD,IOC,LIT,LMT,MIT,MKT,OCA,REL,STP,STPLMT,TRAIL,TRAILLIMIT,WHATIF"

# symbol -> (conId, primary exchange, long name, industry, category, subcategory). Stable, invented ids.
_STOCKS: dict[str, tuple[int, str, str, str, str, str]] = {
    "AAPL": (265598, "NASDAQ", "APPLE INC", "Technology", "Computers", "Computers"),
    "AMD": (4391, "NASDAQ", "ADVANCED MICRO DEVICES", "Technology", "Semiconductors", "Electronic Compo-Semicon"),
    "BAC": (10098, "NYSE", "BANK OF AMERICA CORP", "Financial", "Banks", "Diversified Banking Inst"),
    "BBY": (10159, "NYSE", "BEST BUY CO INC", "Consumer, Cyclical", "Retail", "Retail-Consumer Electron"),
    "CVX": (5491, "NYSE", "CHEVRON CORP", "Energy", "Oil&Gas", "Oil Comp-Integrated"),
    "GE": (7516, "NYSE", "GENERAL ELECTRIC CO", "Industrial", "Miscellaneous Manufactur", "Diversified Manufact Op"),
    "HD": (10276, "NYSE", "HOME DEPOT INC", "Consumer, Cyclical", "Retail", "Retail-Building Products"),
    "JNJ": (8719, "NYSE", "JOHNSON & JOHNSON", "Consumer, Non-cyclical", "Pharmaceuticals", "Medical-Drugs"),
    "JPM": (1520593, "NYSE", "JPMORGAN CHASE & CO", "Financial", "Banks", "Diversified Banking Inst"),
    "KO": (8894, "NYSE", "COCA-COLA CO/THE", "Consumer, Non-cyclical", "Beverages", "Beverages-Non-alcoholic"),
    "LLY": (9160, "NYSE", "ELI LILLY & CO", "Consumer, Non-cyclical", "Pharmaceuticals", "Medical-Drugs"),
    "MRK": (9282, "NYSE", "MERCK & CO. INC.", "Consumer, Non-cyclical", "Pharmaceuticals", "Medical-Drugs"),
    "MSFT": (272093, "NASDAQ", "MICROSOFT CORP", "Technology", "Software", "Applications Software"),
    "PEP": (11017, "NASDAQ", "PEPSICO INC", "Consumer, Non-cyclical", "Beverages", "Beverages-Non-alcoholic"),
    "PFE": (11067, "NYSE", "PFIZER INC", "Consumer, Non-cyclical", "Pharmaceuticals", "Medical-Drugs"),
    "PG": (11073, "NYSE", "PROCTER & GAMBLE CO/THE", "Consumer, Non-cyclical", "Cosmetics/Personal Care", "Toiletries"),
    "RRC": (13225, "NYSE", "RANGE RESOURCES CORP", "Energy", "Oil&Gas", "Oil Comp-Explor&Prodtn"),
    "UNH": (13096, "NYSE", "UNITEDHEALTH GROUP INC", "Consumer, Non-cyclical", "Healthcare-Services", "Medical-HMO"),
    "WMT": (13824, "NYSE", "WALMART INC", "Consumer, Non-cyclical", "Retail", "Retail-Discount"),
    "XOM": (13977, "NYSE", "EXXON MOBIL CORP", "Energy", "Oil&Gas", "Oil Comp-Integrated"),
}
# pair -> (conId, minTick, long name)
_FOREX: dict[str, tuple[int, float, str]] = {
    "EUR.USD": (12087792, 0.00005, "European Monetary Union Euro"),
    "GBP.USD": (12087797, 0.00005, "British pound"),
    "USD.JPY": (15016059, 0.005, "United States dollar"),
    "AUD.USD": (14433401, 0.00005, "Australian dollar"),
}
SPX_CON_ID = 416904
_MONTH_CODES = "FGHJKMNQUVXZ"


@dataclass(frozen=True, slots=True)
class MarketRule:
    """A price-increment ladder: ``(low edge, increment)`` pairs (IB's ``reqMarketRule``)."""

    rule_id: int
    increments: tuple[tuple[float, float], ...]


MARKET_RULES: dict[int, MarketRule] = {
    26: MarketRule(26, ((0.0, 0.01),)),
    67: MarketRule(67, ((0.0, 0.25),)),
    110: MarketRule(110, ((0.0, 0.01),)),
    239: MarketRule(239, ((0.0, 0.00005),)),
    240: MarketRule(240, ((0.0, 0.005),)),
}


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """One tradable contract with everything ``contractDetails`` reports, plus how the gateway prices it.

    ``series`` names the price series the instrument follows; ``pricing`` is ``spot`` (the series itself),
    ``future`` (the series carried to expiry) or ``option`` (Black-Scholes on the series).
    """

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    currency: str
    local_symbol: str
    trading_class: str
    long_name: str
    min_tick: float
    series: str
    primary_exchange: str = ""
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    market_name: str = ""
    valid_exchanges: tuple[str, ...] = ()
    order_types: str = _STOCK_ORDER_TYPES
    contract_month: str = ""
    industry: str = ""
    category: str = ""
    subcategory: str = ""
    time_zone_id: str = "US/Eastern"
    under_con_id: int = 0
    under_symbol: str = ""
    under_sec_type: str = ""
    market_rule_id: int = 26
    stock_type: str = ""
    sec_ids: tuple[tuple[str, str], ...] = ()
    agg_group: int = 1
    min_size: str = "1"
    size_increment: str = "1"
    suggested_size_increment: str = "100"
    pricing: str = "spot"
    daily_volume: float = 20_000_000.0  # shares a session: a liquid S&P 500 name (participation slicing reads it)
    has_quotes: bool = True
    has_trades: bool = True

    @property
    def multiplier_value(self) -> float:
        """The multiplier as a number (1 when unset)."""
        return float(self.multiplier) if self.multiplier else 1.0

    @property
    def market_rule_ids(self) -> str:
        """One market rule id per valid exchange, comma separated, as IB writes them."""
        return ",".join(str(self.market_rule_id) for _ in self.valid_exchanges or (self.exchange,))

    @property
    def listing_exchange(self) -> str:
        """The exchange named in position messages: the primary listing for stocks, else the exchange."""
        return self.primary_exchange or self.exchange

    def routed(self, exchange: str) -> ContractSpec:
        """The same contract as seen through ``exchange`` (IB echoes the exchange that was asked for)."""
        return self if not exchange or exchange == self.exchange else dataclasses.replace(self, exchange=exchange)


@dataclass(frozen=True, slots=True)
class ContractQuery:
    """The 12 contract fields a client sends (C12), plus the extras of ``reqContractDetails``."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    include_expired: bool = False
    sec_id_type: str = ""
    sec_id: str = ""
    issuer_id: str = ""

    @classmethod
    def read(cls, req: Request) -> ContractQuery:
        """Read the 12 contract fields at the request's cursor."""
        return cls(
            con_id=req.read_int(),
            symbol=req.read_str(),
            sec_type=req.read_str(),
            last_trade_date=req.read_str(),
            strike=req.read_float(),
            right=req.read_str(),
            multiplier=req.read_str(),
            exchange=req.read_str(),
            primary_exchange=req.read_str(),
            currency=req.read_str(),
            local_symbol=req.read_str(),
            trading_class=req.read_str(),
        )

    def describe(self) -> str:
        """A short human description for error messages."""
        if self.con_id:
            return f"conId={self.con_id}"
        parts = [self.symbol, self.sec_type, self.last_trade_date, self.exchange, self.currency]
        return " ".join(p for p in parts if p) or "empty contract"


@dataclass(frozen=True, slots=True)
class OptionChainInfo:
    """One ``securityDefinitionOptionParameter`` answer: an exchange's expirations and strikes."""

    exchange: str
    under_con_id: int
    trading_class: str
    multiplier: str
    expirations: tuple[str, ...]
    strikes: tuple[float, ...]


def _norm_right(right: str) -> str:
    r = right.strip().upper()
    return {"CALL": "C", "PUT": "P", "?": "", "0": ""}.get(r, r)


def _same_number(a: str, b: str) -> bool:
    try:
        return abs(float(a or 1) - float(b or 1)) < 1e-9
    except ValueError:
        return a == b


def _matches(spec: ContractSpec, q: ContractQuery) -> bool:
    """Whether ``spec`` satisfies every field the query filled in (conId is handled by the caller)."""
    ci = str.casefold
    checks: list[bool] = [
        not q.symbol or ci(q.symbol) == ci(spec.symbol),
        not q.currency or ci(q.currency) == ci(spec.currency),
        not q.local_symbol or ci(q.local_symbol) == ci(spec.local_symbol),
        not q.trading_class or ci(q.trading_class) == ci(spec.trading_class),
        not q.primary_exchange or ci(q.primary_exchange) == ci(spec.primary_exchange),
        not q.exchange or q.exchange.upper() in {spec.exchange, *spec.valid_exchanges},
        not _norm_right(q.right) or _norm_right(q.right) == spec.right,
        not q.multiplier or _same_number(q.multiplier, spec.multiplier),
        q.strike in (0.0, UNSET_DOUBLE) or abs(q.strike - spec.strike) < 1e-6,
    ]
    if not all(checks):
        return False
    expiry = q.last_trade_date.strip().split(" ")[0].replace("-", "")
    if expiry:
        if len(expiry) == 6:
            return expiry in (spec.contract_month, spec.last_trade_date[:6])
        return expiry == spec.last_trade_date
    return True


class ContractCatalog:
    """Every contract the gateway knows, indexed by conId, with IB-style lookup."""

    def __init__(
        self,
        specs: Iterable[ContractSpec],
        chains: Sequence[tuple[int, OptionChainInfo]] = (),
        today: date | None = None,
    ) -> None:
        self.specs: tuple[ContractSpec, ...] = tuple(specs)
        self.by_con_id: dict[int, ContractSpec] = {}
        for spec in self.specs:
            if spec.con_id in self.by_con_id:
                raise ValueError(f"duplicate conId {spec.con_id} for {spec.local_symbol}")
            self.by_con_id[spec.con_id] = spec
        self._chains = list(chains)
        self.today = today

    def __len__(self) -> int:
        return len(self.specs)

    def get(self, con_id: int) -> ContractSpec | None:
        """The contract with this conId, if any."""
        return self.by_con_id.get(con_id)

    def lookup(self, q: ContractQuery) -> list[ContractSpec]:
        """All contracts matching the query, each routed through the exchange the query named."""
        if q.con_id:
            spec = self.by_con_id.get(q.con_id)
            if spec is None or (q.sec_type and q.sec_type.upper() not in (spec.sec_type, "CONTFUT")):
                return []
            if q.exchange and q.exchange.upper() not in {spec.exchange, *spec.valid_exchanges}:
                return []
            return [spec.routed(q.exchange.upper())]
        if q.sec_id_type or q.sec_id:
            want = (q.sec_id_type.upper(), q.sec_id.upper())
            return [s for s in self.specs if want in {(t.upper(), v.upper()) for t, v in s.sec_ids}]
        sec_type = q.sec_type.upper()
        if sec_type == "CONTFUT":
            futs = [s for s in self.specs if s.sec_type == "FUT" and _matches(s, dataclasses.replace(q, sec_type=""))]
            if not futs:
                return []
            front = min(futs, key=lambda s: s.last_trade_date)
            return [dataclasses.replace(front.routed(q.exchange.upper()), sec_type="CONTFUT")]
        found = [s for s in self.specs if (not sec_type or s.sec_type == sec_type) and _matches(s, q)]
        return [s.routed(q.exchange.upper()) for s in found]

    def resolve(self, q: ContractQuery) -> ContractSpec | None:
        """The single contract the query names, or ``None`` when it is unknown or ambiguous."""
        found = self.lookup(q)
        if len(found) != 1:
            return None
        spec = found[0]
        return self.by_con_id[spec.con_id] if spec.sec_type == "CONTFUT" else spec

    def matching_symbols(self, pattern: str, limit: int = 16) -> list[ContractSpec]:
        """Underlyings (stocks, indices, forex) whose symbol starts with, or whose name contains, ``pattern``."""
        p = pattern.strip().casefold()
        if not p:
            return []
        spot = [s for s in self.specs if s.sec_type in ("STK", "IND", "CASH")]
        head = [s for s in spot if s.symbol.casefold().startswith(p)]
        tail = [s for s in spot if s not in head and p in s.long_name.casefold()]
        return (sorted(head, key=lambda s: (len(s.symbol), s.symbol)) + tail)[:limit]

    def derivative_sec_types(self, spec: ContractSpec) -> list[str]:
        """The derivative types listed on an underlying (what ``symbolSamples`` reports)."""
        kinds = {s.sec_type for s in self.specs if s.under_con_id == spec.con_id and s.sec_type in ("OPT", "FUT")}
        return sorted(kinds)

    def option_chains(self, symbol: str, sec_type: str, con_id: int, exchange: str = "") -> list[OptionChainInfo]:
        """The option chains of an underlying given by conId (or by symbol and type when the conId is 0)."""
        under = self.by_con_id.get(con_id) if con_id else None
        if under is None:
            q = ContractQuery(symbol=symbol, sec_type=sec_type)
            found = [s for s in self.specs if s.sec_type in ("STK", "IND") and _matches(s, q)]
            under = found[0] if len(found) == 1 else None
        if under is None:
            return []
        return [c for uid, c in self._chains if uid == under.con_id and (not exchange or c.exchange == exchange)]


def third_friday(year: int, month: int) -> date:
    """The third Friday of a month: the standard monthly expiry."""
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def occ_symbol(symbol: str, expiry: date, right: str, strike: float) -> str:
    """The OCC option symbol IB uses as ``localSymbol``, e.g. ``AAPL  260116C00180000``."""
    return f"{symbol:<6}{expiry:%y%m%d}{right}{round(strike * 1000):08d}"


def _derived_con_id(local_symbol: str, taken: set[int]) -> int:
    cid = 400_000_000 + zlib.crc32(local_symbol.encode()) % 1_500_000_000
    while cid in taken:
        cid += 1
    taken.add(cid)
    return cid


@dataclass(slots=True)
class _Builder:
    today: date
    specs: list[ContractSpec] = field(default_factory=list)
    chains: list[tuple[int, OptionChainInfo]] = field(default_factory=list)
    taken: set[int] = field(default_factory=set)

    def add(self, spec: ContractSpec) -> ContractSpec:
        self.taken.add(spec.con_id)
        self.specs.append(spec)
        return spec


def _stock(
    symbol: str, con_id: int, primary: str, name: str, ind: str, cat: str, sub: str, currency: str = "USD"
) -> ContractSpec:
    valid = ("SMART", primary, "ARCA", "BATS", "IEX") if currency == "USD" else ("SMART", primary)
    return ContractSpec(
        con_id=con_id,
        symbol=symbol,
        sec_type="STK",
        exchange="SMART",
        primary_exchange=primary,
        currency=currency,
        local_symbol=symbol,
        trading_class="NMS" if primary == "NASDAQ" else symbol,
        long_name=name,
        min_tick=0.01,
        market_name="NMS" if primary == "NASDAQ" else symbol,
        valid_exchanges=valid,
        industry=ind,
        category=cat,
        subcategory=sub,
        stock_type="COMMON",
        series=symbol if currency == "USD" else f"{symbol}.{primary}",
    )


def _quarterly_expiries(today: date, count: int) -> list[date]:
    out: list[date] = []
    year, month = today.year, today.month
    while len(out) < count:
        if month in (3, 6, 9, 12):
            expiry = third_friday(year, month)
            if expiry >= today:
                out.append(expiry)
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return out


def _option_expiries(today: date, monthly: int = 4, weekly: int = 2) -> list[date]:
    out: set[date] = set()
    friday = today + timedelta(days=(4 - today.weekday()) % 7)
    if friday == today:
        friday += timedelta(days=7)
    for i in range(weekly):
        out.add(friday + timedelta(weeks=i))
    year, month = today.year, today.month
    while sum(1 for d in out if d == third_friday(d.year, d.month)) < monthly:
        expiry = third_friday(year, month)
        if expiry > today:
            out.add(expiry)
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return sorted(out)


def _strike_grid(price: float, each_side: int = 9) -> list[float]:
    step = 5.0 if price >= 100 else 2.5 if price >= 25 else 1.0
    center = round(price / step) * step
    return [center + k * step for k in range(-each_side, each_side + 1) if center + k * step > 0]


def build_catalog(today: date, option_underlying_prices: dict[str, float]) -> ContractCatalog:
    """The full catalogue for a trading day: futures and option expiries are the next ones after ``today``."""
    b = _Builder(today)
    for symbol, (cid, primary, name, ind, cat, sub) in _STOCKS.items():
        b.add(_stock(symbol, cid, primary, name, ind, cat, sub))
    shop = ("SHOPIFY INC - CLASS A", "Communications", "Internet", "E-Commerce/Services")
    for cid, primary, currency in ((195014116, "NYSE", "USD"), (195014128, "TSX", "CAD")):
        b.add(_stock("SHOP", cid, primary, *shop, currency=currency))  # the deliberately ambiguous symbol
    for pair, (cid, tick, name) in _FOREX.items():
        base, quote = pair.split(".")
        b.add(
            ContractSpec(
                con_id=cid, symbol=base, sec_type="CASH", exchange="IDEALPRO", currency=quote, local_symbol=pair,
                trading_class=pair, long_name=name, min_tick=tick, market_name=pair, valid_exchanges=("IDEALPRO",),
                order_types=_DERIV_ORDER_TYPES, market_rule_id=240 if quote == "JPY" else 239, series=pair,
                min_size="0.01", size_increment="0.01", suggested_size_increment="20000", has_trades=False,
                daily_volume=0.0, category="Forex",
            )
        )  # fmt: skip
    spx = b.add(
        ContractSpec(
            con_id=SPX_CON_ID, symbol="SPX", sec_type="IND", exchange="CBOE", currency="USD", local_symbol="SPX",
            trading_class="SPX", long_name="S&P 500 Stock Index", min_tick=0.01, market_name="SPX",
            valid_exchanges=("CBOE",), order_types="", market_rule_id=110, series="SPX", has_quotes=False,
            daily_volume=0.0, category="Index",
        )
    )  # fmt: skip
    for expiry in _quarterly_expiries(today, 4):
        local = f"ES{_MONTH_CODES[expiry.month - 1]}{expiry.year % 10}"
        b.add(
            ContractSpec(
                con_id=_derived_con_id(local, b.taken), symbol="ES", sec_type="FUT", exchange="CME", currency="USD",
                local_symbol=local, trading_class="ES", long_name="E-mini S&P 500", min_tick=0.25, market_name="ES",
                last_trade_date=f"{expiry:%Y%m%d}", multiplier="50", valid_exchanges=("CME",),
                order_types=_DERIV_ORDER_TYPES, contract_month=f"{expiry:%Y%m}", under_con_id=spx.con_id,
                under_symbol="ES", under_sec_type="IND", market_rule_id=67, series="SPX", pricing="future",
                suggested_size_increment="1", daily_volume=500_000.0, agg_group=2147483647,
            )
        )  # fmt: skip
    for under_symbol, price in sorted(option_underlying_prices.items()):
        under = next(s for s in b.specs if s.symbol == under_symbol and s.sec_type == "STK" and s.currency == "USD")
        expiries = _option_expiries(today)
        strikes = _strike_grid(price)
        for expiry in expiries:
            for strike in strikes:
                for right in ("C", "P"):
                    local = occ_symbol(under_symbol, expiry, right, strike)
                    b.add(
                        ContractSpec(
                            con_id=_derived_con_id(local, b.taken), symbol=under_symbol, sec_type="OPT",
                            exchange="SMART", currency="USD", local_symbol=local, trading_class=under_symbol,
                            long_name=under.long_name, min_tick=0.01, market_name=under_symbol,
                            last_trade_date=f"{expiry:%Y%m%d}", strike=strike, right=right, multiplier="100",
                            valid_exchanges=("SMART", "CBOE", "AMEX", "ISE"), order_types=_DERIV_ORDER_TYPES,
                            contract_month=f"{expiry:%Y%m}", under_con_id=under.con_id, under_symbol=under_symbol,
                            under_sec_type="STK", market_rule_id=110, series=under.series, pricing="option",
                            suggested_size_increment="1", daily_volume=10_000.0,
                        )
                    )  # fmt: skip
        exp_text = tuple(f"{e:%Y%m%d}" for e in expiries)
        for exchange in ("SMART", "CBOE"):
            b.chains.append(
                (under.con_id, OptionChainInfo(exchange, under.con_id, under_symbol, "100", exp_text, tuple(strikes)))
            )
    return ContractCatalog(b.specs, b.chains, today)
