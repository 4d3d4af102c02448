"""The size rules: max order notional, max position, max gross exposure (amount) and max leverage."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from risk_support import AAPL_ID, ContextFactory

from quantdesk.config.risk_settings import RiskSettings
from quantdesk.domain.instruments import Future, Option, Stock
from quantdesk.domain.orders import Order
from quantdesk.errors import RiskRejected
from quantdesk.risk import PRE_TRADE_RULES, RiskContext, RiskEngine

AAPL = Stock("AAPL")

D = Decimal


def only(*rules: str, **settings: Any) -> RiskEngine:
    others = [r for r in PRE_TRADE_RULES if r not in rules]
    return RiskEngine(RiskSettings(disabled_rules=others, **settings))


def rejection(engine: RiskEngine, order: Order, ctx: RiskContext) -> RiskRejected:
    with pytest.raises(RiskRejected) as info:
        engine.check(order, ctx)
    return info.value


def assert_rejects(
    engine: RiskEngine, order: Order, ctx: RiskContext, rule: str, limit: str, actual: str, message: str
) -> RiskRejected:
    err = rejection(engine, order, ctx)
    assert (err.field, err.rule, err.limit, err.value) == (rule, rule, limit, actual)
    assert err.message == f"{rule}: {message}"
    return err


# --- max order notional --------------------------------------------------------------------------------------------


def test_max_order_notional_refuses_a_large_order(make_ctx: ContextFactory) -> None:
    err = assert_rejects(
        only("max_order_notional"),
        Order.limit(AAPL, "BUY", 2500, 100),
        make_ctx(),
        "max_order_notional",
        "100,000.00 USD",
        "250,000.00 USD",
        "order notional 250,000.00 USD is above the limit 100,000.00 USD (BUY 2500 AAPL.STK.SMART.USD)",
    )
    assert "risk.max_order_notional" in (err.hint or "")


def test_max_order_notional_uses_last_price_for_market_orders_and_the_multiplier(make_ctx: ContextFactory) -> None:
    engine = only("max_order_notional")
    engine.check(Order.limit(AAPL, "BUY", 1000, 100), make_ctx())  # exactly the limit passes
    assert rejection(engine, Order.market(AAPL, "BUY", 1001), make_ctx()).value == "100,100.00 USD"
    es = Future("ES", date(2025, 3, 21), exchange="CME", multiplier=50)
    ctx = make_ctx(last_prices={es.id: D(5000)})
    assert rejection(engine, Order.market(es, "BUY", 1), ctx).value == "250,000.00 USD"
    call = Option.of("AAPL", "20250321", 150, "C")
    only("max_order_notional").check(Order.limit(call, "BUY", 10, D("5.00")), make_ctx())  # 10 × 5 × 100
    assert rejection(engine, Order.limit(call, "BUY", 201, D("5.00")), make_ctx()).value == "100,500.00 USD"


def test_max_order_notional_refuses_what_it_cannot_value(make_ctx: ContextFactory) -> None:
    err = assert_rejects(
        only("max_order_notional"),
        Order.market(AAPL, "BUY", 10),
        make_ctx(last_prices={}),
        "max_order_notional",
        "100,000.00 USD",
        "unknown",
        "BUY 10 AAPL.STK.SMART.USD cannot be valued (no price (no limit, stop or last price)), so the limit "
        "100,000.00 USD cannot be checked",
    )
    assert "market data" in (err.hint or "")


def test_max_order_notional_disabled_or_raised(make_ctx: ContextFactory) -> None:
    only("max_order_notional", max_order_notional=300_000).check(Order.limit(AAPL, "BUY", 2500, 100), make_ctx())
    settings = RiskSettings(disabled_rules=["max_order_notional", "max_position"])
    RiskEngine(settings).check(Order.limit(AAPL, "BUY", 2500, 100), make_ctx())


# --- max position --------------------------------------------------------------------------------------------------


def test_max_position_refuses_a_position_above_its_share_of_nlv(make_ctx: ContextFactory) -> None:
    ctx = make_ctx(positions={AAPL_ID: D(900)}, working={AAPL_ID: D(200)})
    err = assert_rejects(
        only("max_position"),
        Order.limit(AAPL, "BUY", 100, 100),
        ctx,
        "max_position",
        "10% of net liquidation = 100,000.00 USD",
        "120,000.00 USD (12%)",
        "position after the order 1,200 AAPL.STK.SMART.USD worth 120,000.00 USD is 12% of net liquidation, "
        "above the limit 10% (100,000.00 USD)",
    )
    assert "risk.max_position_pct" in (err.hint or "")


def test_max_position_passes_within_the_limit_and_reducing_orders(make_ctx: ContextFactory) -> None:
    engine = only("max_position")
    engine.check(Order.limit(AAPL, "BUY", 1000, 100), make_ctx())  # exactly 10%
    big = make_ctx(positions={AAPL_ID: D(5000)})  # 50% of NLV already, e.g. after a crash in NLV
    engine.check(Order.limit(AAPL, "SELL", 1000, 100), big)
    assert rejection(engine, Order.limit(AAPL, "BUY", 1, 100), big).rule == "max_position"
    short = make_ctx(positions={AAPL_ID: D(-1000)})
    assert rejection(engine, Order.limit(AAPL, "SELL", 1, 100), short).value == "100,100.00 USD (10.01%)"
    only("max_position", max_position_pct=0.2).check(Order.limit(AAPL, "BUY", 2000, 100), make_ctx())


def test_max_position_values_at_the_last_price(make_ctx: ContextFactory) -> None:
    ctx = make_ctx(positions={AAPL_ID: D(900)}, last_prices={AAPL_ID: D(120)})
    err = rejection(only("max_position"), Order.limit(AAPL, "BUY", 10, 114), ctx)
    assert err.value == "109,200.00 USD (10.92%)"


@pytest.mark.parametrize("nlv", [None, D(0), D(-5), D("NaN")])
def test_max_position_needs_a_positive_net_liquidation(make_ctx: ContextFactory, nlv: D | None) -> None:
    err = rejection(only("max_position"), Order.limit(AAPL, "BUY", 1, 100), make_ctx(net_liquidation=nlv))
    assert (err.rule, err.limit, err.value) == ("max_position", "10% of net liquidation", f"net liquidation {nlv}")
    assert f"net liquidation is {nlv} (unknown or not positive)" in err.message


# --- max gross exposure (amount) -----------------------------------------------------------------------------------


def test_max_gross_exposure_amount(make_ctx: ContextFactory) -> None:
    engine = only("max_gross_exposure", max_gross_exposure_amount=500_000)
    ctx = make_ctx(gross_exposure=D(400_000), working_gross=D(50_000))
    engine.check(Order.limit(AAPL, "BUY", 500, 100), ctx)  # 500,000 exactly
    err = assert_rejects(
        engine,
        Order.limit(AAPL, "BUY", 501, 100),
        ctx,
        "max_gross_exposure",
        "500,000.00 USD",
        "500,100.00 USD",
        "gross exposure after the order 500,100.00 USD (positions 400,000.00 USD + working 50,000.00 USD + this "
        "order 50,100.00 USD) is above the limit 500,000.00 USD",
    )
    assert "risk.max_gross_exposure_amount" in (err.hint or "")
    reducing = make_ctx(gross_exposure=D(900_000), positions={AAPL_ID: D(1000)})
    engine.check(Order.limit(AAPL, "SELL", 500, 100), reducing)


def test_max_gross_exposure_unset_amount_or_disabled_passes(make_ctx: ContextFactory) -> None:
    ctx = make_ctx(gross_exposure=D(10_000_000))
    only("max_gross_exposure").check(Order.limit(AAPL, "BUY", 1, 100), ctx)
    settings = RiskSettings(max_gross_exposure_amount=1000, disabled_rules=[*PRE_TRADE_RULES])
    RiskEngine(settings).check(Order.limit(AAPL, "BUY", 1, 100), ctx)


# --- max leverage --------------------------------------------------------------------------------------------------


def test_max_leverage_refuses_gross_above_the_multiple_of_nlv(make_ctx: ContextFactory) -> None:
    ctx = make_ctx(gross_exposure=D(950_000), working_gross=D(40_000))
    only("max_leverage").check(Order.limit(AAPL, "BUY", 100, 100), ctx)  # exactly 1.00×
    err = assert_rejects(
        only("max_leverage"),
        Order.limit(AAPL, "BUY", 200, 100),
        ctx,
        "max_leverage",
        "1× net liquidation = 1,000,000.00 USD",
        "1.01× (1,010,000.00 USD)",
        "gross exposure after the order 1,010,000.00 USD (positions 950,000.00 USD + working 40,000.00 USD + this "
        "order 20,000.00 USD) is 1.01× net liquidation, above the limit 1× net liquidation (1,000,000.00 USD)",
    )
    assert "risk.max_gross_exposure" in (err.hint or "")


def test_max_leverage_allows_reducing_orders_and_a_higher_multiple(make_ctx: ContextFactory) -> None:
    levered = make_ctx(gross_exposure=D(1_500_000), positions={AAPL_ID: D(1000)})
    only("max_leverage").check(Order.limit(AAPL, "SELL", 1000, 100), levered)
    assert rejection(only("max_leverage"), Order.limit(AAPL, "BUY", 1, 100), levered).rule == "max_leverage"
    only("max_leverage", max_gross_exposure=2.0).check(Order.limit(AAPL, "BUY", 1000, 100), levered)
    err = rejection(only("max_leverage"), Order.limit(AAPL, "BUY", 1, 100), make_ctx(net_liquidation=None))
    assert err.value == "net liquidation None"


def test_all_size_rules_report_together(make_ctx: ContextFactory) -> None:
    engine = RiskEngine(RiskSettings(max_gross_exposure_amount=100_000))
    found = engine.violations(Order.limit(AAPL, "BUY", 20_000, 100), make_ctx())
    assert [v.rule for v in found] == ["max_order_notional", "max_position", "max_gross_exposure", "max_leverage"]
    assert all(v.message.startswith(f"{v.rule}: ") for v in found)


# --- other currencies: limits are in the base currency -------------------------------------------------------------

SAP = Stock("SAP", exchange="IBIS", currency="EUR")
EUR_CTX = {"base_currency": "USD", "exchange_rates": {"EUR": D("1.1")}, "last_prices": {SAP.id: D(200)}}


def test_an_order_in_another_currency_is_converted_before_the_notional_limit(make_ctx: ContextFactory) -> None:
    ctx = make_ctx(**EUR_CTX)
    only("max_order_notional").check(Order.limit(SAP, "BUY", 450, 200), ctx)  # 90,000 EUR = 99,000 USD
    assert_rejects(
        only("max_order_notional"),
        Order.limit(SAP, "BUY", 460, 200),  # 92,000 EUR: under the limit at par, 101,200 USD converted
        ctx,
        "max_order_notional",
        "100,000.00 USD",
        "101,200.00 USD",
        "order notional 101,200.00 USD (92,000.00 EUR at 1.1) is above the limit 100,000.00 USD "
        "(BUY 460 SAP.STK.IBIS.EUR)",
    )


def test_max_position_values_a_foreign_position_in_the_base_currency(make_ctx: ContextFactory) -> None:
    ctx = make_ctx(**EUR_CTX, positions={SAP.id: D(400)})
    only("max_position").check(Order.limit(SAP, "BUY", 50, 200), ctx)  # 450 × 200 × 1.1 = 99,000 USD
    assert_rejects(
        only("max_position"),
        Order.limit(SAP, "BUY", 60, 200),
        ctx,
        "max_position",
        "10% of net liquidation = 100,000.00 USD",
        "101,200.00 USD (10.12%)",
        "position after the order 460 SAP.STK.IBIS.EUR worth 101,200.00 USD (92,000.00 EUR at 1.1) is 10.12% of "
        "net liquidation, above the limit 10% (100,000.00 USD)",
    )


def test_without_an_exchange_rate_the_notional_rules_refuse_and_name_it(make_ctx: ContextFactory) -> None:
    ctx = make_ctx(base_currency="USD", last_prices={SAP.id: D(200)})
    found = RiskEngine(RiskSettings(max_gross_exposure_amount=10_000_000)).violations(
        Order.limit(SAP, "BUY", 1, 200), ctx
    )
    assert [v.rule for v in found] == ["max_order_notional", "max_position", "max_gross_exposure", "max_leverage"]
    for v in found:
        assert v.actual == "no EUR/USD rate"
        assert "is in EUR and the account has no exchange rate from EUR to USD" in v.message
        assert "ExchangeRate" in v.hint
    only("max_order_notional").check(Order.limit(AAPL, "BUY", 1, 100), ctx)  # base-currency orders are unaffected


def test_a_held_position_without_a_rate_blocks_the_exposure_rules_only(make_ctx: ContextFactory) -> None:
    ctx = make_ctx(base_currency="USD", unconverted={SAP.id: "EUR"})
    engine = RiskEngine(RiskSettings(max_gross_exposure_amount=10_000_000))
    found = engine.violations(Order.limit(AAPL, "BUY", 1, 100), ctx)
    assert [v.rule for v in found] == ["max_gross_exposure", "max_leverage"]
    assert found[1].message == (
        "max_leverage: gross exposure cannot be valued in USD: no exchange rate for SAP.STK.IBIS.EUR (EUR), so the "
        "limit 1× net liquidation cannot be checked"
    )
