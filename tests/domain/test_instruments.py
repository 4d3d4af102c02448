from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.identifiers import InstrumentId
from quantdesk.domain.instruments import (
    AssetClass,
    Bond,
    Cfd,
    ContinuousFuture,
    Crypto,
    ForexPair,
    Future,
    Index,
    Instrument,
    Option,
    OptionRight,
    SecIdType,
    Stock,
    Warrant,
)
from quantdesk.domain.values import USD, Currency
from quantdesk.errors import ValidationError

MAR21 = date(2025, 3, 21)


def _error(fn: object, *args: object, **kwargs: object) -> ValidationError:
    assert callable(fn)
    with pytest.raises(ValidationError) as info:
        fn(*args, **kwargs)
    return info.value


# --- ids and defaults ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "expected"),
    [
        (Stock("AAPL"), "AAPL.STK.SMART.USD"),
        (Stock("sap", currency=Currency("EUR"), exchange="ibis"), "SAP.STK.IBIS.EUR"),
        (Stock("BRK.B"), "BRK.B.STK.SMART.USD"),
        (Future("ES", MAR21, exchange="CME", multiplier=Decimal(50)), "ES.FUT.CME.USD.20250321"),
        (
            Future(
                "DAX", MAR21, exchange="EUREX", currency=Currency("EUR"), multiplier=Decimal(5), trading_class="FDXM"
            ),
            "DAX.FUT.EUREX.EUR.20250321.FDXM",
        ),
        (ContinuousFuture("ES", exchange="CME", multiplier=Decimal(50)), "ES.CONTFUT.CME.USD"),
        (Option("AAPL", MAR21, Decimal("150.00"), OptionRight.CALL), "AAPL.OPT.SMART.USD.20250321.150C"),
        (Option("AAPL", MAR21, Decimal("152.5"), OptionRight.PUT), "AAPL.OPT.SMART.USD.20250321.152.5P"),
        (Option.of("spx", "20250321", 5000, "put", trading_class="spxw"), "SPX.OPT.SMART.USD.20250321.5000P.SPXW"),
        (Warrant("XYZ", date(2026, 1, 2), Decimal(10), OptionRight.CALL), "XYZ.WAR.SMART.USD.20260102.10C"),
        (ForexPair("EUR", Currency("USD")), "EUR.CASH.IDEALPRO.USD"),
        (Bond.from_cusip("037833100"), "037833100.BOND.SMART.USD"),
        (Bond("AAPL", sec_id_type=SecIdType.ISIN, sec_id="us0378331005"), "AAPL.BOND.SMART.USD.ISIN:US0378331005"),
        (Bond("T"), "T.BOND.SMART.USD"),
        (Cfd("IBUS500"), "IBUS500.CFD.SMART.USD"),
        (Index("SPX", exchange="CBOE"), "SPX.IND.CBOE.USD"),
        (Crypto("btc"), "BTC.CRYPTO.PAXOS.USD"),
    ],
)
def test_ids_follow_the_documented_format(instrument: Instrument, expected: str) -> None:
    assert instrument.id == InstrumentId(expected)
    assert str(instrument) == expected


def test_asset_classes_carry_ib_sec_types() -> None:
    assert Stock("A").asset_class is AssetClass.STOCK
    assert Option.of("A", MAR21, 1, "C").asset_class.value == "OPT"
    assert Future("ES", MAR21, exchange="CME", multiplier=Decimal(50)).asset_class.value == "FUT"
    assert ContinuousFuture("ES", exchange="CME", multiplier=Decimal(50)).asset_class.value == "CONTFUT"
    assert ForexPair("EUR").asset_class.value == "CASH"
    assert Bond("T").asset_class.value == "BOND"
    assert Cfd("X").asset_class.value == "CFD"
    assert Index("SPX", exchange="CBOE").asset_class.value == "IND"
    assert Warrant("W", MAR21, Decimal(1), OptionRight.PUT).asset_class.value == "WAR"
    assert Crypto("ETH").asset_class.value == "CRYPTO"
    assert {m.value for m in OptionRight} == {"C", "P"}


