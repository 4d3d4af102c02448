"""Qualification against the gateway: good, unknown and ambiguous contracts, the persistent cache, chains."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantdesk.brokers.ib import AmbiguousContract, IBBroker, RollRule
from quantdesk.brokers.ib.chains import roll_date
from quantdesk.domain.instrument_codes import OptionRight
from quantdesk.domain.instruments import ContinuousFuture, ForexPair, Future, Index, Option, Stock
from quantdesk.errors import NotFound
from quantdesk.gateway import GatewayServer
from quantdesk.gateway.codec import Request
from quantdesk.gateway.session import Session


def count_requests(gw: GatewayServer, msg_id: int) -> Callable[[], int]:
    """Wrap the gateway's handler of ``msg_id`` to count the requests that reach it."""
    calls = [0]
    inner = gw.handlers.get(msg_id)
    assert inner is not None

    def counting(session: Session, req: Request) -> Any:
        calls[0] += 1
        return inner(session, req)

    gw.handlers.register(msg_id, counting)
    return lambda: calls[0]


def test_good_contracts_qualify_with_ib_facts(gateway_broker: Any) -> None:
    async def main() -> None:
        async with gateway_broker() as (gw, broker):
            aapl = await broker.qualify(Stock("AAPL"))
            assert (aapl.con_id, aapl.instrument.con_id, aapl.instrument.tick_size) == (265598, 265598, Decimal("0.01"))
            assert aapl.instrument.description == "APPLE INC"
            assert aapl.instrument.id.value == "AAPL.STK.SMART.USD"
            eur = await broker.qualify(ForexPair("EUR", "USD"))
            assert (eur.con_id, eur.instrument.tick_size) == (12087792, Decimal("0.00005"))
            spx = await broker.qualify(Index("SPX", exchange="CBOE"))
            assert spx.con_id == 416904
            spec = next(s for s in gw.catalog.specs if s.sec_type == "OPT")
            opt = Option.of("AAPL", spec.last_trade_date, spec.strike, spec.right)
            q = await broker.qualify(opt)
            assert q.con_id == spec.con_id
            cont = await broker.qualify(ContinuousFuture("ES", exchange="CME", multiplier=Decimal(50)))
            front = min((s for s in gw.catalog.specs if s.sec_type == "FUT"), key=lambda s: s.last_trade_date)
            assert cont.con_id == front.con_id
            fut = await broker.qualify(Future("ES", front.last_trade_date, exchange="CME", multiplier=Decimal(50)))
            assert (fut.con_id, fut.instrument.tick_size) == (front.con_id, Decimal("0.25"))
            assert cont.instrument != fut.instrument  # CONTFUT and the front future are cached apart

    asyncio.run(main())


def test_unknown_symbol_is_not_found_naming_it(gateway_broker: Any, ib_errors: Any) -> None:
    ib_errors.allow(r"Error 200, reqId \d+")

    async def main() -> None:
        async with gateway_broker() as (_gw, broker):
            with pytest.raises(NotFound) as caught:
                await broker.qualify(Stock("NOPEX"))
            assert "NOPEX" in str(caught.value)
            assert "200" in str(caught.value)
            assert caught.value.field == "symbol"

    asyncio.run(main())


def test_ambiguous_symbol_lists_the_candidates(gateway_broker: Any) -> None:
    async def main() -> None:
        async with gateway_broker() as (_gw, broker):
            with pytest.raises(AmbiguousContract) as caught:
                await broker.lookup("SHOP")
            err = caught.value
            assert sorted((c.primary_exchange, c.currency, c.con_id) for c in err.candidates) == [
                ("NYSE", "USD", 195014116), ("TSX", "CAD", 195014128),
            ]  # fmt: skip
            assert "NYSE" in str(err)
            assert "TSX" in str(err)
            assert "195014128" in str(err)
            assert "currency" in (err.hint or "")
            shop = await broker.lookup("SHOP", currency="CAD")
            assert (shop.con_id, shop.currency.code, shop.primary_exchange) == (195014128, "CAD", "TSX")
            assert (await broker.qualify(Stock("SHOP"))).con_id == 195014116  # a full instrument names USD

    asyncio.run(main())


def test_the_cache_is_persisted_and_reused_without_asking_ib(tmp_path: Path, make_settings: Any,
                                                             make_gateway_config: Any) -> None:  # fmt: skip
    async def main() -> None:
        async with GatewayServer(make_gateway_config()) as gw:
            details = count_requests(gw, 9)
            first = IBBroker(make_settings(gw.port), data_dir=tmp_path)
            await first.connect()
            q1 = await first.qualify(Stock("AAPL"))
            await first.qualify(Stock("AAPL"))
            assert details() == 1
            await first.close()
            assert (tmp_path / "ib" / "contracts.json").is_file()
            second = IBBroker(make_settings(gw.port), data_dir=tmp_path)
            await second.connect()
            q2 = await second.qualify(Stock("AAPL"))
            assert details() == 1  # served from the file
            assert q2.instrument == q1.instrument
            assert q2.contract.conId == 265598
            assert second.contracts.cache.hits >= 1
            await second.close()

    asyncio.run(main())


def test_option_chain(gateway_broker: Any) -> None:
    async def main() -> None:
        async with gateway_broker() as (gw, broker):
            chains = await broker.option_chains(Stock("AAPL"))
            assert [c.exchange for c in chains] == ["SMART", "CBOE"]
            chain = chains[0]
            assert (chain.trading_class, chain.multiplier) == ("AAPL", Decimal(100))
            assert list(chain.expirations) == sorted(chain.expirations)
            price = Decimal(str(gw.price_of(265598)))
            strike = chain.nearest_strike(price)
            call = chain.option(chain.expirations[0], strike, OptionRight.CALL)
            q = await broker.qualify(call)
            assert q.instrument.id.value.startswith("AAPL.OPT.SMART.USD.")
            assert await broker.option_chains(Stock("MSFT")) == []

    asyncio.run(main())


def test_futures_chain_and_the_roll(gateway_broker: Any) -> None:
    async def main() -> None:
        async with gateway_broker() as (gw, broker):
            chain = await broker.futures_chain("ES", "CME")
            assert len(chain) == 4
            assert [f.expiry for f in chain] == sorted(f.expiry for f in chain)
            assert all(f.multiplier == 50 and f.tick_size == Decimal("0.25") and f.con_id for f in chain)
            today = gw.catalog.today
            assert today is not None
            front, following = chain[0], chain[1]
            assert await broker.active_future("ES", "CME", today - timedelta(days=1)) in (front, following)
            before = roll_date(front) - timedelta(days=1)
            assert await broker.active_future("ES", "CME", before) == front
            assert await broker.active_future("ES", "CME", roll_date(front)) == following
            late = await broker.active_future("ES", "CME", roll_date(front), RollRule(days_before_expiry=0))
            assert late == front

    asyncio.run(main())
