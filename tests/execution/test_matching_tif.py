"""Time in force and sessions: DAY, GTC, GTD, IOC, FOK, OPG, regular hours, and the session calendars."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from quantdesk.domain.events import OrderEvent, OrderExpired, OrderRejected
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import Bar, Quote
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order, TimeInForce
from quantdesk.errors import DataError, NotFound, ValidationError
from quantdesk.execution import (
    ALWAYS_OPEN,
    ExchangeSessions,
    FixedHours,
    MatchingConfig,
    MatchingEngine,
    Session,
    SessionCalendar,
    fills_of,
)

AAPL, MSFT = Stock("AAPL"), Stock("MSFT")
T0 = datetime(2024, 1, 2, tzinfo=UTC)  # a Tuesday
D = Decimal
HOURS = FixedHours(time(14, 30), time(21, 0))


def at(hour: int, minute: int = 0, days: int = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hour, minutes=minute)


def daily(i: int, o: object, h: object, lo: object, c: object, volume: object = 1_000_000) -> Bar:
    return Bar.of(AAPL.id, "1 day", T0 + timedelta(days=i), str(o), str(h), str(lo), str(c), str(volume))


def half_hour(ts: datetime, o: object, h: object, lo: object, c: object) -> Bar:
    return Bar.of(AAPL.id, "30 mins", ts, str(o), str(h), str(lo), str(c), "1000")


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def names(events: list[OrderEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


# --- DAY ----------------------------------------------------------------------------------------------------------


def test_day_order_expires_at_the_session_close_after_the_last_bar() -> None:
    engine = MatchingEngine(calendar=HOURS)
    order = Order.limit(AAPL, "BUY", 10, 90)
    engine.submit(order, at(15))
    assert engine.view(order.client_order_id).expires_at == at(21)
    assert engine.on_bar(half_hour(at(20), 100, 101, 99, 100)) == []
    events = engine.on_bar(half_hour(at(20, 30), 100, 101, 99, 100))
    assert names(events) == ["OrderExpired"]
    assert isinstance(events[0], OrderExpired)
    assert (events[0].ts, events[0].reason) == (at(21), "DAY order expired at the session close")


def test_day_order_can_still_fill_in_the_bar_that_ends_the_session() -> None:
    engine = MatchingEngine(calendar=HOURS)
    engine.submit(Order.limit(AAPL, "BUY", 10, 100), at(15))
    events = engine.on_bar(half_hour(at(20, 30), 101, 101, 99, 100))
    assert names(events) == ["OrderFilled"]


def test_day_order_sent_after_the_close_lives_until_the_next_sessions_close() -> None:
    engine = MatchingEngine(calendar=HOURS)
    order = Order.limit(AAPL, "BUY", 10, 90)
    engine.submit(order, at(21))  # exactly at the close: the session is over
    assert engine.view(order.client_order_id).expires_at == at(21, days=1)
    quote = Quote(AAPL.id, at(21, days=1), D(100), D("100.1"))
    events = engine.on_quote(quote)
    assert names(events) == ["OrderExpired"]


def test_day_orders_follow_the_exchange_calendar_holidays_and_early_closes() -> None:
    engine = MatchingEngine(calendar=ExchangeSessions("XNYS", start="2024-01-01", end="2024-12-31"))
    in_session = Order.limit(AAPL, "BUY", 1, 90)
    after_early_close = Order.limit(AAPL, "BUY", 1, 90)
    friday_evening = Order.limit(AAPL, "BUY", 1, 90)
    engine.submit(in_session, datetime(2024, 7, 3, 15, tzinfo=UTC))  # 11:00 New York, early close at 13:00
    engine.submit(after_early_close, datetime(2024, 7, 3, 18, tzinfo=UTC))  # July 4th is a holiday
    engine.submit(friday_evening, datetime(2024, 7, 5, 21, tzinfo=UTC))
    assert engine.view(in_session.client_order_id).expires_at == datetime(2024, 7, 3, 17, tzinfo=UTC)
    assert engine.view(after_early_close.client_order_id).expires_at == datetime(2024, 7, 5, 20, tzinfo=UTC)
    assert engine.view(friday_evening.client_order_id).expires_at == datetime(2024, 7, 8, 20, tzinfo=UTC)


def test_advance_to_expires_orders_of_every_instrument() -> None:
    engine = MatchingEngine(calendar=HOURS)
    a, b = Order.limit(AAPL, "BUY", 1, 90), Order.limit(MSFT, "BUY", 1, 90)
    keep = Order.limit(AAPL, "BUY", 1, 90, tif=TimeInForce.GTC)
    engine.submit_all([a, b, keep], at(15))
    assert engine.advance_to(at(20, 59)) == []
    events = engine.advance_to(at(21))
    assert [e.client_order_id for e in events] == [a.client_order_id, b.client_order_id]
    assert [v.order.client_order_id for v in engine.open_orders()] == [keep.client_order_id]


# --- GTC and GTD --------------------------------------------------------------------------------------------------


def test_gtc_order_works_across_sessions_until_it_fills() -> None:
    engine = MatchingEngine(calendar=HOURS)
    order = Order.limit(AAPL, "BUY", 10, 95, tif=TimeInForce.GTC)
    engine.submit(order, at(15))
    for i in range(5):
        assert engine.on_bar(daily(i, 100, 101, 99, 100)) == []
    assert engine.advance_to(at(23, days=6)) == []
    assert [f.price for f in fills_of(engine.on_bar(daily(7, 96, 97, 94, 95)))] == [D(95)]


def test_gtd_order_expires_at_good_till_after_the_bar_that_contains_it() -> None:
    engine = MatchingEngine()
    good_till = at(12, days=2)
    order = Order.limit(AAPL, "BUY", 10, 90, tif=TimeInForce.GTD, good_till=good_till)
    engine.submit(order, T0)
    assert engine.on_bar(daily(0, 100, 101, 99, 100)) == []
    assert engine.on_bar(daily(1, 100, 101, 99, 100)) == []
    events = engine.on_bar(daily(2, 100, 101, 99, 100))
    assert names(events) == ["OrderExpired"]
    assert isinstance(events[0], OrderExpired)
    assert (events[0].ts, events[0].reason) == (good_till, "GTD order reached good_till")


def test_gtd_order_with_good_till_in_the_past_is_rejected() -> None:
    engine = MatchingEngine()
    order = Order.limit(AAPL, "BUY", 10, 90, tif=TimeInForce.GTD, good_till=T0)
    events = engine.submit(order, at(1))
    assert isinstance(events[0], OrderRejected)
    assert "good_till" in events[0].reason
    assert engine.state(order.client_order_id).status is OrderStatus.REJECTED


# --- IOC and FOK --------------------------------------------------------------------------------------------------


def test_ioc_only_meets_the_first_price_of_a_bar() -> None:
    engine = MatchingEngine()
    order = Order.limit(AAPL, "BUY", 10, 100, tif=TimeInForce.IOC)
    engine.submit(order, T0)
    events = engine.on_bar(daily(0, 101, 102, 99, 100))  # the path trades 100 later: too late for an IOC
    assert names(events) == ["OrderCancelled"]
    assert engine.state(order.client_order_id).filled_quantity == 0


def test_ioc_fills_what_the_volume_cap_allows_and_cancels_the_rest() -> None:
    engine = MatchingEngine(MatchingConfig(max_volume_participation=D("0.1")))
    order = Order.market(AAPL, "BUY", 100, tif=TimeInForce.IOC)
    engine.submit(order, T0)
    events = engine.on_bar(daily(0, 50, 51, 49, 50, volume=400))
    assert names(events) == ["OrderPartiallyFilled", "OrderCancelled"]
    state = engine.state(order.client_order_id)
    assert (state.status, state.filled_quantity) == (OrderStatus.CANCELLED, D(40))


@pytest.mark.parametrize(
    ("volume", "filled", "status"), [(500, 0, OrderStatus.CANCELLED), (1000, 100, OrderStatus.FILLED)]
)
def test_fok_fills_in_full_on_the_first_bar_or_not_at_all(volume: int, filled: int, status: OrderStatus) -> None:
    engine = MatchingEngine(MatchingConfig(max_volume_participation=D("0.1")))
    order = Order.market(AAPL, "BUY", 100, tif=TimeInForce.FOK)
    engine.submit(order, T0)
    engine.on_bar(daily(0, 50, 51, 49, 50, volume=volume))
    state = engine.state(order.client_order_id)
    assert (state.filled_quantity, state.status) == (D(filled), status)


# --- OPG ----------------------------------------------------------------------------------------------------------


def test_opg_order_that_missed_its_open_expires() -> None:
    engine = MatchingEngine(calendar=HOURS)
    order = Order.market_on_open(AAPL, "BUY", 10)
    engine.submit(order, at(12))
    assert engine.view(order.client_order_id).auction_at == at(14, 30)
    events = engine.advance_to(at(15))
    assert names(events) == ["OrderExpired"]
    assert events[0].ts == at(14, 30)


def test_opg_order_fills_at_the_open_of_the_intraday_bar_that_contains_the_open() -> None:
    engine = MatchingEngine(calendar=HOURS)
    engine.submit(Order.market_on_open(AAPL, "BUY", 10), at(12))
    assert engine.on_bar(half_hour(at(14), 99, 100, 98, 99)) == []
    events = engine.on_bar(half_hour(at(14, 30), "100.5", 101, 100, 101))
    assert [f.price for f in fills_of(events)] == [D("100.5")]


# --- regular trading hours ----------------------------------------------------------------------------------------


def test_outside_rth_decides_whether_an_order_trades_on_quotes_outside_the_session() -> None:
    engine = MatchingEngine(calendar=HOURS)
    rth = Order.limit(AAPL, "BUY", 1, 100, tif=TimeInForce.GTC)
    extended = Order.limit(AAPL, "BUY", 1, 100, tif=TimeInForce.GTC, outside_rth=True)
    engine.submit_all([rth, extended], at(12))
    events = engine.on_quote(Quote(AAPL.id, at(13), D("99.8"), D("99.9")))
    assert [f.client_order_id for f in fills_of(events)] == [extended.client_order_id]
    events = engine.on_quote(Quote(AAPL.id, at(14, 30), D("99.8"), D("99.9")))
    assert [f.client_order_id for f in fills_of(events)] == [rth.client_order_id]


# --- calendars ----------------------------------------------------------------------------------------------------


def test_always_open_sessions_are_utc_days() -> None:
    assert isinstance(ALWAYS_OPEN, SessionCalendar)
    assert ALWAYS_OPEN.is_open(at(3))
    assert ALWAYS_OPEN.session(at(3)) == Session(T0, T0 + timedelta(days=1))


def test_fixed_hours_follow_daylight_saving_weekends_and_holidays() -> None:
    ny = FixedHours.us_equities()
    winter, summer = ny.session(datetime(2024, 1, 2, 12, tzinfo=UTC)), ny.session(datetime(2024, 7, 2, 12, tzinfo=UTC))
    assert (winter.open, winter.close) == (
        datetime(2024, 1, 2, 14, 30, tzinfo=UTC),
        datetime(2024, 1, 2, 21, tzinfo=UTC),
    )
    assert (summer.open, summer.close) == (
        datetime(2024, 7, 2, 13, 30, tzinfo=UTC),
        datetime(2024, 7, 2, 20, tzinfo=UTC),
    )
    friday_night = datetime(2024, 1, 5, 22, tzinfo=UTC)
    assert ny.session(friday_night).open == datetime(2024, 1, 8, 14, 30, tzinfo=UTC)
    with_holiday = FixedHours(time(9, 30), time(16), "America/New_York", holidays=frozenset({date(2024, 1, 8)}))
    assert with_holiday.session(friday_night).open == datetime(2024, 1, 9, 14, 30, tzinfo=UTC)
    assert ny.is_open(datetime(2024, 1, 2, 15, tzinfo=UTC))
    assert not ny.is_open(datetime(2024, 1, 2, 21, tzinfo=UTC))
    assert not ny.is_open(datetime(2024, 1, 6, 15, tzinfo=UTC))


def test_fixed_hours_refuses_bad_definitions() -> None:
    with pytest.raises(ValidationError) as info:
        FixedHours(time(16), time(9, 30))
    assert info.value.field == "close"
    with pytest.raises(ValidationError) as info:
        FixedHours(time(9, 30), time(16), "Mars/Olympus")
    assert info.value.field == "tz"


def test_session_break_is_closed() -> None:
    s = Session(at(1), at(7), at(4), at(5))
    assert [s.contains(at(h)) for h in (0, 1, 3, 4, 5, 7)] == [False, True, True, False, True, False]


def test_exchange_sessions_open_close_and_errors() -> None:
    nyse = ExchangeSessions("XNYS", start="2024-01-01", end="2024-12-31")
    assert nyse.is_open(datetime(2024, 7, 3, 16, 59, tzinfo=UTC))
    assert not nyse.is_open(datetime(2024, 7, 3, 17, tzinfo=UTC))  # early close
    assert not nyse.is_open(datetime(2024, 7, 4, 15, tzinfo=UTC))  # Independence Day
    with pytest.raises(DataError):
        nyse.session(datetime(2025, 6, 1, tzinfo=UTC))
    with pytest.raises(NotFound):
        ExchangeSessions("NOPE").session(T0)
