"""Target weights and rebalance plans: the value objects a rebalance is described with (the math lives elsewhere).

Weights are fractions of portfolio value (0.25 = 25 %), negative for shorts. A plan's amounts are plain
``Decimal`` in the plan's ``currency``.
"""

from __future__ import annotations

from collections.abc import ItemsView, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import TypeAlias

from quantdesk.domain.identifiers import AccountId, InstrumentId
from quantdesk.domain.market import require_utc
from quantdesk.domain.side import OrderSide
from quantdesk.domain.values import USD, ZERO, Currency, Numeric, to_decimal, to_non_negative, to_positive
from quantdesk.errors import ValidationError

__all__ = ["GROSS_TOLERANCE", "AssetKey", "RebalancePlan", "RebalanceTrade", "TargetWeights"]

AssetKey: TypeAlias = InstrumentId | str
"""What a weight is keyed by: an ``InstrumentId`` or a plain symbol such as ``"AAPL"``."""

GROSS_TOLERANCE = Decimal("1e-9")
"""Slack allowed above the gross cap, so optimiser output that sums to 1.0000000000000002 passes."""

_ONE = Decimal(1)


def _key_text(key: AssetKey) -> str:
    return key.value if isinstance(key, InstrumentId) else key


def _check_key(key: object, field_name: str) -> AssetKey:
    if isinstance(key, InstrumentId):
        return key
    if isinstance(key, str) and key.strip() and key == key.strip():
        return key
    raise ValidationError(
        f"must be an InstrumentId or a non-empty symbol without surrounding spaces, got {key!r}",
        field=field_name,
        value=key,
        hint="key weights by symbol ('AAPL') or InstrumentId",
    )


@dataclass(frozen=True, slots=True)
class TargetWeights:
    """Target portfolio weights: each finite and in [-1, 1], Σ|w| ≤ ``gross_cap``; ``long_only`` forbids shorts."""

    weights: Mapping[AssetKey, Decimal] = field(hash=False)
    gross_cap: Decimal = _ONE
    long_only: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.weights, Mapping):
            raise ValidationError(
                f"must be a mapping of symbol to weight, got {self.weights!r}",
                field="weights",
                value=self.weights,
                hint="pass {'AAPL': 0.5, 'MSFT': 0.5}",
            )
        cap = to_positive(self.gross_cap, "gross_cap")
        object.__setattr__(self, "gross_cap", cap)
        clean: dict[AssetKey, Decimal] = {}
        for raw_key, raw in self.weights.items():
            key = _check_key(raw_key, "weights")
            name = f"weights[{_key_text(key)}]"
            w = to_decimal(raw, name)
            if not -_ONE <= w <= _ONE:
                raise ValidationError(
                    f"weight {w} lies outside [-1, 1]", field=name, value=w, hint="weights are fractions: 0.25 = 25 %"
                )
            if self.long_only and w < 0:
                raise ValidationError(
                    f"negative weight {w} in a long-only target",
                    field=name,
                    value=w,
                    hint="remove the short or set long_only=False",
                )
            clean[key] = w
        gross = sum((abs(w) for w in clean.values()), ZERO)
        if gross > cap + GROSS_TOLERANCE:
            raise ValidationError(
                f"gross weight Σ|w| = {gross} exceeds the cap {cap}",
                field="weights",
                value=gross,
                hint=f"scale the weights down to a gross of at most {cap} (or raise gross_cap)",
            )
        object.__setattr__(self, "weights", MappingProxyType(clean))

    @classmethod
    def of(
        cls,
        weights: Mapping[str, Numeric] | Mapping[InstrumentId, Numeric] | Mapping[AssetKey, Numeric],
        *,
        gross_cap: Numeric = 1,
        long_only: bool = False,
    ) -> TargetWeights:
        """Build from any numerics (floats from an optimiser are converted exactly via their repr)."""
        converted: dict[AssetKey, Decimal] = {k: to_decimal(v, f"weights[{_key_text(k)}]") for k, v in weights.items()}
        return cls(converted, to_decimal(gross_cap, "gross_cap"), long_only)

    def weight(self, key: AssetKey) -> Decimal:
        """The weight of ``key``; zero when it is not in the target."""
        return self.weights.get(key, ZERO)

    def items(self) -> ItemsView[AssetKey, Decimal]:
        """(key, weight) pairs in insertion order."""
        return self.weights.items()

    def __len__(self) -> int:
        return len(self.weights)

    @property
    def gross(self) -> Decimal:
        """Σ|w|: gross exposure as a fraction of portfolio value."""
        return sum((abs(w) for w in self.weights.values()), ZERO)

    @property
    def net(self) -> Decimal:
        """Σw: net exposure as a fraction of portfolio value."""
        return sum(self.weights.values(), ZERO)

    @property
    def cash_weight(self) -> Decimal:
        """1 − Σw: the fraction left in cash (short proceeds count as cash)."""
        return _ONE - self.net


_MAX_REACHED_WEIGHT = Decimal(10)


