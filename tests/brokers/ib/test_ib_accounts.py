"""Accounts through the adapter: several accounts on one login, summaries, positions and the portfolio."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from quantdesk.brokers.base import PositionReport
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
            assert (fut.quantity, fut.average_cost, fut.multiplier) == (Decimal(-2), Decimal(5000), Decimal(50))
            assert [p.account for p in await broker.positions(AccountId("DU1000002"))] == [AccountId("DU1000002")]
            pushed = [r for r in reports if isinstance(r, PositionReport)]
            assert {p.account.value for p in pushed} == set(ACCOUNTS)

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
