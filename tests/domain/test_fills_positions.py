from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.fills import CommissionReport, Fill, Liquidity
from quantdesk.domain.identifiers import AccountId, ClientOrderId, ExecutionId, InstrumentId
from quantdesk.domain.positions import Position, PositionSide, apply_fills
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import Money
from quantdesk.errors import ValidationError

TS = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
AAPL = "AAPL.STK.SMART.USD"
ES = "ES.FUT.CME.USD.202406"

_counter = iter(range(1_000_000))


def f(
    side: str,
    qty: object,
    price: object,
    *,
    instrument: str = AAPL,
    multiplier: object = 1,
    commission: object = 0,
    currency: str = "USD",
) -> Fill:
    n = next(_counter)
    return Fill.of(
        f"exec-{n}",
        "qd-order-1",
        instrument,
        side,
        qty,  # type: ignore[arg-type]
        price,  # type: ignore[arg-type]
        TS + timedelta(seconds=n),
        multiplier=multiplier,  # type: ignore[arg-type]
        commission=commission,  # type: ignore[arg-type]
        currency=currency,
    )


def D(x: object) -> Decimal:
    return Decimal(str(x))


# --- fills -------------------------------------------------------------------------------------------------------


def test_fill_values() -> None:
    fill = f("SELL", 3, "12.5", multiplier=50, commission="2.1")
    assert fill.side is OrderSide.SELL
    assert fill.signed_quantity == D(-3)
    assert fill.notional == D("1875.0")
    assert fill.signed_notional == D("-1875.0")
    assert fill.commission == Money.of("2.1", "USD")
    assert fill.ts.tzinfo is UTC
    assert f("BOT", 1, 1).side is OrderSide.BUY


def test_fill_default_commission_is_zero_in_its_currency() -> None:
    fill = f("BUY", 1, 100, currency="EUR")
    assert fill.commission == Money.of(0, "EUR")
    direct = Fill(
        ExecutionId("x1"),
        ClientOrderId("qd-1"),
        InstrumentId("SAP.STK.IBIS.EUR"),
        OrderSide.BUY,
        D(1),
        D(100),
        TS,
        currency=Money.of(0, "EUR").currency,
        account=AccountId("DU1234567"),
        liquidity=Liquidity.ADDED,
    )
    assert direct.commission == Money.of(0, "EUR")
    assert direct.multiplier == D(1)


def test_with_commission_returns_a_new_fill() -> None:
    fill = f("BUY", 10, 100)
    report = CommissionReport(fill.execution_id, Money.of("1.00", "USD"), realised_pnl=D(0))
    charged = fill.with_commission(report)
    assert charged.commission == Money.of(1, "USD")
    assert fill.commission.amount == 0
    assert charged.execution_id == fill.execution_id
    assert fill.with_commission(Money.of("0.35", "USD")).commission.amount == D("0.35")
    with pytest.raises(ValidationError) as info:
        fill.with_commission(CommissionReport(ExecutionId("other"), Money.of(1, "USD")))
    assert info.value.field == "execution_id"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"qty": 0}, "quantity"),
        ({"qty": -5}, "quantity"),
        ({"price": 0}, "price"),
        ({"price": float("nan")}, "price"),
        ({"multiplier": 0}, "multiplier"),
    ],
)
def test_fill_validation(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"qty": 1, "price": 10, "multiplier": 1}
    args.update(kwargs)
    with pytest.raises(ValidationError) as info:
        f("BUY", args["qty"], args["price"], multiplier=args["multiplier"])
    assert info.value.field == field


def test_fill_rejects_naive_time_and_wrong_types() -> None:
    with pytest.raises(ValidationError) as info:
        Fill.of("e", "qd-1", AAPL, "BUY", 1, 1, datetime(2024, 1, 1))
    assert info.value.field == "ts"
    with pytest.raises(ValidationError) as info:
        Fill("e", ClientOrderId("qd-1"), InstrumentId(AAPL), OrderSide.BUY, D(1), D(1), TS)  # type: ignore[arg-type]
    assert info.value.field == "execution_id"


# --- positions: hand-computed cases ------------------------------------------------------------------------------


def test_add_to_a_long_averages_the_cost_then_reduce_realises() -> None:
    pos = Position.from_fills([f("BUY", 100, 10), f("BUY", 100, 12)])
    assert pos.quantity == D(200)
    assert pos.average_cost == D(11)
    assert pos.side is PositionSide.LONG
    pos = pos.apply(f("SELL", 150, 13))
    assert pos.quantity == D(50)
    assert pos.realised_pnl == Money.of(300, "USD")
    assert pos.average_cost == D(11), "a reduction keeps the average cost"
    assert pos.unrealised_pnl(14) == Money.of(150, "USD")
    assert pos.market_value(14) == Money.of(700, "USD")


