from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from quantdesk.brokers.base import OrderStatusReport
from quantdesk.domain.fills import CommissionReport, Fill, Liquidity
from quantdesk.domain.identifiers import AccountId, BrokerOrderId, ClientOrderId, ExecutionId, InstrumentId, StrategyId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_lists import Bracket
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.order_types import OrderType, TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import Money
from quantdesk.errors import IllegalTransition, NotFound, ValidationError
from quantdesk.persistence import commands, create_db_engine
from quantdesk.persistence.order_codec import order_json
from quantdesk.persistence.repositories import (
    BrokerOrderRepository,
    DuplicateClientOrderId,
    FillRepository,
    IntentSource,
    KillSwitchRepository,
    OrderIntentRepository,
    StoredIntent,
    TradingState,
    adopted_client_order_id,
    ledger_positions,
)

T0 = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    commands.upgrade(db_url)
    eng = create_db_engine(db_url)
    yield eng
    eng.dispose()


def _order(cid: str = "qd-1", qty: str = "100", price: str = "187.25") -> Order:
    return Order.limit(
        Stock("AAPL"),
        OrderSide.BUY,
        Decimal(qty),
        Decimal(price),
        account=AccountId("DU123456"),
        strategy_id=StrategyId("momentum"),
        client_order_id=ClientOrderId(cid),
    )


def _fill(eid: str = "0001f4e8.65e1a2b3.01.01", qty: str = "40", price: str = "187.123456789") -> Fill:
    return Fill.of(eid, "qd-1", "AAPL.STK.SMART.USD", "BUY", Decimal(qty), Decimal(price), T0 + timedelta(seconds=5))


def test_intent_insert_and_update_round_trip(engine: Engine) -> None:
    repo = OrderIntentRepository(engine)
    record = repo.insert(_order(), T0)
    assert record.created
    stored = repo.get(ClientOrderId("qd-1"))
    assert isinstance(stored, StoredIntent)
    assert stored.instrument_id.value == "AAPL.STK.SMART.USD"
    assert (stored.side, stored.order_type, stored.tif) == (OrderSide.BUY, OrderType.LIMIT, TimeInForce.DAY)
    assert stored.quantity == Decimal(100)
    assert stored.limit_price == Decimal("187.25")
    assert stored.account == AccountId("DU123456")
    assert stored.strategy_id == StrategyId("momentum")
    assert stored.created_at == T0
    assert stored.created_at.tzinfo is not None
    assert stored.state.status is OrderStatus.INITIALIZED
    assert stored.state.broker_order_id is None

    broker = BrokerOrderId(order_id=17, perm_id=987654321, client_id=3)
    state = stored.state.apply_status(OrderStatus.PENDING_SUBMIT, T0 + timedelta(seconds=1), broker)
    state = state.apply_status(OrderStatus.SUBMITTED, T0 + timedelta(seconds=2))
    fill = _fill()
    state = state.apply_fill(fill)
    updated = repo.update_state(state)
    assert updated.state.status is OrderStatus.PARTIALLY_FILLED
    assert updated.state.filled_quantity == Decimal(40)
    assert updated.state.filled_notional == state.filled_notional
    again = repo.get(ClientOrderId("qd-1"))
    assert again.state.broker_order_id == broker
    assert again.state.updated_at == state.updated_at
    assert repo.by_perm_id(987654321) == again
    assert [i.client_order_id for i in repo.active()] == [ClientOrderId("qd-1")]


def test_set_broker_ids_keeps_a_known_perm_id(engine: Engine) -> None:
    repo = OrderIntentRepository(engine)
    repo.insert(_order(), T0)
    repo.set_broker_ids(ClientOrderId("qd-1"), BrokerOrderId(5, 0, 1), T0)
    assert repo.get(ClientOrderId("qd-1")).state.broker_order_id == BrokerOrderId(5, 0, 1)
    repo.set_broker_ids(ClientOrderId("qd-1"), BrokerOrderId(5, 424242, 1), T0)
    repo.set_broker_ids(ClientOrderId("qd-1"), BrokerOrderId(6, 0, None), T0)
    assert repo.get(ClientOrderId("qd-1")).state.broker_order_id == BrokerOrderId(6, 424242, 1)


def test_insert_is_idempotent_for_the_same_intent(engine: Engine) -> None:
    repo = OrderIntentRepository(engine)
    first = repo.insert(_order(), T0)
    second = repo.insert(_order(), T0 + timedelta(minutes=1))
    assert first.created
    assert not second.created
    assert second.intent == first.intent
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM order_intents")).scalar_one() == 1


