"""Every pre-trade rule about the order itself: the rejecting input, the exact message, and inputs that pass."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from risk_support import AAPL_ID, ContextFactory

from quantdesk.config.risk_settings import RiskSettings
from quantdesk.domain.instruments import Stock
from quantdesk.domain.orders import Order
from quantdesk.domain.trading_state import TradingState
from quantdesk.errors import RiskRejected
from quantdesk.risk import PRE_TRADE_RULES, RiskContext, RiskEngine

AAPL = Stock("AAPL")

D = Decimal


def only(*rules: str, **settings: Any) -> RiskEngine:
    """An engine that runs only ``rules`` (and the kill-switch gate, which always runs)."""
    others = [r for r in PRE_TRADE_RULES if r not in rules]
    return RiskEngine(RiskSettings(disabled_rules=others, **settings))


def tampered(order: Order, **fields: Any) -> Order:
    """The order with fields set past its validation, as a buggy code path could hand it over."""
    for name, value in fields.items():
        object.__setattr__(order, name, value)
    return order


def rejection(engine: RiskEngine, order: Order, ctx: RiskContext) -> RiskRejected:
    with pytest.raises(RiskRejected) as info:
        engine.check(order, ctx)
    err = info.value
    assert err.field == err.rule
    assert err.message.startswith(f"{err.rule}: ")
    assert str(err).startswith(f"{err.rule}: ")
    assert f"{err.rule}: {err.rule}:" not in str(err)
    return err


def assert_rejects(
    engine: RiskEngine, order: Order, ctx: RiskContext, rule: str, limit: str, actual: str, message: str
) -> RiskRejected:
    err = rejection(engine, order, ctx)
    assert (err.rule, err.limit, err.value) == (rule, limit, actual)
    assert err.message == f"{rule}: {message}"
    return err


# --- kill switch gate ----------------------------------------------------------------------------------------------


def test_halted_refuses_every_order_even_with_risk_off(make_ctx: ContextFactory) -> None:
    ctx = make_ctx(trading_state=TradingState.HALTED, positions={AAPL_ID: D(100)})
    for engine in (RiskEngine(RiskSettings()), RiskEngine(RiskSettings(enabled=False))):
        for order in (Order.limit(AAPL, "BUY", 10, 100), Order.limit(AAPL, "SELL", 10, 100)):
            side = order.side.value
            err = assert_rejects(
                engine,
                order,
                ctx,
                "kill_switch",
                "HALTED: no new orders",
                f"{side} 10 AAPL.STK.SMART.USD",
                f"trading is HALTED, so {side} 10 AAPL.STK.SMART.USD is refused",
            )
            assert "kill-switch resume" in (err.hint or "")


def test_reducing_allows_a_reducing_sell_and_refuses_a_buy(make_ctx: ContextFactory) -> None:
    engine = RiskEngine(RiskSettings())
    ctx = make_ctx(trading_state=TradingState.REDUCING, positions={AAPL_ID: D(100)})
    engine.check(Order.limit(AAPL, "SELL", 40, 100), ctx)
    engine.check(Order.limit(AAPL, "SELL", 100, 100), ctx)  # to flat
    assert_rejects(
        engine,
        Order.limit(AAPL, "BUY", 10, 100),
        ctx,
        "kill_switch",
        "REDUCING: |position + working| must shrink",
        "100 -> 110",
        "trading is REDUCING (only risk-reducing orders), and BUY 10 AAPL.STK.SMART.USD takes position + working "
        "from 100 to 110",
    )


def test_reducing_refuses_reversal_and_counts_working_orders(make_ctx: ContextFactory) -> None:
    engine = RiskEngine(RiskSettings(allow_short_selling=True))
    ctx = make_ctx(trading_state=TradingState.REDUCING, positions={AAPL_ID: D(100)})
    err = rejection(engine, Order.limit(AAPL, "SELL", 150, 100), ctx)  # through flat to short 50
    assert (err.rule, err.value) == ("kill_switch", "100 -> -50")
    covered = make_ctx(trading_state=TradingState.REDUCING, positions={AAPL_ID: D(100)}, working={AAPL_ID: D(-100)})
    err = rejection(engine, Order.limit(AAPL, "SELL", 10, 100), covered)  # the working sell already flattens
    assert err.value == "0 -> -10"
    short = make_ctx(trading_state=TradingState.REDUCING, positions={AAPL_ID: D(-50)})
    engine.check(Order.limit(AAPL, "BUY", 50, 100), short)  # covering a short reduces
    flat = make_ctx(trading_state=TradingState.REDUCING)
    assert rejection(engine, Order.limit(AAPL, "SELL", 1, 100), flat).rule == "kill_switch"


# --- order sanity --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "limit", "actual", "message"),
    [
        (
            {"quantity": D("NaN")},
            "finite and > 0",
            "NaN",
            "quantity NaN of BUY AAPL.STK.SMART.USD is not a positive finite number",
        ),
        (
            {"quantity": D(0)},
            "finite and > 0",
            "0",
            "quantity 0 of BUY AAPL.STK.SMART.USD is not a positive finite number",
        ),
        (
            {"quantity": D(-5)},
            "finite and > 0",
            "-5",
            "quantity -5 of BUY AAPL.STK.SMART.USD is not a positive finite number",
        ),
        (
            {"quantity": D("10.5")},
            "a multiple of the lot size 1",
            "10.5",
            "quantity 10.5 is not a multiple of the lot size 1 of AAPL.STK.SMART.USD",
        ),
        (
            {"limit_price": D("NaN")},
            "finite and > 0",
            "NaN",
            "limit_price NaN of AAPL.STK.SMART.USD is not a positive finite number",
        ),
        (
            {"limit_price": D("Infinity")},
            "finite and > 0",
            "Infinity",
            "limit_price Infinity of AAPL.STK.SMART.USD is not a positive finite number",
        ),
        (
            {"limit_price": D(0)},
            "finite and > 0",
            "0",
            "limit_price 0 of AAPL.STK.SMART.USD is not a positive finite number",
        ),
        (
            {"limit_price": D("-1.00")},
            "finite and > 0",
            "-1.00",
            "limit_price -1.00 of AAPL.STK.SMART.USD is not a positive finite number",
        ),
        (
            {"limit_price": D("100.005")},
            "a multiple of the tick size 0.01",
            "100.005",
            "limit_price 100.005 is not on the tick grid of AAPL.STK.SMART.USD (tick size 0.01)",
        ),
    ],
)
def test_order_sanity_refuses_bad_numbers(
    make_ctx: ContextFactory, fields: dict[str, Any], limit: str, actual: str, message: str
) -> None:
    order = tampered(Order.limit(AAPL, "BUY", 10, 100), **fields)
    assert_rejects(only("order_sanity"), order, make_ctx(), "order_sanity", limit, actual, message)


def test_order_sanity_checks_stop_and_trailing_fields(make_ctx: ContextFactory) -> None:
    engine = only("order_sanity")
    stop = tampered(Order.stop(AAPL, "SELL", 10, 95), stop_price=D("95.001"))
    assert rejection(engine, stop, make_ctx()).value == "95.001"
    trail = tampered(Order.trailing_stop(AAPL, "SELL", 10, trailing_percent=2), trailing_percent=D(150))
    assert_rejects(
        engine,
        trail,
        make_ctx(),
        "order_sanity",
        "in (0, 100)",
        "150",
        "trailing_percent 150 of AAPL.STK.SMART.USD is not a percentage in (0, 100)",
    )
    offset = tampered(
        Order.trailing_stop_limit(AAPL, "SELL", 10, limit_offset=D("0.10"), trailing_amount=1), limit_offset=D(-1)
    )
    assert rejection(engine, offset, make_ctx()).limit == "finite and >= 0"


def test_order_sanity_needs_a_last_price_to_value_a_market_order(make_ctx: ContextFactory) -> None:
    no_price = make_ctx(last_prices={})
    order = Order.market(AAPL, "BUY", 10)
    engine = only("order_sanity", "max_order_notional")
    err = assert_rejects(
        engine,
        order,
        no_price,
        "order_sanity",
        "a last price to value the order",
        "no last price",
        "no last price for AAPL.STK.SMART.USD, so the market order cannot be valued for the notional limits",
    )
    assert "disabled_rules" in (err.hint or "")
    engine.check(Order.limit(AAPL, "BUY", 10, 100), no_price)  # a limit order values itself
    only("order_sanity").check(order, no_price)  # no notional rule, no price needed
    nan_last = make_ctx(last_prices={AAPL_ID: D("NaN")})
    assert rejection(engine, order, nan_last).rule == "order_sanity"
    notional_off = RiskSettings(
        disabled_rules=["max_position", "max_order_notional", "max_gross_exposure", "max_leverage", "trading_hours"]
    )
    RiskEngine(notional_off).check(Order.market(AAPL, "BUY", 10), make_ctx(last_prices={}))


def test_order_sanity_passes_good_orders_and_can_be_disabled(make_ctx: ContextFactory) -> None:
    only("order_sanity").check(Order.limit(AAPL, "BUY", 10, D("100.01")), make_ctx())
    only("order_sanity").check(Order.market(AAPL, "BUY", 10), make_ctx())
    nothing = RiskEngine(RiskSettings(disabled_rules=PRE_TRADE_RULES))
    nothing.check(tampered(Order.limit(AAPL, "BUY", 10, 100), limit_price=D("100.005")), make_ctx())


# --- price band ----------------------------------------------------------------------------------------------------


def test_price_band_refuses_a_limit_far_from_the_last_price(make_ctx: ContextFactory) -> None:
    err = assert_rejects(
        only("price_band"),
        Order.limit(AAPL, "BUY", 10, 120),
        make_ctx(),
        "price_band",
        "±5% of 100 (95.00 to 105.00)",
        "120 (20% away)",
        "limit_price 120 is 20% away from the last price 100 of AAPL.STK.SMART.USD, beyond the band ±5%",
    )
    assert "risk.price_band_pct" in (err.hint or "")


def test_price_band_checks_stop_prices_and_both_directions(make_ctx: ContextFactory) -> None:
    engine = only("price_band")
    err = rejection(engine, Order.stop(AAPL, "SELL", 10, D("80.00")), make_ctx())
    assert (err.value, err.message.split(" ")[1]) == ("80.00 (20% away)", "stop_price")
    engine.check(Order.limit(AAPL, "SELL", 10, 105), make_ctx())  # exactly on the band passes
    engine.check(Order.limit(AAPL, "BUY", 10, 95), make_ctx())
    assert rejection(engine, Order.limit(AAPL, "BUY", 10, D("94.99")), make_ctx()).value == "94.99 (5.01% away)"
    assert rejection(only("price_band", price_band_pct=0.01), Order.limit(AAPL, "BUY", 10, 102), make_ctx())
    only("price_band", price_band_pct=0.5).check(Order.limit(AAPL, "BUY", 10, 120), make_ctx())
    engine.check(Order.market(AAPL, "BUY", 10), make_ctx())  # nothing to band


def test_price_band_refuses_a_priced_order_without_a_last_price(make_ctx: ContextFactory) -> None:
    assert_rejects(
        only("price_band"),
        Order.limit(AAPL, "BUY", 10, 100),
        make_ctx(last_prices={}),
        "price_band",
        "within 5% of the last price",
        "no last price",
        "no last price for AAPL.STK.SMART.USD to compare limit_price 100 with",
    )


def test_price_band_disabled_skips(make_ctx: ContextFactory) -> None:
    engine = RiskEngine(RiskSettings(disabled_rules=["price_band"]))
    engine.check(Order.limit(AAPL, "BUY", 10, 120), make_ctx())


# --- max trades per day --------------------------------------------------------------------------------------------


def test_max_trades_per_day(make_ctx: ContextFactory) -> None:
    engine = only("max_trades_per_day")
    engine.check(Order.limit(AAPL, "BUY", 1, 100), make_ctx(trades_today=99))  # the 100th passes
    err = assert_rejects(
        engine,
        Order.limit(AAPL, "BUY", 1, 100),
        make_ctx(trades_today=100),
        "max_trades_per_day",
        "100",
        "101",
        "BUY 1 AAPL.STK.SMART.USD would be order 101 today, above the limit 100",
    )
    assert "risk.max_trades_per_day" in (err.hint or "")
    only("max_trades_per_day", max_trades_per_day=3).check(Order.limit(AAPL, "BUY", 1, 100), make_ctx(trades_today=2))
    RiskEngine(RiskSettings(disabled_rules=["max_trades_per_day"])).check(
        Order.limit(AAPL, "BUY", 1, 100), make_ctx(trades_today=10_000)
    )


# --- short selling -------------------------------------------------------------------------------------------------


def test_short_selling_refuses_a_sell_beyond_the_long_position(make_ctx: ContextFactory) -> None:
    err = assert_rejects(
        only("short_selling"),
        Order.limit(AAPL, "SELL", 150, 100),
        make_ctx(positions={AAPL_ID: D(100)}),
        "short_selling",
        "no short position (short selling is off)",
        "-50",
        "SELL 150 AAPL.STK.SMART.USD would leave -50 (held 100, working sells 0), and short selling is off",
    )
    assert err.hint == "sell at most 100, or set risk.allow_short_selling = true"


def test_short_selling_counts_working_sells_but_not_working_buys(make_ctx: ContextFactory) -> None:
    engine = only("short_selling")
    selling = make_ctx(positions={AAPL_ID: D(100)}, working={AAPL_ID: D(-60)})
    engine.check(Order.limit(AAPL, "SELL", 40, 100), selling)
    err = rejection(engine, Order.limit(AAPL, "SELL", 41, 100), selling)
    assert err.value == "-1"
    assert "(held 100, working sells 60)" in err.message
    buying = make_ctx(positions={AAPL_ID: D(100)}, working={AAPL_ID: D(50)})
    assert rejection(engine, Order.limit(AAPL, "SELL", 120, 100), buying).value == "-20"


def test_short_selling_passes_sells_of_held_stock_buys_and_when_allowed(make_ctx: ContextFactory) -> None:
    only("short_selling").check(Order.limit(AAPL, "SELL", 100, 100), make_ctx(positions={AAPL_ID: D(100)}))
    only("short_selling").check(Order.limit(AAPL, "BUY", 100, 100), make_ctx())
    only("short_selling", allow_short_selling=True).check(Order.limit(AAPL, "SELL", 100, 100), make_ctx())
    RiskEngine(RiskSettings(disabled_rules=["short_selling"], max_position_pct=1.0)).check(
        Order.limit(AAPL, "SELL", 100, 100), make_ctx()
    )


# --- restricted symbols --------------------------------------------------------------------------------------------


def test_restricted_symbols(make_ctx: ContextFactory) -> None:
    engine = only("restricted_symbols", restricted_symbols=["aapl", "TSLA"])
    err = assert_rejects(
        engine,
        Order.limit(AAPL, "SELL", 10, 100),
        make_ctx(positions={AAPL_ID: D(10)}),
        "restricted_symbols",
        "not in risk.restricted_symbols",
        "AAPL",
        "AAPL is on the restricted list, so SELL 10 AAPL.STK.SMART.USD is refused",
    )
    assert "risk.restricted_symbols" in (err.hint or "")
    msft = Stock("MSFT")
    engine.check(Order.limit(msft, "BUY", 10, 100), make_ctx(last_prices={msft.id: D(100)}))
    RiskEngine(RiskSettings(restricted_symbols=["AAPL"], disabled_rules=["restricted_symbols"])).check(
        Order.limit(AAPL, "BUY", 10, 100), make_ctx()
    )
