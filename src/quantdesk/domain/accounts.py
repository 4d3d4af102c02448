"""Account snapshots: balances and margin figures as IB reports them (``accountSummary``), all in base currency."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

from quantdesk.domain.identifiers import AccountId
from quantdesk.domain.market import require_utc
from quantdesk.domain.values import ZERO, Currency, Money, Numeric, to_decimal
from quantdesk.errors import ValidationError

__all__ = ["AccountSnapshot"]

_MONEY_FIELDS = (
    "net_liquidation",
    "buying_power",
    "initial_margin",
    "maintenance_margin",
    "excess_liquidity",
    "gross_position_value",
)
_NON_NEGATIVE = ("initial_margin", "maintenance_margin", "gross_position_value")


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """One account at ``ts``: cash per currency and IB's summary values (NetLiquidation, BuyingPower, margins, …).

    Every ``Money`` field is in ``base_currency``; margins and gross position value are never negative, while
    net liquidation and excess liquidity may be (an account in deficit). ``exchange_rates`` holds, per currency,
    units of the base currency for one unit (IB's ``ExchangeRate`` ledger values; the base itself is 1).
    ``cash`` and ``exchange_rates`` are read-only mappings left out of the hash, so snapshots stay hashable.
    """

    account: AccountId
    ts: datetime
    base_currency: Currency
    net_liquidation: Money
    buying_power: Money
    initial_margin: Money
    maintenance_margin: Money
    excess_liquidity: Money
    gross_position_value: Money
    cash: Mapping[Currency, Decimal] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    exchange_rates: Mapping[Currency, Decimal] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.account, AccountId):
            raise ValidationError(
                f"must be an AccountId, got {self.account!r}",
                field="account",
                value=self.account,
                hint="wrap the account code in AccountId(...)",
            )
        object.__setattr__(self, "ts", require_utc(self.ts))
        object.__setattr__(self, "base_currency", Currency.of(self.base_currency))
        for name in _MONEY_FIELDS:
            money = getattr(self, name)
            if not isinstance(money, Money) or money.currency != self.base_currency:
                raise ValidationError(
                    f"must be Money in the base currency {self.base_currency}, got {money!r}",
                    field=name,
                    value=money,
                    hint=f"pass Money.of(amount, {self.base_currency.code!r})",
                )
        for name in _NON_NEGATIVE:
            money = getattr(self, name)
            if money.amount < 0:
                raise ValidationError(
                    f"must not be negative, got {money.amount}",
                    field=name,
                    value=money.amount,
                    hint="pass zero or a positive amount",
                )
        if not isinstance(self.cash, Mapping):
            raise ValidationError(
                f"must be a mapping of currency to amount, got {self.cash!r}",
                field="cash",
                value=self.cash,
                hint="pass {'USD': 1000, 'EUR': 50}",
            )
        balances: dict[Currency, Decimal] = {}
        for key, amount in self.cash.items():
            ccy = Currency.of(key)
            balances[ccy] = to_decimal(amount, f"cash[{ccy.code}]")
        object.__setattr__(self, "cash", MappingProxyType(dict(sorted(balances.items(), key=lambda kv: kv[0].code))))
        object.__setattr__(self, "exchange_rates", _rates(self.exchange_rates, self.base_currency))

    @classmethod
    def of(
        cls,
        account: AccountId | str,
        ts: datetime,
        net_liquidation: Numeric,
        *,
        base_currency: Currency | str = "USD",
        cash: Mapping[str, Numeric] | Mapping[Currency, Numeric] | Mapping[Currency | str, Numeric] | None = None,
        buying_power: Numeric = 0,
        initial_margin: Numeric = 0,
        maintenance_margin: Numeric = 0,
        excess_liquidity: Numeric | None = None,
        gross_position_value: Numeric = 0,
        exchange_rates: Mapping[str, Numeric] | Mapping[Currency, Numeric] | None = None,
    ) -> AccountSnapshot:
        """Build from plain numbers in the base currency; excess liquidity defaults to net liq − maintenance."""
        ccy = Currency.of(base_currency)
        net = to_decimal(net_liquidation, "net_liquidation")
        maint = to_decimal(maintenance_margin, "maintenance_margin")
        excess = net - maint if excess_liquidity is None else to_decimal(excess_liquidity, "excess_liquidity")
        balances = {Currency.of(k): to_decimal(v, f"cash[{k}]") for k, v in (cash or {}).items()}
        return cls(
            account if isinstance(account, AccountId) else AccountId(account),
            ts,
            ccy,
            Money(net, ccy),
            Money(to_decimal(buying_power, "buying_power"), ccy),
            Money(to_decimal(initial_margin, "initial_margin"), ccy),
            Money(maint, ccy),
            Money(excess, ccy),
            Money(to_decimal(gross_position_value, "gross_position_value"), ccy),
            MappingProxyType(balances),
            MappingProxyType(
                {Currency.of(k): to_decimal(v, f"exchange_rates[{k}]") for k, v in (exchange_rates or {}).items()}
            ),
        )

    def exchange_rate(self, currency: Currency | str) -> Decimal | None:
        """Units of the base currency per one unit of ``currency``: 1 for the base, None when IB sent no rate."""
        return self.exchange_rates.get(Currency.of(currency))

    def cash_balance(self, currency: Currency | str) -> Decimal:
        """Cash held in ``currency`` (zero when the account holds none)."""
        return self.cash.get(Currency.of(currency), ZERO)

    @property
    def margin_utilisation(self) -> Decimal | None:
        """Maintenance margin / net liquidation; ``None`` when net liquidation is zero or negative (no ratio)."""
        if self.net_liquidation.amount <= 0:
            return None
        return self.maintenance_margin.amount / self.net_liquidation.amount

    @property
    def cushion(self) -> Decimal | None:
        """Excess liquidity / net liquidation (IB's Cushion); ``None`` when net liquidation is zero or negative."""
        if self.net_liquidation.amount <= 0:
            return None
        return self.excess_liquidity.amount / self.net_liquidation.amount

    @property
    def leverage(self) -> Decimal | None:
        """Gross position value / net liquidation; ``None`` when net liquidation is zero or negative."""
        if self.net_liquidation.amount <= 0:
            return None
        return self.gross_position_value.amount / self.net_liquidation.amount


def _rates(rates: object, base: Currency) -> Mapping[Currency, Decimal]:
    """Validated exchange rates (positive, finite), the base's fixed at 1, as a read-only mapping."""
    if not isinstance(rates, Mapping):
        raise ValidationError(
            f"must be a mapping of currency to rate, got {rates!r}",
            field="exchange_rates",
            value=rates,
            hint="pass {'EUR': 1.08} (units of the base currency per one EUR)",
        )
    out: dict[Currency, Decimal] = {}
    for key, value in rates.items():
        ccy = Currency.of(key)
        rate = to_decimal(value, f"exchange_rates[{ccy.code}]")
        if rate <= 0:
            raise ValidationError(
                f"must be a positive number, got {rate}",
                field=f"exchange_rates[{ccy.code}]",
                value=value,
                hint=f"pass units of {base.code} per one {ccy.code}, e.g. 1.08",
            )
        out[ccy] = rate
    out[base] = Decimal(1)
    return MappingProxyType(dict(sorted(out.items(), key=lambda kv: kv[0].code)))
