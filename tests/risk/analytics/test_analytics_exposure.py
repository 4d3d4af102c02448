"""Exposure by asset class and currency: long/short/gross/net, FX conversion, forex legs, missing rates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from quantdesk.domain.instrument_codes import AssetClass
from quantdesk.domain.instruments import ForexPair, Future, Option, OptionRight, Stock
from quantdesk.domain.values import Currency
from quantdesk.errors import DataError
from quantdesk.risk.analytics import ExposureRow, HeldPosition, exposure_report, fx_rate, parse_instrument_id

D = Decimal


def book() -> list[HeldPosition]:
    return [
        HeldPosition.of(Stock("AAPL"), 100, 200),  # +20,000 USD
        HeldPosition.of(Stock("MSFT"), -20, 400),  # -8,000 USD
        HeldPosition.of(Stock("SAP", currency="EUR"), 50, 100),  # +5,000 EUR = +5,500 USD
        HeldPosition.of(Future("ES", date(2025, 3, 21), exchange="CME", multiplier=50), -1, 5000),  # -250,000
        HeldPosition.of(Option.of("AAPL", date(2025, 3, 21), 150, OptionRight.CALL), 2, 3),  # +600 premium
    ]


def row(rows: tuple[ExposureRow, ...], key: str) -> ExposureRow:
    return next(r for r in rows if r.key == key)


def test_exposure_by_asset_class_and_currency() -> None:
    rep = exposure_report(book(), base_currency="USD", fx_rates={"EUR": 1.1}, net_liquidation=100_000)
    stock = row(rep.by_asset_class, "stock")
    assert (stock.long, stock.short, stock.positions) == (pytest.approx(25_500), -8_000, 3)
    assert stock.gross == pytest.approx(33_500)
    assert stock.net == pytest.approx(17_500)
    assert stock.pct(stock.gross) == pytest.approx(0.335)
    fut = row(rep.by_asset_class, "future")
    assert (fut.long, fut.short, fut.gross, fut.net) == (0, -250_000, 250_000, -250_000)
    assert row(rep.by_asset_class, "option").long == 600
    assert [r.key for r in rep.by_asset_class] == ["future", "stock", "option"]  # largest gross first
    usd, eur = row(rep.by_currency, "USD"), row(rep.by_currency, "EUR")
    assert (usd.long, usd.short) == (20_600, -258_000)
    assert eur.long == pytest.approx(5_500)
    assert rep.total.gross == pytest.approx(20_600 + 258_000 + 5_500)
    assert rep.total.net == pytest.approx(20_600 - 258_000 + 5_500)
    assert rep.fx_rates == {"EUR": 1.1}
    doc = rep.to_dict()
    assert doc["total"]["gross_pct"] == pytest.approx(2.841)
    assert doc["by_currency"][0]["key"] == "USD"


def test_a_forex_pair_is_long_its_base_and_short_its_quote() -> None:
    eurusd = HeldPosition.of(ForexPair("EUR", "USD"), 100_000, "1.08")
    rep = exposure_report([eurusd], base_currency="USD", net_liquidation=50_000)
    assert row(rep.by_asset_class, "forex").long == pytest.approx(108_000)
    assert row(rep.by_currency, "EUR").long == pytest.approx(108_000)
    assert row(rep.by_currency, "USD").short == pytest.approx(-108_000)
    assert rep.total.net == pytest.approx(108_000)


def test_a_currency_without_a_rate_names_the_currency_and_the_fix() -> None:
    with pytest.raises(DataError) as exc:
        exposure_report(book(), base_currency="USD")
    assert exc.value.field == "fx_rates"
    assert exc.value.value == "EUR"
    assert "EUR" in str(exc.value)
    assert "--fx-rate EUR=" in (exc.value.hint or "")
    with pytest.raises(DataError):
        fx_rate("EUR", "USD", {"EUR": 0})
    assert fx_rate(Currency("USD"), "USD", None) == 1
    assert fx_rate("EUR", "USD", {"eur": "1.1"}) == D("1.1")


def test_no_net_liquidation_gives_no_percentages() -> None:
    rep = exposure_report(book()[:2], net_liquidation=None)
    assert rep.total.pct(rep.total.gross) is None
    empty = exposure_report([], net_liquidation=1000)
    assert empty.total.positions == 0
    assert empty.by_currency == ()


@pytest.mark.parametrize(
    ("iid", "expected"),
    [
        ("AAPL.STK.SMART.USD", ("AAPL", AssetClass.STOCK, "SMART", "USD")),
        ("BRK.B.STK.SMART.USD", ("BRK.B", AssetClass.STOCK, "SMART", "USD")),
        ("ES.FUT.CME.USD.20250321", ("ES", AssetClass.FUTURE, "CME", "USD")),
        ("EUR.CASH.IDEALPRO.USD", ("EUR", AssetClass.FOREX, "IDEALPRO", "USD")),
        ("AAPL.OPT.SMART.USD.20250321.150C", ("AAPL", AssetClass.OPTION, "SMART", "USD")),
    ],
)
def test_parse_instrument_id(iid: str, expected: tuple[str, AssetClass, str, str]) -> None:
    symbol, kind, exchange, ccy = parse_instrument_id(iid)
    assert (symbol, kind, exchange, ccy.code) == expected


def test_positions_from_ids_match_positions_from_instruments() -> None:
    fut = Future("ES", date(2025, 3, 21), exchange="CME", multiplier=50)
    a = HeldPosition.of(fut, -1, 5000)
    b = HeldPosition.from_id(fut.id, -1, 5000, multiplier=50)
    assert a == b
    assert b.local_value == D(-250_000)
    fx = HeldPosition.from_id("EUR.CASH.IDEALPRO.USD", 10, "1.1")
    assert fx.pair_base == Currency("EUR")
    with pytest.raises(DataError) as exc:
        parse_instrument_id("AAPL")
    assert exc.value.field == "instrument_id"