def test_close_to_flat_resets_the_cost() -> None:
    pos = Position.from_fills([f("BUY", 100, 10), f("BUY", 100, 12), f("SELL", 200, "10.5")])
    assert pos.is_flat
    assert pos.side is PositionSide.FLAT
    assert pos.average_cost == 0
    assert pos.cost_basis == 0
    assert pos.realised_pnl.amount == D(-100)
    assert pos.unrealised_pnl(99).amount == 0
    pos = pos.apply(f("BUY", 10, 20))
    assert pos.average_cost == D(20)


def test_reverse_through_zero() -> None:
    pos = Position.from_fills([f("BUY", 100, 10), f("SELL", 150, 12)])
    # the 100 long close at +2 each, the other 50 open a short at 12
    assert pos.realised_pnl.amount == D(200)
    assert pos.quantity == D(-50)
    assert pos.side is PositionSide.SHORT
    assert pos.average_cost == D(12)
    assert pos.unrealised_pnl(11).amount == D(50)
    assert pos.market_value(11).amount == D(-550)
    pos = pos.apply(f("BUY", 80, 11))  # reverse back: cover 50 at 11 (+50), open 30 long at 11
    assert pos.realised_pnl.amount == D(250)
    assert pos.quantity == D(30)
    assert pos.average_cost == D(11)


def test_short_then_cover() -> None:
    pos = Position.from_fills([f("SELL", 100, 50), f("SELL", 100, 48)])
    assert pos.quantity == D(-200)
    assert pos.average_cost == D(49)
    pos = pos.apply(f("BUY", 50, 45))
    assert pos.realised_pnl.amount == D(200)  # 50 × (49 − 45)
    pos = pos.apply(f("BUY", 150, 51))
    assert pos.realised_pnl.amount == D(200 - 300)  # 150 × (49 − 51)
    assert pos.is_flat


def test_futures_contract_with_multiplier() -> None:
    pos = Position.from_fills([f("BUY", 2, "5000.25", instrument=ES, multiplier=50, commission="2.25")])
    assert pos.multiplier == D(50)
    assert pos.average_cost == D("5000.25"), "average cost is per unit, without the multiplier"
    assert pos.unrealised_pnl("5010.25") == Money.of(1000, "USD")  # 2 × 10 × 50
    assert pos.market_value(5000).amount == D(500_000)
    pos = pos.apply(f("SELL", 1, "4990.25", instrument=ES, multiplier=50, commission="2.25"))
    assert pos.realised_pnl.amount == D(-500)  # 1 × (4990.25 − 5000.25) × 50
    assert pos.commissions.amount == D("4.50")
    assert pos.realised_pnl_net.amount == D("-504.50")


def test_commission_arriving_later() -> None:
    pos = Position.flat(AAPL).apply(f("BUY", 10, 10))
    pos = pos.apply_commission(Money.of("1.25", "USD"))
    assert pos.commissions.amount == D("1.25")
    with pytest.raises(ValidationError) as info:
        pos.apply_commission(Money.of(1, "EUR"))
    assert info.value.field == "commission"


def test_fill_of_another_currency_instrument_or_multiplier_raises() -> None:
    pos = Position.flat(AAPL)
    with pytest.raises(ValidationError) as info:
        pos.apply(f("BUY", 1, 10, currency="EUR"))
    assert info.value.field == "currency"
    with pytest.raises(ValidationError) as info:
        pos.apply(f("BUY", 1, 10, instrument=ES))
    assert info.value.field == "instrument_id"
    with pytest.raises(ValidationError) as info:
        pos.apply(f("BUY", 1, 10, multiplier=100))
    assert info.value.field == "multiplier"
    with pytest.raises(ValidationError) as info:
        pos.apply(f("BUY", 1, 10).with_commission(Money.of(1, "EUR")))
    assert info.value.field == "commission"


def test_position_in_another_currency() -> None:
    pos = Position.flat("SAP.STK.IBIS.EUR", "EUR").apply(
        f("BUY", 10, 100, instrument="SAP.STK.IBIS.EUR", currency="EUR")
    )
    assert pos.realised_pnl == Money.of(0, "EUR")
    assert pos.market_value(110) == Money.of(1100, "EUR")


def test_position_construction_and_validation() -> None:
    pos = Position.opened(AAPL, -20, "15.5")
    assert pos.cost_basis == D(-310)
    assert pos.average_cost == D("15.5")
    assert Position.opened(AAPL, 0, 0).is_flat
    with pytest.raises(ValidationError) as info:
        Position(InstrumentId(AAPL), quantity=D(10), cost_basis=D(0))
    assert info.value.field == "cost_basis"
    with pytest.raises(ValidationError) as info:
        Position(InstrumentId(AAPL), realised_pnl=Money.of(5, "EUR"))
    assert info.value.field == "realised_pnl"
    with pytest.raises(ValidationError) as info:
        Position.from_fills([])
    assert info.value.field == "fills"
    with pytest.raises(ValidationError) as info:
        Position.flat(AAPL).market_value(0)
    assert info.value.field == "price"


