"""The orders service: schema checks, filters through settings, JSON documents and CSV export."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from quantdesk.config import Settings, load_settings
from quantdesk.domain.fills import CommissionReport, Fill
from quantdesk.domain.identifiers import ClientOrderId, ExecutionId
from quantdesk.domain.instruments import Stock
from quantdesk.domain.order_state import OrderStatus
from quantdesk.domain.orders import Order
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import Money
from quantdesk.errors import ConfigError, ValidationError
from quantdesk.persistence import commands, create_db_engine
from quantdesk.persistence.repositories import FillRepository, OrderIntentRepository, OrderView
from quantdesk.services import orders as svc

T0 = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)
D = Decimal


def _settings(url: str) -> Settings:
    return load_settings(overrides={"database.url": url})


def _populate(url: str) -> None:
    commands.upgrade(url)
    engine = create_db_engine(url)
    try:
        intents, fills = OrderIntentRepository(engine), FillRepository(engine)
        buy = Order.limit(Stock("AAPL"), "BUY", 100, D("187.25"), account="DU1", strategy_id="mom", client_order_id="b")
        sell = Order.market(Stock("AAPL"), "SELL", 40, account="DU1", strategy_id="mom", client_order_id="s")
        intents.insert(buy, T0)
        intents.insert(sell, T0 + timedelta(days=1))
        intents.mark(ClientOrderId("b"), OrderStatus.CANCELLED, "user", T0)
        for eid, cid, side, qty, px, day in (("e1", "b", "BUY", 100, "187.25", 0), ("e2", "s", "SELL", 40, "190.5", 1)):
            ts = T0 + timedelta(days=day, seconds=1)
            fills.record(Fill.of(eid, cid, "AAPL.STK.SMART.USD", side, qty, D(px), ts, account="DU1"), ts)
            fills.apply_commission(CommissionReport(ExecutionId(eid), Money.of(D("1.00"), "USD")))
    finally:
        engine.dispose()


@pytest.fixture
def settings(db_url: str) -> Settings:
    _populate(db_url)
    return _settings(db_url)


def test_list_orders_through_settings(settings: Settings) -> None:
    listing = svc.list_orders(settings)
    assert [o.client_order_id for o in listing.orders] == ["s"]
    done = svc.list_orders(settings, status="done", symbol="AAPL", side="buy")
    assert [(o.client_order_id, o.reason) for o in done.orders] == [("b", "user")]
    doc = json.loads(json.dumps(svc.list_orders(settings, status="all", limit=1).to_dict()))
    assert doc["status"] == "all"
    assert doc["count"] == 1
    assert doc["filters"]["limit"] == 1
    assert doc["orders"][0]["client_order_id"] == "s"
    assert doc["orders"][0]["quantity"] == "40"
    assert doc["orders"][0]["created_at"] == "2025-03-04T14:30:00+00:00"
    with pytest.raises(ValidationError):
        svc.list_orders(settings, status="working")  # type: ignore[arg-type]


def test_list_fills_and_trade_history(settings: Settings) -> None:
    fills = svc.list_fills(settings, since=T0 + timedelta(hours=1))
    assert [f.execution_id for f in fills.fills] == ["e2"]
    assert fills.to_dict()["fills"][0]["price"] == "190.5"
    report = svc.trade_history(settings, strategy="mom", side=OrderSide.SELL)
    assert [(t.execution_id, t.realised_pnl) for t in report.trades] == [("e2", D(130))]  # (190.5 − 187.25) × 40
    doc = json.loads(json.dumps(report.to_dict()))
    assert doc["method"] == svc.PNL_METHOD == "average-cost"
    assert doc["instruments"][0]["commissions"] == {"USD": "1"}
    assert doc["currencies"] == [
        {"currency": "USD", "fills": 1, "realised_pnl": "130", "commissions": "1", "net_pnl": "129"}
    ]


def test_csv_export_content(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "out" / "history.csv"
    assert svc.trade_history(settings).write_csv(path) == 2
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["ts"] == "2025-03-03T14:30:01+00:00"
    assert (rows[0]["price"], rows[0]["commission"], rows[0]["realised_pnl"]) == ("187.25", "1", "0")
    assert (rows[1]["realised_pnl"], rows[1]["position"], rows[1]["average_cost"]) == ("130", "60", "187.25")
    assert rows[1]["broker_realised_pnl"] == ""
    header = path.read_text().splitlines()[0]
    assert header.startswith("ts,execution_id,account,instrument_id,side,quantity,price,")
    orders_csv = tmp_path / "orders.csv"
    assert svc.list_orders(settings, status="all").write_csv(orders_csv) == 2
    first = orders_csv.read_text().splitlines()[1]
    assert first.startswith("2025-03-03T14:30:00+00:00,2025-03-03T14:30:00+00:00,b,DU1,mom,AAPL.STK.SMART.USD,BUY,100")
    fills_csv = tmp_path / "fills.csv"
    assert svc.list_fills(settings, account="nobody").write_csv(fills_csv) == 0
    header = (
        "ts,execution_id,client_order_id,perm_id,account,strategy,instrument_id,side,quantity,price,currency,"
        "multiplier,notional,commission,commission_currency,broker_realised_pnl,liquidity,order_type,source"
    )
    assert fills_csv.read_text().splitlines() == [header]


def test_to_csv_needs_columns_for_no_rows(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        svc.to_csv([], tmp_path / "x.csv")
    assert svc.to_csv([], tmp_path / "x.csv", columns=["a", "b"]) == 0
    assert (tmp_path / "x.csv").read_text() == "a,b\n"


def test_large_and_tiny_decimals_are_plain_in_csv(tmp_path: Path) -> None:
    view = OrderView(
        T0, T0, "x", None, None, "AAPL.STK.SMART.USD", "BUY", D("1E+3"), "LMT", D("0.000000000001"), None, "DAY",
        "SUBMITTED", D(0), D("1000.000000000000"), None, None, None, "quantdesk", None, None, None, None, None,
    )  # fmt: skip
    svc.to_csv([view], tmp_path / "v.csv")
    row = next(csv.DictReader((tmp_path / "v.csv").open(newline="")))
    assert (row["quantity"], row["limit_price"], row["remaining_quantity"], row["stop_price"]) == (
        "1000",
        "0.000000000001",
        "1000",
        "",
    )


def test_an_empty_database_asks_for_an_upgrade(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        create_db_engine(db_url).dispose()  # the file exists (an empty SQLite database)
        engine = create_db_engine(db_url)
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.commit()
        engine.dispose()
    with pytest.raises(ConfigError) as info:
        svc.list_orders(_settings(db_url))
    assert info.value.field == "database.url"
    assert info.value.hint == "run `quantdesk db upgrade`"
    assert "no quantdesk schema" in str(info.value)


def test_an_old_schema_asks_for_an_upgrade(db_url: str) -> None:
    commands.upgrade(db_url, "0001")
    with pytest.raises(ConfigError, match=r"revision 0001.*needs 0003") as info:
        svc.list_fills(_settings(db_url))
    assert info.value.hint == "run `quantdesk db upgrade`"


def test_a_missing_sqlite_file_is_named_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "qd.db"
    with pytest.raises(ConfigError, match="no database file") as info:
        svc.trade_history(_settings(f"sqlite:///{path}"))
    assert info.value.field == "database.url"
    assert "quantdesk db upgrade" in str(info.value.hint)
    assert not path.exists()


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("2025-03-03", False, datetime(2025, 3, 3, tzinfo=UTC)),
        ("2025-03-03", True, datetime(2025, 3, 4, tzinfo=UTC)),
        (" 20250303 ", False, datetime(2025, 3, 3, tzinfo=UTC)),
        ("2025-03-03T14:30", False, datetime(2025, 3, 3, 14, 30, tzinfo=UTC)),
        ("2025-03-03T14:30:00Z", True, datetime(2025, 3, 3, 14, 30, tzinfo=UTC)),
        ("2025-03-03 09:30:00-05:00", False, datetime(2025, 3, 3, 14, 30, tzinfo=UTC)),
    ],
)
def test_parse_time(text: str, end: bool, expected: datetime) -> None:
    parsed = svc.parse_time(text, "--since", end=end)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("text", ["yesterday", "2025-13-01", "", "2025-03-03T25:00"])
def test_parse_time_names_the_option(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        svc.parse_time(text, "--until")
    assert info.value.field == "--until"
    assert "2025-03-03" in str(info.value.hint)
