"""The engine: rule order, the first violation raised as ``RiskRejected``, events, and switching rules off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from risk_support import AAPL_ID, NOW, ContextFactory

from quantdesk.config.example import EXAMPLE_TOML, EXAMPLE_YAML
from quantdesk.config.risk_settings import RISK_RULES, RiskSettings
from quantdesk.domain.instruments import Stock
from quantdesk.domain.orders import Order
from quantdesk.domain.trading_state import TradingState
from quantdesk.errors import QuantdeskError, RiskRejected, ValidationError
from quantdesk.risk import PRE_TRADE_RULES, RiskContext, RiskEngine, RiskEvent

AAPL = Stock("AAPL")

D = Decimal


def test_pre_trade_rules_are_the_risk_rules_that_apply_to_an_order() -> None:
    kill_switch_and_throttles = {"daily_loss_limit", "max_drawdown", "psr", "disconnect", "order_rate", "participation"}
    assert set(PRE_TRADE_RULES) == set(RISK_RULES) - kill_switch_and_throttles
    assert len(PRE_TRADE_RULES) == len(set(PRE_TRADE_RULES))


def test_a_good_order_passes_every_rule(make_ctx: ContextFactory) -> None:
    engine = RiskEngine(RiskSettings())
    order = Order.limit(AAPL, "BUY", 100, 100)
    engine.check(order, make_ctx())
    assert engine.violations(order, make_ctx()) == []
    assert engine.decide(order, make_ctx()).accepted
    assert engine.enabled_rules == PRE_TRADE_RULES


def test_check_raises_the_first_violation_and_reports_it(make_ctx: ContextFactory) -> None:
    events: list[RiskEvent] = []
    engine = RiskEngine(RiskSettings(restricted_symbols=["AAPL"]), on_event=events.append)
    order = Order.limit(AAPL, "BUY", 6000, 200)  # restricted, off the band, too large
    decision = engine.decide(order, make_ctx())
    assert [v.rule for v in decision.violations] == [
        "restricted_symbols",
        "price_band",
        "max_order_notional",
        "max_position",
        "max_leverage",
    ]
    assert events == []  # asking is not rejecting
    with pytest.raises(RiskRejected) as info:
        engine.check(order, make_ctx())
    err = info.value
    first = decision.first
    assert first is not None
    assert (err.rule, err.field, err.limit, err.value, err.message, err.hint) == (
        first.rule,
        first.rule,
        first.limit,
        first.actual,
        first.message,
        first.hint,
    )
    assert isinstance(err, QuantdeskError)
    assert err.to_dict()["rule"] == "restricted_symbols"
    assert err.to_dict()["limit"] == "not in risk.restricted_symbols"
    assert events == [
        RiskEvent(
            NOW, "restricted_symbols", "rejected", first.message, order.client_order_id, first.limit, first.actual
        )
    ]


def test_a_failing_event_listener_does_not_hide_the_rejection(make_ctx: ContextFactory) -> None:
    def broken(event: RiskEvent) -> None:
        raise RuntimeError("listener down")

    engine = RiskEngine(RiskSettings(), on_event=broken)
    with pytest.raises(RiskRejected, match="max_order_notional"):
        engine.check(Order.limit(AAPL, "BUY", 5000, 100), make_ctx())


def test_risk_off_skips_every_rule_but_the_kill_switch(make_ctx: ContextFactory) -> None:
    engine = RiskEngine(RiskSettings(enabled=False))
    assert engine.enabled_rules == ()
    ctx = make_ctx(last_prices={}, net_liquidation=None, trades_today=10_000)
    engine.check(Order.market(AAPL, "SELL", 1_000_000), ctx)
    halted = make_ctx(trading_state=TradingState.HALTED)
    assert [v.rule for v in engine.violations(Order.limit(AAPL, "BUY", 1, 100), halted)] == ["kill_switch"]


def test_disabled_rules_are_skipped_by_name(make_ctx: ContextFactory) -> None:
    engine = RiskEngine(RiskSettings(disabled_rules=["max_order_notional", "max_position"]))
    assert "max_order_notional" not in engine.enabled_rules
    assert [v.rule for v in engine.violations(Order.limit(AAPL, "BUY", 5000, 100), make_ctx())] == []


def test_the_kill_switch_gate_comes_first(make_ctx: ContextFactory) -> None:
    engine = RiskEngine(RiskSettings())
    ctx = make_ctx(trading_state=TradingState.REDUCING)
    found = engine.violations(Order.limit(AAPL, "BUY", 5000, 100), ctx)
    assert found[0].rule == "kill_switch"


def test_context_requires_an_aware_time_and_stores_utc(make_ctx: ContextFactory) -> None:
    with pytest.raises(ValidationError, match="timezone-aware") as info:
        make_ctx(now=datetime(2025, 3, 3, 15, 0))
    assert info.value.field == "now"
    ny = make_ctx(now=datetime(2025, 3, 3, 10, 0, tzinfo=timezone(timedelta(hours=-5))))
    assert ny.now == NOW
    assert ny.now.tzinfo is UTC
    assert make_ctx(positions={AAPL_ID: D(5)}, working={AAPL_ID: D(-2)}).exposure(AAPL_ID) == D(3)


def test_context_defaults_working_gross_to_zero() -> None:
    ctx = RiskContext(NOW, D(1), {}, {}, {}, 0, D(0), TradingState.ACTIVE, {})
    assert ctx.working_gross == 0


def test_risk_rejected_keeps_its_old_signature() -> None:
    err = RiskRejected("AAPL: would go short, and short selling is off", field="short_selling", value="AAPL", hint="h")
    assert (err.rule, err.limit, err.field, err.value) == ("short_selling", None, "short_selling", "AAPL")
    assert str(err) == "short_selling: AAPL: would go short, and short selling is off (fix: h)"
    named = RiskRejected("max_position: too big", rule="max_position", limit="10%", value="12%")
    assert (named.field, named.rule, named.limit) == ("max_position", "max_position", "10%")
    assert str(named) == "max_position: too big"
    assert RiskRejected("plain").to_dict()["rule"] is None


def test_the_example_config_lists_every_rule_and_risk_key() -> None:
    for text, start, end in ((EXAMPLE_TOML, "\n[risk]\n", "\n[orders]\n"), (EXAMPLE_YAML, "\nrisk:\n", "\norders:\n")):
        block = text[text.index(start) : text.index(end)]
        for rule in RISK_RULES:
            assert rule in block, rule
        for key in RiskSettings.model_fields:
            assert key in block, key
