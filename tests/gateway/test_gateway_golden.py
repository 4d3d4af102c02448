"""Golden tests: every non-order reply is decoded by ``ib_async``'s own Decoder at server version 178.

Each test feeds the encoded fields to ``Decoder.interpret`` with a recording wrapper and checks that every field
lands in the right argument. The message's field count is asserted against the reference notes (section 3b), since
``Decoder.wrap`` handlers silently ignore extra fields; exact-unpack handlers raise on any mismatch, which the
``ib_errors`` guard turns into a failure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from ib_async.decoder import Decoder

from quantdesk.gateway import replies
from quantdesk.gateway.contracts import ContractSpec, build_catalog
from quantdesk.gateway.replies import BondDetails, HistoricalBar, RealTimeBar

TODAY = date(2026, 1, 5)
CATALOG = build_catalog(TODAY, {"AAPL": 180.0})
AAPL = CATALOG.get(265598)
assert AAPL is not None
ES = next(s for s in CATALOG.specs if s.sec_type == "FUT")
CALL = next(s for s in CATALOG.specs if s.sec_type == "OPT" and s.right == "C")
EURUSD = CATALOG.get(12087792)
assert EURUSD is not None


class Recorder:
    """A wrapper stand-in that records every call the decoder makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("_"):
            raise AttributeError(name)

        def record(*args: Any) -> None:
            self.calls.append((name, args))

        return record


def decode(fields: list[str], count: int | None = None) -> list[tuple[str, tuple[Any, ...]]]:
    """Decode one message at server version 178; check its field count first when given."""
    if count is not None:
        assert len(fields) == count, f"message {fields[0]} has {len(fields)} fields, expected {count}: {fields}"
    assert all(isinstance(f, str) and "\0" not in f for f in fields)
    rec = Recorder()
    Decoder(rec, 178).interpret(list(fields))
    return rec.calls


def one(fields: list[str], count: int | None = None) -> tuple[str, tuple[Any, ...]]:
    calls = decode(fields, count)
    assert len(calls) == 1, calls
    return calls[0]


COVERED: set[str] = set()


