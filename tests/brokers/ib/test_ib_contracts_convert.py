"""Instruments ↔ ``ib_async`` contracts for every asset class, and the persistent contract cache."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from ib_async import Contract

from quantdesk.brokers.ib.contract_cache import CachedContract, ContractCache, instrument_from_json, instrument_to_json
from quantdesk.brokers.ib.contracts import (
    contract_fields,
    contract_from_fields,
    domain_symbol,
    instrument_from_contract,
    to_ib_contract,
)
from quantdesk.domain.identifiers import InstrumentId
from quantdesk.domain.instrument_codes import OptionRight, SecIdType
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
from quantdesk.errors import ValidationError

EVERY_KIND: list[Instrument] = [
    Stock("AAPL", primary_exchange="NASDAQ", con_id=265598),
    Stock("BRK.B"),
    Option("AAPL", date(2025, 3, 21), Decimal("152.5"), OptionRight.CALL),
    Option("SPX", date(2025, 3, 21), Decimal(5000), OptionRight.PUT, trading_class="SPXW", exchange="CBOE"),
    Warrant("XYZ", date(2026, 1, 16), Decimal(10), OptionRight.CALL, exchange="FWB", currency="EUR"),
    Future("ES", date(2025, 3, 21), exchange="CME", multiplier=Decimal(50)),
    ContinuousFuture("ES", exchange="CME", multiplier=Decimal(50)),
    ForexPair("EUR", "USD"),
    Bond.from_isin("US0378331005"),
    Cfd("IBUS500"),
    Index("SPX", exchange="CBOE"),
    Crypto("BTC"),
]


@pytest.mark.parametrize("instrument", EVERY_KIND, ids=lambda i: str(i))
def test_round_trip_keeps_the_instrument_id(instrument: Instrument) -> None:
    contract = to_ib_contract(instrument)
    assert contract.secType == instrument.asset_class.value
    back = instrument_from_contract(contract)
    assert type(back) is type(instrument)
    assert back.id == instrument.id


def test_ib_fields_of_each_kind() -> None:
    fx = to_ib_contract(ForexPair("GBP", "USD"))
    assert (fx.symbol, fx.currency, fx.exchange, fx.secType) == ("GBP", "USD", "IDEALPRO", "CASH")
    opt = to_ib_contract(EVERY_KIND[3])
    assert (opt.lastTradeDateOrContractMonth, opt.strike, opt.right, opt.multiplier, opt.tradingClass) == (
        "20250321", 5000.0, "P", "100", "SPXW",
    )  # fmt: skip
    fut = to_ib_contract(EVERY_KIND[5])
    assert (fut.lastTradeDateOrContractMonth, fut.multiplier, fut.exchange) == ("20250321", "50", "CME")
    bond = to_ib_contract(EVERY_KIND[8])
    assert (bond.secIdType, bond.secId, bond.symbol) == ("ISIN", "US0378331005", "")
    assert to_ib_contract(Stock("BRK.B")).symbol == "BRK B"
    assert domain_symbol("BRK B") == "BRK.B"
    assert to_ib_contract(EVERY_KIND[0]).conId == 265598


def test_contracts_from_ib_are_normalised() -> None:
    # a position message names the listing exchange; the instrument is still the SMART-routed stock
    pos = Contract(conId=265598, symbol="AAPL", secType="STK", exchange="NASDAQ", currency="USD")
    stock = instrument_from_contract(pos, 0.01, "APPLE INC")
    assert stock.id == InstrumentId("AAPL.STK.SMART.USD")
    assert (stock.primary_exchange, stock.con_id, stock.tick_size, stock.description) == (
        "NASDAQ", 265598, Decimal("0.01"), "APPLE INC",
    )  # fmt: skip
    es = Contract(conId=1, symbol="ES", secType="FUT", exchange="CME", currency="USD", multiplier="50",
                  lastTradeDateOrContractMonth="20250321", tradingClass="ES", localSymbol="ESH5")  # fmt: skip
    fut = instrument_from_contract(es, 0.25)
    assert isinstance(fut, Future)
    assert (fut.expiry, fut.multiplier, fut.tick_size, fut.trading_class) == (
        date(2025, 3, 21), Decimal(50), Decimal("0.25"), None,
    )  # fmt: skip
    month_only = instrument_from_contract(Contract(symbol="ES", secType="FUT", exchange="CME", multiplier="50",
                                                   lastTradeDateOrContractMonth="202506"))  # fmt: skip
    assert isinstance(month_only, Future)
    assert month_only.expiry == date(2025, 6, 20)  # the third Friday
    cusip = instrument_from_contract(Contract(secType="BOND", secIdType="CUSIP", secId="037833100", currency="USD"))
    assert isinstance(cusip, Bond)
    assert (cusip.symbol, cusip.sec_id_type) == ("037833100", SecIdType.CUSIP)
    with pytest.raises(ValidationError, match="FOP"):
        instrument_from_contract(Contract(secType="FOP", symbol="ES"))


def test_instruments_serialise_for_the_cache() -> None:
    for instrument in EVERY_KIND:
        data = json.loads(json.dumps(instrument_to_json(instrument)))
        assert instrument_from_json(data) == instrument


def test_the_cache_persists_atomically_and_reloads(tmp_path: Path) -> None:
    cache = ContractCache.in_data_dir(tmp_path)
    aapl = Stock("AAPL", con_id=265598, tick_size=Decimal("0.01"))
    contract = Contract(conId=265598, symbol="AAPL", secType="STK", exchange="SMART", currency="USD")
    cache.put(CachedContract(265598, contract_fields(contract), aapl, Decimal("0.01"), "APPLE INC"))
    path = tmp_path / "ib" / "contracts.json"
    assert path.is_file()
    assert not list(path.parent.glob(".tmp-*"))
    again = ContractCache.in_data_dir(tmp_path)
    entry = again.lookup(aapl.id)
    assert entry is not None
    assert entry.instrument == aapl
    assert again.get(265598) == entry
    assert contract_from_fields(dict(entry.contract)).conId == 265598
    assert again.hits == 2
    assert again.lookup(InstrumentId("MSFT.STK.SMART.USD")) is None
    assert again.misses == 1


def test_an_unreadable_cache_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "ib" / "contracts.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    cache = ContractCache(path)
    assert len(cache) == 0
