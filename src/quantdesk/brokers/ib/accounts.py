"""Accounts: the managed accounts of a login, per-account summaries, positions and the portfolio.

One IB login may manage several accounts (advisors, a paper login with sub-accounts; the gateway simulator serves
two by default). Everything here takes an optional account and answers for one account or all of them.

* :meth:`AccountService.summary` → ``AccountSnapshot``: net liquidation, buying power, initial and maintenance
  margin, excess liquidity, gross position value (IB's ``accountSummary`` tags, base currency), and cash per
  currency (the ``$LEDGER`` ``CashBalance`` lines; ``BASE`` is skipped) with each currency's ``ExchangeRate`` into
  the base (what pre-trade risk converts instrument-currency amounts with).
* :meth:`AccountService.positions` → ``PositionReport`` per account and contract. IB's ``avgCost`` for derivatives
  includes the multiplier (an ES future bought at 5000 shows 250000): it is divided out, so ``average_cost`` is per
  unit as the report type requires.
* :meth:`AccountService.portfolio` adds IB's market price, for the account(s) ``ib_async`` subscribed to.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from ib_async import AccountValue, Contract

from quantdesk.brokers.base import PositionReport
from quantdesk.brokers.ib.connection import IBConnection
from quantdesk.brokers.ib.contracts import ContractResolver, instrument_from_contract
from quantdesk.domain.accounts import AccountSnapshot
from quantdesk.domain.identifiers import AccountId
from quantdesk.domain.instruments import Instrument
from quantdesk.errors import BrokerError, NotFound

__all__ = ["SUMMARY_FIELDS", "AccountService", "snapshot_from_values", "unit_cost"]

SUMMARY_FIELDS = {
    "NetLiquidation": "net_liquidation",
    "BuyingPower": "buying_power",
    "InitMarginReq": "initial_margin",
    "MaintMarginReq": "maintenance_margin",
    "ExcessLiquidity": "excess_liquidity",
    "GrossPositionValue": "gross_position_value",
}


def _dec(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError, ValueError):
        return None
    return value if value.is_finite() else None


def snapshot_from_values(account: AccountId, values: list[AccountValue], ts: datetime | None = None) -> AccountSnapshot:
    """Build an ``AccountSnapshot`` from IB account values (summary tags plus ledger lines)."""
    figures: dict[str, Decimal] = {}
    base = ""
    cash: dict[str, Decimal] = {}
    rates: dict[str, Decimal] = {}
    total_cash: Decimal | None = None
    for v in values:
        if v.account != account.value:
            continue
        amount = _dec(v.value)
        if amount is None:
            continue
        if v.tag in SUMMARY_FIELDS and v.currency not in ("", "BASE"):
            figures[SUMMARY_FIELDS[v.tag]] = amount
            if v.tag == "NetLiquidation":
                base = v.currency
        elif v.tag == "CashBalance" and v.currency not in ("", "BASE"):
            cash[v.currency] = amount
        elif v.tag == "TotalCashValue" and v.currency not in ("", "BASE"):
            total_cash = amount
        elif v.tag == "ExchangeRate" and v.currency not in ("", "BASE") and amount > 0:
            rates[v.currency] = amount
    if "net_liquidation" not in figures:
        raise BrokerError(
            f"IB sent no NetLiquidation for account {account}",
            field="account",
            value=account.value,
            hint="the account summary is incomplete: retry; check the account id",
        )
    if not cash and total_cash is not None:
        cash[base] = total_cash
    return AccountSnapshot.of(
        account,
        ts or datetime.now(UTC),
        figures["net_liquidation"],
        base_currency=base or "USD",
        cash=cash,
        buying_power=figures.get("buying_power", Decimal(0)),
        initial_margin=max(figures.get("initial_margin", Decimal(0)), Decimal(0)),
        maintenance_margin=max(figures.get("maintenance_margin", Decimal(0)), Decimal(0)),
        excess_liquidity=figures.get("excess_liquidity"),
        gross_position_value=max(figures.get("gross_position_value", Decimal(0)), Decimal(0)),
        exchange_rates=rates,
    )


def unit_cost(avg_cost: float, contract: Contract) -> tuple[Decimal, Decimal]:
    """``(average cost per unit, multiplier)``: IB's ``avgCost`` of a derivative includes the multiplier."""
    multiplier = _dec(contract.multiplier) if contract.multiplier else None
    multiplier = multiplier if multiplier is not None and multiplier > 0 else Decimal(1)
    cost = Decimal(repr(float(avg_cost)))
    if contract.secType in ("FUT", "OPT", "FOP", "WAR", "CONTFUT") and multiplier != 1:
        cost = cost / multiplier
    return cost, multiplier


