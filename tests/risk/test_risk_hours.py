"""The trading-hours rule on real exchange calendars: orders that execute at once only while the market is open."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

import pytest
from risk_support import ContextFactory

from quantdesk.config.risk_settings import RiskSettings
from quantdesk.domain.instruments import ForexPair, Stock
from quantdesk.domain.order_types import TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.errors import RiskRejected
from quantdesk.execution.sessions import FixedHours, SessionCalendar
from quantdesk.risk import PRE_TRADE_RULES, RiskEngine, TradingHours, executes_at_once, trading_exchange

AAPL = Stock("AAPL")
SATURDAY = datetime(2025, 3, 1, 15, 0, tzinfo=UTC)
MONDAY_OPEN = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
MONDAY_EVENING = datetime(2025, 3, 3, 22, 0, tzinfo=UTC)
INDEPENDENCE_DAY = datetime(2025, 7, 4, 15, 0, tzinfo=UTC)

D = Decimal


def hours_only(**settings: Any) -> RiskEngine:
    others = [r for r in PRE_TRADE_RULES if r != "trading_hours"]
    return RiskEngine(RiskSettings(disabled_rules=others, **settings))


def test_a_market_order_is_refused_while_the_exchange_is_closed(make_ctx: ContextFactory) -> None:
    with pytest.raises(RiskRejected) as info:
        hours_only().check(Order.market(AAPL, "BUY", 10), make_ctx(now=SATURDAY))
    err = info.value
    assert (err.rule, err.limit, err.value) == ("trading_hours", "XNYS open", "closed at 2025-03-01 15:00:00 UTC")
    assert err.message == (
        "trading_hours: XNYS is closed at 2025-03-01 15:00:00 UTC, and BUY 10 AAPL.STK.SMART.USD (market DAY) "
        "would execute at once"
    )
    assert err.hint is not None
    assert "next open 2025-03-03 14:30 UTC" in err.hint


@pytest.mark.parametrize("now", [SATURDAY, MONDAY_EVENING, INDEPENDENCE_DAY])
@pytest.mark.parametrize(
    "order",
    [
        Order.market(AAPL, "BUY", 10),
        Order.limit(AAPL, "BUY", 10, 100, tif=TimeInForce.IOC),
        Order.limit(AAPL, "BUY", 10, 100, tif=TimeInForce.FOK),
    ],
    ids=["market", "ioc", "fok"],
)
def test_orders_that_execute_at_once_wait_for_the_open(make_ctx: ContextFactory, now: datetime, order: Order) -> None:
    assert executes_at_once(order)
    with pytest.raises(RiskRejected, match="trading_hours: XNYS is closed"):
        hours_only().check(order, make_ctx(now=now))
    hours_only().check(order, make_ctx(now=MONDAY_OPEN))


@pytest.mark.parametrize(
    "order",
    [
        Order.limit(AAPL, "BUY", 10, 100),
        Order.limit(AAPL, "BUY", 10, 100, tif=TimeInForce.GTC),
        Order.stop(AAPL, "SELL", 10, 95),
        Order.market_on_open(AAPL, "BUY", 10),
        Order.market_on_close(AAPL, "BUY", 10),
        Order.limit_on_close(AAPL, "BUY", 10, 100),
    ],
    ids=["limit-day", "limit-gtc", "stop", "moo", "moc", "loc"],
)
def test_resting_and_auction_orders_pass_while_closed(make_ctx: ContextFactory, order: Order) -> None:
    assert not executes_at_once(order)
    hours_only().check(order, make_ctx(now=SATURDAY))


def test_the_exchange_is_the_primary_one_for_smart_routing(make_ctx: ContextFactory) -> None:
    assert trading_exchange(AAPL) == "XNYS"
    nasdaq = Stock("MSFT", primary_exchange="NASDAQ")
    assert trading_exchange(nasdaq) == "NASDAQ"
    assert trading_exchange(Stock("SAP", currency="EUR")) is None
    assert trading_exchange(Stock("VOD", exchange="LSE", currency="GBP")) == "LSE"
    with pytest.raises(RiskRejected, match="NASDAQ is closed"):
        hours_only().check(Order.market(nasdaq, "BUY", 1), make_ctx(now=SATURDAY, last_prices={nasdaq.id: D(1)}))


def test_forex_follows_the_24_5_calendar(make_ctx: ContextFactory) -> None:
    eur = ForexPair("EUR", "USD")
    order = Order.market(eur, "BUY", 20_000)
    ctx = make_ctx(now=datetime(2025, 3, 4, 3, 0, tzinfo=UTC), last_prices={eur.id: D("1.05")})
    hours_only().check(order, ctx)  # Tuesday 03:00 UTC: open
    with pytest.raises(RiskRejected, match="IDEALPRO is closed"):
        hours_only().check(order, make_ctx(now=SATURDAY, last_prices={eur.id: D("1.05")}))


def test_unknown_exchanges_and_times_pass_with_a_debug_log(
    make_ctx: ContextFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="quantdesk.risk.hours")
    odd = Stock("ODD", exchange="NOWHERE")
    hours_only().check(Order.market(odd, "BUY", 1), make_ctx(now=SATURDAY, last_prices={odd.id: D(1)}))
    assert "no calendar for exchange NOWHERE" in caplog.text
    far = make_ctx(now=datetime(2200, 1, 4, 15, 0, tzinfo=UTC))  # a Saturday beyond the calendar's end
    hours_only().check(Order.market(AAPL, "BUY", 1), far)
    assert "outside the XNYS calendar" in caplog.text


def test_calendars_load_once_per_exchange(make_ctx: ContextFactory) -> None:
    loads: list[str] = []
    nine_to_five = FixedHours(time(9, 0), time(17, 0), "UTC")

    def loader(exchange: str) -> SessionCalendar | None:
        loads.append(exchange)
        return nine_to_five

    hours = TradingHours(loader)
    engine = RiskEngine(
        RiskSettings(disabled_rules=[r for r in PRE_TRADE_RULES if r != "trading_hours"]), trading_hours=hours
    )
    engine.warm_up([AAPL, Stock("IBM")])
    assert loads == ["XNYS"]
    for _ in range(3):
        engine.check(Order.market(AAPL, "BUY", 1), make_ctx(now=MONDAY_OPEN))
    with pytest.raises(RiskRejected, match="XNYS is closed"):
        engine.check(Order.market(AAPL, "BUY", 1), make_ctx(now=MONDAY_EVENING))
    assert loads == ["XNYS"]
    assert hours.is_open(AAPL, MONDAY_OPEN) is True


def test_trading_hours_disabled_skips(make_ctx: ContextFactory) -> None:
    RiskEngine(RiskSettings(disabled_rules=["trading_hours"])).check(
        Order.market(AAPL, "BUY", 10), make_ctx(now=SATURDAY)
    )