def test_reusing_an_id_for_another_order_raises(engine: Engine) -> None:
    repo = OrderIntentRepository(engine)
    repo.insert(_order(), T0)
    with pytest.raises(DuplicateClientOrderId) as info:
        repo.insert(_order(qty="200"), T0)
    assert info.value.field == "client_order_id"


def test_unknown_intent_is_not_found(engine: Engine) -> None:
    repo = OrderIntentRepository(engine)
    assert repo.find(ClientOrderId("nope")) is None
    with pytest.raises(NotFound):
        repo.get(ClientOrderId("nope"))
    with pytest.raises(NotFound):
        repo.set_broker_ids(ClientOrderId("nope"), BrokerOrderId(1), T0)


def test_fill_recorded_once_even_if_inserted_twice(engine: Engine) -> None:
    OrderIntentRepository(engine).insert(_order(), T0)
    repo = FillRepository(engine)
    fill = _fill()
    first = repo.record(fill, T0, perm_id=987654321)
    second = repo.record(fill, T0 + timedelta(seconds=1))
    assert first.created
    assert not second.created
    assert second.fill == fill
    assert repo.for_order(ClientOrderId("qd-1")) == [fill]
    intent = OrderIntentRepository(engine).get(ClientOrderId("qd-1"))
    assert intent.state.execution_ids == (fill.execution_id,)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM fills")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM trade_history")).scalar_one() == 1


def test_concurrent_duplicate_fills_are_recorded_once(engine: Engine) -> None:
    repo = FillRepository(engine)
    fill = _fill()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: repo.record(fill, T0), range(8)))
    assert sum(r.created for r in results) == 1
    assert all(r.fill == fill for r in results)


def test_decimal_precision_and_commission(engine: Engine) -> None:
    repo = FillRepository(engine)
    fill = Fill.of(
        "exec-precise",
        "qd-9",
        "ES.FUT.CME.USD.20250321",
        "SELL",
        Decimal("0.000000000001"),
        Decimal("12345678901234567890.123456789012"),
        T0,
        multiplier=Decimal(50),
        liquidity=Liquidity.ADDED,
    )
    repo.record(fill, T0)
    stored = repo.find(ExecutionId("exec-precise"))
    assert stored is not None
    assert stored.quantity == Decimal("0.000000000001")
    assert stored.price == Decimal("12345678901234567890.123456789012")
    assert stored.liquidity is Liquidity.ADDED
    assert stored.ts == T0
    report = CommissionReport(ExecutionId("exec-precise"), Money.of(Decimal("1.234567890123"), "USD"), Decimal("-0.1"))
    with_commission = repo.apply_commission(report)
    assert with_commission.commission == Money.of(Decimal("1.234567890123"), "USD")
    assert repo.apply_commission(report) == with_commission  # idempotent
    with pytest.raises(NotFound):
        repo.apply_commission(CommissionReport(ExecutionId("missing"), Money.of(1, "USD")))


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="naive"):
        OrderIntentRepository(engine).insert(_order(), datetime(2025, 1, 1))


def test_kill_switch_persists_across_engine_recreation(db_url: str) -> None:
    commands.upgrade(db_url)
    first = create_db_engine(db_url)
    repo = KillSwitchRepository(first)
    initial = repo.get()
    assert initial.state is TradingState.ACTIVE
    assert initial.changed_at is None
    repo.set(TradingState.REDUCING, "drawdown 8% > 7%", T0, changed_by="risk")
    repo.set(TradingState.HALTED, "daily loss limit 2% reached", T0 + timedelta(minutes=5), changed_by="risk")
    first.dispose()

    second = create_db_engine(db_url)
    try:
        status = KillSwitchRepository(second).get()
        assert status.state is TradingState.HALTED
        assert status.reason == "daily loss limit 2% reached"
        assert status.changed_by == "risk"
        assert status.changed_at == T0 + timedelta(minutes=5)
        with second.connect() as conn:
            events = conn.execute(text("SELECT message FROM risk_events ORDER BY id")).scalars().all()
        assert events == [
            "ACTIVE -> REDUCING by risk: drawdown 8% > 7%",
            "REDUCING -> HALTED by risk: daily loss limit 2% reached",
        ]
        with pytest.raises(ValidationError):
            KillSwitchRepository(second).set(TradingState.ACTIVE, "  ", T0)
    finally:
        second.dispose()


# --- 0002: the whole order, reasons, sources, lists, adoption ------------------------------------------------------


