from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType

import pytest

from quantdesk.domain.accounts import AccountSnapshot
from quantdesk.domain.identifiers import AccountId
from quantdesk.domain.values import USD, Currency, Money
from quantdesk.errors import ValidationError

TS = datetime(2024, 3, 1, 21, 0, tzinfo=UTC)


def snapshot(**overrides: object) -> AccountSnapshot:
    values: dict[str, object] = {
        "account": AccountId("DU1234567"),
        "ts": TS,
        "base_currency": USD,
        "net_liquidation": Money.of(100_000),
        "buying_power": Money.of(400_000),
        "initial_margin": Money.of(30_000),
        "maintenance_margin": Money.of(25_000),
        "excess_liquidity": Money.of(75_000),
        "gross_position_value": Money.of(150_000),
        "cash": {"USD": 10_000, Currency("EUR"): "-250.5"},
    }
    values.update(overrides)
    return AccountSnapshot(**values)  # type: ignore[arg-type]


def test_snapshot_values_and_ratios() -> None:
    snap = snapshot()
    assert snap.margin_utilisation == Decimal("0.25")
    assert snap.cushion == Decimal("0.75")
    assert snap.leverage == Decimal("1.5")
    assert snap.cash_balance("USD") == Decimal(10_000)
    assert snap.cash_balance(Currency("EUR")) == Decimal("-250.5")
    assert snap.cash_balance("JPY") == Decimal(0)
    assert list(snap.cash) == [Currency("EUR"), Currency("USD")]


def test_snapshot_is_immutable_and_hashable() -> None:
    snap = snapshot()
    assert isinstance(snap.cash, MappingProxyType)
    with pytest.raises(TypeError):
        snap.cash[USD] = Decimal(1)  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.ts = TS  # type: ignore[misc]
    assert hash(snap) == hash(snapshot())
    assert snap == snapshot()
    assert snap != snapshot(cash={"USD": 1})


def test_ratios_are_none_without_positive_net_liquidation() -> None:
    for net in (0, -5_000):
        snap = snapshot(net_liquidation=Money.of(net), excess_liquidity=Money.of(-30_000))
        assert snap.margin_utilisation is None
        assert snap.cushion is None
        assert snap.leverage is None


def test_of_builds_from_numbers() -> None:
    paris = timezone(timedelta(hours=1))
    snap = AccountSnapshot.of(
        "U7654321",
        datetime(2024, 3, 1, 22, 0, tzinfo=paris),
        "50000.25",
        base_currency="EUR",
        cash={"EUR": 1000},
        maintenance_margin=10_000,
    )
    assert snap.ts == TS
    assert snap.net_liquidation == Money.of("50000.25", "EUR")
    assert snap.excess_liquidity == Money.of("40000.25", "EUR")
    assert snap.buying_power == Money.of(0, "EUR")
    assert not snap.account.is_paper


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"initial_margin": Money.of(-1)}, "initial_margin"),
        ({"maintenance_margin": Money.of(-1)}, "maintenance_margin"),
        ({"gross_position_value": Money.of(-1)}, "gross_position_value"),
        ({"buying_power": Money.of(1, "EUR")}, "buying_power"),
        ({"net_liquidation": 100_000}, "net_liquidation"),
        ({"ts": datetime(2024, 3, 1)}, "ts"),
        ({"account": "DU1234567"}, "account"),
        ({"cash": {"usd": 1}}, "currency"),
        ({"cash": {"USD": float("nan")}}, "cash[USD]"),
        ({"cash": [("USD", 1)]}, "cash"),
        ({"exchange_rates": {"EUR": 0}}, "exchange_rates[EUR]"),
        ({"exchange_rates": {"EUR": "nan"}}, "exchange_rates[EUR]"),
        ({"exchange_rates": [("EUR", 1)]}, "exchange_rates"),
    ],
)
def test_snapshot_validation(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        snapshot(**overrides)
    assert info.value.field == field


def test_deficit_account_is_allowed() -> None:
    snap = snapshot(excess_liquidity=Money.of(-2_000), net_liquidation=Money.of(20_000))
    assert snap.cushion == Decimal("-0.1")


def test_exchange_rates_are_validated_and_the_base_converts_at_one() -> None:
    snap = snapshot(exchange_rates={"EUR": "1.08", Currency("JPY"): 0.0067, "USD": 5})
    assert snap.exchange_rate("EUR") == Decimal("1.08")
    assert snap.exchange_rate("JPY") == Decimal("0.0067")
    assert snap.exchange_rate(USD) == 1  # the base is 1 whatever was passed
    assert snap.exchange_rate("GBP") is None
    assert isinstance(snap.exchange_rates, MappingProxyType)
    assert AccountSnapshot.of("DU1", TS, 1, base_currency="EUR", exchange_rates={"USD": "0.92"}).exchange_rate(
        "USD"
    ) == Decimal("0.92")
    assert snapshot().exchange_rates == {USD: 1}
