"""The read side of ``quantdesk orders | fills | history``: filters, ordering, limits and average-cost P&L, on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from quantdesk.brokers.base import OrderStatusReport
from quantdesk.domain.fills import CommissionReport, Fill
from quantdesk.domain.identifiers import AccountId, BrokerOrderId, ClientOrderId, ExecutionId, InstrumentId
from quantdesk.domain.instruments import ForexPair, Future, Stock
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.order_types import OrderType
from quantdesk.domain.orders import Order
from quantdesk.domain.positions import Position
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import Money
from quantdesk.errors import ValidationError
from quantdesk.persistence import commands, create_db_engine
from quantdesk.persistence.repositories import (
    FillRepository,
    FillView,
    OrderIntentRepository,
    QueryFilter,
    TradeRow,
    columns_of,
    csv_record,
    query_fills,
    query_orders,
    query_trade_history,
)

T0 = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)
D = Decimal
AAPL, ES, EURGBP = (
    Stock("AAPL"),
    Future("ES", date(2025, 3, 21), exchange="CME", multiplier=50),
    ForexPair("EUR", "GBP"),
)
MSFT = InstrumentId("MSFT.STK.SMART.USD")


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A book: AAPL long, reversed short by one strategy and closed by another; ES; EUR.GBP; an adopted MSFT order."""
    commands.upgrade(db_url)
    eng = create_db_engine(db_url)
    intents, fills = OrderIntentRepository(eng), FillRepository(eng)
    du1, du2 = AccountId("DU1"), AccountId("DU2")
    orders = [
        (Order.limit(AAPL, "BUY", 100, D("187.50"), account=du1, strategy_id="mom", client_order_id="qd-a1"), 0),
        (Order.market(AAPL, "SELL", 150, account=du1, strategy_id="mom", client_order_id="qd-a2"), 10),
        (Order.limit(AAPL, "BUY", 50, D(185), account=du1, strategy_id="rev", client_order_id="qd-a3"), 20),
        (Order.market(ES, "BUY", 2, account=du1, client_order_id="qd-es1"), 30),
        (Order.market(ES, "SELL", 1, account=du1, client_order_id="qd-es2"), 40),
        (Order.limit(EURGBP, "BUY", 10000, D("0.85"), account=du2, client_order_id="qd-fx1"), 50),
        (Order.limit(EURGBP, "SELL", 10000, D("0.86"), account=du2, client_order_id="qd-fx2"), 60),
        (Order.limit(AAPL, "SELL", 10, D(250), account=du1, strategy_id="mom", client_order_id="qd-open"), 70),
    ]
    for order, minute in orders:
        intents.insert(order, _at(minute))
    for cid, status in (("qd-a1", OrderStatus.FILLED), ("qd-a2", OrderStatus.FILLED), ("qd-a3", OrderStatus.FILLED)):
        intents.mark(ClientOrderId(cid), OrderStatus.PENDING_SUBMIT, "sent", T0)
        intents.mark(ClientOrderId(cid), status, "done", T0)
    intents.mark(ClientOrderId("qd-es1"), OrderStatus.REJECTED, "201: no margin", T0, error_code=201)
    intents.adopt(
        OrderStatusReport(
            broker_order_id=BrokerOrderId(0, 5, 0), client_order_id=None, account=du1, instrument_id=MSFT,
            side=OrderSide.SELL, order_type=OrderType.MARKET, quantity=D(10), filled_quantity=D(10),
            avg_fill_price=D(400), status=OrderStatus.FILLED, ts=_at(80),
        )
    )  # fmt: skip
    executions = [
        ("e1", "qd-a1", AAPL.id, "BUY", "60", "187", 1, {}),
        ("e2", "qd-a1", AAPL.id, "BUY", "40", "187.5", 2, {}),
        ("e3", "qd-a2", AAPL.id, "SELL", "150", "190", 11, {}),
        ("e4", "qd-a3", AAPL.id, "BUY", "50", "185", 21, {}),
        ("e5", "qd-es1", ES.id, "BUY", "2", "5000", 31, {"multiplier": 50}),
        ("e6", "qd-es2", ES.id, "SELL", "1", "5010.25", 41, {"multiplier": 50}),
        ("e7", "qd-fx1", EURGBP.id, "BUY", "10000", "0.85", 51, {"currency": "GBP", "account": "DU2"}),
        ("e8", "qd-fx2", EURGBP.id, "SELL", "10000", "0.86", 61, {"currency": "GBP", "account": "DU2"}),
        ("e9", "ext-5", MSFT, "SELL", "10", "400", 81, {}),
        ("e10", "qd-lost", AAPL.id, "BUY", "1", "180", 90, {}),
    ]
    for eid, cid, inst, side, qty, px, minute, extra in executions:
        kw: dict[str, object] = {"account": "DU1", **extra}
        fill = Fill.of(eid, cid, inst, side, D(qty), D(px), _at(minute), **kw)  # type: ignore[arg-type]
        fills.record(fill, _at(minute))
        money = Money.of(D("2"), "USD") if eid in ("e7", "e8") else Money.of(D("1.25"), fill.currency)
        fills.apply_commission(CommissionReport(ExecutionId(eid), money))
    yield eng
    eng.dispose()


