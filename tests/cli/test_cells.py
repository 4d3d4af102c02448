"""Table cells: symbols for ids, prices at the tick, money in cents, quantities without useless decimals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from quantdesk.cli.cells import (
    bar_size_words,
    float_prices,
    instrument_label,
    money,
    order_status,
    plural,
    price,
    quantity,
    utc,
    volume,
)

D = Decimal


@pytest.mark.parametrize(
    ("instrument_id", "label"),
    [
        ("UNH.STK.SMART.USD", "UNH"),
        ("BRK.B.STK.SMART.USD", "BRK.B"),
        ("EUR.CASH.IDEALPRO.USD", "EUR.USD"),
        ("ES.FUT.CME.USD.20250321", "ES 20250321"),
        ("AAPL.OPT.SMART.USD.20250321.150.5C", "AAPL 20250321 150.5C"),
        ("not an id", "not an id"),
    ],
)
def test_labels_are_symbols_and_full_ids_on_request(instrument_id: str, label: str) -> None:
    assert instrument_label(instrument_id) == label
    assert instrument_label(instrument_id, full=True) == instrument_id


def test_prices_at_the_tick_averages_rounded_exact_prices_never_cut() -> None:
    average = D("178.7271684587813620071684588")  # a computed average, as issue #14 saw it
    assert price(average, "UNH.STK.SMART.USD", average=True) == "178.73"
    assert price(D("178.7"), "UNH.STK.SMART.USD") == "178.70"
    assert price(D("0.1234"), "PENNY.STK.SMART.USD") == "0.1234"  # a finer tick than the class's is kept
    assert price(D("1.0834"), "EUR.CASH.IDEALPRO.USD") == "1.08340"
    assert price(D("4512"), "ES.FUT.CME.USD.20250321") == "4,512.00"
    assert price(None, "UNH.STK.SMART.USD") == ""


def test_money_in_cents_and_quantities_plain() -> None:
    assert [money(D(2), "USD"), money(D("1.25"), "USD"), money(D("-1234.5"))] == ["2.00 USD", "1.25 USD", "-1,234.50"]
    assert [quantity(D("1000000.000000000000")), quantity(D("0.50")), quantity(D(0))] == ["1,000,000", "0.5", "0"]


def test_times_in_utc_without_offset() -> None:
    ts = datetime(2026, 12, 1, 9, 30, 5, tzinfo=timezone(timedelta(hours=-5)))
    assert utc(ts) == "2026-12-01 14:30:05"
    assert utc(ts.astimezone(UTC), seconds=False) == "2026-12-01 14:30"


def test_long_statuses_are_shortened_unless_full() -> None:
    assert [order_status("PARTIALLY_FILLED"), order_status("FILLED")] == ["PART-FILLED", "FILLED"]
    assert order_status("PARTIALLY_FILLED", full=True) == "PARTIALLY_FILLED"


def test_counts_and_bar_sizes_in_words() -> None:
    assert [plural(1, "bar"), plural(2, "bar"), plural(8313, "bar")] == ["1 bar", "2 bars", "8,313 bars"]
    sizes = ["30min", "1 hour", "5 secs", "1day", "1week", "bogus"]
    assert [bar_size_words(s) for s in sizes] == ["30-minute", "1-hour", "5-second", "daily", "weekly", "bogus"]


def test_float_prices_share_one_scale_and_volumes_are_plain() -> None:
    assert float_prices([179.0, 178.5, None]) == ["179.00", "178.50", ""]
    assert float_prices([178.7271684587, 178.5]) == ["178.7272", "178.5000"]
    assert [volume(1_000_000.0), volume(0.25), volume(None)] == ["1,000,000", "0.25", ""]