def test_stock_defaults_are_smart_usd_whole_shares() -> None:
    s = Stock("aapl")
    assert (s.symbol, s.exchange, s.currency, s.primary_exchange) == ("AAPL", "SMART", USD, None)
    assert (s.tick_size, s.multiplier, s.lot_size) == (Decimal("0.01"), Decimal(1), Decimal(1))
    assert not s.allows_fractional
    assert s.con_id is None
    assert s.is_tradable


def test_loose_inputs_are_converted() -> None:
    s = Stock("AAPL", currency="USD", tick_size="0.005", primary_exchange="nasdaq")  # type: ignore[arg-type]
    assert s.currency == USD
    assert s.tick_size == Decimal("0.005")
    assert s.primary_exchange == "NASDAQ"
    o = Option("AAPL", "2025-03-21", 150, "c")  # type: ignore[arg-type]
    assert (o.expiry, o.strike, o.right, o.multiplier) == (MAR21, Decimal(150), OptionRight.CALL, Decimal(100))


def test_instrument_is_frozen_and_hashable() -> None:
    s = Stock("AAPL")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.symbol = "MSFT"  # type: ignore[misc]
    assert {s, Stock("AAPL")} == {s}


def test_with_con_id_keeps_the_rest() -> None:
    s = Stock("AAPL").with_con_id(265598)
    assert s.con_id == 265598
    assert s.id == Stock("AAPL").id
    assert isinstance(s, Stock)


def test_base_instrument_is_abstract() -> None:
    with pytest.raises(TypeError, match="abstract"):
        Instrument("X")


# --- common validation --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "fragment"),
    [("", "non-empty"), ("AA PL", "whitespace"), (" AAPL", "whitespace"), ("AA$", "unsupported"), (None, "non-empty")],
)
def test_symbol_rules(symbol: object, fragment: str) -> None:
    err = _error(Stock, symbol)
    assert err.field == "symbol"
    assert fragment in err.message
    assert err.hint


@pytest.mark.parametrize("name", ["tick_size", "multiplier", "lot_size"])
@pytest.mark.parametrize("bad", [Decimal(0), Decimal(-1), float("nan"), float("inf")])
def test_sizes_must_be_positive_finite(name: str, bad: object) -> None:
    err = _error(Stock, "AAPL", **{name: bad})
    assert err.field == name


def test_bad_currency_and_exchange() -> None:
    assert _error(Stock, "AAPL", currency="usd").field == "currency"
    err = _error(Stock, "AAPL", exchange="NEW YORK")
    assert err.field == "exchange"
    assert "whitespace" in err.message
    assert _error(Stock, "AAPL", primary_exchange="").field == "primary_exchange"


@pytest.mark.parametrize("bad", [0, -3, True, "265598"])
def test_con_id_must_be_a_positive_int(bad: object) -> None:
    err = _error(Stock, "AAPL", con_id=bad)
    assert err.field == "con_id"
    assert "conId" in err.message


def test_fractional_flag_and_lot_size_must_agree() -> None:
    err = _error(Stock, "AAPL", allows_fractional=True)
    assert err.field == "allows_fractional"
    assert "lot_size" in (err.hint or "")
    err = _error(Stock, "AAPL", lot_size=Decimal("0.5"))
    assert err.field == "lot_size"
    assert "allows_fractional" in err.message
    frac = Stock("AAPL", allows_fractional=True, lot_size=Decimal("0.0001"))
    assert frac.is_valid_quantity("0.1234")


# --- per-class rules ----------------------------------------------------------------------------------------------