def test_orders_open_done_and_all(engine: Engine) -> None:
    def ids(status: str, **kw: object) -> list[str]:
        return [o.client_order_id for o in query_orders(engine, QueryFilter(**kw), status)]  # type: ignore[arg-type]

    assert ids("open") == ["qd-es2", "qd-fx1", "qd-fx2", "qd-open"]
    assert ids("done") == ["qd-a1", "qd-a2", "qd-a3", "qd-es1", "ext-5"]
    assert len(ids("all")) == 9
    assert ids("all", account="DU2") == ["qd-fx1", "qd-fx2"]
    assert ids("all", symbol="AAPL") == ["qd-a1", "qd-a2", "qd-a3", "qd-open"]
    assert ids("all", symbol=str(ES.id)) == ["qd-es1", "qd-es2"]
    assert ids("all", strategy="mom") == ["qd-a1", "qd-a2", "qd-open"]
    assert ids("all", side=OrderSide.SELL, account="DU1") == ["qd-a2", "qd-es2", "qd-open", "ext-5"]
    assert ids("all", since=_at(20), until=_at(50)) == ["qd-a3", "qd-es1", "qd-es2"]
    assert ids("all", limit=2) == ["qd-open", "ext-5"]
    with pytest.raises(ValidationError):
        ids("some")


def test_order_views_carry_reason_source_and_plain_decimals(engine: Engine) -> None:
    views = {o.client_order_id: o for o in query_orders(engine, QueryFilter(), "all")}
    assert (views["qd-es1"].reason, views["qd-es1"].error_code, views["qd-es1"].status) == (
        "201: no margin",
        201,
        "REJECTED",
    )
    adopted = views["ext-5"]
    assert (adopted.source, adopted.perm_id, adopted.avg_fill_price, adopted.remaining_quantity) == (
        "adopted",
        5,
        D(400),
        0,
    )
    limit = views["qd-a1"].limit_price
    assert limit is not None
    assert str(limit) == "187.5"  # not 187.500000000000 on PostgreSQL
    assert str(views["qd-open"].remaining_quantity) == "10"
    assert csv_record(views["qd-a1"])["limit_price"] == "187.5"


def test_fills_with_filters(engine: Engine) -> None:
    def ids(**kw: object) -> list[str]:
        return [f.execution_id for f in query_fills(engine, QueryFilter(**kw))]  # type: ignore[arg-type]

    assert ids() == ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9", "e10"]
    assert ids(strategy="mom") == ["e1", "e2", "e3"]
    assert ids(symbol="aapl", side=OrderSide.BUY) == ["e1", "e2", "e4", "e10"]
    assert ids(account="DU2") == ["e7", "e8"]
    assert ids(since=_at(41), until=_at(81)) == ["e6", "e7", "e8"]
    assert ids(limit=3) == ["e8", "e9", "e10"]
    fill = {f.execution_id: f for f in query_fills(engine, QueryFilter())}
    assert (fill["e6"].notional, fill["e6"].multiplier, fill["e6"].commission) == (D("250512.5"), 50, D("1.25"))
    assert (fill["e9"].source, fill["e9"].order_type, fill["e9"].strategy) == ("adopted", "MKT", None)
    assert (fill["e10"].source, fill["e10"].order_type) == (None, None)  # no intent: still listed
    assert fill["e7"].commission_currency == "USD"
    assert columns_of(FillView)[0] == "ts"


