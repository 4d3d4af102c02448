"""Accounts through the adapter: several accounts on one login, summaries, positions and the portfolio."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from ib_async import AccountValue

from quantdesk.brokers.base import PositionReport
from quantdesk.brokers.ib.accounts import snapshot_from_values
from quantdesk.domain.identifiers import AccountId, InstrumentId
from quantdesk.domain.values import Currency
from quantdesk.errors import NotFound

ACCOUNTS = ("DU1000001", "DU1000002")


async def _until(predicate: Any, timeout: float = 2.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


def test_two_accounts_with_their_own_summaries(gateway_broker: Any) -> None:
    async def main() -> None:
        async with gateway_broker(accounts=ACCOUNTS, cash={"DU1000001": 250_000.0, "DU1000002": 750_000.0}) as (
            _gw,
            broker,
        ):
            assert await broker.managed_accounts() == [AccountId(a) for a in ACCOUNTS]
            first = await broker.account_summary()  # the default: the first managed account
            assert first.account == AccountId("DU1000001")
            assert first.net_liquidation.amount == Decimal("250000.00")
            assert first.base_currency == Currency("USD")
            assert first.cash_balance("USD") == Decimal("250000.00")
            assert dict(first.exchange_rates) == {Currency("USD"): Decimal(1)}
            second = await broker.account_summary(AccountId("DU1000002"))
            assert second.net_liquidation.amount == Decimal("750000.00")
            assert second.buying_power.amount == Decimal("3000000.00")
            assert second.excess_liquidity.amount == Decimal("750000.00")
            assert second.initial_margin.amount == 0
            every = await broker.accounts.summaries()
            assert set(every) == {AccountId(a) for a in ACCOUNTS}
            with pytest.raises(NotFound, match="DU9"):
                await broker.account_summary(AccountId("DU9999999"))

    asyncio.run(main())


def test_positions_per_account_with_the_multiplier_divided_out(gateway_broker: Any) -> None:
    async def main() -> None:
        async with gateway_broker(accounts=ACCOUNTS) as (gw, broker):
            es = next(s for s in gw.catalog.specs if s.sec_type == "FUT")
            reports: list[Any] = []
            broker.add_listener(reports.append)
            gw.accounts.set_position("DU1000001", 265598, 100, 150.0)
            gw.accounts.set_position("DU1000002", es.con_id, -2, 5000.0 * 50)  # IB's avgCost includes the multiplier
            await _until(lambda: len(broker.accounts.positions()) == 2)
            aapl, fut = await broker.positions()
            assert (aapl.account, aapl.instrument_id, aapl.quantity, aapl.average_cost) == (
                AccountId("DU1000001"), InstrumentId("AAPL.STK.SMART.USD"), Decimal(100), Decimal(150),
            )  # fmt: skip
            assert fut.account == AccountId("DU1000002")
            assert fut.instrument_id.value.startswith("ES.FUT.CME.USD.")
            assert aapl.currency == fut.currency == Currency("USD")
            assert (fut.quantity, fut.average_cost, fut.multiplier) == (Decimal(-2), Decimal(5000), Decimal(50))
            assert [p.account for p in await broker.positions(AccountId("DU1000002"))] == [AccountId("DU1000002")]
            pushed = [r for r in reports if isinstance(r, PositionReport)]
            assert {p.account.value for p in pushed} == set(ACCOUNTS)
            assert {p.currency for p in pushed} == {Currency("USD")}

    asyncio.run(main())


def test_portfolio_with_market_prices_for_a_single_account_login(gateway_broker: Any) -> None:
    async def main() -> None:
        async with gateway_broker(accounts=("DU7777777",), connect=False) as (gw, broker):
            gw.accounts.set_position("DU7777777", 272093, 10, 300.0)
            await broker.connect()
            (item,) = broker.accounts.portfolio()
            assert item.market_price == Decimal(repr(round(gw.price_of(272093), 8)))
            (pos,) = await broker.positions()
            assert pos.market_price == item.market_price
            summary = await broker.account_summary()
            assert summary.gross_position_value.amount > 0

    asyncio.run(main())


def test_the_summary_carries_ibs_exchange_rate_per_currency() -> None:
    """A multi-currency ledger as IB sends it (the gateway's accounts are single-currency): rates into the base."""
    lines = [
        ("NetLiquidation", "120000.50", "USD"), ("CashBalance", "50000", "USD"), ("CashBalance", "-2000", "EUR"),
        ("CashBalance", "1000000", "JPY"), ("ExchangeRate", "1.00", "BASE"), ("ExchangeRate", "1.00", "USD"),
        ("ExchangeRate", "1.0843", "EUR"), ("ExchangeRate", "0.0067", "JPY"), ("ExchangeRate", "", "GBP"),
        ("ExchangeRate", "1.27", "GBP"),
    ]  # fmt: skip
    values = [AccountValue("U1", tag, value, ccy, "") for tag, value, ccy in lines]
    values.append(AccountValue("U2", "ExchangeRate", "9.99", "CHF", ""))  # another account's line
    snap = snapshot_from_values(AccountId("U1"), values)
    assert snap.base_currency == Currency("USD")
    assert {c.code: r for c, r in snap.exchange_rates.items()} == {
        "EUR": Decimal("1.0843"), "GBP": Decimal("1.27"), "JPY": Decimal("0.0067"), "USD": Decimal(1),
    }  # fmt: skip
    assert snap.exchange_rate("EUR") == Decimal("1.0843")
    assert snap.exchange_rate("CHF") is None
