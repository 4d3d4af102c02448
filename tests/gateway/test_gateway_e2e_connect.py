"""End to end over a real socket with the unmodified ``ib_async.IB``: connecting, accounts and contracts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from ib_async import IB, Contract, Forex, Future, Index, Option, Stock

from quantdesk.gateway import GatewayServer, serve

HOST = "127.0.0.1"


def test_connect_is_fast_and_syncs_every_account(make_config: Any) -> None:
    async def main() -> None:
        accounts = ("DU1000001", "DU1000002", "DU1000003")
        async with GatewayServer(
            make_config(accounts=accounts, cash={a: 1e5 * (i + 1) for i, a in enumerate(accounts)})
        ) as gw:
            ib = IB()
            t0 = time.perf_counter()
            await ib.connectAsync(HOST, gw.port, clientId=3, timeout=2, raiseSyncErrors=True)
            elapsed = time.perf_counter() - t0
            try:
                assert elapsed < 0.5
                assert ib.isConnected()
                assert ib.managedAccounts() == list(accounts)
                net = {v.account: float(v.value) for v in ib.accountValues() if v.tag == "NetLiquidation"}
                assert net == {"DU1000001": 1e5, "DU1000002": 2e5, "DU1000003": 3e5}
                assert ib.positions() == []
                assert ib.openTrades() == []
                assert ib.fills() == []
                assert ib.client.getReqId() >= 1
            finally:
                ib.disconnect()

    asyncio.run(main())


def test_account_summary_and_current_time(running: Any) -> None:
    async def main() -> None:
        async with running(cash=250_000.0) as (gw, ib):
            now = await ib.reqCurrentTimeAsync()
            assert abs(now.timestamp() - gw.clock.now().timestamp()) < 5
            summary = await ib.accountSummaryAsync()
            by_key = {(v.account, v.tag, v.currency): v.value for v in summary}
            for account in gw.accounts.ids:
                for tag in ("NetLiquidation", "TotalCashValue", "AvailableFunds", "ExcessLiquidity"):
                    assert float(by_key[(account, tag, "USD")]) == 250_000.0
                assert float(by_key[(account, "BuyingPower", "USD")]) == 1_000_000.0
                assert float(by_key[(account, "GrossPositionValue", "USD")]) == 0.0
                assert by_key[(account, "AccountType", "")] == "INDIVIDUAL"
                assert float(by_key[(account, "CashBalance", "BASE")]) == 250_000.0
            assert len(await ib.accountSummaryAsync(gw.accounts.ids[0])) == len(summary) // 2

    asyncio.run(main())


def test_single_account_gets_account_updates_and_portfolio(make_config: Any) -> None:
    async def main() -> None:
        async with GatewayServer(make_config(accounts=("DU7777777",), speed=0)) as gw:
            gw.accounts.set_position("DU7777777", 265598, 100, 150.0 * 1)
            gw.accounts.set_cash("DU7777777", 985_000.0)
            ib = IB()
            await ib.connectAsync(HOST, gw.port, clientId=1, timeout=2, raiseSyncErrors=True)
            try:
                (pos,) = ib.positions()
                assert (pos.account, pos.contract.conId, pos.contract.symbol, pos.position, pos.avgCost) == (
                    "DU7777777",
                    265598,
                    "AAPL",
                    100.0,
                    150.0,
                )
                (item,) = ib.portfolio()
                price = gw.price_of(265598)
                assert item.marketPrice == round(price, 8)
                assert item.marketValue == pytest.approx(100 * price, abs=0.01)
                assert item.unrealizedPNL == pytest.approx(100 * (price - 150.0), abs=0.01)
                values = {v.tag: v.value for v in ib.accountValues() if v.currency in ("USD", "")}
                assert float(values["NetLiquidation"]) == pytest.approx(985_000 + 100 * price, abs=0.01)
                assert float(values["GrossPositionValue"]) == pytest.approx(100 * price, abs=0.01)
                assert values["AccountCode"] == "DU7777777"
            finally:
                ib.disconnect()

    asyncio.run(main())


def test_account_changes_are_pushed(running: Any) -> None:
    async def main() -> None:
        async with running(speed=0) as (gw, ib):
            account = gw.accounts.ids[1]
            seen = asyncio.Event()
            ib.positionEvent += lambda p: seen.set()
            gw.accounts.apply_fill(account, 272093, 10, 300.0, commission=1.0)
            await asyncio.wait_for(seen.wait(), 2)
            (pos,) = ib.positions(account)
            assert (pos.contract.conId, pos.position, pos.avgCost) == (272093, 10.0, 300.0)
            await asyncio.sleep(0.05)
            cash = [v for v in ib.accountValues(account) if v.tag == "TotalCashValue" and v.currency == "USD"]
            assert float(cash[0].value) == 1_000_000 - 3000 - 1
            seen.clear()
            gw.accounts.apply_fill(account, 272093, -10, 310.0)
            await asyncio.wait_for(seen.wait(), 2)
            assert ib.positions(account) == []

    asyncio.run(main())


def test_qualify_good_unknown_and_ambiguous(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 200, reqId \d+: No security definition")

    async def main() -> None:
        async with running(speed=0) as (gw, ib):
            fut = next(s for s in gw.catalog.specs if s.sec_type == "FUT")
            opt = next(s for s in gw.catalog.specs if s.sec_type == "OPT")
            good = [
                Stock("AAPL", "SMART", "USD"),
                Stock("MSFT", "NASDAQ", "USD"),
                Forex("EURUSD"),
                Index("SPX", "CBOE"),
                Future("ES", fut.contract_month, "CME"),
                Option("AAPL", opt.last_trade_date, opt.strike, opt.right, "SMART"),
                Contract(conId=10098),
                Stock("SHOP", "SMART", "CAD"),
            ]
            result = await ib.qualifyContractsAsync(*good)
            assert all(c is not None for c in result)
            assert [c.conId for c in good] == [265598, 272093, 12087792, 416904, fut.con_id, opt.con_id, 10098,
                                               195014128]  # fmt: skip
            assert (good[0].exchange, good[0].primaryExchange, good[1].exchange) == ("SMART", "NASDAQ", "NASDAQ")
            assert (good[6].symbol, good[6].secType, good[6].exchange) == ("BAC", "STK", "SMART")
            assert good[5].localSymbol == opt.local_symbol
            assert good[5].multiplier == "100"
            unknown = await ib.qualifyContractsAsync(Stock("NOPE", "SMART", "USD"), Forex("EURXYZ"))
            assert unknown == [None, None]
            ambiguous = await ib.qualifyContractsAsync(Stock("SHOP"), Future("ES", exchange="CME"))
            assert ambiguous == [None, None]
            (listings,) = await ib.qualifyContractsAsync(Stock("SHOP", "SMART"), returnAll=True)
            assert sorted(c.currency for c in listings) == ["CAD", "USD"]

    asyncio.run(main())


def test_contract_details(running: Any) -> None:
    async def main() -> None:
        async with running(speed=0) as (_gw, ib):
            (cd,) = await ib.reqContractDetailsAsync(Stock("AAPL", "SMART", "USD"))
            assert (cd.longName, cd.minTick, cd.stockType, cd.timeZoneId) == ("APPLE INC", 0.01, "COMMON", "US/Eastern")
            assert "SMART" in cd.validExchanges.split(",")
            assert cd.marketRuleIds
            sessions = cd.tradingSessions()
            assert len(sessions) == 5
            assert sessions[0].start.hour == 9
            assert sessions[0].end.hour == 16
            shop = await ib.reqContractDetailsAsync(Stock("SHOP"))
            assert sorted(d.contract.primaryExchange for d in shop) == ["NYSE", "TSX"]
            futures = await ib.reqContractDetailsAsync(Future("ES"))
            assert len(futures) == 4
            assert all(d.underConId == 416904 for d in futures)
            months = [d.contractMonth for d in futures]
            assert months == sorted(months)
            rule = await ib.reqMarketRuleAsync(67)
            assert rule is not None
            assert rule[0].increment == 0.25

    asyncio.run(main())


def test_option_chain_and_matching_symbols(running: Any) -> None:
    async def main() -> None:
        async with running(speed=0) as (gw, ib):
            chains = await ib.reqSecDefOptParamsAsync("AAPL", "", "STK", 265598)
            assert sorted(c.exchange for c in chains) == ["CBOE", "SMART"]
            chain = chains[0]
            assert chain.tradingClass == "AAPL"
            assert chain.multiplier == "100"
            assert chain.expirations == sorted(chain.expirations)
            assert len(chain.expirations) >= 5
            price = gw.price_of(265598)
            assert min(chain.strikes) < price < max(chain.strikes)
            contracts = [Option("AAPL", chain.expirations[0], k, "P", "SMART") for k in chain.strikes[:3]]
            assert all(c is not None for c in await ib.qualifyContractsAsync(*contracts))
            assert await ib.reqSecDefOptParamsAsync("MSFT", "", "STK", 272093) == []
            found = await ib.reqMatchingSymbolsAsync("AA")
            assert found is not None
            assert found[0].contract.symbol == "AAPL"
            assert found[0].derivativeSecTypes == ["OPT"]
            assert found[0].contract.description == "APPLE INC"
            spx = await ib.reqMatchingSymbolsAsync("S&P")
            assert spx is not None
            assert [d.contract.symbol for d in spx] == ["SPX"]

    asyncio.run(main())


def test_duplicate_client_id_is_refused_with_326(running: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 326", r"already in use", r"API connection failed")

    async def main() -> None:
        async with running(client_id=7) as (gw, first):
            second = IB()
            codes: list[int] = []
            second.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
            t0 = time.perf_counter()
            with pytest.raises((TimeoutError, asyncio.TimeoutError)):
                await second.connectAsync(HOST, gw.port, clientId=7, timeout=1)
            assert time.perf_counter() - t0 < 1.8
            assert codes == [326]
            assert not second.isConnected()
            third = IB()
            await third.connectAsync(HOST, gw.port, clientId=8, timeout=2, raiseSyncErrors=True)
            assert sorted(gw.sessions) == [7, 8]
            assert await first.reqCurrentTimeAsync()
            assert await third.reqCurrentTimeAsync()
            third.disconnect()
            await asyncio.sleep(0.05)
            assert sorted(gw.sessions) == [7]

    asyncio.run(main())


def test_the_client_id_is_free_again_after_a_disconnect(running: Any) -> None:
    async def main() -> None:
        async with running(client_id=None) as (gw, _):
            for _ in range(2):
                ib = IB()
                await ib.connectAsync(HOST, gw.port, clientId=5, timeout=2, raiseSyncErrors=True)
                ib.disconnect()
                await asyncio.sleep(0.05)

    asyncio.run(main())


def test_serve_runs_until_cancelled(tmp_path: Any) -> None:
    async def main() -> None:
        started: asyncio.Future[GatewayServer] = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(
            serve(port=0, accounts=["DU5550001"], cash=10_000.0, speed=0, state_file=tmp_path / "s.json",
                  ready=started.set_result)
        )  # fmt: skip
        gw = await asyncio.wait_for(started, 5)
        ib = IB()
        await ib.connectAsync(HOST, gw.port, clientId=1, timeout=2, raiseSyncErrors=True)
        assert ib.managedAccounts() == ["DU5550001"]
        ib.disconnect()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (tmp_path / "s.json").is_file()

    asyncio.run(main())