@dataclass(frozen=True, slots=True)
class RebalanceTrade:
    """One line of a plan: from ``current_quantity`` to ``target_quantity`` at ``price``; side and size derive."""

    instrument: AssetKey
    current_quantity: Decimal
    current_weight: Decimal
    target_quantity: Decimal
    target_weight: Decimal
    price: Decimal
    multiplier: Decimal = _ONE
    estimated_commission: Decimal = ZERO

    def __post_init__(self) -> None:
        object.__setattr__(self, "instrument", _check_key(self.instrument, "instrument"))
        for name in ("current_quantity", "current_weight", "target_quantity"):
            object.__setattr__(self, name, to_decimal(getattr(self, name), name))
        target_weight = to_decimal(self.target_weight, "target_weight")
        # A reached weight may pass 1 in a margin account (negative cash) or by whole-share rounding; far beyond
        # any leverage IB grants, it is a percent passed as a fraction.
        if not -_MAX_REACHED_WEIGHT <= target_weight <= _MAX_REACHED_WEIGHT:
            raise ValidationError(
                f"target weight {target_weight} lies outside [-{_MAX_REACHED_WEIGHT}, {_MAX_REACHED_WEIGHT}]",
                field="target_weight",
                value=target_weight,
                hint="weights are fractions: 0.25 = 25 %",
            )
        object.__setattr__(self, "target_weight", target_weight)
        object.__setattr__(self, "price", to_positive(self.price, "price"))
        object.__setattr__(self, "multiplier", to_positive(self.multiplier, "multiplier"))
        object.__setattr__(
            self, "estimated_commission", to_non_negative(self.estimated_commission, "estimated_commission")
        )
        if self.trade_quantity == 0:
            raise ValidationError(
                f"no trade: current and target quantity are both {self.current_quantity}",
                field="target_quantity",
                value=self.target_quantity,
                hint="leave instruments that need no trade out of the plan",
            )

    @property
    def trade_quantity(self) -> Decimal:
        """Signed quantity to trade: target − current (positive buys, negative sells)."""
        return self.target_quantity - self.current_quantity

    @property
    def side(self) -> OrderSide:
        """BUY when the trade quantity is positive, SELL otherwise."""
        return OrderSide.BUY if self.trade_quantity > 0 else OrderSide.SELL

    @property
    def quantity(self) -> Decimal:
        """Unsigned order quantity."""
        return abs(self.trade_quantity)

    @property
    def notional(self) -> Decimal:
        """Unsigned traded value: |trade quantity| × price × multiplier."""
        return self.quantity * self.price * self.multiplier


@dataclass(frozen=True, slots=True)
class RebalancePlan:
    """A set of trades as of ``ts`` with its totals; ``orders_in_execution_order`` puts sells before buys."""

    ts: datetime
    trades: tuple[RebalanceTrade, ...]
    portfolio_value: Decimal
    cash_before: Decimal
    currency: Currency = USD
    account: AccountId | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", require_utc(self.ts))
        trades = tuple(self.trades)
        seen: set[AssetKey] = set()
        for i, trade in enumerate(trades):
            if not isinstance(trade, RebalanceTrade):
                raise ValidationError(
                    f"must be a RebalanceTrade, got {trade!r}",
                    field=f"trades[{i}]",
                    value=trade,
                    hint="build each line with RebalanceTrade(...)",
                )
            if trade.instrument in seen:
                raise ValidationError(
                    f"{_key_text(trade.instrument)} appears twice in the plan",
                    field=f"trades[{i}]",
                    value=_key_text(trade.instrument),
                    hint="net the trades of one instrument into one line",
                )
            seen.add(trade.instrument)
        object.__setattr__(self, "trades", trades)
        object.__setattr__(self, "portfolio_value", to_positive(self.portfolio_value, "portfolio_value"))
        object.__setattr__(self, "cash_before", to_decimal(self.cash_before, "cash_before"))
        object.__setattr__(self, "currency", Currency.of(self.currency))
        if self.account is not None and not isinstance(self.account, AccountId):
            raise ValidationError(
                f"must be an AccountId, got {self.account!r}",
                field="account",
                value=self.account,
                hint="wrap the account code in AccountId(...)",
            )

    @property
    def orders_in_execution_order(self) -> tuple[RebalanceTrade, ...]:
        """Sells first (they free cash and margin), then buys; plan order kept within each group."""
        sells = tuple(t for t in self.trades if t.side is OrderSide.SELL)
        buys = tuple(t for t in self.trades if t.side is OrderSide.BUY)
        return sells + buys

    @property
    def buy_notional(self) -> Decimal:
        """Total value bought."""
        return sum((t.notional for t in self.trades if t.side is OrderSide.BUY), ZERO)

    @property
    def sell_notional(self) -> Decimal:
        """Total value sold."""
        return sum((t.notional for t in self.trades if t.side is OrderSide.SELL), ZERO)

    @property
    def estimated_commission(self) -> Decimal:
        """Total estimated commission."""
        return sum((t.estimated_commission for t in self.trades), ZERO)

    @property
    def turnover(self) -> Decimal:
        """Two-sided turnover: (bought + sold) / portfolio value; 0.1 means 10 % of the portfolio traded."""
        return (self.buy_notional + self.sell_notional) / self.portfolio_value

    @property
    def cash_after(self) -> Decimal:
        """Cash once every trade is done: before + sold − bought − commission."""
        return self.cash_before + self.sell_notional - self.buy_notional - self.estimated_commission
