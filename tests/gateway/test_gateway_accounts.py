"""Accounts: fills, valuation, the tags IB reports and persistence."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantdesk.errors import NotFound, ValidationError
from quantdesk.gateway.accounts import (
    SUMMARY_TAGS,
    AccountBook,
    InstrumentInfo,
    cash_by_account,
    load_state,
    save_state,
)

PRICES = {1: 110.0, 2: 5.0, 3: 4000.0}
INFO = {1: InstrumentInfo("STK", 1.0), 2: InstrumentInfo("OPT", 100.0), 3: InstrumentInfo("FUT", 50.0)}


def price_of(con_id: int) -> float:
    return PRICES[con_id]


def info_of(con_id: int) -> InstrumentInfo:
    return INFO[con_id]


def test_fills_move_cash_positions_and_realized_pnl() -> None:
    book = AccountBook({"DU1": 10_000.0})
    changes: list[tuple[str, int | None]] = []
    book.on_change(lambda a, c: changes.append((a, c)))
    assert book.apply_fill("DU1", 1, 10, 100.0, commission=1.0) == 0.0
    assert book.apply_fill("DU1", 1, 10, 110.0) == 0.0
    h = book.get("DU1").holdings[1]
    assert (h.quantity, h.avg_cost) == (20, 105.0)
    assert book.apply_fill("DU1", 1, -5, 115.0) == 50.0
    assert (h.quantity, h.avg_cost) == (15, 105.0)
    assert book.apply_fill("DU1", 1, -20, 100.0) == -75.0  # closes 15 at a loss, opens 5 short
    assert (h.quantity, h.avg_cost) == (-5, 100.0)
    assert book.apply_fill("DU1", 1, 5, 90.0) == 50.0
    assert (h.quantity, h.avg_cost) == (0, 0.0)
    acct = book.get("DU1")
    assert acct.realized_pnl == pytest.approx(50 - 75 + 50 - 1)
    assert acct.cash == pytest.approx(10_000 - 1000 - 1 - 1100 + 575 + 2000 - 450)
    assert changes == [("DU1", 1)] * 5


def test_option_fills_use_the_multiplier() -> None:
    book = AccountBook({"DU1": 10_000.0})
    book.apply_fill("DU1", 2, 2, 4.0, multiplier=100.0)
    h = book.get("DU1").holdings[2]
    assert (h.avg_cost, book.get("DU1").cash) == (400.0, 9_200.0)
    (line,) = book.portfolio("DU1", price_of, info_of)
    assert (line.market_price, line.market_value, line.unrealized_pnl) == (5.0, 1000.0, 200.0)


def test_account_values() -> None:
    book = AccountBook({"DU1": 100_000.0, "DU2": 50_000.0})
    book.set_position("DU1", 1, 100, 100.0)
    book.set_position("DU1", 3, -1, 200_000.0)
    values = book.values("DU1", price_of, info_of)
    assert set(values) == set(SUMMARY_TAGS)
    gross = 11_000 + 200_000
    net = 100_000 + 11_000 - 200_000
    init = 11_000 * 0.5 + 200_000 * 0.06
    maint = 11_000 * 0.25 + 200_000 * 0.05
    assert float(values["NetLiquidation"].value) == net
    assert float(values["GrossPositionValue"].value) == gross
    assert float(values["InitMarginReq"].value) == init
    assert float(values["MaintMarginReq"].value) == maint
    assert float(values["AvailableFunds"].value) == net - init
    assert float(values["ExcessLiquidity"].value) == net - maint
    assert float(values["BuyingPower"].value) == 0.0
    assert values["Leverage"].currency == ""
    assert values["NetLiquidation"].currency == "USD"
    ledger = book.ledger("DU1", price_of, info_of)
    assert {(v.tag, v.currency) for v in ledger} >= {("CashBalance", "BASE"), ("CashBalance", "USD")}
    assert {v.value for v in ledger if v.tag == "UnrealizedPnL"} == {f"{11_000 - 10_000 + 0:.2f}"}
    clean = book.values("DU2", price_of, info_of)
    assert float(clean["BuyingPower"].value) == 200_000.0
    assert clean["Cushion"].value == "1.000000"
    tags = [v.tag for v in book.update_values("DU2", price_of, info_of)]
    assert tags[:4] == ["AccountCode", "AccountReady", "Currency", "RealCurrency"]
    assert "NetLiquidation" in tags


def test_errors_name_the_field() -> None:
    book = AccountBook({"DU1": 1.0})
    with pytest.raises(NotFound) as err:
        book.get("DU9")
    assert err.value.field == "account"
    with pytest.raises(ValidationError):
        AccountBook({})
    with pytest.raises(ValidationError) as verr:
        cash_by_account(["DU1", "DU2"], {"DU1": 1.0})
    assert verr.value.field == "cash"
    assert cash_by_account(["DU1", "DU2"], 5.0) == {"DU1": 5.0, "DU2": 5.0}


def test_state_round_trip(tmp_path: Path) -> None:
    book = AccountBook({"DU1": 1000.0, "DU2": 2000.0})
    book.apply_fill("DU2", 1, 3, 10.0)
    path = tmp_path / "sub" / "state.json"
    save_state(path, {"accounts": book.to_json()})
    restored = AccountBook({"DU1": 0.0, "DU2": 0.0})
    restored.load_json(load_state(path)["accounts"])
    assert restored.to_json() == book.to_json()
    assert load_state(tmp_path / "missing.json") == {}
    (tmp_path / "bad.json").write_text("[1]")
    with pytest.raises(ValidationError):
        load_state(tmp_path / "bad.json")
