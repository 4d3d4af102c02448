from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantdesk.domain.identifiers import AccountId, BrokerOrderId, ClientOrderId, ExecutionId, InstrumentId
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import Currency, Money, to_decimal, to_non_negative, to_positive
from quantdesk.errors import ValidationError


def test_float_converts_through_repr() -> None:
    assert to_decimal(0.1, "price") == Decimal("0.1")
    assert to_decimal("101.25", "price") == Decimal("101.25")
    assert to_decimal(7, "quantity") == Decimal(7)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), "NaN", "Infinity", "abc", True, None, []])
def test_non_numbers_are_refused_naming_the_field(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        to_decimal(bad, "limit_price")  # type: ignore[arg-type]
    assert info.value.field == "limit_price"
    assert info.value.hint


def test_positive_and_non_negative() -> None:
    with pytest.raises(ValidationError, match="greater than zero") as info:
        to_positive(0, "quantity")
    assert info.value.field == "quantity"
    with pytest.raises(ValidationError, match="must not be negative"):
        to_non_negative(-1, "volume")
    assert to_non_negative(0, "volume") == 0


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_to_decimal_is_identity_on_finite_decimals(d: Decimal) -> None:
    assert to_decimal(d, "x") == d


@pytest.mark.parametrize("code", ["usd", "US", "USDT", "U$D", "", "12A"])
def test_bad_currency_codes(code: str) -> None:
    with pytest.raises(ValidationError, match="ISO 4217") as info:
        Currency(code)
    assert info.value.field == "currency"


def test_money_arithmetic_refuses_mixed_currencies() -> None:
    a = Money.of("10.50", "USD")
    assert (a + Money.of(1, "USD")).amount == Decimal("11.50")
    assert (a - Money.of("0.5")).amount == Decimal("10.00")
    assert (-a).amount == Decimal("-10.50")
    assert (a * 2).amount == Decimal("21.00")
    with pytest.raises(ValidationError, match="cannot combine USD with EUR"):
        a + Money.of(1, "EUR")
    assert str(Money.of(1234.5, "EUR")) == "1,234.50 EUR"


def test_client_order_ids_are_unique_and_validated() -> None:
    ids = {ClientOrderId.new() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.value.startswith("qd-") for i in ids)
    with pytest.raises(ValidationError) as info:
        ClientOrderId("has space")
    assert info.value.field == "client_order_id"
    with pytest.raises(ValidationError):
        ClientOrderId("")


def test_broker_order_id_rejects_negative_and_bool() -> None:
    assert BrokerOrderId(12, 987654).perm_id == 987654
    with pytest.raises(ValidationError) as info:
        BrokerOrderId(-1)
    assert info.value.field == "order_id"
    with pytest.raises(ValidationError) as info:
        BrokerOrderId(1, True)  # type: ignore[arg-type]
    assert info.value.field == "perm_id"


def test_account_and_execution_ids() -> None:
    assert AccountId("DU1234567").is_paper
    assert not AccountId("U1234567").is_paper
    with pytest.raises(ValidationError):
        ExecutionId("  ")
    assert str(InstrumentId("EUR.CASH.IDEALPRO.USD")) == "EUR.CASH.IDEALPRO.USD"
    with pytest.raises(ValidationError, match="instrument id"):
        InstrumentId("AAPL STK")


def test_order_side() -> None:
    assert OrderSide.BUY.sign == 1
    assert OrderSide.SELL.sign == -1
    assert OrderSide.BUY.opposite is OrderSide.SELL
    assert OrderSide.parse("BOT") is OrderSide.BUY
    assert OrderSide.parse("sld") is OrderSide.SELL
    with pytest.raises(ValidationError, match="unknown side"):
        OrderSide.parse("HOLD")