def _report(perm_id: int = 555, **kw: object) -> OrderStatusReport:
    values: dict[str, object] = {
        "broker_order_id": BrokerOrderId(0, perm_id, 0),
        "client_order_id": None,
        "account": AccountId("DU123456"),
        "instrument_id": InstrumentId("MSFT.STK.SMART.USD"),
        "side": OrderSide.SELL,
        "order_type": OrderType.LIMIT,
        "quantity": Decimal(30),
        "filled_quantity": Decimal(10),
        "avg_fill_price": Decimal("410.5"),
        "limit_price": Decimal("410.50"),
        "tif": TimeInForce.GTC,
        "status": OrderStatus.PARTIALLY_FILLED,
        "ts": T0,
    }
    values.update(kw)
    return OrderStatusReport(**values)  # type: ignore[arg-type]


def test_the_whole_order_is_stored_and_rebuilt(engine: Engine) -> None:
    repo = OrderIntentRepository(engine)
    order = Order.trailing_stop_limit(
        Stock("AAPL"),
        "SELL",
        100,
        limit_offset=Decimal("0.10"),
        trailing_percent=Decimal("2.5"),
        tif=TimeInForce.GTC,
        outside_rth=True,
        account=AccountId("DU123456"),
        client_order_id=ClientOrderId("qd-trail"),
    )
    stored = repo.insert(order, T0, list_id="list-1").intent
    assert stored.list_id == "list-1"
    assert stored.source == IntentSource.QUANTDESK == "quantdesk"
    assert not stored.is_adopted
    assert stored.to_order() == order
    again = repo.get(ClientOrderId("qd-trail"))
    assert again.to_order() == order
    assert again.order_json == order_json(order)
    assert (again.reason, again.error_code) == (None, None)


def test_by_list_returns_the_orders_of_one_list_in_order(engine: Engine) -> None:
    repo = OrderIntentRepository(engine)
    bracket = Bracket.build(Stock("AAPL"), "BUY", 100, Decimal("187.25"), Decimal("195"), Decimal("180"))
    for i, order in enumerate(bracket.orders):
        repo.insert(order, T0 + timedelta(microseconds=i), list_id="bracket-1")
    repo.insert(_order("qd-other"), T0)
    listed = repo.by_list("bracket-1")
    assert [i.client_order_id for i in listed] == [o.client_order_id for o in bracket.orders]
    assert [i.to_order() for i in listed] == list(bracket.orders)
    assert listed[1].parent_client_order_id == bracket.orders[0].client_order_id


def test_mark_sets_status_reason_and_code_and_follows_the_state_table(engine: Engine) -> None:
    repo = OrderIntentRepository(engine)
    repo.insert(_order(), T0)
    marked = repo.mark(
        ClientOrderId("qd-1"), OrderStatus.REJECTED, "201: margin", T0 + timedelta(seconds=1), error_code=201
    )
    assert marked.state.status is OrderStatus.REJECTED
    assert (marked.reason, marked.error_code) == ("201: margin", 201)
    assert marked.state.updated_at == T0 + timedelta(seconds=1)
    with pytest.raises(IllegalTransition):
        repo.mark(ClientOrderId("qd-1"), OrderStatus.SUBMITTED, "late", T0)
    forced = repo.mark(ClientOrderId("qd-1"), OrderStatus.CANCELLED, "broker says cancelled", T0, force=True)
    assert forced.state.status is OrderStatus.CANCELLED
    assert forced.error_code == 201  # kept when not given
    assert forced.state.updated_at == T0 + timedelta(seconds=1)  # never moves back
    with pytest.raises(NotFound):
        repo.mark(ClientOrderId("nope"), OrderStatus.CANCELLED, "x", T0)


def test_adopt_takes_over_an_outside_order_once(engine: Engine) -> None:
    repo = OrderIntentRepository(engine)
    first = repo.adopt(_report())
    assert first.created
    intent = first.intent
    assert intent.client_order_id == adopted_client_order_id(555) == ClientOrderId("ext-555")
    assert intent.is_adopted
    assert intent.source == "adopted"
    assert intent.to_order() is None
    assert intent.state.status is OrderStatus.PARTIALLY_FILLED
    assert intent.state.filled_quantity == 10
    assert intent.state.avg_fill_price == Decimal("410.5")
    assert intent.state.broker_order_id == BrokerOrderId(0, 555, 0)
    assert (intent.tif, intent.limit_price, intent.side) == (TimeInForce.GTC, Decimal("410.50"), OrderSide.SELL)
    second = repo.adopt(_report(status=OrderStatus.FILLED, filled_quantity=Decimal(30)))
    assert not second.created
    assert second.intent == repo.get(ClientOrderId("ext-555"))
    assert repo.by_perm_id(555) == second.intent
    assert [i.client_order_id for i in repo.list(source="adopted")] == [ClientOrderId("ext-555")]


