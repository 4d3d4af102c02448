from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from quantdesk.domain.identifiers import AccountId, InstrumentId
from quantdesk.domain.side import OrderSide
from quantdesk.domain.targets import GROSS_TOLERANCE, AssetKey, RebalancePlan, RebalanceTrade, TargetWeights
from quantdesk.domain.values import Numeric
from quantdesk.errors import ValidationError

TS = datetime(2024, 3, 1, 21, 0, tzinfo=UTC)


# --- target weights ----------------------------------------------------------------------------------------------


def test_weights_and_cash_weight() -> None:
    es = InstrumentId("ES.FUT.CME.USD.202406")
    weights: dict[AssetKey, Numeric] = {"AAPL": 0.3, "MSFT": "0.5", es: Decimal("0.1")}
    tw = TargetWeights.of(weights)
    assert tw.weight("AAPL") == Decimal("0.3")
    assert tw.weight("NVDA") == Decimal(0)
    assert tw.gross == Decimal("0.9")
    assert tw.net == Decimal("0.9")
    assert tw.cash_weight == Decimal("0.1")
    assert len(tw) == 3
    assert [k for k, _ in tw.items()][:2] == ["AAPL", "MSFT"]


def test_long_short_weights() -> None:
    tw = TargetWeights.of({"AAPL": 0.8, "MSFT": -0.6}, gross_cap=2)
    assert tw.gross == Decimal("1.4")
    assert tw.net == Decimal("0.2")
    assert tw.cash_weight == Decimal("0.8")


def test_optimiser_float_noise_passes_the_gross_cap() -> None:
    weights = {"A": 0.1, "B": 0.2, "C": 0.7000000000000001}
    assert TargetWeights.of(weights).gross > 1
    over = Decimal(1) + GROSS_TOLERANCE * 2
    with pytest.raises(ValidationError, match="exceeds the cap") as info:
        TargetWeights({"A": Decimal("0.5"), "B": over - Decimal("0.5")})
    assert info.value.field == "weights"


@pytest.mark.parametrize(
    ("weights", "kwargs", "field"),
    [
        ({"AAPL": 1.5}, {}, "weights[AAPL]"),
        ({"AAPL": -1.01}, {"gross_cap": 2}, "weights[AAPL]"),
        ({"AAPL": float("inf")}, {}, "weights[AAPL]"),
        ({"AAPL": float("nan")}, {}, "weights[AAPL]"),
        ({"AAPL": -0.1}, {"long_only": True}, "weights[AAPL]"),
        ({"AAPL": 0.6, "MSFT": 0.6}, {}, "weights"),
        ({"AAPL": 0.6, "MSFT": -0.6}, {}, "weights"),
        ({"": 0.1}, {}, "weights"),
        ({" AAPL": 0.1}, {}, "weights"),
        ({"AAPL": 0.1}, {"gross_cap": 0}, "gross_cap"),
    ],
)
def test_weight_validation(weights: dict[str, float], kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        TargetWeights.of(weights, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_weights_are_read_only() -> None:
    tw = TargetWeights.of({"AAPL": 0.5})
    with pytest.raises(TypeError):
        tw.weights["AAPL"] = Decimal(1)  # type: ignore[index]
    assert hash(tw) == hash(TargetWeights.of({"MSFT": 0.1}))  # weights are left out of the hash
    assert tw == TargetWeights.of({"AAPL": 0.5})


# --- trades and plans --------------------------------------------------------------------------------------------


def trade(symbol: str, current: int, target: int, price: str, commission: str = "1") -> RebalanceTrade:
    return RebalanceTrade(
        symbol,
        Decimal(current),
        Decimal("0.1"),
        Decimal(target),
        Decimal("0.2"),
        Decimal(price),
        estimated_commission=Decimal(commission),
    )


def test_trade_derives_side_quantity_and_notional() -> None:
    buy = trade("AAPL", 10, 25, "100")
    assert buy.trade_quantity == Decimal(15)
    assert buy.side is OrderSide.BUY
    assert buy.quantity == Decimal(15)
    assert buy.notional == Decimal(1500)
    sell = trade("MSFT", 10, -5, "200")
    assert sell.trade_quantity == Decimal(-15)
    assert sell.side is OrderSide.SELL
    assert sell.notional == Decimal(3000)
    fut = RebalanceTrade(
        InstrumentId("ES.FUT"), Decimal(0), Decimal(0), Decimal(2), Decimal("0.5"), Decimal(5000), Decimal(50)
    )
    assert fut.notional == Decimal(500_000)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"target_quantity": Decimal(10)}, "target_quantity"),
        ({"price": Decimal(0)}, "price"),
        ({"target_weight": Decimal("12")}, "target_weight"),
        ({"estimated_commission": Decimal(-1)}, "estimated_commission"),
        ({"multiplier": Decimal(0)}, "multiplier"),
        ({"current_quantity": Decimal("NaN")}, "current_quantity"),
        ({"instrument": ""}, "instrument"),
    ],
)
def test_trade_validation(kwargs: dict[str, object], field: str) -> None:
    values: dict[str, object] = {
        "instrument": "AAPL",
        "current_quantity": Decimal(10),
        "current_weight": Decimal("0.1"),
        "target_quantity": Decimal(20),
        "target_weight": Decimal("0.2"),
        "price": Decimal(100),
    }
    values.update(kwargs)
    with pytest.raises(ValidationError) as info:
        RebalanceTrade(**values)  # type: ignore[arg-type]
    assert info.value.field == field


def test_plan_totals_and_execution_order() -> None:
    trades = (
        trade("AAPL", 10, 25, "100", "1.00"),  # buy 1500
        trade("MSFT", 10, 0, "200", "1.50"),  # sell 2000
        trade("NVDA", 0, 4, "500", "1.00"),  # buy 2000
        trade("TSLA", 20, 10, "150", "1.00"),  # sell 1500
    )
    plan = RebalancePlan(TS, trades, Decimal(100_000), Decimal(5_000), account=AccountId("DU1234567"))
    assert plan.buy_notional == Decimal(3500)
    assert plan.sell_notional == Decimal(3500)
    assert plan.estimated_commission == Decimal("4.50")
    assert plan.turnover == Decimal("0.07")
    assert plan.cash_after == Decimal("4995.50")
    assert [t.instrument for t in plan.orders_in_execution_order] == ["MSFT", "TSLA", "AAPL", "NVDA"]
    assert plan.trades == trades


def test_empty_plan() -> None:
    plan = RebalancePlan(TS, (), Decimal(1), Decimal(0))
    assert plan.turnover == 0
    assert plan.orders_in_execution_order == ()


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((TS, (trade("AAPL", 1, 2, "1"), trade("AAPL", 3, 4, "1")), Decimal(1), Decimal(0)), "trades[1]"),
        ((TS, ("AAPL",), Decimal(1), Decimal(0)), "trades[0]"),
        ((TS, (), Decimal(0), Decimal(0)), "portfolio_value"),
        ((datetime(2024, 3, 1), (), Decimal(1), Decimal(0)), "ts"),
    ],
)
def test_plan_validation(args: tuple[object, ...], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        RebalancePlan(*args)  # type: ignore[arg-type]
    assert info.value.field == field


def test_reached_weight_may_pass_one_in_a_margin_account() -> None:
    trade = RebalanceTrade(
        instrument="B",
        current_quantity=Decimal(104),
        current_weight=Decimal("1.03"),
        target_quantity=Decimal(101),
        target_weight=Decimal("1.0001"),
        price=Decimal(1),
    )
    assert trade.trade_quantity == Decimal(-3)
