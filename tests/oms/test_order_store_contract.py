"""The ``OrderStore`` contract (``oms.stores``): one suite, run on the in-memory store, SQLite and PostgreSQL.

Every port method and every rule of the port's docstring: an intent once per ClientOrderId, a fill once per
(account, execution id), an update that keeps what it does not carry, ``post`` + ``flush`` durable, no write after
``close``. The SQL journal is the reference: where the memory store differs, the memory store is wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.exc import StatementError

from quantdesk.brokers.base import OrderStatusReport
from quantdesk.domain.fills import CommissionReport, Fill
from quantdesk.domain.identifiers import AccountId, BrokerOrderId, ClientOrderId, ExecutionId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_state import OrderState, OrderStatus
from quantdesk.domain.order_types import OrderType
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import Currency, Money
from quantdesk.errors import NotFound, ValidationError
from quantdesk.oms.breaks import RESOLUTIONS, Break
from quantdesk.oms.store_ops import (
    AdoptIntent,
    DuplicateIntent,
    InsertIntent,
    JournalClosed,
    OrderEventOp,
    RecordCommission,
    RecordFill,
    RiskEventOp,
    UpdateIntent,
)
from quantdesk.oms.stores import OrderStore
from quantdesk.persistence.repositories import BreakResolution
from store_backends import Backend

D = Decimal
NAIVE_REFUSED = (ValueError, StatementError)  # memory: a ValidationError; the database: its bind error
T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
AAPL, MSFT = Stock("AAPL"), Stock("MSFT")
ACCOUNT, OTHER = AccountId("DU111"), AccountId("DU222")


def run(backend: Backend, body: Callable[[OrderStore], Coroutine[object, object, None]]) -> None:
    asyncio.run(body(backend.stores.orders))


def limit(cid: str, quantity: int = 10, price: str = "97", *, account: AccountId | None = ACCOUNT) -> Order:
    return Order.limit(AAPL, OrderSide.BUY, quantity, D(price), account=account, client_order_id=ClientOrderId(cid))


def state(
    cid: str,
    status: OrderStatus,
    *,
    filled: str = "0",
    notional: str = "0",
    at: int = 1,
    broker: BrokerOrderId | None = None,
) -> OrderState:
    """Order ``cid`` (of 10) in ``status`` at T0 + ``at`` seconds."""
    return OrderState(
        ClientOrderId(cid), D(10), T0 + timedelta(seconds=at), status, broker, D(filled), D(notional)
    )  # fmt: skip


def fill(eid: str, cid: str = "c1", *, account: AccountId | None = ACCOUNT, side: OrderSide = OrderSide.BUY,
         quantity: str = "4", instrument: Stock = AAPL) -> Fill:  # fmt: skip
    return Fill(
        ExecutionId(eid), ClientOrderId(cid), instrument.id, side, D(quantity), D("97"), T0, account=account
    )  # fmt: skip


def report(perm_id: int, *, cid: str | None = None, status: OrderStatus = OrderStatus.SUBMITTED) -> OrderStatusReport:
    return OrderStatusReport(
        broker_order_id=BrokerOrderId(7, perm_id, 0),
        client_order_id=ClientOrderId(cid) if cid else None,
        account=ACCOUNT,
        instrument_id=MSFT.id,
        side=OrderSide.SELL,
        order_type=OrderType.LIMIT,
        quantity=D(5),
        filled_quantity=D(0),
        status=status,
        ts=T0,
        limit_price=D("410"),
    )


# --- intents -------------------------------------------------------------------------------------------------------


def test_an_intent_is_created_once_and_read_back_as_sent(store_backend: Backend) -> None:
    async def body(store: OrderStore) -> None:
        order = limit("c1")
        assert await store.write(InsertIntent(order, T0)) is True
        assert await store.write(InsertIntent(order, T0 + timedelta(seconds=5), list_id="l2")) is False
        got = await store.get_intent(order.client_order_id)
        assert (got.client_order_id, got.instrument_id, got.side, got.source) == (
            order.client_order_id, AAPL.id, OrderSide.BUY, "quantdesk",
        )  # fmt: skip
        assert got.to_order() == order
        assert got.state == OrderState(order.client_order_id, D(10), T0, OrderStatus.INITIALIZED)
        assert await store.find_intent(order.client_order_id) == got

    run(store_backend, body)


def test_other_terms_under_a_stored_id_are_a_duplicate_intent(store_backend: Backend) -> None:
    async def body(store: OrderStore) -> None:
        assert await store.write(InsertIntent(limit("c1"), T0)) is True
        market = Order.market(AAPL, OrderSide.BUY, 10, account=ACCOUNT, client_order_id=ClientOrderId("c1"))
        for other in (limit("c1", quantity=11), limit("c1", price="98"), limit("c1", account=OTHER), market):
            with pytest.raises(DuplicateIntent):
                await store.write(InsertIntent(other, T0))
        stored = (await store.get_intent(ClientOrderId("c1"))).to_order()
        assert stored is not None
        assert stored.quantity == 10

    run(store_backend, body)


def test_a_duplicate_posted_is_logged_and_changes_nothing(
    store_backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    async def body(store: OrderStore) -> None:
        store.post(InsertIntent(limit("c1"), T0))
        store.post(InsertIntent(limit("c1", quantity=99), T0))
        await store.flush()
        stored = (await store.get_intent(ClientOrderId("c1"))).to_order()
        assert stored is not None
        assert stored.quantity == 10

    with caplog.at_level("ERROR"):
        run(store_backend, body)
    assert any("refused" in r.getMessage() for r in caplog.records)


def test_an_unknown_intent_is_none_or_not_found(store_backend: Backend) -> None:
    async def body(store: OrderStore) -> None:
        assert await store.find_intent(ClientOrderId("nope")) is None
        with pytest.raises(NotFound):
            await store.get_intent(ClientOrderId("nope"))
        assert await store.intent_by_perm_id(424242) is None
        assert await store.active_intents() == []

    run(store_backend, body)


def test_an_adopted_order_is_stored_once_without_its_terms(store_backend: Backend) -> None:
    async def body(store: OrderStore) -> None:
        cid = ClientOrderId("ext-9001")
        assert await store.write(AdoptIntent(report(9001), cid, T0)) is True
        assert await store.write(AdoptIntent(report(9001), cid, T0)) is False
        got = await store.get_intent(cid)
        assert (got.source, got.instrument_id, got.side, got.to_order()) == ("adopted", MSFT.id, OrderSide.SELL, None)
        assert got.state.status is OrderStatus.INITIALIZED
        assert got.state.broker_order_id == BrokerOrderId(7, 9001, 0)
        assert (await store.intent_by_perm_id(9001)) == got
        assert [i.client_order_id for i in await store.active_intents()] == [cid]
        # ours under an id already stored is not adopted over it
        await store.write(InsertIntent(limit("c1"), T0))
        assert await store.write(AdoptIntent(report(9002), ClientOrderId("c1"), T0)) is False
        assert (await store.get_intent(ClientOrderId("c1"))).source == "quantdesk"

    run(store_backend, body)


def test_an_adopted_id_refuses_other_terms_and_knows_its_perm_id_before_its_order_id(store_backend: Backend) -> None:
    async def body(store: OrderStore) -> None:
        cid = ClientOrderId("ext-9001")
        await store.write(AdoptIntent(report(9001), cid, T0))
        same = Order.limit(MSFT, OrderSide.SELL, 5, D("410"), account=ACCOUNT, client_order_id=cid)
        assert await store.write(InsertIntent(same, T0)) is False
        with pytest.raises(DuplicateIntent):
            await store.write(InsertIntent(limit("ext-9001"), T0))
        assert (await store.get_intent(cid)).to_order() is None  # still the adopted one
        # an order the broker reports with its permId only: no broker ids yet, but found by permId
        unnumbered = replace(report(9002), broker_order_id=BrokerOrderId(0, 9002, None))
        await store.write(AdoptIntent(unnumbered, ClientOrderId("ext-9002"), T0))
        found = await store.intent_by_perm_id(9002)
        assert found is not None
        assert (found.client_order_id, found.state.broker_order_id) == (ClientOrderId("ext-9002"), None)

    run(store_backend, body)


def test_an_update_is_seen_by_get_find_and_active_and_keeps_what_it_does_not_carry(store_backend: Backend) -> None:
    async def body(store: OrderStore) -> None:
        cid = ClientOrderId("c1")
        await store.write(InsertIntent(limit("c1"), T0))
        submitted = state("c1", OrderStatus.SUBMITTED, broker=BrokerOrderId(5, 5005, 3))
        await store.write(UpdateIntent(submitted, reason="sent", error_code=201))
        assert (await store.get_intent(cid)).state == submitted
        assert (await store.find_intent(cid)) == (await store.get_intent(cid))
        assert [i.state for i in await store.active_intents()] == [submitted]
        # no broker ids, no reason: the stored ones stay; a zero permId keeps the stored permId
        partly = state("c1", OrderStatus.PARTIALLY_FILLED, filled="4", notional="388", at=2)
        await store.write(UpdateIntent(partly))
        got = await store.get_intent(cid)
        assert got.state.broker_order_id == BrokerOrderId(5, 5005, 3)
        assert (got.state.status, got.state.filled_quantity, got.state.filled_notional) == (
            OrderStatus.PARTIALLY_FILLED, D(4), D(388),
        )  # fmt: skip
        assert got.state.updated_at == T0 + timedelta(seconds=2)
        await store.write(UpdateIntent(state("c1", OrderStatus.PARTIALLY_FILLED, filled="4", notional="388", at=3,
                                             broker=BrokerOrderId(6, 0, None))))  # fmt: skip
        assert (await store.get_intent(cid)).state.broker_order_id == BrokerOrderId(6, 5005, 3)
        assert (await store.intent_by_perm_id(5005)) is not None
        # a terminal status leaves the active intents
        await store.write(UpdateIntent(state("c1", OrderStatus.CANCELLED, filled="4", notional="388", at=4)))
        assert await store.active_intents() == []
        assert (await store.get_intent(cid)).state.status is OrderStatus.CANCELLED

    run(store_backend, body)


def test_an_update_of_an_unknown_intent_stores_nothing(store_backend: Backend) -> None:
    async def body(store: OrderStore) -> None:
        assert await store.write(UpdateIntent(state("ghost", OrderStatus.SUBMITTED))) is None
        assert await store.find_intent(ClientOrderId("ghost")) is None

    run(store_backend, body)


def test_updates_posted_together_keep_the_last_state_and_the_last_ids_given(store_backend: Backend) -> None:
    async def body(store: OrderStore) -> None:
        store.post(InsertIntent(limit("c1"), T0))
        store.post(UpdateIntent(state("c1", OrderStatus.SUBMITTED, broker=BrokerOrderId(5, 5005, 3)), reason="a"))
        store.post(UpdateIntent(state("c1", OrderStatus.PARTIALLY_FILLED, filled="2", notional="194", at=2)))
        await store.flush()
        got = await store.get_intent(ClientOrderId("c1"))
        assert got.state == state("c1", OrderStatus.PARTIALLY_FILLED, filled="2", notional="194", at=2,
                                  broker=BrokerOrderId(5, 5005, 3))  # fmt: skip

    run(store_backend, body)


def test_active_intents_are_the_non_terminal_ones_oldest_first(store_backend: Backend) -> None:
    async def body(store: OrderStore) -> None:
        for cid, offset in (("late", 30), ("early", 10), ("mid", 20), ("done", 5)):
            await store.write(InsertIntent(limit(cid), T0 + timedelta(seconds=offset)))
        await store.write(UpdateIntent(state("done", OrderStatus.FILLED, filled="10", notional="970")))
        await store.write(UpdateIntent(state("mid", OrderStatus.REJECTED)))
        assert [i.client_order_id.value for i in await store.active_intents()] == ["early", "late"]

    run(store_backend, body)


def test_intent_by_perm_id_finds_the_first_stored_with_it(store_backend: Backend) -> None:
    async def body(store: OrderStore) -> None:
        await store.write(InsertIntent(limit("a"), T0))
        await store.write(InsertIntent(limit("b"), T0))
        await store.write(UpdateIntent(state("b", OrderStatus.SUBMITTED, broker=BrokerOrderId(2, 777, 0))))
        await store.write(UpdateIntent(state("a", OrderStatus.SUBMITTED, broker=BrokerOrderId(1, 777, 0))))
        found = await store.intent_by_perm_id(777)
        assert found is not None
        assert found.client_order_id == ClientOrderId("a")

    run(store_backend, body)


def test_orders_since_counts_ours_accepted_at_or_after_the_start(store_backend: Backend) -> None:
    async def body(store: OrderStore) -> None:
        await store.write(InsertIntent(limit("before"), T0 - timedelta(microseconds=1)))
        await store.write(InsertIntent(limit("at"), T0))
        await store.write(InsertIntent(limit("after"), T0 + timedelta(hours=1)))
        await store.write(InsertIntent(limit("rejected"), T0 + timedelta(hours=1)))
        await store.write(UpdateIntent(state("rejected", OrderStatus.REJECTED)))
        await store.write(InsertIntent(limit("cancelled"), T0 + timedelta(hours=2)))
        await store.write(UpdateIntent(state("cancelled", OrderStatus.CANCELLED)))
        await store.write(AdoptIntent(report(1), ClientOrderId("ext-1"), T0 + timedelta(hours=1)))
        assert await store.orders_since(T0) == 3  # at, after, cancelled
        assert await store.orders_since(T0 - timedelta(microseconds=1)) == 4
        assert await store.orders_since(T0 + timedelta(microseconds=1)) == 2
        assert await store.orders_since(T0 + timedelta(hours=3)) == 0

    run(store_backend, body)


# --- fills ---------------------------------------------------------------------------------------------------------


def test_a_fill_is_recorded_once_per_account_and_execution_id(store_backend: Backend) -> None:
    async def body(store: OrderStore) -> None:
        assert await store.write(RecordFill(fill("e1"), T0, perm_id=5005)) is True
        assert await store.write(RecordFill(fill("e1", quantity="9"), T0)) is False  # the same execution again
        assert await store.write(RecordFill(fill("e1", account=OTHER), T0)) is True  # another account's e1
        assert await store.write(RecordFill(fill("e1", account=None), T0)) is True  # and one without an account
        assert await store.write(RecordFill(fill("e1", account=None), T0)) is False
        assert await store.recorded_fills(
            [(ACCOUNT, ExecutionId("e1")), (OTHER, ExecutionId("e1")), (None, ExecutionId("e1")),
             (ACCOUNT, ExecutionId("e2")), (AccountId("DU333"), ExecutionId("e1"))]
        ) == {("DU111", "e1"), ("DU222", "e1"), (None, "e1")}  # fmt: skip
        assert await store.recorded_fills([]) == set()

    run(store_backend, body)
    assert [(f.account, f.quantity) for f in store_backend.fills()] == [(ACCOUNT, D(4)), (OTHER, D(4)), (None, D(4))]


def test_fills_posted_twice_in_one_batch_are_recorded_once(store_backend: Backend) -> None:
    async def body(store: OrderStore) -> None:
        store.post(RecordFill(fill("e1"), T0))
        store.post(RecordFill(fill("e1"), T0))
        await store.flush()
        assert await store.recorded_fills([(ACCOUNT, ExecutionId("e1"))]) == {("DU111", "e1")}

    run(store_backend, body)
    assert len(store_backend.fills()) == 1


def test_an_intents_state_names_the_execution_ids_recorded_for_it(store_backend: Backend) -> None:
    async def body(store: OrderStore) -> None:
        await store.write(InsertIntent(limit("c1"), T0))
        await store.write(RecordFill(fill("e1"), T0))
        await store.write(RecordFill(fill("e2"), T0))
        await store.write(RecordFill(fill("x9", cid="c2"), T0))
        got = await store.get_intent(ClientOrderId("c1"))
        assert got.state.execution_ids == (ExecutionId("e1"), ExecutionId("e2"))
        assert [i.state.execution_ids for i in await store.active_intents()] == [(ExecutionId("e1"), ExecutionId("e2"))]

    run(store_backend, body)


def test_a_commission_goes_on_its_recorded_fill_of_the_account(store_backend: Backend) -> None:
    fee = Money(D("1.25"), Currency("USD"))

    async def body(store: OrderStore) -> None:
        assert await store.write(RecordCommission(CommissionReport(ExecutionId("e1"), fee), ACCOUNT)) is False
        await store.write(RecordFill(fill("e1"), T0))
        await store.write(RecordFill(fill("e1", account=OTHER), T0))
        assert await store.write(RecordCommission(CommissionReport(ExecutionId("e1"), fee), ACCOUNT)) is True
        assert await store.write(RecordCommission(CommissionReport(ExecutionId("e1"), fee), AccountId("DU9"))) is False
        assert await store.write(RecordCommission(CommissionReport(ExecutionId("zz"), fee))) is False

    run(store_backend, body)
    assert [(f.account, f.commission.amount) for f in store_backend.fills()] == [(ACCOUNT, D("1.25")), (OTHER, D(0))]

    async def without_account(store: OrderStore) -> None:  # IB names the execution only: every account's fill of it
        again = Money(D("2"), Currency("USD"))
        assert await store.write(RecordCommission(CommissionReport(ExecutionId("e1"), again))) is True

    run(store_backend, without_account)
    assert [f.commission.amount for f in store_backend.fills()] == [D(2), D(2)]


def test_ledger_positions_net_the_fills_per_account_and_instrument(store_backend: Backend) -> None:
    async def body(store: OrderStore) -> None:
        await store.write(RecordFill(fill("e1", quantity="10"), T0))
        await store.write(RecordFill(fill("e2", side=OrderSide.SELL, quantity="2.5"), T0))
        await store.write(RecordFill(fill("e3", account=OTHER, quantity="3"), T0))
        await store.write(RecordFill(fill("e4", account=OTHER, instrument=MSFT, quantity="1"), T0))
        await store.write(RecordFill(fill("e5", account=OTHER, instrument=MSFT, side=OrderSide.SELL, quantity="1"), T0))
        await store.write(RecordFill(fill("e6", account=None, quantity="7"), T0))
        await store.write(RecordFill(fill("e1", quantity="10"), T0))  # a duplicate counts once
        everything = await store.ledger_positions()
        assert everything == {(None, AAPL.id): D(7), (ACCOUNT, AAPL.id): D("7.5"), (OTHER, AAPL.id): D(3)}
        assert list(everything) == [(None, AAPL.id), (ACCOUNT, AAPL.id), (OTHER, AAPL.id)]
        assert str(everything[(ACCOUNT, AAPL.id)]) == "7.5"
        assert await store.ledger_positions("DU222") == {(OTHER, AAPL.id): D(3)}
        assert await store.ledger_positions("DU999") == {}

    run(store_backend, body)


# --- logs ----------------------------------------------------------------------------------------------------------


def test_breaks_are_stored_with_their_time_and_run(store_backend: Backend) -> None:
    first = Break("fill_missing", "e7 missing", "applied", account="DU111", instrument_id=AAPL.id.value,
                  client_order_id="c1", perm_id=5005, target="10", broker="10", database="6")  # fmt: skip
    second = Break("position_mismatch", "off by 2", "reported")

    async def body(store: OrderStore) -> None:
        await store.record_breaks([first, second], T0, "r1")
        await store.record_breaks([], T0, None)
        await store.record_breaks([second], T0 + timedelta(seconds=1), None)

    run(store_backend, body)
    assert store_backend.breaks() == [(T0, "r1", first), (T0, "r1", second), (T0 + timedelta(seconds=1), None, second)]


def test_a_break_with_an_unknown_resolution_a_bad_kind_or_a_naive_time_is_refused(store_backend: Backend) -> None:
    good = Break("fill_missing", "m", "marked")

    async def body(store: OrderStore) -> None:
        with pytest.raises(ValidationError):
            await store.record_breaks([good, Break("fill_missing", "m", "ignored")], T0, None)
        for kind in ("", "k" * 33):
            with pytest.raises(ValidationError):
                await store.record_breaks([Break(kind, "m", "applied")], T0, None)
        with pytest.raises(ValidationError):
            await store.record_breaks([good], T0.replace(tzinfo=None), None)

    run(store_backend, body)
    assert store_backend.breaks() == [(T0, None, good)]  # appended one by one: the break before the bad one stays


def test_the_memory_stores_resolutions_are_the_databases() -> None:
    assert set(RESOLUTIONS) == {r.value for r in BreakResolution}


def test_order_and_risk_events_are_appended_in_order_and_a_flush_is_no_event(store_backend: Backend) -> None:
    async def body(store: OrderStore) -> None:
        store.post(OrderEventOp("c1", None, "submitted", "SUBMITTED", "sent", T0, {"qty": D(10)}))
        store.post(OrderEventOp("c1", 5005, "status", "FILLED", None, T0 + timedelta(seconds=1)))
        await store.flush()
        await store.write(RiskEventOp(T0, "max_position", "rejected", "too big", "c2", "100", "150"))

    run(store_backend, body)
    assert store_backend.order_events() == [("c1", "submitted", "SUBMITTED", "sent"), ("c1", "status", "FILLED", None)]
    assert store_backend.risk_events() == [(T0, "max_position", "rejected", "too big", "c2", "100", "150")]


def test_an_operation_stamped_with_a_naive_time_is_refused_and_stores_nothing(
    store_backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    naive = T0.replace(tzinfo=None)

    async def body(store: OrderStore) -> None:
        for op in (
            InsertIntent(limit("c1"), naive),
            AdoptIntent(report(9001), ClientOrderId("ext-9001"), naive),
            RecordFill(fill("e1"), naive),
            OrderEventOp("c1", None, "submitted", "SUBMITTED", "sent", naive),
            RiskEventOp(naive, "max_position", "rejected", "too big"),
        ):
            with pytest.raises(NAIVE_REFUSED):
                await store.write(op)
        store.post(InsertIntent(limit("c2"), naive))  # posted: refused with a log line
        await store.flush()
        assert await store.active_intents() == []
        assert await store.recorded_fills([(ACCOUNT, ExecutionId("e1"))]) == set()

    with caplog.at_level("ERROR"):
        run(store_backend, body)
    assert store_backend.order_events() == []
    assert store_backend.risk_events() == []
    assert any(r.levelname == "ERROR" for r in caplog.records)


# --- durability and closing ----------------------------------------------------------------------------------------


def test_what_is_posted_is_durable_after_a_flush(store_backend: Backend) -> None:
    async def body(store: OrderStore) -> None:
        store.post(InsertIntent(limit("c1"), T0))
        store.post(UpdateIntent(state("c1", OrderStatus.SUBMITTED, broker=BrokerOrderId(5, 5005, 3))))
        store.post(RecordFill(fill("e1"), T0))
        await store.flush()

    run(store_backend, body)
    reopened = store_backend.reopen()

    async def read(store: OrderStore) -> None:
        got = await store.get_intent(ClientOrderId("c1"))
        assert got.state.status is OrderStatus.SUBMITTED
        assert got.state.execution_ids == (ExecutionId("e1"),)
        assert await store.recorded_fills([(ACCOUNT, ExecutionId("e1"))]) == {("DU111", "e1")}
        assert await store.ledger_positions() == {(ACCOUNT, AAPL.id): D(4)}

    run(reopened, read)


def test_a_closed_store_refuses_writes_and_stays_readable(store_backend: Backend) -> None:
    async def before(store: OrderStore) -> None:
        await store.write(InsertIntent(limit("c1"), T0))

    run(store_backend, before)
    store_backend.close()

    async def after(store: OrderStore) -> None:
        with pytest.raises(JournalClosed):
            store.post(InsertIntent(limit("c2"), T0))
        with pytest.raises(JournalClosed):
            await store.write(InsertIntent(limit("c2"), T0))
        with pytest.raises(JournalClosed):
            await store.flush()
        assert [i.client_order_id.value for i in await store.active_intents()] == ["c1"]

    run(store_backend, after)