def test_option_needs_expiry_strike_right() -> None:
    assert _error(Option, "AAPL", None, Decimal(150), OptionRight.CALL).field == "expiry"
    err = _error(Option, "AAPL", datetime(2025, 3, 21, 16), Decimal(150), OptionRight.CALL)
    assert err.field == "expiry"
    assert "not a datetime" in err.message
    assert _error(Option, "AAPL", "21/03/2025", Decimal(150), OptionRight.CALL).field == "expiry"
    assert _error(Option, "AAPL", MAR21, Decimal(0), OptionRight.CALL).field == "strike"
    assert _error(Option, "AAPL", MAR21, Decimal(-5), OptionRight.CALL).field == "strike"
    err = _error(Option, "AAPL", MAR21, Decimal(150), "X")
    assert err.field == "right"
    assert "unknown option right" in err.message
    assert _error(Option.of, "AAPL", MAR21, 150, None).field == "right"


def test_option_right_parse() -> None:
    assert OptionRight.parse("call") is OptionRight.CALL
    assert OptionRight.parse(" P ") is OptionRight.PUT
    assert OptionRight.parse(OptionRight.PUT) is OptionRight.PUT


def test_warrant_is_like_an_option_with_multiplier_one() -> None:
    w = Warrant("XYZ", MAR21, Decimal(10), OptionRight.CALL)
    assert (w.multiplier, w.exchange) == (Decimal(1), "SMART")
    assert _error(Warrant, "XYZ", MAR21, Decimal(0), OptionRight.CALL).field == "strike"


def test_future_needs_exchange_and_multiplier() -> None:
    err = _error(Future, "ES", MAR21)
    assert err.field == "exchange"
    assert "needs its listing exchange" in err.message
    assert "CME" in (err.hint or "")
    err = _error(Future, "ES", MAR21, exchange="CME")
    assert err.field == "multiplier"
    assert "multiplier" in err.message
    assert _error(Future, "ES", None, exchange="CME", multiplier=Decimal(50)).field == "expiry"
    f = Future("ES", "20250321", exchange="cme", multiplier=50, tick_size=Decimal("0.25"))  # type: ignore[arg-type]
    assert (f.expiry, f.exchange, f.multiplier) == (MAR21, "CME", Decimal(50))


def test_continuous_future_needs_exchange_and_multiplier_and_is_data_only() -> None:
    assert _error(ContinuousFuture, "ES", multiplier=Decimal(50)).field == "exchange"
    assert _error(ContinuousFuture, "ES", exchange="CME").field == "multiplier"
    cf = ContinuousFuture("ES", exchange="CME", multiplier=Decimal(50))
    assert not cf.is_tradable
    assert not hasattr(cf, "expiry")


def test_forex_pair() -> None:
    fx = ForexPair("eur", Currency("USD"))
    assert (fx.base, fx.quote, fx.exchange, fx.allows_fractional) == (Currency("EUR"), USD, "IDEALPRO", True)
    assert ForexPair.parse("EUR.USD") == fx
    assert ForexPair.parse("eur/usd") == fx
    assert ForexPair.parse("EURUSD") == fx
    assert ForexPair("EUR") == fx
    err = _error(ForexPair, "EUR", Currency("EUR"))
    assert err.field == "currency"
    assert "both EUR" in err.message
    assert _error(ForexPair, "EURO").field == "symbol"
    assert _error(ForexPair, "EUR", "us").field == "currency"
    assert _error(ForexPair.parse, "EUR-USD-JPY").field == "symbol"


def test_crypto_defaults() -> None:
    c = Crypto("BTC")
    assert (c.exchange, c.currency, c.allows_fractional) == ("PAXOS", USD, True)
    assert c.validate_quantity("0.0001") == Decimal("0.0001")


def test_index_needs_exchange_and_is_data_only() -> None:
    err = _error(Index, "SPX")
    assert err.field == "exchange"
    assert "CBOE" in (err.hint or "")
    assert not Index("SPX", exchange="CBOE").is_tradable


def test_default_exchanges() -> None:
    for inst in (Stock("X"), Option.of("X", MAR21, 1, "C"), Warrant("X", MAR21, Decimal(1), "C"), Cfd("X"), Bond("X")):  # type: ignore[arg-type]
        assert inst.exchange == "SMART"


