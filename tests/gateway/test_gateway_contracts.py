"""The contract catalogue: what it holds and how it matches queries the way IB does."""

from __future__ import annotations

from datetime import date

import pytest

from quantdesk.gateway.contracts import ContractCatalog, ContractQuery, build_catalog, occ_symbol, third_friday
from quantdesk.gateway.sample import load_sample_closes

TODAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def catalog() -> ContractCatalog:
    return build_catalog(TODAY, {"AAPL": 178.77})


def test_contents(catalog: ContractCatalog) -> None:
    by_type: dict[str, int] = {}
    for s in catalog.specs:
        by_type[s.sec_type] = by_type.get(s.sec_type, 0) + 1
    assert by_type["STK"] == 22
    assert by_type["CASH"] == 4
    assert by_type["IND"] == 1
    assert by_type["FUT"] == 4
    assert by_type["OPT"] == 6 * 19 * 2
    tickers = set(load_sample_closes().tickers)
    assert tickers <= {s.symbol for s in catalog.specs if s.sec_type == "STK"}
    assert len({s.con_id for s in catalog.specs}) == len(catalog)
    again = build_catalog(TODAY, {"AAPL": 178.77})
    assert [s.con_id for s in again.specs] == [s.con_id for s in catalog.specs]


def test_futures_and_options_expire_after_today(catalog: ContractCatalog) -> None:
    futs = [s for s in catalog.specs if s.sec_type == "FUT"]
    assert [s.local_symbol for s in futs] == ["ESZ6", "ESH7", "ESM7", "ESU7"]
    for s in futs:
        d = date(int(s.last_trade_date[:4]), int(s.last_trade_date[4:6]), int(s.last_trade_date[6:]))
        assert d == third_friday(d.year, d.month)
        assert d >= TODAY
        assert s.multiplier == "50"
    (chain, _) = catalog.option_chains("AAPL", "STK", 0)
    assert chain.expirations[0] > f"{TODAY:%Y%m%d}"
    assert list(chain.expirations) == sorted(chain.expirations)
    assert chain.strikes[0] < 178.77 < chain.strikes[-1]
    assert chain.strikes[1] - chain.strikes[0] == 5.0
    assert occ_symbol("AAPL", date(2026, 1, 16), "C", 180.0) == "AAPL  260116C00180000"
    assert third_friday(2026, 12) == date(2026, 12, 18)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (ContractQuery(con_id=265598), ["AAPL/SMART"]),
        (ContractQuery(con_id=265598, exchange="NASDAQ"), ["AAPL/NASDAQ"]),
        (ContractQuery(con_id=265598, sec_type="OPT"), []),
        (ContractQuery(con_id=265598, exchange="IDEALPRO"), []),
        (ContractQuery(con_id=1), []),
        (ContractQuery(symbol="aapl", sec_type="STK"), ["AAPL/SMART"]),
        (ContractQuery(symbol="AAPL", sec_type="STK", exchange="SMART", currency="USD"), ["AAPL/SMART"]),
        (ContractQuery(symbol="AAPL", sec_type="STK", primary_exchange="NYSE"), []),
        (ContractQuery(symbol="AAPL", sec_type="STK", currency="EUR"), []),
        (ContractQuery(symbol="SHOP", sec_type="STK"), ["SHOP/SMART", "SHOP/SMART"]),
        (ContractQuery(symbol="SHOP", sec_type="STK", exchange="TSX"), ["SHOP/TSX"]),
        (ContractQuery(symbol="EUR", sec_type="CASH", exchange="IDEALPRO", currency="USD"), ["EUR.USD/IDEALPRO"]),
        (ContractQuery(local_symbol="EUR.USD", sec_type="CASH"), ["EUR.USD/IDEALPRO"]),
        (ContractQuery(symbol="SPX", sec_type="IND"), ["SPX/CBOE"]),
        (ContractQuery(symbol="ES", sec_type="FUT", last_trade_date="202612"), ["ESZ6/CME"]),
        (ContractQuery(symbol="ES", sec_type="FUT", last_trade_date="20270319"), ["ESH7/CME"]),
        (ContractQuery(symbol="ES", sec_type="FUT", local_symbol="ESM7"), ["ESM7/CME"]),
        (ContractQuery(symbol="ES", sec_type="FUT", multiplier="50", exchange="CME", last_trade_date="202709"),
         ["ESU7/CME"]),
        (ContractQuery(symbol="ES", sec_type="FUT", last_trade_date="202610"), []),
        (ContractQuery(symbol="ES", sec_type="CONTFUT"), ["ESZ6/CME"]),
    ],
)  # fmt: skip
def test_lookup(catalog: ContractCatalog, query: ContractQuery, expected: list[str]) -> None:
    assert [f"{s.local_symbol}/{s.exchange}" for s in catalog.lookup(query)] == expected


def test_option_lookup_and_resolve(catalog: ContractCatalog) -> None:
    chain = catalog.option_chains("AAPL", "STK", 265598)[0]
    expiry = chain.expirations[2]
    q = ContractQuery(symbol="AAPL", sec_type="OPT", last_trade_date=expiry, strike=180.0, right="CALL")
    (spec,) = catalog.lookup(q)
    assert (spec.right, spec.strike, spec.multiplier, spec.under_con_id) == ("C", 180.0, "100", 265598)
    assert catalog.resolve(q) == spec
    assert len(catalog.lookup(ContractQuery(symbol="AAPL", sec_type="OPT", last_trade_date=expiry))) == 38
    assert catalog.resolve(ContractQuery(symbol="SHOP", sec_type="STK")) is None
    front = catalog.resolve(ContractQuery(symbol="ES", sec_type="CONTFUT"))
    assert front is not None
    assert front.sec_type == "FUT"
    assert front.local_symbol == "ESZ6"
    assert catalog.lookup(ContractQuery(sec_id_type="ISIN", sec_id="US0378331005")) == []


def test_matching_symbols_and_derivatives(catalog: ContractCatalog) -> None:
    found = catalog.matching_symbols("ms")
    assert [s.symbol for s in found] == ["MSFT"]
    assert [s.symbol for s in catalog.matching_symbols("shop")] == ["SHOP", "SHOP"]
    assert catalog.matching_symbols("") == []
    assert len(catalog.matching_symbols("a", limit=3)) == 3
    aapl = catalog.get(265598)
    spx = catalog.get(416904)
    assert catalog.derivative_sec_types(aapl) == ["OPT"]
    assert catalog.derivative_sec_types(spx) == ["FUT"]
