"""Option chains, futures chains and the futures roll.

* :func:`option_chains` asks ``reqSecDefOptParams`` for an underlying's expirations and strikes per exchange and
  trading class; :meth:`OptionChain.option` builds one contract of it.
* :func:`futures_chain` lists a future's live contracts (``reqContractDetails`` for a future without expiry),
  nearest expiry first.
* :func:`active_contract` is the roll, a pure function of a chain and a date.

**The roll rule.** The *front* contract is the first one whose expiry lies after the date. We hold the front
contract until ``days_before_expiry`` business days (Monday–Friday) before its expiry, then the next one; the
default of 5 leaves a week before the last trading day, when liquidity moves on and physical delivery approaches.
When volume or open interest figures are given (open interest preferred), the roll comes earlier: on the first
day the next contract's figure exceeds the front's, the way the market itself rolls. It never comes later than
the calendar rule. :func:`roll_date` is the date the calendar rule rolls on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from ib_async import Contract

from quantdesk.brokers.ib.contracts import ContractResolver, instrument_from_contract
from quantdesk.domain.identifiers import InstrumentId
from quantdesk.domain.instrument_codes import OptionRight
from quantdesk.domain.instruments import ContinuousFuture, Future, Instrument, Option
from quantdesk.errors import NotFound, ValidationError

__all__ = ["OptionChain", "RollRule", "active_contract", "front_future", "futures_chain", "option_chains", "roll_date"]


@dataclass(frozen=True, slots=True)
class OptionChain:
    """One exchange's and trading class's option series on an underlying: expirations and strikes."""

    underlying: Instrument
    exchange: str
    trading_class: str
    multiplier: Decimal
    expirations: tuple[date, ...]
    strikes: tuple[Decimal, ...]

    def option(self, expiry: date, strike: Decimal | int | str, right: OptionRight | str) -> Option:
        """The option of this chain at ``expiry``/``strike``/``right`` (validated against the chain)."""
        k = Decimal(str(strike))
        if expiry not in self.expirations:
            raise ValidationError(
                f"{expiry} is not an expiration of the {self.trading_class} chain",
                field="expiry",
                value=expiry,
                hint="use one of " + ", ".join(d.isoformat() for d in self.expirations[:6]),
            )
        if k not in self.strikes:
            raise ValidationError(
                f"{k} is not a strike of the {self.trading_class} chain",
                field="strike",
                value=k,
                hint=f"strikes run from {self.strikes[0]} to {self.strikes[-1]}",
            )
        trading_class = self.trading_class if self.trading_class != self.underlying.symbol else None
        return Option(
            self.underlying.symbol, expiry, k, OptionRight.parse(right), multiplier=self.multiplier,
            exchange=self.exchange, currency=self.underlying.currency, trading_class=trading_class,
        )  # fmt: skip

    def nearest_strike(self, price: Decimal) -> Decimal:
        """The strike closest to ``price`` (at the money)."""
        return min(self.strikes, key=lambda k: abs(k - price))


async def option_chains(resolver: ContractResolver, underlying: Instrument) -> list[OptionChain]:
    """Every option chain on ``underlying`` (qualified first), one per exchange and trading class."""
    qualified = await resolver.qualify(underlying)
    under = qualified.instrument
    chains = await resolver.connection.ib.reqSecDefOptParamsAsync(
        qualified.contract.symbol, "", under.asset_class.value, qualified.con_id
    )
    out = [
        OptionChain(
            under,
            c.exchange,
            c.tradingClass,
            Decimal(c.multiplier or "100"),
            tuple(sorted(datetime.strptime(e, "%Y%m%d").date() for e in c.expirations)),
            tuple(sorted(Decimal(repr(float(k))) for k in c.strikes)),
        )
        for c in chains
    ]
    return sorted(out, key=lambda c: (c.exchange != "SMART", c.exchange, c.trading_class))


async def futures_chain(resolver: ContractResolver, symbol: str, exchange: str, currency: str = "USD") -> list[Future]:
    """The live contracts of a future, nearest expiry first (each qualified: conId, tick, multiplier)."""
    details = await resolver.details(Contract(secType="FUT", symbol=symbol.upper(), exchange=exchange,
                                               currency=currency))  # fmt: skip
    futures: list[Future] = []
    for d in details:
        if d.contract is None or d.contract.secType != "FUT":
            continue
        qualified = resolver.remember(instrument_from_contract(d.contract, d.minTick, d.longName), d).instrument
        if isinstance(qualified, Future):
            futures.append(qualified)
    if not futures:
        raise NotFound(
            f"IB has no futures {symbol.upper()} on {exchange} in {currency}",
            field="symbol",
            value=symbol,
            hint="check the root symbol and exchange, e.g. ES on CME",
        )
    return sorted(futures, key=lambda f: f.expiry)


@dataclass(frozen=True, slots=True)
class RollRule:
    """When to leave the front contract (see the module docstring)."""

    days_before_expiry: int = 5
    use_activity: bool = True

    def __post_init__(self) -> None:
        if self.days_before_expiry < 0:
            raise ValidationError(
                "must be >= 0", field="days_before_expiry", value=self.days_before_expiry, hint="e.g. 5"
            )


def _business_days_before(day: date, n: int) -> date:
    out = day
    while n > 0:
        out -= timedelta(days=1)
        if out.weekday() < 5:
            n -= 1
    return out


def roll_date(contract: Future, rule: RollRule = RollRule()) -> date:
    """The date the calendar rule leaves ``contract``: ``days_before_expiry`` business days before expiry."""
    return _business_days_before(contract.expiry, rule.days_before_expiry)


def active_contract(
    chain: Sequence[Future],
    on: date,
    rule: RollRule = RollRule(),
    *,
    volume: Mapping[InstrumentId, Decimal] | None = None,
    open_interest: Mapping[InstrumentId, Decimal] | None = None,
) -> Future:
    """The contract to hold on ``on`` under ``rule`` (pure: a chain, a date and optional activity figures)."""
    live = sorted((f for f in chain if f.expiry > on), key=lambda f: f.expiry)
    if not live:
        raise NotFound(
            f"no contract of the chain expires after {on}",
            field="chain",
            value=len(chain),
            hint="fetch the chain again (futures_chain) to get the newly listed contracts",
        )
    front = live[0]
    if len(live) == 1:
        return front
    following = live[1]
    if on >= roll_date(front, rule):
        return following
    activity = open_interest if open_interest else volume
    if rule.use_activity and activity:
        now, nxt = activity.get(front.id), activity.get(following.id)
        if now is not None and nxt is not None and nxt > now:
            return following
    return front


async def front_future(
    resolver: ContractResolver, continuous: ContinuousFuture, on: date, rule: RollRule = RollRule()
) -> Future:
    """The dated contract a continuous future stands for on ``on`` under ``rule``."""
    chain = await futures_chain(resolver, continuous.symbol, continuous.exchange, continuous.currency.code)
    return active_contract(chain, on, rule)
