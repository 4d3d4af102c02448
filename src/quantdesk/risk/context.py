"""What the risk engine is told about the account for one order (``RiskContext``), and what it answers.

The OMS fills a ``RiskContext`` per order from its books; the engine reads it and never mutates it. A rule that
refuses an order returns a ``RiskViolation`` naming the rule, the limit, the actual value and the config key to
change; ``RiskDecision`` holds all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from quantdesk.domain.identifiers import InstrumentId
from quantdesk.domain.trading_state import TradingState
from quantdesk.errors import RiskRejected, ValidationError

__all__ = ["RiskContext", "RiskDecision", "RiskViolation", "base_rate"]

ZERO = Decimal(0)
ONE = Decimal(1)


def base_rate(currency: str, base_currency: str | None, rates: Mapping[str, Decimal]) -> Decimal | None:
    """Base units per unit of ``currency``: 1 for the base (or when no base is known), else ``rates`` or None."""
    if base_currency is None or currency == base_currency:
        return ONE
    return rates.get(currency)


@dataclass(frozen=True, slots=True)
class RiskContext:
    """The account as the OMS sees it just before this order: market time, NLV, books, prices and trading state.

    ``positions`` and ``working`` are signed quantities (``working`` excludes the order being checked);
    ``gross_exposure`` is the sum of |position market value| in the base currency, positions only, and
    ``working_gross`` the |notional| of the working orders, also in the base currency; ``trades_today`` counts the
    orders accepted today before this one. ``exchange_rates`` give base units per unit of a currency;
    ``unconverted`` names the held or working instruments left out of the gross values for want of a rate, with
    their currency. ``base_currency`` None means one currency throughout (amounts are taken as they are).
    """

    now: datetime
    net_liquidation: Decimal | None
    positions: Mapping[InstrumentId, Decimal]
    working: Mapping[InstrumentId, Decimal]
    last_prices: Mapping[InstrumentId, Decimal]
    trades_today: int
    gross_exposure: Decimal
    trading_state: TradingState
    average_daily_volume: Mapping[InstrumentId, Decimal]
    working_gross: Decimal = ZERO
    base_currency: str | None = None
    exchange_rates: Mapping[str, Decimal] = field(default_factory=dict)
    unconverted: Mapping[InstrumentId, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        now = self.now
        if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
            raise ValidationError(
                f"must be a timezone-aware datetime, got {now!r}",
                field="now",
                value=now,
                hint="pass the broker's market time as datetime(..., tzinfo=UTC)",
            )
        if now.tzinfo is not UTC:
            object.__setattr__(self, "now", now.astimezone(UTC))

    def rate(self, currency: str) -> Decimal | None:
        """Base units per unit of ``currency`` (1 for the base, or with no base), None when no rate is known."""
        return base_rate(currency, self.base_currency, self.exchange_rates)

    def exposure(self, instrument_id: InstrumentId) -> Decimal:
        """Position plus working orders (signed) in ``instrument_id``, before the order being checked."""
        return self.positions.get(instrument_id, ZERO) + self.working.get(instrument_id, ZERO)


@dataclass(frozen=True, slots=True)
class RiskViolation:
    """One refusal: the rule, its limit and the actual value as text, a message naming all three, and a hint."""

    rule: str
    limit: str
    actual: str
    message: str
    hint: str

    def to_error(self) -> RiskRejected:
        """The ``RiskRejected`` to raise: ``field`` is the rule, ``value`` the actual value."""
        return RiskRejected(
            self.message, field=self.rule, value=self.actual, hint=self.hint, rule=self.rule, limit=self.limit
        )


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """The engine's answer for one order: accepted when no rule refused it."""

    violations: tuple[RiskViolation, ...] = ()

    @property
    def accepted(self) -> bool:
        """True when no rule refused the order."""
        return not self.violations

    @property
    def first(self) -> RiskViolation | None:
        """The violation ``RiskEngine.check`` raises (rules run in a fixed order), or None."""
        return self.violations[0] if self.violations else None