def test_adopt_is_idempotent_on_perm_id_of_our_own_orders(engine: Engine) -> None:
    repo = OrderIntentRepository(engine)
    repo.insert(_order(), T0)
    repo.set_broker_ids(ClientOrderId("qd-1"), BrokerOrderId(17, 555, 3), T0)
    record = repo.adopt(_report())
    assert not record.created
    assert record.intent.client_order_id == ClientOrderId("qd-1")


def test_adopt_refuses_reports_it_cannot_store(engine: Engine) -> None:
    repo = OrderIntentRepository(engine)
    with pytest.raises(ValidationError) as info:
        repo.adopt(_report(perm_id=0))
    assert info.value.field == "perm_id"
    with pytest.raises(ValidationError) as info:
        repo.adopt(_report(avg_fill_price=None))
    assert info.value.field == "avg_fill_price"


def test_concurrent_adoption_creates_one_intent(engine: Engine) -> None:
    repo = OrderIntentRepository(engine)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: repo.adopt(_report(perm_id=777)), range(6)))
    assert sum(r.created for r in results) == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM order_intents")).scalar_one() == 1


def test_by_order_ref_finds_ours_and_adopted_ones(engine: Engine) -> None:
    repo = OrderIntentRepository(engine)
    repo.insert(_order(), T0)
    assert repo.by_order_ref("qd-1") == repo.get(ClientOrderId("qd-1"))
    adopted = repo.adopt(_report(perm_id=888)).intent
    BrokerOrderRepository(engine).upsert(_report(perm_id=888), source="adopted", order_ref="manual-tws-1")
    assert repo.by_order_ref("manual-tws-1") == adopted
    assert repo.by_order_ref("unknown") is None


def test_list_filters_combine(engine: Engine) -> None:
    repo = OrderIntentRepository(engine)
    repo.insert(_order("qd-1"), T0)
    repo.insert(
        Order.market(Stock("MSFT"), "SELL", 5, account=AccountId("DU999"), client_order_id=ClientOrderId("qd-2")),
        T0 + timedelta(hours=1),
        run_id=None,
    )
    repo.insert(_order("qd-3"), T0 + timedelta(hours=2))
    repo.mark(ClientOrderId("qd-3"), OrderStatus.CANCELLED, "user", T0 + timedelta(hours=3))

    def ids(**kw: object) -> list[str]:
        return [i.client_order_id.value for i in repo.list(**kw)]  # type: ignore[arg-type]

    assert ids() == ["qd-1", "qd-2", "qd-3"]
    assert ids(statuses=[OrderStatus.INITIALIZED]) == ["qd-1", "qd-2"]
    assert ids(account="DU999") == ["qd-2"]
    assert ids(strategy_id="momentum") == ["qd-1", "qd-3"]
    assert ids(symbol="aapl") == ["qd-1", "qd-3"]
    assert ids(symbol="MSFT.STK.SMART.USD") == ["qd-2"]
    assert ids(symbol="MS") == []
    assert ids(since=T0 + timedelta(hours=1)) == ["qd-2", "qd-3"]
    assert ids(until=T0 + timedelta(hours=1)) == ["qd-1"]
    assert ids(limit=2) == ["qd-2", "qd-3"]
    assert ids(source="quantdesk", limit=1) == ["qd-3"]
    assert [i.client_order_id.value for i in repo.active()] == ["qd-1", "qd-2"]


def test_the_same_execution_id_in_two_accounts_is_two_fills(engine: Engine) -> None:
    """Two simulators issued the same execId: the second account's fill was dropped as the first's duplicate."""
    repo = FillRepository(engine)
    xom = dataclasses.replace(_fill("0000ab1c.00000039.01.01"), account=AccountId("DU1234567"))
    mrk = Fill.of(xom.execution_id, "qd-2", "MRK.STK.SMART.USD", "BUY", Decimal(800), Decimal(95), T0,
                  account=AccountId("DU7654321"))  # fmt: skip
    assert repo.record(xom, T0).created
    assert repo.record(mrk, T0).created
    assert not repo.record(mrk, T0).created  # once per (account, execution id)
    assert repo.find(mrk.execution_id, "DU7654321") == mrk
    assert repo.find(xom.execution_id, "DU1234567") == xom
    with pytest.raises(ValidationError) as info:  # which of the two? the caller must say
        repo.find(mrk.execution_id)
    assert info.value.field == "account"
    money = Money.of(Decimal("4.00"), "USD")
    assert repo.apply_commission(CommissionReport(mrk.execution_id, money), "DU7654321").commission == money
    assert repo.find(xom.execution_id, "DU1234567").commission != money  # type: ignore[union-attr]
    assert ledger_positions(engine) == {
        (AccountId("DU1234567"), xom.instrument_id): Decimal(40),
        (AccountId("DU7654321"), mrk.instrument_id): Decimal(800),
    }
