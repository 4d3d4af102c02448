"""Accounts, strategies, runs, broker orders, order events, snapshots, risk events, breaks and the fill ledger, on
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from quantdesk.brokers.base import OrderStatusReport, PositionReport
from quantdesk.domain.accounts import AccountSnapshot
from quantdesk.domain.fills import Fill
from quantdesk.domain.identifiers import AccountId, BrokerOrderId, ClientOrderId, InstrumentId, StrategyId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.order_types import OrderType, TimeInForce
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import Currency
from quantdesk.errors import NotFound, ValidationError
from quantdesk.persistence import commands, create_db_engine
from quantdesk.persistence.models import AccountSnapshotRow
from quantdesk.persistence.repositories import (
    AccountRepository,
    BreakKind,
    BreakResolution,
    BrokerOrderRepository,
    FillRepository,
    OrderEventRepository,
    OrderIntentRepository,
    PositionLine,
    ReconciliationBreakRepository,
    RiskEventRepository,
    RunMode,
    RunRepository,
    RunStatus,
    SnapshotRepository,
    StrategyRepository,
    ledger_positions,
)

T0 = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)
D = Decimal
AAPL = InstrumentId("AAPL.STK.SMART.USD")
MSFT = InstrumentId("MSFT.STK.SMART.USD")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    commands.upgrade(db_url)
    eng = create_db_engine(db_url)
    yield eng
    eng.dispose()


# --- accounts, strategies, runs ------------------------------------------------------------------------------------


def test_accounts_are_ensured_once_and_updated(engine: Engine) -> None:
    repo = AccountRepository(engine)
    first = repo.ensure("DU123456", ts=T0)
    assert (first.account, first.is_paper, first.base_currency) == (AccountId("DU123456"), True, Currency("USD"))
    assert first.created_at == T0
    live = repo.ensure(AccountId("U7654321"), base_currency="EUR", alias="main", ts=T0)
    assert (live.is_paper, live.base_currency, live.alias) == (False, Currency("EUR"), "main")
    again = repo.ensure("U7654321", base_currency="CHF", ts=T0 + timedelta(days=1))
    assert (again.base_currency, again.alias, again.created_at) == (Currency("CHF"), "main", T0)
    assert [a.account.value for a in repo.list()] == ["DU123456", "U7654321"]
    assert repo.find("nope") is None
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: repo.ensure("DU999", ts=T0), range(6)))
    assert len(repo.list()) == 3


def test_strategies_are_ensured(engine: Engine) -> None:
    repo = StrategyRepository(engine)
    made = repo.ensure("momentum", ts=T0)
    assert (made.strategy_id, made.name, made.description) == (StrategyId("momentum"), "momentum", None)
    named = repo.ensure(StrategyId("momentum"), name="Momentum 12-1", description="cross-sectional")
    assert (named.name, named.description, named.created_at) == ("Momentum 12-1", "cross-sectional", T0)
    assert [s.strategy_id.value for s in repo.list()] == ["momentum"]


def test_run_lifecycle_and_unfinished_runs(engine: Engine) -> None:
    runs = RunRepository(engine)
    crashed = runs.start("paper", T0, strategy_id="sma-cross", config={"risk": {"max_position_pct": "0.1"}})
    assert crashed.startswith("run-")
    assert StrategyRepository(engine).find("sma-cross") is not None  # the foreign key's target was created
    current = runs.start(RunMode.LIVE, T0 + timedelta(hours=1), run_id="run-fixed")
    done = runs.start(RunMode.BACKTEST, T0 + timedelta(hours=2))
    finished = runs.finish(done, T0 + timedelta(hours=3))
    assert (finished.status, finished.ended_at) == (RunStatus.FINISHED, T0 + timedelta(hours=3))
    assert [r.run_id for r in runs.unfinished()] == [crashed, current]
    marked = runs.mark_crashed(crashed, T0 + timedelta(hours=4))
    assert marked.status is RunStatus.CRASHED
    assert [r.run_id for r in runs.unfinished()] == [current]
    stored = runs.get(crashed)
    assert stored.mode is RunMode.PAPER
    assert stored.strategy_id == StrategyId("sma-cross")
    assert stored.config_json == '{"risk":{"max_position_pct":"0.1"}}'
    assert [r.run_id for r in runs.list(limit=2)] == [current, done]
    with pytest.raises(ValidationError) as info:
        runs.start("demo", T0)
    assert info.value.field == "mode"
    with pytest.raises(NotFound):
        runs.finish("run-missing", T0)
    with pytest.raises(NotFound):
        runs.get("run-missing")


def test_an_intent_can_name_its_run(engine: Engine) -> None:
    run_id = RunRepository(engine).start("paper", T0)
    order = Order.market(Stock("AAPL"), "BUY", 1, client_order_id=ClientOrderId("qd-r"))
    intent = OrderIntentRepository(engine).insert(order, T0, run_id=run_id).intent
    assert intent.run_id == run_id
    assert [i.client_order_id for i in OrderIntentRepository(engine).list(run_id=run_id)] == [ClientOrderId("qd-r")]


# --- broker orders -------------------------------------------------------------------------------------------------


def _status(perm_id: int = 9001, ts: datetime = T0, **kw: object) -> OrderStatusReport:
    values: dict[str, object] = {
        "broker_order_id": BrokerOrderId(12, perm_id, 3),
        "client_order_id": ClientOrderId("qd-1"),
        "account": AccountId("DU123456"),
        "instrument_id": AAPL,
        "side": OrderSide.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": D(100),
        "filled_quantity": D(0),
        "limit_price": D("187.25"),
        "status": OrderStatus.SUBMITTED,
        "ts": ts,
    }
    values.update(kw)
    return OrderStatusReport(**values)  # type: ignore[arg-type]


def test_broker_orders_upsert_by_perm_id_and_move_forward_only(engine: Engine) -> None:
    OrderIntentRepository(engine).insert(
        Order.limit(Stock("AAPL"), "BUY", 100, D("187.25"), client_order_id=ClientOrderId("qd-1")), T0
    )
    repo = BrokerOrderRepository(engine)
    first = repo.upsert(_status())
    assert (first.perm_id, first.client_order_id, first.order_ref) == (9001, ClientOrderId("qd-1"), "qd-1")
    assert (first.status, first.remaining_quantity, first.source) == (OrderStatus.SUBMITTED, 100, "quantdesk")
    filled = _status(ts=T0 + timedelta(seconds=2), status=OrderStatus.FILLED, filled_quantity=D(100))
    later = repo.upsert(filled.__class__(**{**_fields(filled), "avg_fill_price": D("187.2")}))
    assert (later.status, later.filled_quantity, later.remaining_quantity) == (OrderStatus.FILLED, 100, 0)
    assert later.avg_fill_price == D("187.2")
    stale = repo.upsert(_status(ts=T0 + timedelta(seconds=1)))  # arrived late: ignored
    assert stale.status is OrderStatus.FILLED
    assert repo.find(9001) == stale
    assert repo.by_order_ref("qd-1") == stale
    assert repo.list_open() == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM orders")).scalar_one() == 1


def _fields(report: OrderStatusReport) -> dict[str, object]:
    return {name: getattr(report, name) for name in report.__dataclass_fields__}


def test_broker_orders_of_unknown_intents_keep_the_ref_but_no_link(engine: Engine) -> None:
    repo = BrokerOrderRepository(engine)
    outside = repo.upsert(
        _status(perm_id=4242, client_order_id=None, tif=TimeInForce.GTC), source="adopted", order_ref="tws-manual"
    )
    assert (outside.client_order_id, outside.order_ref, outside.source) == (None, "tws-manual", "adopted")
    ours_lost = repo.upsert(_status(perm_id=4243, client_order_id=ClientOrderId("qd-gone")))
    assert (ours_lost.client_order_id, ours_lost.order_ref) == (None, "qd-gone")
    assert [o.perm_id for o in repo.list_open()] == [4242, 4243]
    assert [o.perm_id for o in repo.list_open("DU000")] == []
    assert [o.perm_id for o in repo.list(source="adopted")] == [4242]
    assert repo.find(1) is None
    assert repo.by_order_ref("nope") is None
    with pytest.raises(ValidationError):
        repo.upsert(_status(perm_id=0))


# --- order events, risk events, breaks -----------------------------------------------------------------------------


def test_order_events_append_and_list(engine: Engine) -> None:
    repo = OrderEventRepository(engine)
    sent = repo.append("qd-1", None, "sent", OrderStatus.PENDING_SUBMIT, "placed", {"qty": D("100.50")}, T0)
    assert sent.payload == {"qty": "100.50"}
    repo.append(None, 777, "status", "Submitted", None, None, T0 + timedelta(seconds=2))
    repo.append(ClientOrderId("qd-1"), 777, "fill", OrderStatus.FILLED, "done", None, T0 + timedelta(seconds=1))
    repo.append("qd-2", None, "sent", None, None, None, T0)
    assert [e.kind for e in repo.for_order("qd-1")] == ["sent", "fill"]
    assert [e.kind for e in repo.for_order(perm_id=777)] == ["fill", "status"]
    assert [e.kind for e in repo.for_order("qd-1", perm_id=777)] == ["sent", "fill", "status"]
    assert repo.for_order("qd-1")[1].status == "FILLED"
    with pytest.raises(ValidationError):
        repo.append(None, None, "x", None, None, None, T0)
    with pytest.raises(ValidationError):
        repo.for_order()


def test_risk_events_append_and_filter(engine: Engine) -> None:
    repo = RiskEventRepository(engine)
    repo.append(
        T0, "max_order_value", "rejected", "too big", client_order_id="qd-1", limit=D("10000"), actual=D("12500.5")
    )
    repo.append(T0 + timedelta(minutes=1), "daily_loss", "halted", "2% lost", limit="2%", actual="2.1%")
    repo.append(T0 + timedelta(minutes=2), "max_order_value", "warned", "close", limit=10000, actual=9000)
    first = repo.list()[0]
    assert (first.limit, first.actual, first.client_order_id) == ("10000", "12500.5", ClientOrderId("qd-1"))
    assert [e.action for e in repo.list(rule="max_order_value")] == ["rejected", "warned"]
    assert [e.rule for e in repo.list(action="halted")] == ["daily_loss"]
    assert [e.action for e in repo.list(since=T0 + timedelta(minutes=1))] == ["halted", "warned"]
    assert [e.action for e in repo.list(until=T0 + timedelta(minutes=1))] == ["rejected"]
    assert [e.action for e in repo.list(limit=1)] == ["warned"]


def test_reconciliation_breaks_append_and_filter(engine: Engine) -> None:
    repo = ReconciliationBreakRepository(engine)
    made = repo.append(
        T0,
        BreakKind.MISSING_AT_BROKER,
        BreakResolution.MARKED,
        "intent qd-1 never reached the broker",
        run_id="run-1",
        account="DU123456",
        instrument_id=AAPL,
        client_order_id="qd-1",
        database={"status": "SUBMITTED", "qty": D(100)},
    )
    assert made.database == '{"qty":"100","status":"SUBMITTED"}'
    assert made.resolution is BreakResolution.MARKED
    assert made.kind == "missing_at_broker"
    repo.append(
        T0 + timedelta(minutes=1),
        "position_mismatch",
        "reported",
        "AAPL: broker 100, ledger 90",
        instrument_id="AAPL.STK.SMART.USD",
        broker="100",
        database="90",
        target="100",
    )
    repo.append(T0 + timedelta(minutes=2), BreakKind.UNKNOWN_AT_BROKER_ADOPTED, "adopted", "ext-5", perm_id=5)
    assert [b.kind for b in repo.list()] == ["missing_at_broker", "position_mismatch", "unknown_at_broker_adopted"]
    assert [b.perm_id for b in repo.list(kind=BreakKind.UNKNOWN_AT_BROKER_ADOPTED)] == [5]
    assert len(repo.list(since=T0 + timedelta(minutes=1))) == 2
    assert [b.run_id for b in repo.list(run_id="run-1")] == ["run-1"]
    assert [b.kind for b in repo.list(limit=1)] == ["unknown_at_broker_adopted"]
    with pytest.raises(ValidationError) as info:
        repo.append(T0, "status_mismatch", "ignored", "x")
    assert info.value.field == "resolution"
    with pytest.raises(ValidationError):
        repo.append(T0, "k" * 33, "reported", "x")


# --- snapshots -----------------------------------------------------------------------------------------------------


def test_position_snapshots_latest_per_account(engine: Engine) -> None:
    repo = SnapshotRepository(engine)
    du, u = AccountId("DU1"), AccountId("U2")
    assert repo.save_positions([PositionLine(du, AAPL, D(100), D("187.25"))], T0) == 1
    later = [
        PositionLine(du, MSFT, D(-5), D("410.10"), market_price=D("411"), unrealised_pnl=D("-4.5")),
        PositionLine.from_report(
            PositionReport(account=du, instrument_id=AAPL, quantity=D(60), average_cost=D("187.25"), ts=T0,
                           market_price=D("190")),
        ),
    ]  # fmt: skip
    repo.save_positions(later, T0 + timedelta(hours=1))
    repo.save_positions([PositionLine(u, AAPL, D(1), D(1), currency=Currency("EUR"))], T0)
    repo.save_positions([PositionLine(du, AAPL, D(99), D(1))], T0 + timedelta(hours=2), source="database")
    latest = repo.latest_positions(du)
    assert [(p.instrument_id.value, p.quantity) for p in latest] == [
        ("AAPL.STK.SMART.USD", 60),
        ("MSFT.STK.SMART.USD", -5),
    ]
    assert latest[0].market_value == D("11400")
    assert latest[1].unrealised_pnl == D("-4.5")
    assert {p.ts for p in latest} == {T0 + timedelta(hours=1)}
    assert [(p.account, p.currency.code) for p in repo.latest_positions() if p.account == u] == [(u, "EUR")]
    assert len(repo.latest_positions()) == 3
    assert [p.quantity for p in repo.latest_positions(du, source="database")] == [99]
    assert repo.latest_positions("DU-none") == []
    with pytest.raises(ValidationError):
        repo.save_positions([], T0, source="guess")


def _account(ts: datetime, net: str) -> AccountSnapshot:
    return AccountSnapshot.of(
        "DU1", ts, D(net), cash={"USD": D("1000.5"), "EUR": D(3)}, buying_power=D(2) * D(net),
        initial_margin=D(10), maintenance_margin=D(8), gross_position_value=D(500),
    )  # fmt: skip


def test_account_snapshots_day_start_and_peak_equity(engine: Engine) -> None:
    repo = SnapshotRepository(engine)
    day = date(2025, 3, 3)
    assert repo.day_start_equity("DU1", day) is None
    assert repo.peak_equity("DU1") is None
    repo.save_account(_account(T0 - timedelta(days=1), "99000"))
    assert repo.day_start_equity("DU1", day) == D("99000")  # no snapshot that day yet: the last one before it
    repo.save_account(_account(datetime(2025, 3, 3, 0, 5, tzinfo=UTC), "100000.25"))
    repo.save_account(_account(T0, "100900.125"))
    repo.save_account(_account(T0 + timedelta(hours=1), "9999.99"))  # longer text, smaller number
    repo.save_account(_account(T0 + timedelta(days=1), "100500"))
    assert repo.day_start_equity("DU1", day) == D("100000.25")
    assert repo.day_start_equity("DU1", date(2025, 3, 5)) == D("100500")
    assert repo.peak_equity("DU1") == D("100900.125")
    assert repo.peak_equity("DU1", since=T0 + timedelta(minutes=1)) == D("100500")
    latest = repo.latest_account("DU1")
    assert latest == _account(T0 + timedelta(days=1), "100500")
    assert latest is not None
    assert dict(latest.cash) == {Currency("EUR"): D(3), Currency("USD"): D("1000.5")}
    assert repo.latest_account("DU1", at=T0) == _account(T0, "100900.125")
    assert repo.latest_account("DU2") is None


def test_an_account_snapshot_written_with_only_net_liquidation_is_read_back(engine: Engine) -> None:
    with engine.begin() as conn:  # as the OMS journal writes it: no margins, no values_json
        conn.execute(
            AccountSnapshotRow.__table__.insert(),
            {"ts": T0, "account_id": "DU1", "currency": "USD", "net_liquidation": D("5000.5")},
        )
    snap = SnapshotRepository(engine).latest_account("DU1")
    assert snap is not None
    assert snap.net_liquidation.amount == D("5000.5")
    assert snap.maintenance_margin.amount == 0


# --- the fill ledger -----------------------------------------------------------------------------------------------


def test_ledger_positions_sum_signed_fill_quantities_exactly(engine: Engine) -> None:
    fills = FillRepository(engine)
    rows = [
        ("e1", "DU1", AAPL, "BUY", "100"),
        ("e2", "DU1", AAPL, "SELL", "40.000000000001"),
        ("e3", "DU1", MSFT, "SELL", "5"),
        ("e4", "DU2", AAPL, "BUY", "1"),
        ("e5", "DU2", AAPL, "SELL", "1"),
        ("e6", None, MSFT, "BUY", "0.1"),
        ("e7", None, MSFT, "BUY", "0.2"),
    ]
    for eid, acct, inst, side, qty in rows:
        fills.record(Fill.of(eid, "qd-1", inst, side, D(qty), D(10), T0, account=acct), T0)
    assert ledger_positions(engine) == {
        (AccountId("DU1"), AAPL): D("59.999999999999"),
        (AccountId("DU1"), MSFT): D(-5),
        (None, MSFT): D("0.3"),
    }
    assert ledger_positions(engine, "DU2") == {}
    assert ledger_positions(engine, AccountId("DU1")) == {
        (AccountId("DU1"), AAPL): D("59.999999999999"),
        (AccountId("DU1"), MSFT): D(-5),
    }