def test_filters_refuse_nonsense() -> None:
    with pytest.raises(ValidationError) as info:
        QueryFilter(since=_at(10), until=_at(5))
    assert info.value.field == "since"
    with pytest.raises(ValidationError):
        QueryFilter(limit=0)
    with pytest.raises(ValidationError):
        QueryFilter(since=datetime(2025, 1, 1))  # naive
    assert QueryFilter(side="sell").side is OrderSide.SELL  # type: ignore[arg-type]


def _trades(engine: Engine, **kw: object) -> dict[str, TradeRow]:
    return {t.execution_id: t for t in query_trade_history(engine, QueryFilter(**kw)).trades}  # type: ignore[arg-type]


def test_history_realises_average_cost_pnl_through_a_reversal(engine: Engine) -> None:
    t = _trades(engine)
    assert (t["e2"].position, t["e2"].average_cost, t["e2"].realised_pnl) == (100, D("187.2"), 0)
    assert (t["e3"].closed_quantity, t["e3"].realised_pnl) == (100, D(280))  # (190 − 187.2) × 100
    assert (t["e3"].position, t["e3"].average_cost) == (-50, D(190))  # reversed: the rest opens a short at 190
    assert (t["e4"].closed_quantity, t["e4"].realised_pnl, t["e4"].position) == (50, D(250), 0)
    assert (t["e10"].realised_pnl, t["e10"].position, t["e10"].strategy) == (0, 1, None)
    assert t["e6"].realised_pnl == D("512.5")  # 10.25 points × 1 × 50
    assert t["e8"].realised_pnl == D(100)  # in GBP
    aapl = query_fills(engine, QueryFilter(symbol="AAPL"))
    position = Position.from_fills(
        Fill.of(f.execution_id, f.client_order_id, f.instrument_id, f.side, f.quantity, f.price, f.ts) for f in aapl
    )
    assert sum(t[f.execution_id].realised_pnl for f in aapl) == position.realised_pnl.amount


def test_history_totals_per_instrument_and_currency(engine: Engine) -> None:
    history = query_trade_history(engine, QueryFilter())
    assert history.method == "average-cost"
    by = {(i.account, i.instrument_id): i for i in history.instruments}
    aapl = by[("DU1", str(AAPL.id))]
    assert (aapl.fills, aapl.bought, aapl.sold, aapl.realised_pnl, aapl.position) == (5, 151, 150, D(530), 1)
    assert aapl.commissions == {"USD": D("6.25")}
    assert aapl.net_pnl == D("523.75")
    fx = by[("DU2", str(EURGBP.id))]
    assert (fx.currency, fx.realised_pnl, fx.commissions, fx.net_pnl) == ("GBP", D(100), {"USD": D(4)}, None)
    currencies = {c.currency: c for c in history.currencies}
    assert (currencies["GBP"].realised_pnl, currencies["GBP"].commissions, currencies["GBP"].net_pnl) == (
        D(100),
        0,
        D(100),
    )
    usd = currencies["USD"]
    assert (usd.fills, usd.realised_pnl, usd.commissions) == (8, D("1042.5"), D("14"))  # 530+512.5; 8×1.25+2×2
    assert usd.net_pnl == D("1028.5")


def test_history_windows_keep_the_pnl_of_what_they_show(engine: Engine) -> None:
    t = _trades(engine, since=_at(11), symbol="AAPL")
    assert list(t) == ["e3", "e4", "e10"]
    assert (t["e3"].realised_pnl, t["e4"].realised_pnl) == (D(280), D(250))
    sells = _trades(engine, side=OrderSide.SELL, until=_at(42))
    assert list(sells) == ["e3", "e6"]
    assert sells["e3"].realised_pnl == D(280)
    last = query_trade_history(engine, QueryFilter(limit=2))
    assert [x.execution_id for x in last.trades] == ["e9", "e10"]
    assert sum(i.fills for i in last.instruments) == 2


def test_history_by_strategy_books_that_strategys_own_fills(engine: Engine) -> None:
    mom = _trades(engine, strategy="mom")
    assert list(mom) == ["e1", "e2", "e3"]
    assert (mom["e3"].realised_pnl, mom["e3"].position) == (D(280), -50)
    rev = _trades(engine, strategy="rev")
    assert (rev["e4"].realised_pnl, rev["e4"].position, rev["e4"].closed_quantity) == (0, 50, 0)  # its own long


def test_history_of_nothing_is_empty(engine: Engine) -> None:
    history = query_trade_history(engine, QueryFilter(account="DU-none"))
    assert (history.trades, history.instruments, history.currencies) == ([], [], [])