def test_apply_fills_and_updated_at() -> None:
    fills = [f("BUY", 1, 10), f("BUY", 1, 11)]
    pos = apply_fills(Position.flat(AAPL), fills)
    assert pos.quantity == D(2)
    assert pos.updated_at == fills[-1].ts


def test_inexact_average_stays_reconciled() -> None:
    pos = Position.from_fills([f("BUY", 1, 10), f("BUY", 1, 10), f("BUY", 1, 11)])
    assert pos.cost_basis == D(31)
    pos = pos.apply(f("SELL", 1, 12))  # removes 31/3 of cost: rounded, but realised − cost stays exact
    assert pos.cost_basis == D("20.666666666667")
    assert pos.realised_pnl.amount - pos.cost_basis == D(12 - 31)
    pos = pos.apply(f("SELL", 2, 12))
    assert pos.is_flat
    assert pos.realised_pnl.amount == D(36 - 31)


# --- positions: properties ---------------------------------------------------------------------------------------

MULTIPLIERS = st.sampled_from([D(1), D(50), D(100), D("0.5")])
QTY = st.one_of(
    st.integers(min_value=1, max_value=5_000).map(Decimal),
    st.decimals(min_value=D("0.0001"), max_value=D(500), places=4),
)
PRICE = st.decimals(min_value=D("0.01"), max_value=D(10_000), places=2)
COMMISSION = st.decimals(min_value=D(0), max_value=D(20), places=2)
FILL_SPEC = st.tuples(st.sampled_from(["BUY", "SELL"]), QTY, PRICE, COMMISSION)


@settings(max_examples=300, deadline=None)
@given(
    specs=st.lists(FILL_SPEC, min_size=1, max_size=40),
    multiplier=MULTIPLIERS,
    last=PRICE,
    initial_cash=st.decimals(min_value=D(0), max_value=D(10_000_000), places=2),
)
def test_position_accounting_conserves_quantity_and_cash(
    specs: list[tuple[str, Decimal, Decimal, Decimal]], multiplier: Decimal, last: Decimal, initial_cash: Decimal
) -> None:
    fills = [f(side, q, p, instrument=ES, multiplier=multiplier, commission=c) for side, q, p, c in specs]
    pos = Position.flat(ES, multiplier=multiplier)
    cash = initial_cash
    held = D(0)
    for fill in fills:
        pos = pos.apply(fill)
        cash -= fill.signed_notional + fill.commission.amount
        held += fill.signed_quantity
        # quantity is conserved after every step, and flat means no cost left
        assert pos.quantity == held
        if pos.is_flat:
            assert pos.cost_basis == 0
    total_commission = sum((x.commission.amount for x in fills), D(0))
    assert pos.commissions.amount == total_commission
    assert cash == initial_cash - sum((x.signed_notional for x in fills), D(0)) - total_commission
    pnl = pos.realised_pnl.amount + pos.unrealised_pnl(last).amount - pos.commissions.amount
    assert cash + pos.market_value(last).amount - initial_cash == pnl
    assert pos.realised_pnl_net.amount == pos.realised_pnl.amount - total_commission


@settings(max_examples=200, deadline=None)
@given(specs=st.lists(FILL_SPEC, min_size=1, max_size=30), multiplier=MULTIPLIERS, exit_price=PRICE)
def test_closing_everything_realises_all_pnl(
    specs: list[tuple[str, Decimal, Decimal, Decimal]], multiplier: Decimal, exit_price: Decimal
) -> None:
    pos = apply_fills(
        Position.flat(ES, multiplier=multiplier),
        (f(side, q, p, instrument=ES, multiplier=multiplier) for side, q, p, _ in specs),
    )
    unrealised = pos.unrealised_pnl(exit_price).amount
    before = pos.realised_pnl.amount
    if not pos.is_flat:
        side = "SELL" if pos.quantity > 0 else "BUY"
        pos = pos.apply(f(side, abs(pos.quantity), exit_price, instrument=ES, multiplier=multiplier))
    assert pos.is_flat
    assert pos.average_cost == 0
    assert pos.realised_pnl.amount == before + unrealised


@settings(max_examples=200, deadline=None)
@given(
    buys=st.lists(st.tuples(QTY, PRICE), min_size=1, max_size=20),
)
def test_same_side_fills_average_to_the_vwap(buys: list[tuple[Decimal, Decimal]]) -> None:
    pos = apply_fills(Position.flat(AAPL), (f("BUY", q, p) for q, p in buys))
    total_qty = sum((q for q, _ in buys), D(0))
    assert pos.quantity == total_qty
    assert pos.cost_basis == sum((q * p for q, p in buys), D(0))
    assert pos.realised_pnl.amount == 0