def covers(*names: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    COVERED.update(names)
    return lambda f: f


# --- connection, time, errors --------------------------------------------------------------------------------


@covers("error")
def test_error_with_advanced_json() -> None:
    assert one(replies.error(7, 201, "Order rejected - reason:x", '{"a":1}'), 6) == (
        "error",
        (7, 201, "Order rejected - reason:x", '{"a":1}'),
    )
    assert one(replies.error(-1, 2104, "Market data farm connection is OK:usfarm"), 6)[1][:2] == (-1, 2104)


@covers("managed_accounts", "next_valid_id", "current_time")
def test_connection_messages() -> None:
    assert one(replies.managed_accounts(["DU1", "DU2"]), 3) == ("managedAccounts", ("DU1,DU2",))
    assert one(replies.next_valid_id(42), 3) == ("nextValidId", (42,))
    assert one(replies.current_time(1_700_000_000), 3) == ("currentTime", (1_700_000_000,))


# --- accounts ------------------------------------------------------------------------------------------------


@covers("update_account_value", "update_account_time", "account_download_end")
def test_account_updates() -> None:
    assert one(replies.update_account_value("NetLiquidation", "100.00", "USD", "DU1"), 6) == (
        "updateAccountValue",
        ("NetLiquidation", "100.00", "USD", "DU1"),
    )
    assert one(replies.update_account_time("15:30"), 3) == ("updateAccountTime", ("15:30",))
    assert one(replies.account_download_end("DU1"), 3) == ("accountDownloadEnd", ("DU1",))


@covers("update_portfolio")
@pytest.mark.parametrize("spec", [AAPL, ES, CALL], ids=["stock", "future", "option"])
def test_update_portfolio(spec: ContractSpec) -> None:
    name, args = one(replies.update_portfolio(spec, -3, 101.25, -303.75, 100.5, -2.25, 7.5, "DU2"), 20)
    assert name == "updatePortfolio"
    c, pos, price, value, avg, unreal, real, account = args
    assert (c.conId, c.symbol, c.secType, c.lastTradeDateOrContractMonth) == (
        spec.con_id,
        spec.symbol,
        spec.sec_type,
        spec.last_trade_date,
    )
    assert (c.strike, c.right, c.multiplier, c.currency) == (spec.strike, spec.right, spec.multiplier, spec.currency)
    assert (c.primaryExchange, c.localSymbol, c.tradingClass) == (
        spec.listing_exchange,
        spec.local_symbol,
        spec.trading_class,
    )
    assert (pos, price, value, avg, unreal, real, account) == (-3.0, 101.25, -303.75, 100.5, -2.25, 7.5, "DU2")


@covers("account_update_multi", "account_update_multi_end")
def test_account_update_multi() -> None:
    assert one(replies.account_update_multi(5, "DU1", "", "TotalCashValue", "1.00", "USD"), 8) == (
        "accountUpdateMulti",
        (5, "DU1", "", "TotalCashValue", "1.00", "USD"),
    )
    assert one(replies.account_update_multi_end(5), 3) == ("accountUpdateMultiEnd", (5,))


@covers("account_summary", "account_summary_end")
def test_account_summary() -> None:
    assert one(replies.account_summary(9, "DU1", "BuyingPower", "4000.00", "USD"), 7) == (
        "accountSummary",
        (9, "DU1", "BuyingPower", "4000.00", "USD"),
    )
    assert one(replies.account_summary_end(9), 3) == ("accountSummaryEnd", (9,))


@covers("position", "position_end")
@pytest.mark.parametrize("spec", [AAPL, ES, CALL, EURUSD], ids=["stock", "future", "option", "forex"])
def test_position(spec: ContractSpec) -> None:
    name, (account, c, pos, avg) = one(replies.position("DU1", spec, 150, 99.125), 16)
    assert (name, account, pos, avg) == ("position", "DU1", 150.0, 99.125)
    assert (c.conId, c.symbol, c.secType, c.exchange, c.currency) == (
        spec.con_id,
        spec.symbol,
        spec.sec_type,
        spec.listing_exchange,
        spec.currency,
    )
    assert (c.lastTradeDateOrContractMonth, c.strike, c.right, c.multiplier) == (
        spec.last_trade_date,
        spec.strike,
        spec.right,
        spec.multiplier,
    )
    assert (c.localSymbol, c.tradingClass) == (spec.local_symbol, spec.trading_class)
    assert one(replies.position_end(), 2) == ("positionEnd", ())


# --- contracts -----------------------------------------------------------------------------------------------


@covers("contract_details", "contract_details_end")
@pytest.mark.parametrize("spec", [AAPL, ES, CALL, EURUSD], ids=["stock", "future", "option", "forex"])
def test_contract_details(spec: ContractSpec) -> None:
    hours = "20260105:0930-20260105:1600;20260106:0930-20260106:1600"
    name, (req_id, cd) = one(replies.contract_details(3, spec, hours), 40)
    assert (name, req_id) == ("contractDetails", 3)
    c = cd.contract
    assert (c.conId, c.symbol, c.secType, c.exchange, c.primaryExchange, c.currency) == (
        spec.con_id,
        spec.symbol,
        spec.sec_type,
        spec.exchange,
        spec.primary_exchange,
        spec.currency,
    )
    assert (c.lastTradeDateOrContractMonth, c.strike, c.right, c.multiplier) == (
        spec.last_trade_date,
        spec.strike,
        spec.right,
        spec.multiplier,
    )
    assert (c.localSymbol, c.tradingClass) == (spec.local_symbol, spec.trading_class)
    assert (cd.marketName, cd.minTick, cd.orderTypes, cd.validExchanges) == (
        spec.market_name,
        spec.min_tick,
        spec.order_types,
        ",".join(spec.valid_exchanges),
    )
    assert (cd.priceMagnifier, cd.underConId, cd.longName, cd.contractMonth) == (
        1,
        spec.under_con_id,
        spec.long_name,
        spec.contract_month,
    )
    assert (cd.industry, cd.category, cd.subcategory, cd.timeZoneId) == (
        spec.industry,
        spec.category,
        spec.subcategory,
        spec.time_zone_id,
    )
    assert (cd.tradingHours, cd.liquidHours, cd.evRule, cd.evMultiplier) == (hours, hours, "", 0)
    assert (cd.aggGroup, cd.underSymbol, cd.underSecType, cd.marketRuleIds) == (
        spec.agg_group,
        spec.under_symbol,
        spec.under_sec_type,
        spec.market_rule_ids,
    )
    assert (cd.realExpirationDate, cd.stockType) == (spec.last_trade_date, spec.stock_type)
    assert (cd.minSize, cd.sizeIncrement, cd.suggestedSizeIncrement) == (
        float(spec.min_size),
        float(spec.size_increment),
        float(spec.suggested_size_increment),
    )
    assert cd.secIdList == []
    assert one(replies.contract_details_end(3), 3) == ("contractDetailsEnd", (3,))


def test_contract_details_with_sec_ids() -> None:
    spec = dataclasses.replace(AAPL, sec_ids=(("ISIN", "US0000000001"), ("FIGI", "BBG000000001")))
    _, (_, cd) = one(replies.contract_details(1, spec), 44)
    assert [(t.tag, t.value) for t in cd.secIdList] == [("ISIN", "US0000000001"), ("FIGI", "BBG000000001")]
    assert (cd.aggGroup, cd.stockType, cd.suggestedSizeIncrement) == (1, "COMMON", 100.0)


@covers("bond_contract_details")
def test_bond_contract_details() -> None:
    spec = dataclasses.replace(
        AAPL, sec_type="BOND", symbol="US-T", exchange="SMART", sec_ids=(("CUSIP", "912828XX1"),), min_tick=0.001
    )
    bond = BondDetails(spec, cusip="912828XX1", coupon=3.0, maturity="20300515", issue_date="20200515",
                       callable=True, notes="plain")  # fmt: skip
    name, (req_id, cd) = one(replies.bond_contract_details(4, bond), 38)
    assert (name, req_id) == ("bondContractDetails", 4)
    assert (cd.cusip, cd.coupon, cd.maturity, cd.issueDate, cd.callable, cd.putable, cd.convertible) == (
        "912828XX1",
        3,
        "20300515",
        "20200515",
        True,
        False,
        False,
    )
    assert (cd.contract.conId, cd.contract.secType, cd.minTick, cd.notes, cd.longName) == (
        spec.con_id,
        "BOND",
        0.001,
        "plain",
        spec.long_name,
    )
    assert [(t.tag, t.value) for t in cd.secIdList] == [("CUSIP", "912828XX1")]
    assert (cd.aggGroup, cd.marketRuleIds, cd.suggestedSizeIncrement) == (1, spec.market_rule_ids, 100.0)


@covers("symbol_samples")
def test_symbol_samples() -> None:
    msg = replies.symbol_samples(11, [(AAPL, ["OPT", "WAR"]), (EURUSD, [])])
    assert len(msg) == 3 + (6 + 2 + 2) + (6 + 0 + 2)
    name, (req_id, descriptions) = one(msg)
    assert (name, req_id) == ("symbolSamples", 11)
    first, second = descriptions
    assert (first.contract.conId, first.contract.symbol, first.contract.secType) == (265598, "AAPL", "STK")
    assert (first.contract.primaryExchange, first.contract.currency, first.derivativeSecTypes) == (
        "NASDAQ",
        "USD",
        ["OPT", "WAR"],
    )
    assert (first.contract.description, first.contract.issuerId) == ("APPLE INC", "")
    assert (second.contract.symbol, second.contract.secType, second.derivativeSecTypes) == ("EUR", "CASH", [])


@covers("sec_def_opt_params", "sec_def_opt_params_end")
def test_sec_def_opt_params() -> None:
    chain = CATALOG.option_chains("AAPL", "STK", 265598)[0]
    msg = replies.sec_def_opt_params(2, chain)
    assert len(msg) == 8 + len(chain.expirations) + len(chain.strikes)
    name, args = one(msg)
    assert name == "securityDefinitionOptionParameter"
    assert args == (2, chain.exchange, "265598", "AAPL", "100", list(chain.expirations), list(chain.strikes))
    assert one(replies.sec_def_opt_params_end(2), 2) == ("securityDefinitionOptionParameterEnd", (2,))


@covers("market_rule")
def test_market_rule() -> None:
    from quantdesk.gateway.contracts import MarketRule

    name, (rule_id, increments) = one(replies.market_rule(MarketRule(110, ((0.0, 0.01), (3.0, 0.05)))), 7)
    assert (name, rule_id) == ("marketRule", 110)
    assert [(i.lowEdge, i.increment) for i in increments] == [(0.0, 0.01), (3.0, 0.05)]


# --- ticks ---------------------------------------------------------------------------------------------------


@covers("market_data_type", "tick_price", "tick_size", "tick_string", "tick_generic", "tick_snapshot_end")
def test_ticks() -> None:
    assert one(replies.market_data_type(4, 3), 4) == ("marketDataType", (4, 3))
    assert one(replies.tick_price(4, 1, 178.72, 800, 1), 7) == ("priceSizeTick", (4, 1, 178.72, 800.0))
    assert one(replies.tick_price(4, 9, 125.674), 7) == ("priceSizeTick", (4, 9, 125.674, 0.0))
    assert one(replies.tick_price(4, 66, 1.09445, 2_000_000), 7) == ("priceSizeTick", (4, 66, 1.09445, 2e6))
    assert one(replies.tick_size(4, 8, 79529), 5) == ("tickSize", (4, 8, 79529.0))
    assert one(replies.tick_string(4, 45, "1795451569"), 5) == ("tickString", (4, 45, "1795451569"))
    assert one(replies.tick_generic(4, 46, 3.0), 5) == ("tickGeneric", (4, 46, 3.0))
    assert one(replies.tick_snapshot_end(4), 3) == ("tickSnapshotEnd", (4,))


# --- bars ----------------------------------------------------------------------------------------------------

BARS = [
    HistoricalBar("20260105 09:30:00 US/Eastern", 100.0, 101.5, 99.75, 101.25, 12345, 100.5, 123),
    HistoricalBar("20260105 09:31:00 US/Eastern", 101.25, 101.3, 100.0, 100.125, 0, 100.75, 0),
]


@covers("historical_data")
@pytest.mark.parametrize("n", [0, 1, 2])
def test_historical_data(n: int) -> None:
    calls = decode(replies.historical_data(6, "20260105 09:30:00 US/Eastern", "20260105 16:00:00 US/Eastern", BARS[:n]),
                   5 + 8 * n)  # fmt: skip
    assert [c[0] for c in calls] == ["historicalData"] * n + ["historicalDataEnd"]
    for (_, (req_id, bar)), want in zip(calls, BARS[:n], strict=False):
        assert req_id == 6
        assert (bar.date, bar.open, bar.high, bar.low, bar.close) == (want.date, want.open, want.high, want.low,
                                                                      want.close)  # fmt: skip
        assert (bar.volume, bar.average, bar.barCount) == (want.volume, want.wap, want.count)
    assert calls[-1][1] == (6, "20260105 09:30:00 US/Eastern", "20260105 16:00:00 US/Eastern")


def test_historical_data_keeps_sample_prices_exact() -> None:
    bar = HistoricalBar("20200303", 73.145, 73.145, 70.822, 70.822, 1_000_000, 71.59633333333, 10000)
    (_, (_, decoded)), _ = decode(replies.historical_data(1, "", "", [bar]))
    assert (decoded.open, decoded.close, decoded.volume) == (73.145, 70.822, 1_000_000.0)


@covers("historical_data_update")
def test_historical_data_update() -> None:
    name, (req_id, bar) = one(replies.historical_data_update(8, BARS[0]), 10)
    assert (name, req_id) == ("historicalDataUpdate", 8)
    assert (bar.date, bar.open, bar.high, bar.low, bar.close) == (BARS[0].date, 100.0, 101.5, 99.75, 101.25)
    assert (bar.volume, bar.average, bar.barCount) == (12345.0, 100.5, 123)


@covers("head_timestamp")
def test_head_timestamp() -> None:
    assert one(replies.head_timestamp(3, "19960102 09:30:00 US/Eastern"), 3) == (
        "headTimestamp",
        (3, "19960102 09:30:00 US/Eastern"),
    )


@covers("realtime_bar")
def test_realtime_bar() -> None:
    bar = RealTimeBar(1_767_623_400, 100.0, 100.5, 99.5, 100.25, 214, 100.1, 2)
    assert one(replies.realtime_bar(12, bar), 11) == (
        "realtimeBar",
        (12, 1_767_623_400, 100.0, 100.5, 99.5, 100.25, 214.0, 100.1, 2),
    )


# --- order placeholders --------------------------------------------------------------------------------------


@covers("open_order_end", "exec_details_end", "completed_orders_end")
def test_order_ends() -> None:
    assert one(replies.open_order_end(), 2) == ("openOrderEnd", ())
    assert one(replies.exec_details_end(3), 3) == ("execDetailsEnd", (3,))
    assert one(replies.completed_orders_end(), 1) == ("completedOrdersEnd", ())


# --- meta ----------------------------------------------------------------------------------------------------


def test_every_encoder_has_a_golden_test() -> None:
    encoders = {n for n in replies.__all__ if n[0].islower()}
    assert encoders - COVERED == set()


def test_guard_catches_a_miscounted_message(ib_errors: Any) -> None:
    """The tests can fail: one field too many in tickPrice is a decoder error the guard sees."""
    ib_errors.expect_decoder_errors()
    fields = [*replies.tick_price(1, 1, 1.0, 1), "extra"]
    assert decode(fields) == []
    assert len(ib_errors.decoder_errors()) == 1
