"""The risk store contracts (``risk.stores``): the kill switch's state and history, risk events and equity marks; one
suite, run on the in-memory stores, SQLite and PostgreSQL. The database is the reference."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy.exc import StatementError

from quantdesk.domain.identifiers import ClientOrderId
from quantdesk.domain.trading_state import KillSwitchChange, KillSwitchStatus, TradingState
from quantdesk.errors import ValidationError
from quantdesk.risk.events import RiskEvent
from quantdesk.risk.stores import EquityStore
from store_backends import Backend

D = Decimal
T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
ACTIVE, REDUCING, HALTED = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED
NAIVE_REFUSED = (ValueError, StatementError)  # memory: a ValidationError; the database: its bind error


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def run(backend: Backend, body: Callable[[EquityStore], Coroutine[object, object, None]]) -> None:
    asyncio.run(body(backend.stores.equity))


# --- kill switch ---------------------------------------------------------------------------------------------------


def test_a_kill_switch_never_set_is_active_with_no_history(store_backend: Backend) -> None:
    store = store_backend.stores.kill_switch
    assert store.get() == KillSwitchStatus.default()
    assert store.history() == []
    assert store.history(None) == []


def test_set_stores_the_state_and_adds_a_line_to_the_history(store_backend: Backend) -> None:
    store = store_backend.stores.kill_switch
    assert store.set(HALTED, "daily loss", T0, changed_by="risk") == KillSwitchStatus(HALTED, "daily loss", "risk", T0)
    assert store.get() == KillSwitchStatus(HALTED, "daily loss", "risk", T0)
    store.set(TradingState("ACTIVE"), "all clear", at(1))
    assert store.get() == KillSwitchStatus(ACTIVE, "all clear", "user", at(1))
    assert store.history() == [
        KillSwitchChange(T0, ACTIVE, HALTED, "ACTIVE -> HALTED by risk: daily loss"),
        KillSwitchChange(at(1), HALTED, ACTIVE, "HALTED -> ACTIVE by user: all clear"),
    ]


def test_the_state_and_history_survive_a_reopen(store_backend: Backend) -> None:
    store_backend.stores.kill_switch.set(REDUCING, "earnings", T0)
    again = store_backend.reopen().stores.kill_switch
    assert again.get() == KillSwitchStatus(REDUCING, "earnings", "user", T0)
    assert [c.state for c in again.history()] == [REDUCING]


def test_a_change_needs_a_reason_and_an_aware_time(store_backend: Backend) -> None:
    store = store_backend.stores.kill_switch
    for blank in ("", "   "):
        with pytest.raises(ValidationError, match="needs a reason"):
            store.set(HALTED, blank, T0)
    with pytest.raises(NAIVE_REFUSED):
        store.set(HALTED, "x", T0.replace(tzinfo=None))
    assert store.get() == KillSwitchStatus.default()
    assert store.history() == []


def test_history_is_oldest_first_and_a_limit_keeps_the_newest(store_backend: Backend) -> None:
    store = store_backend.stores.kill_switch
    store.set(REDUCING, "one", at(2))
    store.set(HALTED, "two", at(1))  # stamped earlier than the one before: the history goes by time
    store.set(ACTIVE, "three", at(3))
    store.set(HALTED, "four", at(3))  # the same time: the order stored
    reasons = [c.message.rsplit(": ", 1)[1] for c in store.history()]
    assert reasons == ["two", "one", "three", "four"]
    assert [c.message.rsplit(": ", 1)[1] for c in store.history(2)] == ["three", "four"]
    assert [c.message.rsplit(": ", 1)[1] for c in store.history(None)] == reasons
    assert store.history(0) == []
    assert len(store.history(20)) == 4
    assert store.get().reason == "four"


def test_the_history_holds_the_changes_only_not_the_orders_the_switch_refused(store_backend: Backend) -> None:
    stores = store_backend.stores
    stores.kill_switch.set(HALTED, "probe", T0)
    # what the risk engine reports when the HALTED gate refuses an order: rule kill_switch, not a change
    stores.risk_events.record(RiskEvent(at(1), "kill_switch", "rejected", "trading is HALTED", ClientOrderId("c1"),
                                        "HALTED: no new orders", "BUY 1 AAPL"))  # fmt: skip
    asyncio.run(stores.orders.flush())
    assert stores.kill_switch.history() == [KillSwitchChange(T0, ACTIVE, HALTED, "ACTIVE -> HALTED by user: probe")]
    assert stores.kill_switch.get().state is HALTED


def test_a_time_in_another_zone_is_the_same_instant(store_backend: Backend) -> None:
    store = store_backend.stores.kill_switch
    new_york = T0.astimezone(timezone(timedelta(hours=-5)))
    store.set(HALTED, "x", new_york)
    assert store.get().changed_at == T0
    assert store.history()[0].ts == T0


# --- risk events ---------------------------------------------------------------------------------------------------


def test_risk_events_are_recorded_in_order(store_backend: Backend) -> None:
    events = [
        RiskEvent(T0, "max_position", "rejected", "too big", ClientOrderId("c1"), "100", "150"),
        RiskEvent(at(1), "order_rate", "throttled", "slow down"),
    ]
    for event in events:
        store_backend.stores.risk_events.record(event)
    asyncio.run(store_backend.stores.orders.flush())
    assert store_backend.risk_events() == [
        (T0, "max_position", "rejected", "too big", "c1", "100", "150"),
        (at(1), "order_rate", "throttled", "slow down", None, None, None),
    ]


def test_a_risk_event_after_the_stores_closed_is_dropped_without_raising(store_backend: Backend) -> None:
    store_backend.stores.risk_events.record(RiskEvent(T0, "max_position", "rejected", "kept"))
    asyncio.run(store_backend.stores.orders.flush())
    store_backend.stores.close()
    store_backend.stores.risk_events.record(RiskEvent(at(1), "max_position", "rejected", "dropped"))
    assert [line[3] for line in store_backend.risk_events()] == ["kept"]


def test_a_risk_event_with_a_naive_time_is_dropped_without_raising(store_backend: Backend) -> None:
    store_backend.stores.risk_events.record(RiskEvent(T0.replace(tzinfo=None), "max_position", "rejected", "naive"))
    store_backend.stores.risk_events.record(RiskEvent(T0, "max_position", "rejected", "aware"))
    asyncio.run(store_backend.stores.orders.flush())
    assert [line[3] for line in store_backend.risk_events()] == ["aware"]


# --- equity --------------------------------------------------------------------------------------------------------


def test_no_marks_no_equity(store_backend: Backend) -> None:
    async def body(store: EquityStore) -> None:
        assert await store.day_start_equity("DU1", T0.date()) is None
        assert await store.peak_equity("DU1") is None
        assert await store.daily_returns("DU1") == []

    run(store_backend, body)


def test_day_start_is_the_first_mark_of_the_utc_day_else_the_last_before(store_backend: Backend) -> None:
    async def body(store: EquityStore) -> None:
        await store.record_equity(at(-24), "DU1", "USD", D(900))  # Sunday
        await store.record_equity(at(-20), "DU1", "USD", D(950))  # Sunday, later
        await store.record_equity(at(1), "DU1", "USD", D("1000.5"), initial_margin=D(10), maintenance_margin=D(8))
        await store.record_equity(at(1), "DU1", "USD", D(1001))  # the same time: the first stored counts
        await store.record_equity(at(2), "DU1", "USD", D(990))
        await store.record_equity(at(0.5), "DU2", "USD", D(5))  # another account
        # Tuesday 02:00 UTC is Monday evening in New York: it belongs to Tuesday
        await store.record_equity(at(11).astimezone(timezone(timedelta(hours=-5))), "DU1", "USD", D(980))
        assert await store.day_start_equity("DU1", date(2025, 3, 3)) == D("1000.5")
        assert await store.day_start_equity("DU1", date(2025, 3, 2)) == D(900)
        assert await store.day_start_equity("DU1", date(2025, 3, 4)) == D(980)
        assert await store.day_start_equity("DU1", date(2025, 3, 10)) == D(980)  # no mark that day: the last before
        assert await store.day_start_equity("DU1", date(2025, 3, 1)) is None
        assert await store.day_start_equity("DU2", date(2025, 3, 3)) == D(5)

    run(store_backend, body)


def test_peak_is_the_highest_mark_of_the_account(store_backend: Backend) -> None:
    async def body(store: EquityStore) -> None:
        for hours, value in ((0, "1000"), (1, "1200.25"), (2, "1100"), (3, "999")):
            await store.record_equity(at(hours), "DU1", "USD", D(value))
        await store.record_equity(at(4), "DU2", "USD", D(5000))
        peak = await store.peak_equity("DU1")
        assert peak == D("1200.25")
        assert isinstance(peak, Decimal)

    run(store_backend, body)


def test_daily_returns_use_each_utc_days_first_mark(store_backend: Backend) -> None:
    async def body(store: EquityStore) -> None:
        await store.record_equity(at(48), "DU1", "USD", D(1210))  # recorded out of order
        await store.record_equity(at(0), "DU1", "USD", D(1000))
        await store.record_equity(at(5), "DU1", "USD", D(5000))  # not the first of its day
        await store.record_equity(at(24), "DU1", "USD", D(1100))
        await store.record_equity(at(24), "DU2", "USD", D(1))
        returns = await store.daily_returns("DU1")
        assert returns == pytest.approx([0.1, 0.1])
        assert await store.daily_returns("DU2") == []

    run(store_backend, body)


def test_a_mark_with_a_naive_time_is_refused(store_backend: Backend) -> None:
    async def body(store: EquityStore) -> None:
        with pytest.raises(NAIVE_REFUSED):
            await store.record_equity(T0.replace(tzinfo=None), "DU1", "USD", D(1000))
        assert await store.peak_equity("DU1") is None

    run(store_backend, body)