class AccountService:
    """Accounts of one connection (the execution connection in ``IBBroker``)."""

    def __init__(
        self,
        connection: IBConnection,
        resolver: ContractResolver | None = None,
        *,
        default_account: str = "",
        timeout: float = 30.0,
    ) -> None:
        self.connection = connection
        self.resolver = resolver
        self.default = default_account.strip().upper()
        self.timeout = timeout

    def managed_accounts(self) -> list[AccountId]:
        """The accounts this login manages, in IB's order."""
        return [AccountId(a) for a in self.connection.ib.managedAccounts() if a]

    def resolve(self, account: AccountId | str | None) -> AccountId:
        """The account to use: the given one (checked), the configured default, or the first managed one."""
        managed = self.managed_accounts()
        wanted = account if account is not None else (self.default or None)
        if wanted is None:
            if not managed:
                raise BrokerError("IB reported no managed accounts", field="account", hint="reconnect and retry")
            return managed[0]
        acct = wanted if isinstance(wanted, AccountId) else AccountId(str(wanted).strip().upper())
        if managed and acct not in managed:
            raise NotFound(
                f"account {acct} is not managed by this login",
                field="account",
                value=acct.value,
                hint="use one of " + ", ".join(a.value for a in managed) + " (ib.account)",
            )
        return acct

    async def summary(self, account: AccountId | str | None = None) -> AccountSnapshot:
        """Net liquidation, cash per currency, buying power and margins of one account."""
        acct = self.resolve(account)
        values = await self._values(acct.value)
        return snapshot_from_values(acct, values)

    async def summaries(self) -> dict[AccountId, AccountSnapshot]:
        """The snapshot of every managed account."""
        values = await self._values("")
        return {a: snapshot_from_values(a, values) for a in self.managed_accounts()}

    async def _values(self, account: str) -> list[AccountValue]:
        try:
            async with asyncio.timeout(self.timeout):
                return list(await self.connection.ib.accountSummaryAsync(account))
        except TimeoutError:
            raise BrokerError(
                f"no account summary within {self.timeout:g} s",
                field="ib.request_timeout",
                value=self.timeout,
                hint="retry; raise ib.request_timeout",
            ) from None

    def _instrument(self, contract: Contract) -> Instrument:
        if self.resolver is not None:
            return self.resolver.instrument_for(contract)
        return instrument_from_contract(contract)

    def positions(self, account: AccountId | str | None = None) -> list[PositionReport]:
        """Current positions (``reqPositions``, kept up to date by IB), of one account or all when None."""
        acct = "" if account is None else self.resolve(account).value
        prices = self._market_prices()
        now = datetime.now(UTC)
        out = []
        for p in self.connection.ib.positions(acct):
            if not p.position:
                continue
            cost, multiplier = unit_cost(p.avgCost, p.contract)
            inst = self._instrument(p.contract)
            out.append(
                PositionReport(
                    account=AccountId(p.account),
                    instrument_id=inst.id,
                    currency=inst.currency,
                    quantity=Decimal(repr(float(p.position))),
                    average_cost=cost,
                    ts=now,
                    multiplier=multiplier,
                    market_price=prices.get((p.account, p.contract.conId)),
                )
            )
        return sorted(out, key=lambda r: (r.account.value, r.instrument_id.value))

    def portfolio(self, account: AccountId | str | None = None) -> list[PositionReport]:
        """Positions with IB's market price, for the accounts whose portfolio ``ib_async`` receives."""
        acct = "" if account is None else self.resolve(account).value
        now = datetime.now(UTC)
        out = []
        for item in self.connection.ib.portfolio(acct):
            if not item.position:
                continue
            cost, multiplier = unit_cost(item.averageCost, item.contract)
            inst = self._instrument(item.contract)
            out.append(
                PositionReport(
                    account=AccountId(item.account),
                    instrument_id=inst.id,
                    currency=inst.currency,
                    quantity=Decimal(repr(float(item.position))),
                    average_cost=cost,
                    ts=now,
                    multiplier=multiplier,
                    market_price=Decimal(repr(float(item.marketPrice))),
                )
            )
        return sorted(out, key=lambda r: (r.account.value, r.instrument_id.value))

    def _market_prices(self) -> dict[tuple[str, int], Decimal]:
        prices: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
        for item in self.connection.ib.portfolio():
            if item.marketPrice == item.marketPrice:  # not NaN
                prices[(item.account, item.contract.conId)] = Decimal(repr(float(item.marketPrice)))
        return dict(prices)
