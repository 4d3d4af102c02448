"""Commission schedules: IB fixed and tiered for US stocks (with pass-throughs), flat and per-contract fees."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from quantdesk.domain.instruments import ForexPair, Future, Option, Stock
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import USD, Currency, Money
from quantdesk.errors import ValidationError
from quantdesk.execution import (
    IB_TIERS,
    ByAssetClass,
    FeeModel,
    FlatFee,
    IbFixed,
    IbTiered,
    NoFees,
    PerContractFee,
    RegulatoryFees,
    round_cents,
)

AAPL = Stock("AAPL")
EUR = Currency("EUR")
D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def usd(amount: str) -> Money:
    return Money(D(amount), USD)


# --- IB fixed -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "price", "expected"),
    [
        (100, "25", "1.00"),  # 0.50 at 0.005/share: the minimum applies
        (1_000, "25", "5.00"),  # 0.005 x 1,000
        (10_000, "0.50", "50.00"),  # 50.00, also the 1 % cap of 5,000
        (1_000, "0.20", "2.00"),  # 5.00 capped at 1 % of 200
        (100, "0.50", "0.50"),  # the cap (1 % of 50) wins over the 1.00 minimum
    ],
)
def test_ib_fixed_on_buys(quantity: int, price: str, expected: str) -> None:
    assert IbFixed().commission(AAPL, BUY, D(quantity), D(price)) == usd(expected)


def test_ib_fixed_passes_through_sec_fee_and_finra_taf_on_sales() -> None:
    # 5.00 + SEC 25,000 x 0.0000278 = 0.695 + TAF 1,000 x 0.000166 = 0.166 -> 5.861
    assert IbFixed().commission(AAPL, SELL, D(1_000), D(25)) == usd("5.86")
    # 500.00 + SEC 1,000,000 x 0.0000278 = 27.80 + TAF 16.60 capped at 8.30
    assert IbFixed().commission(AAPL, SELL, D(100_000), D(10)) == usd("536.10")
    assert IbFixed.without_regulatory_fees().commission(AAPL, SELL, D(1_000), D(25)) == usd("5.00")


# --- IB tiered ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("monthly_volume", "expected"),
    [
        (0, "3.50"),
        (299_000, "3.50"),  # the order starts at share 299,001: first tier
        (299_999, "3.50"),
        (300_000, "2.00"),  # starts at share 300,001
        (2_999_999, "2.00"),
        (3_000_000, "1.50"),
        (20_000_000, "1.00"),
        (100_000_000, "0.50"),
        (250_000_000, "0.50"),
    ],
)
def test_ib_tiered_rate_follows_the_months_volume(monthly_volume: int, expected: str) -> None:
    model = IbTiered.commission_only()
    assert model.commission(AAPL, BUY, D(1_000), D(50), monthly_volume=D(monthly_volume)) == usd(expected)


def test_ib_tiered_table_and_rate_lookup() -> None:
    assert [rate for _, rate in IB_TIERS] == [D("0.0035"), D("0.0020"), D("0.0015"), D("0.0010"), D("0.0005")]
    assert IbTiered().rate(D(300_000)) == D("0.0020")


def test_ib_tiered_minimum_and_maximum_apply_to_the_commission_alone() -> None:
    model = IbTiered.commission_only()
    assert model.commission(AAPL, BUY, D(50), D(20)) == usd("0.35")  # 0.175 -> minimum
    assert model.commission(AAPL, BUY, D(1_000), D("0.10")) == usd("1.00")  # 3.50 capped at 1 % of 100


def test_ib_tiered_adds_exchange_clearing_and_regulatory_fees() -> None:
    model = IbTiered()
    # 3.50 + exchange 1,000 x 0.0030 + clearing 1,000 x 0.00020
    assert model.commission(AAPL, BUY, D(1_000), D(50)) == usd("6.70")
    # ... + SEC 50,000 x 0.0000278 = 1.39 + TAF 0.166 -> 8.256
    assert model.commission(AAPL, SELL, D(1_000), D(50)) == usd("8.26")
    no_sec = IbTiered(regulatory=RegulatoryFees(sec_fee_rate=D(0)))
    assert no_sec.commission(AAPL, SELL, D(1_000), D(50)) == usd("6.87")  # 6.70 + 0.166


def test_us_schedules_refuse_other_currencies() -> None:
    with pytest.raises(ValidationError) as info:
        IbFixed().commission(Stock("SAP", currency=EUR, exchange="IBIS"), BUY, D(10), D(100))
    assert info.value.field == "currency"


# --- rounding, flat and per-contract fees -------------------------------------------------------------------------


def test_rounding_is_half_up_to_cents() -> None:
    assert [round_cents(D(x)) for x in ("0.005", "0.0049", "1.235", "-0.005")] == [
        D("0.01"),
        D("0.00"),
        D("1.24"),
        D("-0.01"),
    ]


def test_flat_fee_per_order_plus_basis_points_with_a_minimum() -> None:
    eur_stock = Stock("SAP", currency=EUR, exchange="IBIS")
    model = FlatFee.of(per_order=1, bps=5)
    assert model.commission(eur_stock, BUY, D(100), D(100)) == Money(D("6.00"), eur_stock.currency)  # 1 + 5 bps
    assert FlatFee.of(bps=1, minimum=2).commission(AAPL, BUY, D(10), D(10)) == usd("2.00")
    assert FlatFee.of(bps=1).commission(AAPL, BUY, D(1), D(50)) == usd("0.01")  # 0.005 rounds up


def test_per_contract_fees_for_options_and_futures() -> None:
    option = Option.of("AAPL", "20250321", 150, "C")
    es = Future("ES", date(2025, 3, 21), exchange="CME", multiplier=D(50))
    options = PerContractFee.ib_options()
    assert options.commission(option, BUY, D(1), D("2.50")) == usd("1.00")  # 0.65 -> minimum
    assert options.commission(option, BUY, D(10), D("2.50")) == usd("6.50")
    assert PerContractFee.ib_futures().commission(es, SELL, D(3), D(5000)) == usd("2.55")


def test_by_asset_class_chooses_the_schedule() -> None:
    model = ByAssetClass.ib()
    option = Option.of("AAPL", "20250321", 150, "C")
    eurusd = ForexPair("EUR", USD)
    assert model.commission(option, BUY, D(10), D(2)) == usd("6.50")
    assert model.commission(AAPL, BUY, D(1_000), D(50)) == usd("6.70")
    assert model.commission(eurusd, BUY, D(10_000), D("1.1")) == Money(D(0), USD)
    assert isinstance(model, FeeModel)
    assert isinstance(NoFees(), FeeModel)
