"""``RiskEngine``: runs the enabled pre-trade rules on an order in its context and refuses it with ``RiskRejected``.

The kill-switch gate always runs first and cannot be disabled; the other rules run in the fixed order of
``PRE_TRADE_RULES`` when ``risk.enabled`` is true and the rule is not in ``risk.disabled_rules``. The settings are
converted to ``Decimal`` limits once, and the enabled rules resolved once, so a check is a handful of ``Decimal``
operations (and one bisection for trading hours): no pandas, no I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from quantdesk.config.risk_settings import RiskSettings
from quantdesk.domain.instruments import Instrument
from quantdesk.domain.orders import Order
from quantdesk.risk.checks import (
    Check,
    check_kill_switch,
    check_max_trades_per_day,
    check_order_sanity,
    check_price_band,
    check_restricted_symbols,
    check_short_selling,
)
from quantdesk.risk.context import RiskContext, RiskDecision, RiskViolation
from quantdesk.risk.events import RiskEvent, RiskEventListener
from quantdesk.risk.exposure import (
    check_max_gross_exposure,
    check_max_leverage,
    check_max_order_notional,
    check_max_position,
)
from quantdesk.risk.facts import OrderFacts
from quantdesk.risk.hours import TradingHours
from quantdesk.risk.limits import RiskLimits

__all__ = ["PRE_TRADE_RULES", "RiskEngine"]

log = logging.getLogger(__name__)

PRE_TRADE_RULES: tuple[str, ...] = (
    "order_sanity",
    "restricted_symbols",
    "trading_hours",
    "short_selling",
    "price_band",
    "max_order_notional",
    "max_position",
    "max_gross_exposure",
    "max_leverage",
    "max_trades_per_day",
)
"""The pre-trade rules of ``RISK_RULES``, in the order they run (after the kill-switch gate)."""


class RiskEngine:
    """Pre-trade risk: ``check`` raises ``RiskRejected`` for the first violation, ``violations`` lists them all."""

    def __init__(
        self,
        settings: RiskSettings,
        *,
        on_event: RiskEventListener | None = None,
        trading_hours: TradingHours | None = None,
    ) -> None:
        self._settings = settings
        self._on_event = on_event
        self._limits = RiskLimits.from_settings(settings)
        self._hours = trading_hours if trading_hours is not None else TradingHours()
        by_rule: dict[str, Check] = {
            "order_sanity": check_order_sanity,
            "restricted_symbols": check_restricted_symbols,
            "trading_hours": self._hours.check,
            "short_selling": check_short_selling,
            "price_band": check_price_band,
            "max_order_notional": check_max_order_notional,
            "max_position": check_max_position,
            "max_gross_exposure": check_max_gross_exposure,
            "max_leverage": check_max_leverage,
            "max_trades_per_day": check_max_trades_per_day,
        }
        enabled = [by_rule[rule] for rule in PRE_TRADE_RULES if settings.rule_enabled(rule)]
        self._checks: tuple[Check, ...] = (check_kill_switch, *enabled)
        self._enabled_rules = tuple(rule for rule in PRE_TRADE_RULES if settings.rule_enabled(rule))

    @property
    def settings(self) -> RiskSettings:
        """The settings the engine was built with."""
        return self._settings

    @property
    def enabled_rules(self) -> tuple[str, ...]:
        """The pre-trade rules that run, in order (the kill-switch gate always runs before them)."""
        return self._enabled_rules

    @property
    def trading_hours(self) -> TradingHours:
        """The calendars behind the ``trading_hours`` rule."""
        return self._hours

    def warm_up(self, instruments: Iterable[Instrument]) -> None:
        """Load the exchange calendars of ``instruments`` now, so no order pays for it."""
        if "trading_hours" in self._enabled_rules:
            self._hours.warm_up(instruments)

    def violations(self, order: Order, ctx: RiskContext) -> list[RiskViolation]:
        """Every violation of the order, in rule order; empty when it passes."""
        facts = OrderFacts.of(order, ctx)
        limits = self._limits
        found = []
        for check in self._checks:
            problem = check(facts, limits)
            if problem is not None:
                found.append(problem)
        return found

    def decide(self, order: Order, ctx: RiskContext) -> RiskDecision:
        """All violations as a ``RiskDecision``."""
        return RiskDecision(tuple(self.violations(order, ctx)))

    def check(self, order: Order, ctx: RiskContext) -> None:
        """Raise ``RiskRejected`` for the first violation (reported as a ``rejected`` event); return when it passes."""
        facts = OrderFacts.of(order, ctx)
        limits = self._limits
        for check in self._checks:
            problem = check(facts, limits)
            if problem is not None:
                self._report(problem, order, ctx)
                raise problem.to_error()

    def _report(self, problem: RiskViolation, order: Order, ctx: RiskContext) -> None:
        log.info("risk rejected %s: %s", order.client_order_id, problem.message)
        if self._on_event is None:
            return
        event = RiskEvent(
            ctx.now, problem.rule, "rejected", problem.message, order.client_order_id, problem.limit, problem.actual
        )
        try:
            self._on_event(event)
        except Exception:
            log.exception("risk event listener failed on %s", event)
