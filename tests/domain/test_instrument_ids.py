"""Instrument ids read back into their parts and their asset class's tick."""

from __future__ import annotations

from decimal import Decimal

from quantdesk.domain.instrument_codes import AssetClass
from quantdesk.domain.instrument_ids import class_tick, split_instrument_id
from quantdesk.domain.instruments import ForexPair, Stock


def test_ids_built_by_instruments_split_back() -> None:
    for instrument in (Stock("BRK.B"), ForexPair("EUR", "USD"), Stock("SAP", currency="EUR", exchange="IBIS")):
        parts = split_instrument_id(instrument.id.value)
        assert parts is not None
        assert (parts.symbol, parts.asset_class) == (instrument.symbol, instrument.asset_class)
        assert (parts.exchange, parts.currency) == (instrument.exchange, instrument.currency.code)
        assert parts.tick == instrument.tick_size  # built with the class's default tick


def test_a_future_keeps_its_expiry_as_suffix() -> None:
    parts = split_instrument_id("ES.FUT.CME.USD.20250321")
    assert parts is not None
    assert parts.suffix == "20250321"
    assert parts.asset_class is AssetClass.FUTURE


def test_class_ticks_come_from_the_instrument_classes() -> None:
    assert class_tick(AssetClass.STOCK) == Decimal("0.01")
    assert class_tick(AssetClass.FOREX) == Decimal("0.00005")
    assert class_tick(AssetClass.BOND) == Decimal("0.0001")
    assert split_instrument_id("nonsense") is None