def test_bond_sec_ids() -> None:
    b = Bond.from_isin("US0378331005")
    assert (b.sec_id_type, b.sec_id, b.symbol) == (SecIdType.ISIN, "US0378331005", "US0378331005")
    assert Bond("X", sec_id_type="CUSIP", sec_id="037833100").sec_id_type is SecIdType.CUSIP  # type: ignore[arg-type]
    err = _error(Bond.from_isin, "US0378331006")
    assert err.field == "sec_id"
    assert "check digit" in err.message
    assert _error(Bond.from_cusip, "037833101").field == "sec_id"
    assert _error(Bond.from_cusip, "03783310").field == "sec_id"
    assert _error(Bond, "X", sec_id="037833100").field == "sec_id_type"
    assert _error(Bond, "X", sec_id_type=SecIdType.CUSIP).field == "sec_id"
    assert _error(Bond, "X", sec_id_type="FIGI", sec_id="BBG000B9XRY4").field == "sec_id_type"


# --- ticks and quantities -----------------------------------------------------------------------------------------


def test_round_to_tick() -> None:
    es = Future("ES", MAR21, exchange="CME", multiplier=Decimal(50), tick_size=Decimal("0.25"))
    assert es.round_to_tick("5000.13") == Decimal("5000.25")
    assert es.round_to_tick("5000.12") == Decimal("5000.00")
    assert es.round_to_tick("5000.01", ROUND_CEILING) == Decimal("5000.25")
    assert es.round_to_tick("5000.24", ROUND_FLOOR) == Decimal("5000.00")
    assert es.is_on_tick("5000.75")
    assert not es.is_on_tick("5000.10")


def test_validate_price_names_the_nearest_ticks() -> None:
    s = Stock("AAPL")
    err = _error(s.validate_price, "100.004", "limit_price")
    assert err.field == "limit_price"
    assert "tick" in err.message
    assert err.hint == "use 100.00 or 100.01 (nearest: 100.00)"
    assert _error(s.validate_price, 0, "stop_price").field == "stop_price"
    assert s.validate_price(100.5) == Decimal("100.5")


def test_validate_quantity() -> None:
    s = Stock("AAPL")
    assert s.validate_quantity(10) == Decimal(10)
    err = _error(s.validate_quantity, "2.5")
    assert err.field == "quantity"
    assert "whole units" in err.message
    err = _error(s.validate_quantity, -1, "qty")
    assert err.field == "qty"
    lots = Stock("0700", exchange="SEHK", currency=Currency("HKD"), lot_size=Decimal(100))
    err = _error(lots.validate_quantity, 250)
    assert "multiple of the lot size 100" in err.message
    assert err.hint == "use 200 or 300"
    assert _error(lots.validate_quantity, 50).hint == "use 100"
    assert lots.is_valid_quantity(300)
    assert not lots.is_valid_quantity(301)
    assert not s.is_valid_quantity(float("nan"))
    assert not s.is_valid_quantity(0)


ticks = st.sampled_from([Decimal("0.01"), Decimal("0.25"), Decimal("0.00005"), Decimal("0.5"), Decimal(5)])
prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(100000), places=5)


@settings(database=None, max_examples=200)
@given(tick=ticks, price=prices)
def test_round_to_tick_yields_a_multiple_of_the_tick(tick: Decimal, price: Decimal) -> None:
    inst = Stock("X", tick_size=tick)
    rounded = inst.round_to_tick(price)
    assert rounded % tick == 0
    assert abs(rounded - price) <= tick / 2
    assert inst.is_on_tick(rounded)
    assert inst.round_to_tick(price, ROUND_FLOOR) <= price <= inst.round_to_tick(price, ROUND_CEILING)


@settings(database=None, max_examples=100)
@given(lot=st.integers(min_value=1, max_value=1000), n=st.integers(min_value=1, max_value=1000))
def test_multiples_of_the_lot_are_valid_and_others_not(lot: int, n: int) -> None:
    inst = Stock("X", lot_size=Decimal(lot))
    assert inst.is_valid_quantity(lot * n)
    if lot > 1:
        assert not inst.is_valid_quantity(lot * n + 1)
